"""Digest schedules: parse ``daily 08:00 Europe/Berlin`` and cut time into periods (pure).

A period ends where the next begins, at the scheduled local time, so a digest covers
every moment once. Boundaries are computed on the local calendar and only then turned
into UTC: a daily period across a DST change lasts 23 or 25 hours and still ends at
08:00 local time. A local time that does not exist that day (02:30 when clocks spring
forward) falls at the same distance after the gap, as zoneinfo resolves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FORMAT = "expected 'hourly', 'daily HH:MM [ZONE]' or 'weekly DAY HH:MM [ZONE]' (ZONE e.g. Europe/Berlin)"
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)\Z")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    every: str  # "hourly", "daily" or "weekly"
    at: time = time(0, 0)
    weekday: int = 0  # Monday 0, for "weekly"
    zone: str = "UTC"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def __str__(self) -> str:
        if self.every == "hourly":
            return "hourly"
        day = f" {WEEKDAYS[self.weekday]}" if self.every == "weekly" else ""
        return f"{self.every}{day} {self.at:%H:%M} {self.zone}"

    def period_of(self, moment: datetime) -> Period:
        """The period that contains ``moment``."""
        moment = moment.astimezone(UTC)
        if self.every == "hourly":
            start = moment.replace(minute=0, second=0, microsecond=0)
            return Period(start, start + timedelta(hours=1))
        step = 7 if self.every == "weekly" else 1
        day = moment.astimezone(self.tz).date()
        if self.every == "weekly":
            day -= timedelta(days=(day.weekday() - self.weekday) % 7)
        if moment < self._boundary(day):
            day -= timedelta(days=step)
        return Period(self._boundary(day), self._boundary(day + timedelta(days=step)))

    def last_complete(self, now: datetime) -> Period:
        """The newest period that has ended by ``now``."""
        return self.period_of(self.period_of(now).start - timedelta(microseconds=1))

    def _boundary(self, day: date) -> datetime:
        # Local calendar first, UTC after: the arithmetic on days never crosses an offset change.
        return datetime.combine(day, self.at, tzinfo=self.tz).astimezone(UTC)


def parse_schedule(text: str) -> Schedule:
    """``hourly``, ``daily 08:00 Europe/Berlin``, ``weekly mon 09:00 Asia/Jakarta``; ValueError in one line."""
    words = text.split()
    if not words or words[0].lower() not in ("hourly", "daily", "weekly"):
        raise ValueError(f"schedule {text!r}: {_FORMAT}")
    every, rest = words[0].lower(), words[1:]
    if every == "hourly":
        if rest:
            raise ValueError(f"schedule {text!r}: 'hourly' takes nothing after it (periods start on the hour, UTC)")
        return Schedule("hourly")
    weekday = 0
    if every == "weekly":
        if not rest or rest[0].lower()[:3] not in WEEKDAYS:
            raise ValueError(f"schedule {text!r}: the day must be one of {', '.join(WEEKDAYS)}")
        weekday, rest = WEEKDAYS.index(rest[0].lower()[:3]), rest[1:]
    if not rest or not (clock := _CLOCK.match(rest[0])):
        raise ValueError(f"schedule {text!r}: the time must be HH:MM, 00:00 to 23:59")
    zone = rest[1] if len(rest) > 1 else "UTC"
    if len(rest) > 2:
        raise ValueError(f"schedule {text!r}: {_FORMAT}")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"schedule {text!r}: unknown time zone {zone!r}; use an IANA name such as Europe/Berlin"
        ) from None
    return Schedule(every, time(int(clock[1]), int(clock[2])), weekday, zone)
