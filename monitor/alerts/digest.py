"""A digest: one message per period listing its new stories per topic (pure).

The content is gathered once, when the period's digest is queued, and stored with its
outbox row as the JSON below (``to_payload``): a retry or a restart sends exactly what
was queued. The webhook body is that document plus the alert's id, key and time; the
email has a text and an HTML part. See docs/alerts.md ("Digests").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.alerts.render import (
    PAYLOAD_VERSION,
    Message,
    escape,
    html_link,
    iso_utc,
    language_label,
    one_line,
    outlet_json,
    snippet_html,
    snippet_text,
    story_languages,
)
from monitor.model import Outlet

DIGEST_TYPE = "monitor.digest"


@dataclass(frozen=True)
class DigestStory:
    story_id: int
    title: str  # in the story's first language
    language: str | None
    matched_at: datetime  # when the story first matched the topic: newest first
    outlets: tuple[Outlet, ...]
    snippet: str  # HTML-escaped, hits in <mark>, from the story's first match of the topic

    @property
    def languages(self) -> tuple[str, ...]:
        return story_languages(self.outlets)


@dataclass(frozen=True)
class DigestTopic:
    topic: str
    stories: tuple[DigestStory, ...]


@dataclass(frozen=True)
class Digest:
    """What one period's digest says, before it is queued."""

    name: str
    schedule: str
    zone: str
    period_start: datetime
    period_end: datetime
    since: datetime  # the stories listed matched in [since, until): since is earlier after a missed period
    until: datetime
    topics: tuple[DigestTopic, ...]

    @property
    def story_count(self) -> int:
        """Distinct stories: one listed under two topics counts once."""
        return len({s.story_id for t in self.topics for s in t.stories})

    def to_payload(self) -> str:
        """The JSON stored in the outbox row (the webhook document without the alert's own fields)."""
        return json.dumps(_document(self), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class DigestContent:
    """A queued digest, as the outbox sends it."""

    alert_id: int
    digest: Digest
    idempotency_key: str
    created_at: datetime


def from_payload(payload: str) -> Digest:
    """The digest a row stored (``Digest.to_payload``)."""
    data = json.loads(payload)
    return Digest(
        name=data["digest"],
        schedule=data["schedule"],
        zone=data["zone"],
        period_start=_moment(data["period"]["start"]),
        period_end=_moment(data["period"]["end"]),
        since=_moment(data["covers"]["since"]),
        until=_moment(data["covers"]["until"]),
        topics=tuple(
            DigestTopic(
                topic["topic"],
                tuple(
                    DigestStory(
                        story_id=s["id"],
                        title=s["title"],
                        language=s["language"],
                        matched_at=_moment(s["matched_at"]),
                        outlets=tuple(_outlet(o) for o in s["outlets"]),
                        snippet=s["snippet"],
                    )
                    for s in topic["stories"]
                ),
            )
            for topic in data["topics"]
        ),
    )


def newest_first(stories: Sequence[DigestStory]) -> tuple[DigestStory, ...]:
    return tuple(sorted(stories, key=lambda s: (s.matched_at, s.story_id), reverse=True))


# --- webhook ----------------------------------------------------------------------------


def _document(digest: Digest) -> dict[str, Any]:
    return {
        "type": DIGEST_TYPE,
        "version": PAYLOAD_VERSION,
        "digest": digest.name,
        "schedule": digest.schedule,
        "zone": digest.zone,
        "period": {"start": iso_utc(digest.period_start), "end": iso_utc(digest.period_end)},
        "covers": {"since": iso_utc(digest.since), "until": iso_utc(digest.until)},
        "story_count": digest.story_count,
        "topics": [
            {
                "topic": topic.topic,
                "stories": [
                    {
                        "id": s.story_id,
                        "title": s.title,
                        "language": s.language,
                        "matched_at": iso_utc(s.matched_at),
                        "languages": list(s.languages),
                        "outlets": [outlet_json(o) for o in s.outlets],
                        "snippet": snippet_html(s.snippet),
                        "snippet_text": snippet_text(s.snippet),
                    }
                    for s in topic.stories
                ],
            }
            for topic in digest.topics
        ],
    }


def webhook_payload(content: DigestContent) -> dict[str, Any]:
    """The webhook JSON document of a digest; see docs/alerts.md."""
    document = _document(content.digest)
    return {
        "type": document.pop("type"),
        "version": document.pop("version"),
        "alert_id": content.alert_id,
        "idempotency_key": content.idempotency_key,
        **document,
        "created_at": iso_utc(content.created_at),
    }


# --- email ------------------------------------------------------------------------------


def _local(digest: Digest, moment: datetime) -> str:
    return f"{moment.astimezone(ZoneInfo(digest.zone)):%Y-%m-%d %H:%M}"


def _span(digest: Digest) -> str:
    return f"{_local(digest, digest.since)} to {_local(digest, digest.until)} {digest.zone}"


def subject(digest: Digest) -> str:
    stories = f"{digest.story_count} new {'story' if digest.story_count == 1 else 'stories'}"
    return f"[monitor] {one_line(digest.name)} digest: {stories}, {_local(digest, digest.until)} {digest.zone}"


def text(content: DigestContent) -> str:
    """The plain-text part."""
    digest = content.digest
    lines = [
        f"Digest {one_line(digest.name)} ({digest.schedule})",
        f"{digest.story_count} new stories in {_topic_count(digest)}, {_span(digest)}.",
    ]
    for topic in digest.topics:
        lines += ["", f"== {one_line(topic.topic)} ({len(topic.stories)}) =="]
        for number, story in enumerate(topic.stories, 1):
            languages = ", ".join(story.languages) or "unknown"
            lines += [
                "",
                f"{number}. {one_line(story.title)}",
                f"   {_local(digest, story.matched_at)} · {_told_by(story)} · "
                f"languages: {languages} · story {story.story_id}",
                f"   {snippet_text(story.snippet, hit_marker='*')}",
            ]
            for outlet in story.outlets:
                lines.append(f"   - [{language_label(outlet.language)}] {one_line(outlet.title)} ({outlet.feed})")
                lines.append(f"     {outlet.url}")
    lines += ["", "--", f"Alert {content.alert_id}, sent by monitor. Idempotency key: {content.idempotency_key}"]
    return "\n".join(lines) + "\n"


def _told_by(story: DigestStory) -> str:
    """A story's copies and the feeds they came from: "3 articles from 2 outlets"."""
    articles, feeds = len(story.outlets), len({o.feed for o in story.outlets})
    return f"{articles} article{'s' * (articles != 1)} from {feeds} outlet{'s' * (feeds != 1)}"


def html(content: DigestContent) -> str:
    """The HTML part: every value escaped, only the snippet's ``<mark>`` kept."""
    digest = content.digest
    sections = []
    for topic in digest.topics:
        items = []
        for story in topic.stories:
            outlets = "".join(
                f"<li><code>{escape(language_label(o.language))}</code> {html_link(o)}"
                f" <small>({escape(o.feed)})</small></li>"
                for o in story.outlets
            )
            languages = escape(", ".join(story.languages) or "unknown")
            lang = language_label(story.language)
            lang_attr = f' lang="{escape(lang)}"' if lang != "?" else ""
            items.append(
                f"<li><strong{lang_attr}>{escape(one_line(story.title))}</strong>"
                f'<br><small style="color: #555">{escape(_local(digest, story.matched_at))} &middot; '
                f"{escape(_told_by(story))} &middot; languages: {languages}</small>"
                f'<blockquote style="border-left: 3px solid #ccc; margin: 0.3em 0; padding-left: 1em">'
                f"{snippet_html(story.snippet)}</blockquote><ul>{outlets}</ul></li>"
            )
        sections.append(
            f"<h3>{escape(one_line(topic.topic))} ({len(topic.stories)})</h3>\n<ol>\n" + "\n".join(items) + "\n</ol>"
        )
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{escape(subject(digest))}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<h2 style="margin: 0.2em 0">Digest {escape(one_line(digest.name))}</h2>
<p style="color: #555">{digest.story_count} new stories in {escape(_topic_count(digest))},
 {escape(_span(digest))} ({escape(digest.schedule)})</p>
{body}
<p style="color: #888; font-size: small">Alert {content.alert_id}, sent by monitor. Idempotency key:
 <code>{escape(content.idempotency_key)}</code></p>
</body>
</html>
"""


def digest_message(content: DigestContent) -> Message:
    """The digest in every channel's form."""
    return Message(
        key=content.idempotency_key,
        subject=subject(content.digest),
        text=text(content),
        html=html(content),
        payload=json.dumps(webhook_payload(content), ensure_ascii=False, separators=(",", ":")).encode(),
        created_at=content.created_at,
        headers=(
            ("X-Monitor-Digest", one_line(content.digest.name)),
            ("X-Monitor-Alert-Id", str(content.alert_id)),
            ("X-Monitor-Idempotency-Key", one_line(content.idempotency_key)),
        ),
    )


def _topic_count(digest: Digest) -> str:
    return f"{len(digest.topics)} topic{'s' * (len(digest.topics) != 1)}"


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _outlet(data: dict[str, Any]) -> Outlet:
    published = data.get("published_at")
    return Outlet(
        data["id"],
        data["url"],
        data["title"],
        data["language"],
        data["feed"],
        _moment(published) if published else None,
    )
