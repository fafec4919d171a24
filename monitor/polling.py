"""When to poll a feed next (pure).

The interval follows how often the feed publishes (Miniflux's entry-frequency rule: one
week divided by the number of entries published in the last week), clamped between a
minimum and a maximum, raised to whatever the server asks for (``<ttl>``,
``sy:updatePeriod``/``sy:updateFrequency``, ``Cache-Control: max-age``, ``Expires``,
``Retry-After`` on 429/503), backed off linearly after repeated failures, and jittered so
that feeds added together do not stay in lockstep. A failure that usually passes (the
server unreachable, too slow or answering 5xx) and any failure of a feed never read yet
is instead retried soon: from the minimum interval, doubling up to the maximum.
docs/fetching.md explains it for users.
"""

from __future__ import annotations

import enum
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

WEEK = timedelta(days=7)
REMEMBERED_DATES = 2016  # a week of entries at the default 5-minute minimum; more cannot poll faster

_SY_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
    "monthly": timedelta(days=30),
    "yearly": timedelta(days=365),
}
_MAX_AGE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?(\d{1,10})", re.IGNORECASE)


class PollOutcome(enum.Enum):
    """What one poll of a feed came to. Only ``OK`` read the feed: its validators and rhythm are kept."""

    OK = "ok"
    NOT_MODIFIED = "not modified"  # a 304, or a 200 with the bytes of the last one
    HTTP_ERROR = "HTTP"  # the server answered with a 4xx or 5xx
    ERROR = "error"  # unreachable, not a feed, or a failure on our side

    def status(self, http_status: int | None = None) -> str:
        """The text stored on the feed and shown: "ok", "not modified", "HTTP 404", "error"."""
        return f"HTTP {http_status}" if self is PollOutcome.HTTP_ERROR else self.value

    @property
    def label(self) -> str:
        """The metric label: ok, not_modified, http_error, error."""
        return self.name.lower()


@dataclass(frozen=True)
class PollHints:
    """What a feed document says about its own update rhythm."""

    ttl_minutes: int | None = None  # RSS <ttl>
    update_period: str | None = None  # sy:updatePeriod: hourly, daily, weekly, monthly, yearly
    update_frequency: int | None = None  # sy:updateFrequency: times per period (default 1)

    def interval(self) -> timedelta | None:
        """The longest interval the feed itself asks for, or None when it says nothing."""
        asked: list[timedelta] = []
        if self.ttl_minutes and self.ttl_minutes > 0:
            asked.append(timedelta(minutes=self.ttl_minutes))
        period = _SY_PERIODS.get((self.update_period or "").strip().lower())
        if period is not None:
            asked.append(period / max(1, self.update_frequency or 1))
        return max(asked, default=None)


