"""Loading the configuration: defaults, secrets from the environment, clear errors."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import ROOT

from monitor.config import MAX_CONFIG_BYTES, load_config, parse_config, parse_duration
from monitor.errors import ConfigError


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
    with pytest.raises(
        ConfigError, match=r"c.yaml: alerts.webhooks.0.secret \(line 4\): environment variable HOOK is not"
    ):
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
        ("stories:\n  event_threshold: 1.5\n", "stories.event_threshold (line 2): Input should be less than 1"),
        ("stories:\n  event_threshold: yes\n", "stories.event_threshold (line 2): Input should be a valid number"),
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
    for endless in ("99999999999999d", float("inf"), float("nan"), 10**400, "-5m", "１０m"):
        with pytest.raises(ValueError, match=r"not a duration|too long"):
            parse_duration(endless)


def _problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yaml", env=env or {})
    return str(caught.value).splitlines()


# Each of the configs that used to be accepted or to crash: one line naming the key.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('database: "not a url"\n', "database (line 1): not an SQLAlchemy URL; write e.g. sqlite:///"),
        (
            "database: postgresql+nodriver://u:p@db/m\n",
            "database (line 1): 'postgresql+nodriver' names no SQLAlchemy driver",
        ),
        (
            "database: postgresql+psycopg2://db/m\n",
            "database (line 1): the database driver 'psycopg2' is not installed",
        ),
        ('database: "postgresql+psycopg://u@db host/m"\n', "database (line 1): database host 'db host' is not a host"),
        ("database: postgresql+psycopg://u@db:99999/m\n", "database (line 1): database port 99999 is out of range"),
        ("database: postgresql+psycopg://u@db:abc/m\n", "database (line 1): the database port is not a number"),
        ("database: mysql://db/m\n", "database (line 1): 'mysql' databases are not supported"),
        ("database: sqlite://data/m.db\n", "database (line 1): an SQLite URL names a file, not a host"),
        ("polling:\n  tick: .inf\n", "polling.tick (line 2): inf is too long; the longest duration accepted is 3650d"),
        ("stories:\n  window: 99999999999999d\n", "stories.window (line 2): '99999999999999d' is too long"),
        ("polling:\n  min_interval: 0m\n", "polling.min_interval (line 2): must be longer than 0s"),
        ("feeds:\n  - {url: 'https://a.example/f', interval: 0m}\n", "feeds.0.interval (line 2): must be longer"),
        ("polling:\n  jitter: .nan\n", "polling.jitter (line 2): Input should be a finite number"),
        ("polling:\n  workers: 100000\n", "polling.workers (line 2): Input should be less than or equal to 64"),
        ("polling:\n  workers: yes\n", "polling.workers (line 2): expected a number, found true"),
        ("polling:\n  min_interval: 2h\n  max_interval: 1h\n", "polling (line 2): min_interval is longer than max"),
        ("fetch:\n  max_redirects: 50\n", "fetch.max_redirects (line 2): Input should be less than or equal to 20"),
        ("feeds:\n  - url: https://a.example:99999/f\n", "feeds.0.url (line 2): 'https://a.example:99999/f' has an"),
        ("feeds:\n  - url: https://a.example:abc/f\n", "feeds.0.url (line 2): 'https://a.example:abc/f' has an inv"),
        ("feeds:\n  - url: 'https://a b.example/f'\n", "feeds.0.url (line 2): 'https://a b.example/f' contains a sp"),
        (
            "alerts:\n  email: {host: smtp.example, port: 99999, sender: m@example.org, recipients: [a@example.org]}\n",
            "alerts.email.port (line 2): Input should be less than or equal to 65535",
        ),
        (
            "alerts:\n  email: {host: smtp.example, sender: me, recipients: [a@example.org]}\n",
            "alerts.email.sender (line 2): 'me' is not an email address",
        ),
        ("fetch:\n  contact_url: ${1BAD}\n", "fetch.contact_url (line 2): ${1BAD} is not an environment variable name"),
        ("database: ${}\n", "database (line 1): ${} is not an environment variable name"),
        ("database: sqlite:///${HOME\n", "database (line 1): a ${ is never closed; write ${NAME}"),
        (
            "alerts:\n  webhooks:\n    - url: https://hooks.example:99999/T000/secret-token\n",
            "alerts.webhooks.0.url (line 3): the webhook URL (host 'hooks.example') has an invalid host or port",
        ),
    ],
)
def test_what_used_to_slip_through_is_one_line(text: str, expected: str) -> None:
    problems = _problems(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith("c.yaml: ") and expected in problems[0], problems[0]
    assert "secret-token" not in problems[0]


def test_every_problem_is_reported_in_one_run_in_file_order() -> None:
    text = (
        "database: postgresql+psycopg://u@db:99999/m\n"  # 1
        "topics:\n"
        "  - {name: Good, query: TikTok}\n"
        "  - {name: Broken, query: 'TikTok AND'}\n"  # 4: a bad query beside the other keys
        "  - {name: Good, query: ban}\n"  # 5: duplicate name, though its sibling is broken
        "  - {name: Bracket, query: '[TikTok]'}\n"  # 6
        "polling:\n"
        "  tick: .inf\n"  # 8
        "  workers: 0\n"  # 9
        "alerts:\n"
        "  webhooks:\n"
        "    - {url: 'https://h.example/${1BAD}', secret: '${NOT_SET}'}\n"  # 12: two problems on one line
    )
    started = time.monotonic()
    problems = _problems(text)
    assert time.monotonic() - started < 2
    assert problems == [
        "c.yaml: database (line 1): database port 99999 is out of range; ports are 1 to 65535",
        'c.yaml: topics.1.query (line 4): topic "Broken": column 11: expected a term or "(" after AND',
        "c.yaml: topics.2.name (line 5): two topics are named 'Good'; names must be unique",
        'c.yaml: topics.3.query (line 6): topic "Bracket": column 1: "[" has no meaning here; group with ( )',
        "c.yaml: polling.tick (line 8): inf is too long; the longest duration accepted is 3650d",
        "c.yaml: polling.workers (line 9): Input should be greater than 0",
        "c.yaml: alerts.webhooks.0.url (line 12): ${1BAD} is not an environment variable name "
        "(letters, digits and _, not starting with a digit)",
        "c.yaml: alerts.webhooks.0.secret (line 12): environment variable NOT_SET is not set; "
        "export it or edit the config",
    ]


def test_a_bad_database_url_from_the_environment_names_the_variable() -> None:
    problems = _problems("database: sqlite:///a.db\n", env={"MONITOR_DATABASE_URL": "postgresql://u:hunter2@db:0x/m"})
    assert problems == [
        "c.yaml: database: (from MONITOR_DATABASE_URL) the database port is not a number; ports are 1 to 65535"
    ]
    assert "hunter2" not in problems[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "c.yaml line 1: the YAML nests deeper than 50 levels"),
        ("".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v\n", "nests deeper than 50 levels"),
        (
            "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "lol"] * 9) + "]\n" for i in range(9)),
            "aliases expand the file to more than 200000 values; write the values out or use fewer aliases",
        ),
        ("a: &a [1, *a]\n", "c.yaml line 1: the alias *a refers to the collection it is in"),
        ("a: *nowhere\n", "c.yaml line 1: not valid YAML: found undefined alias"),
        ("database: x\n" + "#" * (MAX_CONFIG_BYTES + 1), "c.yaml: the file is larger than 2 MiB"),
    ],
)
def test_hostile_yaml_is_refused_quickly_before_it_is_built(text: str, expected: str) -> None:
    started = time.monotonic()
    problems = _problems(text)
    assert time.monotonic() - started < 1
    assert len(problems) == 1 and expected in problems[0], problems


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes("database: sqlite:///caf\xe9.db\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.yaml: byte 24 is not UTF-8; save the file as UTF-8"):
        load_config(binary, env={})
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path, env={})
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (MAX_CONFIG_BYTES + 10))
    with pytest.raises(ConfigError, match="larger than 2 MiB"):
        load_config(huge, env={})


def test_the_database_variable_replaces_the_file_s_database_and_its_secrets() -> None:
    text = "database: postgresql+psycopg://monitor:${PGPASSWORD}@db/monitor\n"
    config = parse_config(text, env={"MONITOR_DATABASE_URL": "sqlite:///x.db"})
    assert config.database == "sqlite:///x.db"
    assert _problems(text) == [
        "c.yaml: database (line 1): environment variable PGPASSWORD is not set; export it or edit the config"
    ]


def test_source_is_not_a_key_of_the_file() -> None:
    assert _problems("source: elsewhere\n") == [
        "c.yaml: source (line 1): unknown key; see docs/configuration.md for the keys"
    ]


def test_odd_keys_stay_on_one_line() -> None:
    problems = _problems('polling:\n  "tick\\nx": 1\n  "a.b": 2\n  "": 3\n')
    assert problems == [
        "c.yaml: polling.'tick\\nx' (line 2): unknown key; see docs/configuration.md for the keys",
        "c.yaml: polling.'a.b' (line 3): unknown key; see docs/configuration.md for the keys",
        "c.yaml: polling.'' (line 4): unknown key; see docs/configuration.md for the keys",
    ]


def test_valid_database_urls_are_accepted() -> None:
    for url in (
        "sqlite:///data/monitor.db",
        "sqlite:////var/lib/monitor/monitor db.sqlite",
        "sqlite://",
        "postgresql+psycopg://monitor:p%40ss@db.internal:5432/monitor",
        "postgresql://monitor@[::1]:5432/monitor",
        "postgresql+psycopg://monitor@/monitor?host=/run/postgresql",
    ):
        assert parse_config(f"database: '{url}'\n", env={}).database == url
