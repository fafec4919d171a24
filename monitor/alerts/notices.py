"""Story updates and operator alerts as webhook bodies and emails (pure).

What changed is decided in monitor.changes and stored with the outbox row; this says
it to a person or a program. See docs/alerts.md for the payloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.alerts.render import (
    PAYLOAD_VERSION,
    Message,
    escape,
    html_link,
    human_time,
    iso_utc,
    language_label,
    one_line,
    outlet_json,
    story_languages,
)
from monitor.changes import FEED_FAILING, FEED_RECOVERED, OperatorEvent, StoryChange
from monitor.model import Outlet

UPDATE_TYPE = "monitor.update"
OPERATOR_TYPE = "monitor.operator"

# --- story updates ----------------------------------------------------------------------


def change_summary(change: StoryChange) -> str:
    return f"now also in {change.language}" if change.language else f"now carried by {change.outlets} outlets"


def event_summary(event: OperatorEvent) -> str:
    failing = f"failing since {human_time(event.since)}" if event.since else "failing"
    if event.event == FEED_FAILING:
        return f"feed {event.subject} has been {failing}: {event.error or 'no error recorded'}"
    if event.event == FEED_RECOVERED:
        return f"feed {event.subject} recovered at {human_time(event.at)} after {failing}"
    return f"{event.subject} to {event.channel} was given up after {event.attempts} attempts: {event.error or '-'}"


@dataclass(frozen=True)
class UpdateContent:
    alert_id: int
    topic: str
    story_id: int
    story_title: str
    first_seen: datetime
    change: StoryChange
    article: Outlet  # the article that made the change
    outlets: tuple[Outlet, ...]  # every article of the story known at send time
    idempotency_key: str
    created_at: datetime


def update_payload(update: UpdateContent) -> dict[str, Any]:
    """The webhook JSON document of a story update; see docs/alerts.md."""
    return {
        "type": UPDATE_TYPE,
        "version": PAYLOAD_VERSION,
        "alert_id": update.alert_id,
        "idempotency_key": update.idempotency_key,
        "topic": update.topic,
        "change": {**update.change.to_json(), "summary": change_summary(update.change)},
        "story": {
            "id": update.story_id,
            "title": update.story_title,
            "first_seen": iso_utc(update.first_seen),
            "languages": list(story_languages(update.outlets)),
            "outlet_count": len({o.feed for o in update.outlets}),
            "outlets": [outlet_json(o) for o in update.outlets],
        },
        "article": outlet_json(update.article),
        "created_at": iso_utc(update.created_at),
    }


def update_subject(update: UpdateContent) -> str:
    title = one_line(update.story_title)[:150]
    return f"[monitor] Update, {one_line(update.topic)}: {title} ({change_summary(update.change)})"


def update_text(update: UpdateContent) -> str:
    languages = ", ".join(story_languages(update.outlets)) or "unknown"
    lines = [
        f"Topic: {one_line(update.topic)}",
        f"Story: {one_line(update.story_title)} (story {update.story_id}, first seen {human_time(update.first_seen)})",
        f"Update: {change_summary(update.change)}",
        "",
        f"Because of: [{language_label(update.article.language)}] {one_line(update.article.title)}"
        f" ({update.article.feed})",
        f"  {update.article.url}",
        "",
        f"Outlets carrying this story ({len(update.outlets)} articles; languages: {languages}):",
    ]
    for outlet in update.outlets:
        lines.append(f"- [{language_label(outlet.language)}] {one_line(outlet.title)} ({outlet.feed})")
        lines.append(f"  {outlet.url}")
    lines += ["", "--", f"Alert {update.alert_id}, sent by monitor. Idempotency key: {update.idempotency_key}"]
    return "\n".join(lines) + "\n"


def update_html(update: UpdateContent) -> str:
    items = "\n".join(
        f"<li><code>{escape(language_label(o.language))}</code> {html_link(o)} <small>({escape(o.feed)})</small></li>"
        for o in update.outlets
    )
    return f"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{escape(update_subject(update))}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p style="color: #555">Topic <strong>{escape(one_line(update.topic))}</strong> &middot; story {update.story_id}</p>
<h2 style="margin: 0.2em 0">{escape(one_line(update.story_title))}</h2>
<p><strong>Update: {escape(change_summary(update.change))}</strong>, because of {html_link(update.article)}
 <small>({escape(update.article.feed)})</small></p>
<ul>
{items}
</ul>
<p style="color: #888; font-size: small">Alert {update.alert_id}, sent by monitor. Idempotency key:
 <code>{escape(update.idempotency_key)}</code></p>
</body>
</html>
"""


