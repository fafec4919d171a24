"""Digest schedules, story changes, configuration references and the documented payloads (pure)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT
from receivers import sample_digest, sample_operator, sample_update
from synthetic import z

from monitor.alerts import digest
from monitor.alerts.notices import operator_payload, operator_text, update_payload
from monitor.alerts.schedule import Period, parse_schedule
from monitor.changes import StoryChange, story_changes
from monitor.config import parse_config

BERLIN = "daily 08:00 Europe/Berlin"
DOCS = ROOT / "docs" / "alerts.md"


def test_a_daily_period_across_the_spring_dst_change_lasts_23_hours_and_ends_at_8_local() -> None:
    schedule = parse_schedule(BERLIN)
    assert schedule.period_of(z("2026-03-29T05:59:59Z")) == Period(z("2026-03-28T07:00:00Z"), z("2026-03-29T06:00:00Z"))
    assert schedule.period_of(z("2026-03-29T06:00:00Z")).start == z("2026-03-29T06:00:00Z")  # 08:00 CEST
    autumn = schedule.period_of(z("2026-10-25T06:30:00Z"))
    assert autumn == Period(z("2026-10-24T06:00:00Z"), z("2026-10-25T07:00:00Z"))  # 25 hours
    assert schedule.last_complete(z("2026-03-29T06:00:00Z")).end == z("2026-03-29T06:00:00Z")


def test_weekly_and_hourly_periods() -> None:
    weekly = parse_schedule("weekly mon 09:00 Asia/Jakarta")
    saturday = z("2026-12-05T12:00:00Z")
    assert weekly.period_of(saturday) == Period(z("2026-11-30T02:00:00Z"), z("2026-12-07T02:00:00Z"))
    assert weekly.period_of(z("2026-11-30T01:59:00Z")).start == z("2026-11-23T02:00:00Z")
    assert str(weekly) == "weekly mon 09:00 Asia/Jakarta"
    hourly = parse_schedule("hourly")
    assert hourly.last_complete(z("2026-12-05T12:00:00Z")) == Period(z("2026-12-05T11:00:00Z"), saturday)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("monthly", "expected 'hourly', 'daily HH:MM [ZONE]' or 'weekly DAY HH:MM [ZONE]'"),
        ("daily 8", "the time must be HH:MM"),
        ("daily 24:00 UTC", "the time must be HH:MM"),
        ("weekly someday 09:00", "the day must be one of mon, tue"),
        ("daily 08:00 Europe/Atlantis", "unknown time zone 'Europe/Atlantis'; use an IANA name"),
        ("hourly UTC", "'hourly' takes nothing after it"),
    ],
)
def test_a_bad_schedule_is_one_line_naming_the_key_and_line(schedule: str, message: str) -> None:
    text = f"""topics: [{{name: A, query: a}}]
alerts:
  webhooks: [{{name: hook, url: "http://127.0.0.1:9/hook"}}]
  digests:
    - name: morning
      channel: webhook:hook
      topics: [A]
      schedule: "{schedule}"
"""
    with pytest.raises(Exception) as raised:
        parse_config(text, "monitor.yaml")
    (line,) = str(raised.value).splitlines()
    assert line.startswith("monitor.yaml: alerts.digests.0.schedule (line 8): ") and message in line


def test_a_digest_naming_an_unknown_topic_or_channel_is_refused_with_its_line() -> None:
    text = """topics: [{name: A, query: a}]
alerts:
  webhooks: [{name: hook, url: "http://127.0.0.1:9/hook"}]
  operator: webhook:ops
  digests:
    - {name: morning, channel: webhook:nope, topics: [A, B], schedule: hourly}
"""
    with pytest.raises(Exception) as raised:
        parse_config(text, "monitor.yaml")
    assert str(raised.value).splitlines() == [
        "monitor.yaml: alerts.operator (line 4): unknown channel 'webhook:ops' (channels: webhook:hook)",
        "monitor.yaml: alerts.digests.0.channel (line 6): digest 'morning': unknown channel 'webhook:nope' "
        "(channels: webhook:hook)",
        "monitor.yaml: alerts.digests.0.topics.1 (line 6): digest 'morning': unknown topic 'B'",
    ]


def test_the_changes_an_article_makes_to_a_story() -> None:
    assert story_changes({1, 2}, {"id"}, 3, "id") == [StoryChange(outlets=3)]
    assert story_changes({1, 2, 3}, {"id"}, 3, "id") == []  # the same outlet again
    assert story_changes({1, 2, 3}, {"id"}, 4, "de") == [StoryChange(language="de")]
    assert story_changes({1, 2}, {"id"}, 9, "de") == [StoryChange(language="de"), StoryChange(outlets=3)]
    assert story_changes(set(range(9)), {"id"}, 9, None) == [StoryChange(outlets=10)]
    assert story_changes({1}, set(), 1, "de") == [], "a first known language is no change"


def documented(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in docs/alerts.md."""
    doc = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"```{language}\n(.*?)```", doc[doc.index(heading) :], re.DOTALL)
    assert found, f"docs/alerts.md lost its {language} example under {heading!r}"
    return found.group(1)


def test_the_documented_digest_is_what_is_sent() -> None:
    content = sample_digest()
    assert json.loads(documented("### Digest webhook payload", "json")) == digest.webhook_payload(content)
    assert documented("### Digest email and text", "text") == digest.text(content)
    assert f"Subject `{digest.subject(content.digest)}`" in DOCS.read_text(encoding="utf-8")
    assert digest.from_payload(content.digest.to_payload()) == content.digest  # stored and read back unchanged


def test_the_documented_update_and_operator_alert_are_what_is_sent() -> None:
    assert json.loads(documented("## Story updates", "json")) == update_payload(sample_update())
    assert json.loads(documented("## Operator alerts", "json")) == operator_payload(sample_operator())
    assert documented("## Operator alerts", "text") == operator_text(sample_operator())
