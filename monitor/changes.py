"""What changed about a story or a feed that someone is told of, decided and stored (pure).

A story update reports that an alerted story gained a language or reached 3 or 10
outlets (distinct feeds); an operator alert that a feed has been failing for a while,
that it recovered, or that an alert was given up. Each is one outbox row under a key
that names the change; these are the facts stored with it (rendered by alerts.notices).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OUTLET_THRESHOLDS = (3, 10)

FEED_FAILING = "feed_failing"
FEED_RECOVERED = "feed_recovered"
ALERT_FAILED = "alert_failed"


@dataclass(frozen=True)
class StoryChange:
    """One thing an update reports: a new language, or a number of outlets reached."""

    language: str | None = None
    outlets: int = 0

    @property
    def name(self) -> str:
        """The change's part of the outbox key: ``language-de`` or ``outlets-3``."""
        return f"language-{self.language}" if self.language else f"outlets-{self.outlets}"

    def to_json(self) -> dict[str, Any]:
        if self.language:
            return {"kind": "language", "language": self.language}
        return {"kind": "outlets", "outlets": self.outlets}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryChange:
        return cls(language=data["language"]) if data["kind"] == "language" else cls(outlets=int(data["outlets"]))


def story_changes(
    feeds: Collection[int], languages: Collection[str], new_feed: int, new_language: str | None
) -> list[StoryChange]:
    """What one new article changes in a story whose articles came from ``feeds`` in ``languages``."""
    changes = []
    if new_language and languages and new_language not in languages:
        changes.append(StoryChange(language=new_language))
    before = len(set(feeds))
    after = len({*feeds, new_feed})
    changes += [StoryChange(outlets=t) for t in OUTLET_THRESHOLDS if before < t <= after]
    return changes


@dataclass(frozen=True)
class OperatorEvent:
    """A change of state the operator hears about once."""

    event: str  # FEED_FAILING, FEED_RECOVERED or ALERT_FAILED
    subject: str  # the feed's name, or "<kind> alert <id> (<topic>)"
    at: datetime  # when the change was noticed
    since: datetime | None = None  # when the feed began failing
    error: str | None = None  # the last error line
    url: str | None = None  # the feed's URL
    channel: str | None = None  # the channel of the alert given up
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "subject": self.subject,
            "at": iso(self.at),
            "since": iso(self.since) if self.since else None,
            "error": self.error,
            "url": self.url,
            "channel": self.channel,
            "attempts": self.attempts,
        }

    def to_payload(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OperatorEvent:
        return cls(
            event=data["event"],
            subject=data["subject"],
            at=moment(data["at"]),
            since=moment(data["since"]) if data.get("since") else None,
            error=data.get("error"),
            url=data.get("url"),
            channel=data.get("channel"),
            attempts=int(data.get("attempts") or 0),
        )


def iso(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; naive datetimes are taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
