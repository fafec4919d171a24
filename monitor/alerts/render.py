"""Render one alert as a webhook body, a signature, or an email message (pure).

Everything here is a function of its arguments: no clock, no network, no database.
The payload shapes are the public contract documented in docs/alerts.md; change them
only by bumping ``PAYLOAD_VERSION``.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any
from urllib.parse import urlsplit

from monitor.model import AlertContent, Outlet

PAYLOAD_TYPE = "monitor.alert"
PAYLOAD_VERSION = 1

_SUBJECT_TITLE_LIMIT = 150
_SPACE = re.compile(r"\s+")
_MARK = re.compile(r"(</?mark>)")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# --- shared helpers -------------------------------------------------------------------


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; naive datetimes are taken as UTC (SQLite returns them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def story_outlets(alert: AlertContent) -> tuple[Outlet, ...]:
    """The story's outlets, each article once, the triggering one always included."""
    seen: set[int] = set()
    outlets: list[Outlet] = []
    for outlet in (*alert.outlets, alert.article):
        if outlet.article_id not in seen:
            seen.add(outlet.article_id)
            outlets.append(outlet)
    return tuple(outlets)


def story_languages(outlets: Sequence[Outlet]) -> tuple[str, ...]:
    """Distinct languages of the outlets, in order of first appearance."""
    return tuple(dict.fromkeys(o.language for o in outlets if o.language))


def snippet_html(snippet: str) -> str:
    """The snippet safe to embed in HTML: only ``<mark>`` survives, everything else escaped.

    Unescaping before escaping makes this idempotent on an already escaped snippet and
    safe on one that was not, so a bug upstream cannot inject markup into an email.
    """
    parts = _MARK.split(snippet)
    return "".join(part if _MARK.fullmatch(part) else _escape(html.unescape(part)) for part in parts)


def snippet_text(snippet: str, *, hit_marker: str = "") -> str:
    """The snippet as plain text, hits optionally wrapped in ``hit_marker``."""
    plain = _MARK.sub(hit_marker, snippet)
    return _one_line(html.unescape(plain))


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _is_web_link(url: str) -> bool:
    # Links come from strangers' feeds: only http(s) may become clickable.
    try:
        return urlsplit(url).scheme.lower() in {"http", "https"}
    except ValueError:
        return False


# --- webhook --------------------------------------------------------------------------


def _outlet_json(outlet: Outlet) -> dict[str, Any]:
    return {
        "id": outlet.article_id,
        "url": outlet.url,
        "title": outlet.title,
        "language": outlet.language,
        "feed": outlet.feed,
        "published_at": iso_utc(outlet.published_at) if outlet.published_at else None,
    }


def webhook_payload(alert: AlertContent) -> dict[str, Any]:
    """The webhook JSON document as a dict; see docs/alerts.md for every field."""
    outlets = story_outlets(alert)
    return {
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "alert_id": alert.alert_id,
        "idempotency_key": alert.idempotency_key,
        "topic": alert.topic,
        "story": {
            "id": alert.story_id,
            "title": alert.story_title,
            "first_seen": iso_utc(alert.first_seen),
            "languages": list(story_languages(outlets)),
            "outlets": [_outlet_json(o) for o in outlets],
        },
        "article": _outlet_json(alert.article),
        "match": {
            "score": round(alert.score, 4),
            "terms": list(alert.terms),
            "snippet": snippet_html(alert.snippet),
            "snippet_text": snippet_text(alert.snippet),
        },
        "created_at": iso_utc(alert.created_at),
    }


def webhook_body(alert: AlertContent) -> bytes:
    """Compact UTF-8 JSON; the exact bytes that are signed and sent."""
    return json.dumps(webhook_payload(alert), ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


# --- email ----------------------------------------------------------------------------


def email_subject(alert: AlertContent) -> str:
    title = _one_line(alert.story_title) or _one_line(alert.article.title) or "(untitled)"
    if len(title) > _SUBJECT_TITLE_LIMIT:
        title = title[: _SUBJECT_TITLE_LIMIT - 1].rstrip() + "…"
    return f"[monitor] {_one_line(alert.topic)}: {title}"


def _mail_domain(sender: str) -> str:
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2]
    return _MESSAGE_ID_UNSAFE.sub("", domain) or "monitor.localhost"


def message_id(alert: AlertContent, sender: str) -> str:
    """Stable per alert, so a retried send is recognisable as the same message."""
    local = _MESSAGE_ID_UNSAFE.sub("-", alert.idempotency_key).strip("-") or f"alert-{alert.alert_id}"
    return f"<{local}@{_mail_domain(sender)}>"


