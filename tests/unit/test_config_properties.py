"""Hundreds of broken configurations, each a mutation of config/monitor.yaml, through the
real `monitor check-config`: exit 2, one line per problem naming its key, no traceback,
within 2 s each.

Each generated config applies several independent mutations (a wrong type, a value out of
range, a bad URL, a bad ${NAME}, a bad query, a missing or unknown key, a duplicate name)
to distinct keys, so the expected output is known: exactly one line per mutation, all in
one run. Whole-file breakage (not YAML, nested 5,000 deep, an alias bomb, not UTF-8) is
one line on its own.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from conftest import ROOT, monitor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli import cli
from monitor.config import parse_config
from monitor.errors import ConfigError

BASE_TEXT = (ROOT / "config" / "monitor.yaml").read_text(encoding="utf-8")
BASE: dict[str, Any] = yaml.safe_load(BASE_TEXT)
TIME_LIMIT = 2.0
# Variables the generated configs may name; none of them is set while the test runs.
UNSET_ENV = {"MONITOR_DATABASE_URL": None, "MONITOR_CONFIG": None, "MONITOR_TEST_UNSET": None}

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutation:
    key: Key  # where the problem is: the line must name this key
    value: Any = None
    delete: bool = False

    def apply(self, tree: dict[str, Any]) -> None:
        parent: Any = tree
        for part in self.key[:-1]:
            if isinstance(parent, dict) and part not in parent:
                parent[part] = {}
            parent = parent[part]
        if self.delete:
            del parent[self.key[-1]]
        else:
            parent[self.key[-1]] = self.value

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.key))


FEEDS = len(BASE["feeds"])
TOPICS = len(BASE["topics"])
EMAIL = {"host": "smtp.example.org", "sender": "monitor@example.org", "recipients": ["a@example.org"]}

BAD_DURATIONS = [
    float("inf"), float("nan"), "99999999999999d", 10**30, "0m", 0, -5, "-1h", "soon",
    "5 minutes", "１０m", True, [], {"a": 1}, None, "1e9w",
]  # fmt: skip
BAD_COUNTS = [0, -1, 99_999_999_999, "abc", True, 1.5, [], None, float("inf"), "1e3"]
BAD_DATABASES = [
    "not a url", "postgresql+nodriver://u@h/db", "postgresql+psycopg://u@db host/m",
    "postgresql+psycopg://u@h:99999/m", "postgresql+psycopg://u@h:abc/m", "mysql://h/db",
    "sqlite://host/x.db", "", "postgresql+psycopg2://h/db", 5, [], {"url": "x"}, " sqlite:///x.db",
]  # fmt: skip
BAD_URLS = [
    "notaurl", "ftp://x.example/y", "http://x.example:99999/", "http://x.example:abc/", "http://a b.example/",
    "http://[::1/", "https://", "http://x.example:0/", 5, None, [], "http://x.example/\x07",
]  # fmt: skip
BAD_ENV = ["${1BAD}", "${MONITOR_TEST_UNSET}", "${UNCLOSED", "${}", "${A-B}", "x${MONITOR_TEST_UNSET}y", "${ }"]
BAD_QUERIES = [
    "a AND", "a NEAR/١٢ b", "a NEAR/５ b", "[a]", "a {b}", "a \\", "NOT a", "(a", "a)", "a NEAR/5000 b",
    "foo:bar", "", "   ", '"a', "a OR NOT b", "lang:german", "te*st", "a NEAR/5 NOT b", "（a",
]  # fmt: skip
DURATION_KEYS: list[Key] = [
    ("polling", "min_interval"), ("polling", "max_interval"), ("polling", "tick"), ("polling", "dead_after"),
    ("fetch", "timeout"), ("alerts", "retry_for"), ("alerts", "first_retry"), ("alerts", "max_backoff"),
]  # fmt: skip
COUNT_KEYS: list[Key] = [
    ("polling", "workers"), ("polling", "failures_before_backoff"), ("fetch", "max_bytes"),
    ("fetch", "max_connections"), ("fetch", "max_per_host"),
]  # fmt: skip
SECTIONS = ["feeds", "topics", "alerts", "fetch", "polling", "stories", "backfill"]


def _mutations() -> st.SearchStrategy[Mutation]:
    feed = st.integers(0, FEEDS - 1)
    topic = st.integers(0, TOPICS - 1)
    return st.one_of(
        st.builds(Mutation, st.just(("database",)), st.sampled_from(BAD_DATABASES)),
        st.builds(Mutation, st.sampled_from(DURATION_KEYS), st.sampled_from(BAD_DURATIONS)),
        st.builds(
            Mutation,
            feed.map(lambda i: ("feeds", i, "interval")),
            st.sampled_from([d for d in BAD_DURATIONS if d is not None]),  # no interval: adaptive
        ),
        st.builds(Mutation, st.sampled_from(COUNT_KEYS), st.sampled_from(BAD_COUNTS)),
        st.builds(Mutation, st.just(("fetch", "max_redirects")), st.sampled_from([-1, 21, "x", True, 2.5])),
        st.builds(Mutation, st.just(("polling", "jitter")), st.sampled_from([1, -0.1, float("nan"), "x", []])),
        st.builds(Mutation, feed.map(lambda i: ("feeds", i, "url")), st.sampled_from(BAD_URLS)),
        st.builds(Mutation, st.just(("fetch", "contact_url")), st.sampled_from(BAD_URLS)),
        st.builds(Mutation, st.just(("fetch", "allow_networks")), st.sampled_from([["10.0.0.0/33"], ["x"], [5], 5])),
        st.builds(
            Mutation,
            st.just(("alerts", "email")),
            st.sampled_from(["port", "host", "sender", "recipients"]).flatmap(
                lambda key: st.sampled_from(
                    {
                        "port": [0, 99999, "abc", True, -1],
                        "host": ["smtp x", "", "-bad-", 5],
                        "sender": ["me", "a b@c", 5],
                        "recipients": [[], ["nope"], "a@example.org", [5]],
                    }[key]
                ).map(lambda value: {**EMAIL, key: value})
            ),
        ),
        st.builds(Mutation, st.just(("alerts", "webhooks")), st.sampled_from(BAD_URLS).map(lambda u: [{"url": u}])),
        st.builds(
            Mutation,
            st.sampled_from(
                [("database",), ("fetch", "contact_url")]
                + [("feeds", i, "url") for i in range(FEEDS)]
                + [("topics", i, "query") for i in range(TOPICS)]
            ),
            st.sampled_from(BAD_ENV),
        ),
        st.builds(Mutation, topic.map(lambda i: ("topics", i, "query")), st.sampled_from(BAD_QUERIES)),
        st.builds(Mutation, topic.map(lambda i: ("topics", i, "query")), st.just(None), st.just(True)),
        st.builds(Mutation, topic.map(lambda i: ("topics", i, "stem")), st.sampled_from(["maybe", 2, []])),
        st.builds(Mutation, st.sampled_from(SECTIONS).map(lambda s: (s,)), st.sampled_from([5, "x", True])),
        st.builds(Mutation, topic.map(lambda i: ("topics", i)), st.sampled_from([5, "x", [], None])),
        st.builds(
            Mutation,
            st.sampled_from([("polling", "tikc"), ("fetch", "timeuot"), ("databse",), ("alerts", "webhook")]),
            st.just(1),
        ),
        st.builds(
            Mutation,
            st.integers(1, TOPICS - 1).map(lambda i: ("topics", i, "name")),
            st.just(BASE["topics"][0]["name"]),
        ),
        st.builds(
            Mutation,
            st.integers(1, FEEDS - 1).map(lambda i: ("feeds", i, "name")),
            st.just(BASE["feeds"][0]["name"]),
        ),
    )


def _independent(mutations: list[Mutation]) -> list[Mutation]:
    """Keep mutations whose keys do not overlap, so each is exactly one problem."""
    kept: list[Mutation] = []
    for mutation in mutations:
        if any(_overlap(mutation.key, other.key) for other in kept):
            continue
        kept.append(mutation)
    return kept


def _overlap(a: Key, b: Key) -> bool:
    if a[: len(b)] == b or b[: len(a)] == a:
        return True
    # A rename to the first item's name is a duplicate only while the first item is there.
    return any(x[2:] == ("name",) and y == (x[0], 0) for x, y in ((a, b), (b, a)))


def _whole_file() -> st.SearchStrategy[tuple[bytes, str]]:
    """Breakage that stops the file being read at all: (content, what the line says)."""
    depth = st.integers(51, 5000)
    return st.one_of(
        st.sampled_from(
            [
                "polling: {tick: 1s\n",
                'database: "unterminated\n',
                "\tpolling: 5\n",
                "a: b: c\n",
                "- after\n",
                "x: *undefined\n",
                "database: x\ndatabase: [\n",
                "%YAML 9.9\n---\n",
            ]
        ).flatmap(
            lambda junk: st.sampled_from(
                [(junk + BASE_TEXT).encode(), (BASE_TEXT + junk).encode()],
            ).map(lambda content: (content, "not valid YAML"))
        ),
        depth.map(lambda n: (("a: " + "[" * n + "]" * n + "\n").encode(), "nests deeper")),
        depth.map(lambda n: (("a: " + "{b: " * n + "}" * n + "\n").encode(), "nests deeper")),
        st.integers(51, 400)
        .map(lambda n: ("".join(" " * i + f"k{i}:\n" for i in range(n)) + " " * n + "v\n").encode())
        .map(lambda content: (content, "nests deeper")),
        st.tuples(st.integers(6, 12), st.integers(9, 12)).map(lambda lw: (_alias_bomb(*lw), "aliases expand")),
        st.sampled_from(["a: &a [*a]\n", "a: &a {b: [1, *a]}\n"]).map(lambda t: (t.encode(), "alias *a")),
        st.integers(0, len(BASE_TEXT) - 1).map(
            lambda i: (BASE_TEXT[:i].encode() + b"\xff\xfe" + BASE_TEXT[i:].encode(), "not UTF-8")
        ),
        st.sampled_from(["- a\n- b\n", "just a string\n", "42\n"]).map(lambda t: (t.encode(), "top level")),
    )


def _alias_bomb(levels: int, width: int) -> bytes:
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


def _check(runner: CliRunner, path: Path) -> tuple[list[str], float]:
    started = time.monotonic()
    result = runner.invoke(cli, ["--config", str(path), "check-config"], env=UNSET_ENV)
    elapsed = time.monotonic() - started
    output = result.output + result.stderr
    assert "Traceback" not in output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith(f"error: {path}") for line in lines), lines
    assert elapsed < TIME_LIMIT, f"{elapsed:.2f} s"
    return lines, elapsed


def test_generated_broken_configs_give_one_line_per_problem(tmp_path: Path) -> None:
    runner = CliRunner()
    tried: list[float] = []

    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(_mutations(), min_size=1, max_size=6).map(_independent))
    def check(mutations: list[Mutation]) -> None:
        tree = copy.deepcopy(BASE)
        for mutation in mutations:
            mutation.apply(tree)
        path = tmp_path / f"broken-{len(tried)}.yaml"
        path.write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), encoding="utf-8")
        lines, elapsed = _check(runner, path)
        assert len(lines) == len(mutations), (lines, mutations)
        for mutation in mutations:
            assert any(f": {mutation.dotted} (line " in line or f": {mutation.dotted}." in line for line in lines), (
                mutation,
                lines,
            )
        tried.append(elapsed)
        problems.append(len(lines))

    problems: list[int] = []
    check()
    print(f"\n{len(tried)} configs with key mutations, {sum(problems)} problems, slowest {max(tried):.3f} s")
    assert len(tried) >= 300


def test_generated_unreadable_files_give_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    tried: list[float] = []

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_whole_file())
    def check(case: tuple[bytes, str]) -> None:
        content, expected = case
        path = tmp_path / f"unreadable-{len(tried)}.yaml"
        path.write_bytes(content)
        lines, elapsed = _check(runner, path)
        assert len(lines) == 1 and expected in lines[0], lines
        tried.append(elapsed)

    check()
    print(f"\n{len(tried)} unreadable configs, slowest {max(tried):.3f} s")
    assert len(tried) >= 150


def test_a_sample_through_the_real_command(tmp_path: Path) -> None:
    """The same promise from a separate process, as an operator runs it."""
    everything = copy.deepcopy(BASE)
    for mutation in (
        Mutation(("database",), "postgresql+nodriver://u@h/db"),
        Mutation(("polling", "tick"), float("inf")),
        Mutation(("polling", "max_interval"), "99999999999999d"),
        Mutation(("feeds", 0, "interval"), "0m"),
        Mutation(("fetch", "max_per_host"), "abc"),
        Mutation(("feeds", 1, "url"), "https://x.example:99999/feed"),
        Mutation(("fetch", "contact_url"), "${1BAD}"),
        Mutation(("topics", 2, "query"), "TikTok NEAR/0 ban AND [x]"),
    ):
        mutation.apply(everything)
    cases: list[tuple[bytes, int]] = [
        (yaml.safe_dump(everything, allow_unicode=True, sort_keys=False).encode(), 8),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", 1),
        (_alias_bomb(9, 9), 1),
        (b"polling: {tick: 1s\n" + BASE_TEXT.encode(), 1),
    ]
    for index, (content, expected_lines) in enumerate(cases):
        path = tmp_path / f"sample-{index}.yaml"
        path.write_bytes(content)
        started = time.monotonic()
        result = monitor("--config", path, "check-config", env={"MONITOR_DATABASE_URL": ""})
        elapsed = time.monotonic() - started
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == expected_lines and all(line.startswith("error: ") for line in lines), lines
        # A guard against a hang (a bomb expanded), not a benchmark: the interpreter and the
        # monitor's imports take most of this, several times longer on a loaded machine.
        assert elapsed < 10 * TIME_LIMIT, f"{elapsed:.2f} s"


ANY_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["${X}", "${1BAD}", "5m", ".inf", "http://x.example/", "sqlite:///x.db", "a AND"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
ALL_KEYS: list[Key] = [
    ("database",), ("feeds",), ("feeds", 0), ("feeds", 0, "url"), ("feeds", 0, "interval"), ("topics",),
    ("topics", 0), ("topics", 0, "name"), ("topics", 0, "query"), ("topics", 0, "stem"), ("alerts",),
    ("alerts", "webhooks"), ("alerts", "email"), ("alerts", "retry_for"), ("fetch",), ("fetch", "allow_networks"),
    ("fetch", "max_bytes"), ("fetch", "contact_url"), ("polling",), ("polling", "jitter"), ("polling", "tick"),
    ("stories", "window"), ("backfill",), ("backfill", "alert"), ("x",),
]  # fmt: skip


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(ALL_KEYS), ANY_VALUE), min_size=1, max_size=4))
def test_any_value_at_any_key_is_valid_or_one_line_per_problem(changes: list[tuple[Key, Any]]) -> None:
    """Not only the mutations above: whatever YAML value lands at whatever key, loading
    either succeeds or raises ConfigError whose lines each name the file (never another
    exception)."""
    tree = copy.deepcopy(BASE)
    for key, value in changes:
        try:
            Mutation(key, value).apply(tree)
        except (TypeError, KeyError, IndexError):  # the parent was replaced by a scalar
            continue
    text = yaml.safe_dump(tree, allow_unicode=True)
    started = time.monotonic()
    try:
        parse_config(text, "c.yaml", env={"X": "1"})
    except ConfigError as error:
        lines = str(error).splitlines()
        assert lines and all(line.startswith("c.yaml") for line in lines), lines
    assert time.monotonic() - started < TIME_LIMIT
