"""Loading the configuration: defaults, secrets from the environment, clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config, parse_config, parse_duration
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_default_config_is_valid_and_multilingual() -> None:
    config = load_config(ROOT / "config" / "monitor.yaml", env={})
    assert config.database.startswith("sqlite:///")
    assert [t.name for t in config.topics] == ["ByteDance AI", "Doubao", "TikTok ban"]
    assert len(config.feeds) >= 8
    assert len({f.name for f in config.feeds}) == len(config.feeds)


def test_secrets_come_from_the_environment() -> None:
    text = "alerts:\n  webhooks:\n    - url: https://hooks.example/x\n      secret: ${HOOK}\n"
    config = parse_config(text, "c.yaml", env={"HOOK": "s3cret"})
    assert config.alerts.webhooks[0].secret == "s3cret"
    assert config.alerts.webhooks[0].name == "hooks.example"
    with pytest.raises(ConfigError, match=r"c.yaml: alerts.webhooks.0.secret \(line 4\): environment variable HOOK is not set"):
        parse_config(text, "c.yaml", env={})


def test_database_url_from_the_environment_wins() -> None:
    config = parse_config("database: sqlite:///a.db\n", env={"MONITOR_DATABASE_URL": "postgresql+psycopg://db/m"})
    assert config.database == "postgresql+psycopg://db/m"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("feeds:\n  - url: notaurl\n", "c.yaml: feeds.0.url (line 2): 'notaurl' is not an http(s) URL"),
        (
            "fetch:\n  allow_networks: [10.0.0.0/33]\n",
            "fetch.allow_networks.0 (line 2): '10.0.0.0/33' is not a network",
        ),
        (
            "polling:\n  min_interval: often\n",
            "polling.min_interval (line 2): 'often' is not a duration",
        ),
        ("topics:\n  - {name: a, query: x}\n  - {name: a, query: y}\n", "two topics are named 'a'"),
        ("databse: x\n", "databse (line 1): unknown key"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("feeds: [\n", "not valid YAML"),
    ],
)
def test_each_problem_is_one_line_naming_key_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", env={})
    assert expected in str(caught.value)
    assert caught.value.exit_code == 2


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(30) == timedelta(seconds=30)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