def update_message(update: UpdateContent) -> Message:
    """The story update in every channel's form."""
    return Message(
        key=update.idempotency_key,
        subject=update_subject(update),
        text=update_text(update),
        html=update_html(update),
        payload=_compact(update_payload(update)),
        created_at=update.created_at,
        headers=(
            ("X-Monitor-Topic", one_line(update.topic)),
            ("X-Monitor-Story-Id", str(update.story_id)),
            ("X-Monitor-Alert-Id", str(update.alert_id)),
            ("X-Monitor-Idempotency-Key", one_line(update.idempotency_key)),
        ),
    )


# --- operator alerts --------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorContent:
    alert_id: int
    event: OperatorEvent
    idempotency_key: str
    created_at: datetime


def operator_payload(notice: OperatorContent) -> dict[str, Any]:
    """The webhook JSON document of an operator alert; see docs/alerts.md."""
    return {
        "type": OPERATOR_TYPE,
        "version": PAYLOAD_VERSION,
        "alert_id": notice.alert_id,
        "idempotency_key": notice.idempotency_key,
        **notice.event.to_json(),
        "summary": event_summary(notice.event),
        "created_at": iso_utc(notice.created_at),
    }


def operator_text(notice: OperatorContent) -> str:
    event = notice.event
    lines = [f"monitor: {event_summary(event)}", ""]
    lines += [f"{label}: {value}" for label, value in _operator_fields(event)]
    lines += ["", "--", f"Alert {notice.alert_id}, sent by monitor. Idempotency key: {notice.idempotency_key}"]
    return "\n".join(lines) + "\n"


def operator_message(notice: OperatorContent) -> Message:
    """The operator alert in every channel's form."""
    subject = f"[monitor] {one_line(event_summary(notice.event))[:200]}"
    rows = "\n".join(
        f"<tr><th align=left>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _operator_fields(notice.event)
    )
    html_part = f"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{escape(subject)}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p><strong>{escape(event_summary(notice.event))}</strong></p>
<table>
{rows}
</table>
<p style="color: #888; font-size: small">Alert {notice.alert_id}, sent by monitor. Idempotency key:
 <code>{escape(notice.idempotency_key)}</code></p>
</body>
</html>
"""
    return Message(
        key=notice.idempotency_key,
        subject=subject,
        text=operator_text(notice),
        html=html_part,
        payload=_compact(operator_payload(notice)),
        created_at=notice.created_at,
        headers=(
            ("X-Monitor-Operator-Event", notice.event.event),
            ("X-Monitor-Alert-Id", str(notice.alert_id)),
            ("X-Monitor-Idempotency-Key", one_line(notice.idempotency_key)),
        ),
    )


def _operator_fields(event: OperatorEvent) -> list[tuple[str, str]]:
    fields = [("Event", event.event), ("Subject", event.subject), ("Noticed", human_time(event.at))]
    if event.since:
        fields.append(("Failing since", human_time(event.since)))
    if event.url:
        fields.append(("URL", event.url))
    if event.channel:
        fields.append(("Channel", event.channel))
    if event.error:
        fields.append(("Last error", one_line(event.error)))
    return fields


def _compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
