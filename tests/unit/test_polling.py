"""The polling policy: how often a feed is polled, and when it is given up."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from monitor.polling import PollHints, PollPolicy, Rhythm, is_dead, next_interval, retry_interval

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
POLICY = PollPolicy(jitter=0.0)
HOUR = timedelta(hours=1)


def interval(
    *,
    entries_last_week: int = 0,
    hints: PollHints | None = None,
    headers: Mapping[str, str] | None = None,
    status: int | None = 200,
    failures: int = 0,
    override: timedelta | None = None,
    policy: PollPolicy = POLICY,
    dates: Sequence[datetime] | None = None,
    retry_soon: bool = False,
) -> timedelta:
    if dates is None:
        step = timedelta(days=7) / (entries_last_week + 1)
        dates = [NOW - step * (i + 1) for i in range(entries_last_week)]
    return next_interval(
        policy,
        entry_dates=dates,
        hints=hints or PollHints(),
        response_headers=headers,
        status=status,
        consecutive_failures=failures,
        override=override,
        now=NOW,
        rng=random.Random(1),
        retry_soon=retry_soon,
    )


@pytest.mark.parametrize(
    ("weekly", "expected"),
    [
        (0, timedelta(hours=24)),  # silent feed: the maximum
        (7, timedelta(hours=24)),  # one a day
        (14, timedelta(hours=12)),
        (168, HOUR),
        (10_000, timedelta(minutes=5)),  # a firehose: the minimum
    ],
)
def test_interval_follows_how_often_the_feed_publishes(weekly: int, expected: timedelta) -> None:
    assert interval(entries_last_week=weekly) == expected


def test_old_and_future_entries_do_not_count() -> None:
    dates = [NOW - timedelta(days=30)] * 500 + [NOW + timedelta(days=1)] * 500
    assert interval(dates=dates) == timedelta(hours=24)


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        (PollHints(ttl_minutes=180), 3 * HOUR),
        (PollHints(update_period="daily", update_frequency=2), 12 * HOUR),
        (PollHints(update_period="hourly"), HOUR),
        (PollHints(update_period="yearly"), 24 * HOUR),  # clamped to the maximum
        (PollHints(ttl_minutes=1), HOUR),  # a hint never makes us poll faster
    ],
)
def test_feed_hints_raise_the_interval(hints: PollHints, expected: timedelta) -> None:
    assert interval(entries_last_week=168, hints=hints) == expected


@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"Cache-Control": "public, max-age=7200"}, 200, 2 * HOUR),
        ({"cache-control": "max-age=7200, no-cache"}, 200, HOUR),
        ({"expires": "Sun, 01 Jun 2025 15:00:00 GMT"}, 200, 3 * HOUR),
        ({"expires": "0"}, 200, HOUR),
        ({"retry-after": "10800"}, 429, 3 * HOUR),
        ({"retry-after": "Sun, 01 Jun 2025 16:00:00 GMT"}, 503, 4 * HOUR),
        ({"retry-after": "10800"}, 200, HOUR),  # only on 429 and 503
        ({"retry-after": "999999999"}, 429, 24 * HOUR),
        ({"retry-after": "soon"}, 503, HOUR),
    ],
)
def test_server_headers_raise_the_interval(headers: Mapping[str, str], status: int, expected: timedelta) -> None:
    assert interval(entries_last_week=168, headers=headers, status=status) == expected


def test_failures_back_off_linearly_from_the_third_up_to_the_maximum() -> None:
    by_failures = [interval(entries_last_week=168, failures=n) for n in range(0, 30)]
    assert by_failures[:3] == [HOUR] * 3
    assert by_failures[3:6] == [2 * HOUR, 3 * HOUR, 4 * HOUR]
    assert by_failures[-1] == 24 * HOUR
    assert all(a <= b for a, b in itertools.pairwise(by_failures))


MINUTES = [timedelta(minutes=m) for m in (5, 10, 20, 40, 80, 160, 320, 640, 1280)]


def test_a_new_feed_that_fails_is_retried_from_the_minimum_doubling_up_to_the_maximum() -> None:
    # Never read: no entry dates, which alone would mean the 24 h of a silent feed.
    waits = [interval(status=None, failures=n, retry_soon=True) for n in range(1, 12)]
    assert waits == [*MINUTES, 24 * HOUR, 24 * HOUR]


def test_a_transient_failure_of_a_busy_feed_is_retried_soon_then_backs_off_past_its_pace() -> None:
    # 168 entries a week: polled hourly. Unreachable or 5xx: 5 min, 10, 20, 40, 80 … 24 h.
    waits = [interval(entries_last_week=168, status=503, failures=n, retry_soon=True) for n in range(1, 12)]
    assert waits == [*MINUTES, 24 * HOUR, 24 * HOUR]
    # Any other failure keeps the feed's pace, then backs off linearly (unchanged).
    assert interval(entries_last_week=168, status=404, failures=1) == HOUR
    # A success resets: retry_soon means nothing without a failure.
    assert interval(entries_last_week=168, failures=0, retry_soon=True) == HOUR


def test_a_transient_failure_still_honours_retry_after() -> None:
    asked = {"retry-after": "7200"}
    assert interval(status=503, headers=asked, failures=1, retry_soon=True) == 2 * HOUR
    assert interval(status=503, headers={"retry-after": "60"}, failures=1, retry_soon=True) == MINUTES[0]


def test_retry_starts_from_a_fixed_interval_shorter_than_the_minimum() -> None:
    assert retry_interval(POLICY, 1, override=timedelta(minutes=1)) == timedelta(minutes=1)
    assert retry_interval(POLICY, 3, override=timedelta(minutes=1)) == timedelta(minutes=4)
    assert retry_interval(POLICY, 1, override=HOUR) == MINUTES[0]


def test_retry_interval_of_endless_failures_is_the_maximum() -> None:
    assert retry_interval(POLICY, 10**9) == POLICY.max_interval
    assert retry_interval(PollPolicy(min_interval=timedelta(0)), 10**9) == timedelta(0)


def test_override_replaces_the_frequency_rule_but_not_retry_after() -> None:
    assert interval(entries_last_week=10_000, override=2 * HOUR) == 2 * HOUR
    assert interval(override=timedelta(minutes=2)) == timedelta(minutes=2)
    assert interval(override=HOUR, headers={"retry-after": "7200"}, status=429) == 2 * HOUR


def test_jitter_spreads_intervals_within_ten_percent() -> None:
    rng = random.Random(7)
    samples = [
        next_interval(
            PollPolicy(),
            entry_dates=[],
            hints=PollHints(),
            response_headers=None,
            status=200,
            consecutive_failures=0,
            override=None,
            now=NOW,
            rng=rng,
        )
        for _ in range(200)
    ]
    assert all(21.6 * HOUR <= s <= 26.4 * HOUR for s in samples)
    assert len(set(samples)) > 150


def test_feed_answering_404_for_a_week_is_dead() -> None:
    policy = PollPolicy()
    since = NOW - timedelta(days=6)
    assert not is_dead(policy, status=404, failing_since=since, now=NOW)
    assert is_dead(policy, status=410, failing_since=since, now=NOW + timedelta(days=1))
    assert not is_dead(policy, status=500, failing_since=since, now=NOW + timedelta(days=30))
    assert not is_dead(policy, status=404, failing_since=None, now=NOW)  # just recovered


def test_missing_hints_are_no_hints() -> None:
    assert interval(entries_last_week=168) == next_interval(
        POLICY,
        entry_dates=[NOW - timedelta(hours=i) for i in range(1, 169)],
        hints=None,
        response_headers=None,
        status=200,
        consecutive_failures=0,
        override=None,
        now=NOW,
        rng=random.Random(1),
    )


def test_rhythm_remembers_last_week_and_counts_an_undated_entry_from_when_it_was_seen() -> None:
    now = datetime(2024, 10, 22, 12, tzinfo=UTC)
    before = Rhythm(entry_dates=(now - timedelta(days=2), now - timedelta(days=9)))
    after = before.observed(
        [now - timedelta(hours=1), now - timedelta(days=2), now + timedelta(days=30)],
        undated_new=2,
        hints=PollHints(ttl_minutes=90),
        now=now,
    )
    # The 9-day-old and the future date drop out; the repeated date counts once; the two
    # undated entries count as published now.
    assert len(after.entry_dates) == 4
    assert after.entry_dates[0] <= now and min(after.entry_dates) == now - timedelta(days=2)
    assert after.hints == PollHints(ttl_minutes=90)
    assert Rhythm.from_json(after.to_json()) == after
    # The same entries parsed again later add nothing; the remembered ones age out.
    later = Rhythm.from_json(after.to_json()).observed(
        [now - timedelta(hours=1)], undated_new=0, hints=PollHints(), now=now + timedelta(days=6)
    )
    assert len(later.entry_dates) == 3
    assert Rhythm.from_json(None) == Rhythm()