def _human_time(moment: datetime) -> str:
    return iso_utc(moment).replace("T", " ").replace("Z", " UTC")


def _language_label(language: str | None) -> str:
    return language if language and _LANGUAGE_TAG.match(language) else "?"


def email_text(alert: AlertContent) -> str:
    """The plain-text part."""
    outlets = story_outlets(alert)
    languages = ", ".join(story_languages(outlets)) or "unknown"
    lines = [
        f"Topic: {_one_line(alert.topic)}",
        f"Story: {_one_line(alert.story_title)} (story {alert.story_id}, first seen {_human_time(alert.first_seen)})",
        "",
        f"Matched article: {_one_line(alert.article.title)}",
        f"  {alert.article.url}",
        f"  {alert.article.feed}, language {_language_label(alert.article.language)}",
        f"  score {alert.score:.2f}, terms: {', '.join(alert.terms) or '-'}",
        "",
        f"  {snippet_text(alert.snippet, hit_marker='*')}",
        "",
        f"Outlets carrying this story ({len(outlets)}; languages: {languages}):",
    ]
    for outlet in outlets:
        lines.append(f"- [{_language_label(outlet.language)}] {_one_line(outlet.title)} ({outlet.feed})")
        lines.append(f"  {outlet.url}")
    lines += [
        "",
        "--",
        f"Alert {alert.alert_id}, sent by monitor at {_human_time(alert.created_at)}.",
        f"Idempotency key: {alert.idempotency_key}",
    ]
    return "\n".join(lines) + "\n"


def _html_link(outlet: Outlet) -> str:
    title = _escape(_one_line(outlet.title) or outlet.url)
    language = _language_label(outlet.language)
    lang_attr = f' lang="{_escape(language)}"' if language != "?" else ""
    if not _is_web_link(outlet.url):
        return f"<span{lang_attr}>{title}</span>"
    return f'<a href="{_escape(outlet.url)}"{lang_attr}>{title}</a>'


def email_html(alert: AlertContent) -> str:
    """The HTML part: every value escaped, only the snippet's ``<mark>`` kept."""
    outlets = story_outlets(alert)
    languages = ", ".join(story_languages(outlets)) or "unknown"
    items = "\n".join(
        f"<li><code>{_escape(_language_label(o.language))}</code> {_html_link(o)}"
        f" <small>({_escape(o.feed)})</small></li>"
        for o in outlets
    )
    terms = _escape(", ".join(alert.terms) or "-")
    return f"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{_escape(email_subject(alert))}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p style="color: #555">Topic <strong>{_escape(_one_line(alert.topic))}</strong>
 &middot; story {alert.story_id}, first seen {_escape(_human_time(alert.first_seen))}</p>
<h2 style="margin: 0.2em 0">{_escape(_one_line(alert.story_title))}</h2>
<p>Matched article: {_html_link(alert.article)}
 <small>({_escape(alert.article.feed)}, score {alert.score:.2f}, terms: {terms})</small></p>
<blockquote style="border-left: 3px solid #ccc; margin: 0; padding-left: 1em">\
{snippet_html(alert.snippet)}</blockquote>
<h3>Outlets carrying this story ({len(outlets)}; languages: {_escape(languages)})</h3>
<ul>
{items}
</ul>
<p style="color: #888; font-size: small">Alert {alert.alert_id}, sent by monitor at
 {_escape(_human_time(alert.created_at))}. Idempotency key:
 <code>{_escape(alert.idempotency_key)}</code></p>
</body>
</html>
"""


def email_message(alert: AlertContent, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A multipart/alternative message: text first, HTML second (clients show the last)."""
    message = EmailMessage()
    message["Subject"] = email_subject(alert)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(_aware(alert.created_at))
    message["Message-ID"] = message_id(alert, sender)
    # RFC 3834: tells autoresponders (vacation replies) not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Monitor-Topic"] = _one_line(alert.topic)
    message["X-Monitor-Story-Id"] = str(alert.story_id)
    message["X-Monitor-Alert-Id"] = str(alert.alert_id)
    message["X-Monitor-Idempotency-Key"] = _one_line(alert.idempotency_key)
    message.set_content(email_text(alert), subtype="plain", charset="utf-8")
    message.add_alternative(email_html(alert), subtype="html", charset="utf-8")
    return message


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