@dataclass(frozen=True)
class Rhythm:
    """What a feed showed of its pace when it was last parsed, kept on the feed so that a
    304 (most polls) reschedules without reading the feed's articles back."""

    entry_dates: tuple[datetime, ...] = ()  # last week's entries, newest first
    hints: PollHints = field(default_factory=PollHints)

    def observed(self, dated: Iterable[datetime], undated_new: int, hints: PollHints, now: datetime) -> Rhythm:
        """This rhythm after a parse: the dates of the entries joined to those remembered
        (an undated entry counts from when it was first seen), the last week only."""
        remembered = set(self.entry_dates)
        dates = [*self.entry_dates, *(d for d in set(dated) if d not in remembered)]
        dates += [now] * undated_new
        week_ago = now - WEEK
        recent = sorted((d for d in dates if week_ago <= d <= now), reverse=True)
        return Rhythm(tuple(recent[:REMEMBERED_DATES]), hints)

    def to_json(self) -> str:
        # Float seconds keep the microseconds, so an entry parsed again is recognised.
        dates = [d.timestamp() for d in self.entry_dates]
        return json.dumps({"dates": dates, "hints": asdict(self.hints)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> Rhythm:
        """The stored rhythm; an empty one when there is none (a feed never parsed yet)."""
        if not text:
            return cls()
        data = json.loads(text)
        dates = tuple(datetime.fromtimestamp(seconds, UTC) for seconds in data["dates"])
        return cls(dates, PollHints(**data["hints"]))


@dataclass(frozen=True)
class PollPolicy:
    """Settings of the schedule; each maps to a `polling.*` key of the config."""

    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=24)
    jitter: float = 0.10  # each interval is multiplied by a random factor in [1 - j, 1 + j]
    failures_before_backoff: int = 3
    backoff_step: timedelta = timedelta(hours=1)  # added per failure from the 3rd one on
    dead_after: timedelta = timedelta(days=7)  # failing with 404/410 for this long: dead


def entry_frequency_interval(policy: PollPolicy, entry_dates: Sequence[datetime], now: datetime) -> timedelta:
    """One week divided by the entries published during the last week, clamped."""
    week_ago = now - WEEK
    weekly = sum(1 for date in entry_dates if week_ago <= date <= now)
    if weekly == 0:
        return policy.max_interval
    return _clamp(WEEK / weekly, policy)


def server_interval(headers: Mapping[str, str] | None, status: int | None, now: datetime) -> timedelta | None:
    """How long the HTTP answer asks us to wait: Retry-After on 429/503, else caching headers."""
    if not headers:
        return None
    headers = {name.lower(): value for name, value in headers.items()}
    if status in (429, 503) and "retry-after" in headers:
        return _seconds_or_date(headers["retry-after"], now)
    cache_control = headers.get("cache-control", "")
    if re.search(r"no-cache|no-store", cache_control, re.IGNORECASE) is None:
        ages = [int(m.group(2)) for m in _MAX_AGE.finditer(cache_control)]
        if ages:
            return timedelta(seconds=max(ages))
    if "expires" in headers:
        return _seconds_or_date(headers["expires"], now, seconds_allowed=False)
    return None


def next_interval(
    policy: PollPolicy,
    *,
    entry_dates: Sequence[datetime],
    hints: PollHints | None,
    response_headers: Mapping[str, str] | None,
    status: int | None,
    consecutive_failures: int,
    override: timedelta | None,
    now: datetime,
    rng: random.Random,
    retry_soon: bool = False,
) -> timedelta:
    """The time until the next poll of one feed, after a poll that just ended at ``now``.

    ``entry_dates`` are the publication dates of the feed's recent entries; ``override``
    is the per-feed interval from the config, which replaces the frequency rule and the
    feed's own hints, but not a server's Retry-After nor the failure backoff.
    ``retry_soon``: the failure (if this poll failed) usually passes, or the feed was never
    read; it is retried by ``retry_interval`` rather than at the feed's usual pace.
    """
    from_server = server_interval(response_headers, status, now)
    if retry_soon and consecutive_failures > 0:
        interval = retry_interval(policy, consecutive_failures, override)
        if from_server is not None:
            interval = max(interval, min(from_server, policy.max_interval))
        return interval * (1 + rng.uniform(-policy.jitter, policy.jitter))
    if override is not None:
        interval = override
    else:
        interval = entry_frequency_interval(policy, entry_dates, now)
        asked = hints.interval() if hints is not None else None
        if asked is not None:
            interval = max(interval, min(asked, policy.max_interval))
    if from_server is not None:
        interval = max(interval, min(from_server, policy.max_interval))
    if consecutive_failures >= policy.failures_before_backoff:
        steps = consecutive_failures - policy.failures_before_backoff + 1
        interval = max(interval, min(policy.max_interval, interval + steps * policy.backoff_step))
    if override is None:
        interval = max(interval, policy.min_interval)
    return interval * (1 + rng.uniform(-policy.jitter, policy.jitter))


def retry_interval(policy: PollPolicy, consecutive_failures: int, override: timedelta | None = None) -> timedelta:
    """The wait after the n-th failure in a row that is worth retrying soon: min_interval
    (or the feed's own fixed interval, when shorter), doubled per failure, up to
    max_interval. A new feed that fails is not left for the maximum meant for silent feeds."""
    interval = min(policy.min_interval, override) if override is not None else policy.min_interval
    for _ in range(min(consecutive_failures - 1, 64)):  # 2**64 minimum intervals exceed any maximum
        if interval >= policy.max_interval:
            break
        interval *= 2
    return min(interval, policy.max_interval)


def is_dead(policy: PollPolicy, *, status: int | None, failing_since: datetime | None, now: datetime) -> bool:
    """True when the feed answers 404 or 410 and has been failing for dead_after or more.

    ``failing_since`` is when the current run of failed polls began (None after a
    success); a dead feed is no longer polled until a human revives it.
    """
    if status not in (404, 410) or failing_since is None:
        return False
    return now - failing_since >= policy.dead_after


def _clamp(interval: timedelta, policy: PollPolicy) -> timedelta:
    return min(max(interval, policy.min_interval), policy.max_interval)


def _seconds_or_date(value: str, now: datetime, *, seconds_allowed: bool = True) -> timedelta | None:
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value[:10])) if seconds_allowed else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))
