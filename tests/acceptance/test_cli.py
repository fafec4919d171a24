"""The command line as a user meets it: help, dry runs, queries, feed management, backfill.

Every command runs in a subprocess (`python -m monitor …`) against servers on 127.0.0.1.
One seed poll is shared by the query tests (module fixture); independent commands run a
few at a time to keep the module fast on a small machine.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import DEFAULT_TOPICS, ROOT, monitor, one_line_error, write_config
from hostile import HostileServer
from receivers import WebhookReceiver, closed_port
from seedsite import page_html, publish, seeds

from monitor.cli import cli

Args = Sequence[str | Path]
Row = dict[str, Any]

SEED_DIR = ROOT / "seeds"
QUERY_COMMANDS = ("matches", "stories", "articles", "alerts", "feeds")
# What the seed poll stores with the default topics (see seeds/labels.yaml).
SEED_MATCHES = Counter(t for s in seeds() for t in s.topics)  # ByteDance AI 5, Doubao 4, TikTok ban 2
SEED_ALERTS = 7  # one per (topic, story): ByteDance AI 3, Doubao 2, TikTok ban 2
DOUBAO_STORIES = 2

# Traps from labels.yaml: a tyre ("ban mobil") sold on TikTok; French "j'ai" beside ByteDance.
TYRE_TEXT = (
    "Harga ban mobil naik menjelang mudik\n"
    "Pedagang ban mobil di Jakarta kini menjual ban lewat TikTok. Penjual ban bekas juga "
    "memakai TikTok Shop untuk promosi ban mobil dan ban motor setiap hari. Pembeli bisa "
    "memesan ban secara online dan barang dikirim ke rumah.\n"
)
JAI_TEXT = (
    "Hier soir j'ai enfin installé TikTok\n"
    "J'ai installé hier l'application de ByteDance et j'ai regardé des vidéos de cuisine "
    "pendant des heures. J'ai adoré les recettes, mais j'ai dû fermer l'application pour "
    "dormir. Ma sœur dit que j'ai tort de passer autant de temps sur les réseaux.\n"
)


def run_all(commands: Sequence[Args], workers: int = 4) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands a few at a time; results in the order given."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda args: monitor(*args), commands))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> list[Row]:
    rows: list[Row] = json.loads(ok(result))
    return rows


def hook_alerts(webhook: WebhookReceiver, name: str = "receiver") -> dict[str, Any]:
    return {"alerts": {"webhooks": [{"url": webhook.url, "secret": "${HOOK_SECRET}", "name": name}]}}


def documented_shapes() -> dict[str, Row]:
    """The JSON examples of docs/cli.md, by section name (match, story, article, feed, alert)."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    shapes = {}
    for name, block in re.findall(r"^### (\w+)\s+```json\n(.*?)```", text, re.S | re.M):
        shapes[name] = json.loads(block)
    return shapes


# --- help and usage ------------------------------------------------------------------------

EVERY_COMMAND = [
    ("check-config",),
    ("poll",),
    ("run",),
    ("match",),
    ("matches",),
    ("stories",),
    ("articles",),
    ("alerts",),
    ("feeds",),
    ("feeds", "add"),
    ("feeds", "discover"),
    ("feeds", "import"),
    ("feeds", "export"),
    ("topics",),
    ("topics", "test"),
    ("db",),
    ("db", "upgrade"),
]


def test_every_command_explains_itself_with_help() -> None:
    top = ok(monitor("--help"))
    assert top.startswith("Usage: monitor")
    listed = top.partition("Commands:")[2]
    for name in {c[0] for c in EVERY_COMMAND}:
        assert re.search(rf"^\s+{name}\s+\S", listed, re.M), f"{name} missing from --help"
    # Each command's own help, in-process: the same click objects, 17 fewer interpreter starts.
    runner = CliRunner()
    for command in EVERY_COMMAND:
        result = runner.invoke(cli, [*command, "--help"], prog_name="monitor")
        assert result.exit_code == 0, result.output
        text = result.output
        assert text.startswith(f"Usage: monitor {' '.join(command)}"), text
        summary = text.split("\n\n")[1].strip()
        assert len(summary) > 15, f"`monitor {' '.join(command)} --help` says nothing: {text}"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("frobnicate",), "frobnicate"),
        (("matches", "--frobnicate"), "--frobnicate"),
        (("matches", "--format", "xml"), "xml"),
    ],
    ids=["unknown-command", "unknown-option", "bad-choice"],
)
def test_usage_mistakes_exit_2_with_a_hint(args: tuple[str, ...], named: str) -> None:
    result = monitor(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1 and named in errors[0], result.stderr
    assert "--help" in result.stderr  # the hint: where to look


# --- match: dry runs -----------------------------------------------------------------------


def test_match_reads_a_file_stdin_and_a_url(tmp_path: Path, site: HostileServer) -> None:
    seed = seeds()[3]  # French, all three topics
    site.serve("/article.html", page_html(seed), headers={"content-type": "text/html; charset=utf-8"})
    path = SEED_DIR / seed.name
    local = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [])  # allows 127.0.0.0/8, where `site` is
    from_file, from_url = run_all(
        [("match", path), ("--config", local, "match", "--json", site.url("/article.html"))], workers=2
    )
    from_stdin = subprocess.run(
        [sys.executable, "-m", "monitor", "match", "--json", "-"],
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    text = ok(from_file)
    assert text.startswith(seed.title) and "[fr]" in text.splitlines()[0]
    for topic in seed.topics:
        assert re.search(rf"^{topic}: score \d\.\d\d; terms \S", text, re.M), text
    assert text.count("decided by:") == len(seed.topics) and "<mark>" in text

    for result in (from_stdin, from_url):
        found = json.loads(ok(result))
        assert {m["topic"] for m in found["matches"]} == set(seed.topics)
        assert found["language"] == "fr"
    page = json.loads(ok(from_url))
    assert page["title"] == seed.title  # extracted from the page, boilerplate left out
    for m in page["matches"]:
        assert "Warta Teknologi" not in m["snippet"] and "Advertisement" not in m["snippet"]


def test_match_query_explain_and_json_shape() -> None:
    seed = SEED_DIR / seeds()[4].name  # Indonesian: "larangan … TikTok"
    query = "TikTok NEAR/5 (ban OR larangan) AND NOT lang:de"
    explained, machine = run_all(
        [("match", "--query", query, "--explain", seed), ("match", "--query", query, "--json", seed)],
        workers=2,
    )
    tree = ok(explained)
    assert re.search(r"^AND\n\s+NEAR/5\n", tree, re.M), tree
    assert re.search(r"^\s+OR\n(\s+TERM ban.*\n)", tree, re.M) and "lang:de" in tree
    assert "decided by: TikTok NEAR/5 larangan" in tree

    found = json.loads(ok(machine))
    assert set(found) == {"title", "language", "matches"} and found["language"] == "id"
    [hit] = found["matches"]
    assert set(hit) == {"topic", "score", "terms", "clause", "snippet"}
    assert hit["topic"] == "query" and 0 < hit["score"] <= 1
    assert set(hit["terms"]) == {"TikTok", "larangan"}
    assert "<mark>larangan</mark>" in hit["snippet"] and "<mark>TikTok</mark>" in hit["snippet"]


def test_match_traps_match_nothing(tmp_path: Path) -> None:
    tyre, jai = tmp_path / "ban-mobil.txt", tmp_path / "jai.txt"
    tyre.write_text(TYRE_TEXT, encoding="utf-8")
    jai.write_text(JAI_TEXT, encoding="utf-8")
    results = run_all([("match", "--json", tyre), ("match", "--json", jai), ("match", jai)])
    for result, language in zip(results[:2], ("id", "fr"), strict=True):
        found = json.loads(ok(result))
        assert found["matches"] == [] and found["language"] == language, found
    assert "no topic matches" in ok(results[2])

    missing = monitor("match", tmp_path / "nope.txt")
    assert "nope.txt" in one_line_error(missing)


# --- queries over one seed poll ---------------------------------------------------------------


@dataclass(frozen=True)
class Polled:
    config: Path
    webhook: WebhookReceiver
    poll_output: str
    polled_at: float  # time.monotonic() when the poll ended


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polled]:
    """The five seeds polled once with the default topics, alerts sent to a webhook."""
    directory = tmp_path_factory.mktemp("polled")
    with HostileServer() as site, WebhookReceiver() as webhook:
        config = write_config(
            directory,
            f"sqlite:///{directory / 'm.db'}",
            [{"name": "seeds", "url": publish(site)}],
            **hook_alerts(webhook),
        )
        output = ok(monitor("--config", config, "poll"))
        assert len(webhook.wait_for(SEED_ALERTS)) == SEED_ALERTS
        yield Polled(config, webhook, output, time.monotonic())


TOTALS = {
    "matches": sum(SEED_MATCHES.values()),
    "stories": 3,
    "articles": 5,
    "alerts": SEED_ALERTS,
    "feeds": 1,
}
DOUBAO_ROWS = {
    "matches": SEED_MATCHES["Doubao"],
    "stories": DOUBAO_STORIES,
    "articles": SEED_MATCHES["Doubao"],
    "alerts": DOUBAO_STORIES,
}
SHAPE_OF = {"matches": "match", "stories": "story", "articles": "article", "alerts": "alert", "feeds": "feed"}
ROW_KEY = {"matches": "article_id", "feeds": "name"}  # the others: "id"


def test_every_query_command_in_every_format(polled: Polled) -> None:
    """Each format is checked with a different filter, so one command proves two things."""
    config = polled.config
    commands: list[Args] = []
    for command in QUERY_COMMANDS:
        topic = ("--topic", "Doubao") if command != "feeds" else ()
        since = ("--since", "1d") if command != "feeds" else ()
        commands += [
            ("--config", config, command, *topic),  # table, the default
            ("--config", config, command, "--format", "json", *since, "--limit", "100"),
            ("--config", config, command, "--format", "csv", "--limit", "2"),
        ]
    shapes = documented_shapes()
    results = iter(run_all(commands))
    for command in QUERY_COMMANDS:
        table, machine, spreadsheet = (ok(next(results)) for _ in range(3))
        rows: list[Row] = json.loads(machine)
        assert len(rows) == TOTALS[command], f"{command} --since 1d lost rows: {rows}"

        documented = shapes[SHAPE_OF[command]]
        for row in rows:  # docs/cli.md is the contract programs rely on
            assert set(row) == set(documented), f"{command}: {set(row) ^ set(documented)}"
            if command == "stories":
                for article in row["articles"]:
                    assert set(article) == set(documented["articles"][0])

        parsed = list(csv.DictReader(io.StringIO(spreadsheet)))
        assert list(parsed[0]) == list(rows[0]), f"{command}: CSV header differs from the JSON keys"
        key = ROW_KEY.get(command, "id")
        expected_ids = [str(r[key]) for r in rows[:2]]
        assert [r[key] for r in parsed] == expected_ids, f"{command} --format csv --limit 2"

        lines = table.splitlines()
        assert lines[0].split()[0] in ("matched_at", "id", "name") and set(lines[1]) <= {"-", " "}
        shown = len(lines) - 2  # header, rule, then one line per row
        assert shown == DOUBAO_ROWS.get(command, TOTALS[command]), f"{command} --topic Doubao"
        if command in ("matches", "alerts"):
            assert all(" Doubao " in line for line in lines[2:])


def test_since_excludes_what_is_older(polled: Polled) -> None:
    time.sleep(max(0.0, polled.polled_at + 2.5 - time.monotonic()))  # everything is > 2 s old
    filtered = ("matches", "stories", "articles", "alerts")
    results = run_all([("--config", polled.config, c, "--format", "json", "--since", "2s") for c in filtered])
    for command, result in zip(filtered, results, strict=True):
        assert as_json(result) == [], f"{command} --since 2s still shows rows stored earlier"


def test_one_story_shows_how_each_article_joined(polled: Polled) -> None:
    stories = as_json(monitor("--config", polled.config, "stories", "--format", "json"))
    [story] = [s for s in stories if len(s["articles"]) == 3]  # the intern sabotage story
    table, missing, banana = run_all(
        [
            ("--config", polled.config, "stories", "--id", str(story["id"])),
            ("--config", polled.config, "stories", "--id", "999"),
            ("--config", polled.config, "matches", "--since", "banana"),
        ],
        workers=3,
    )
    lines = ok(table).splitlines()
    assert lines[0].startswith(f"story {story['id']}: {story['title']}")
    header = lines[1].split()
    assert "similarity" in header and "signal" in header
    rows = lines[3:]
    assert len(rows) == 3 and {r.split()[1] for r in rows} == {"id", "de", "fr"}
    assert "first article" in rows[0]
    for row in rows[1:]:
        assert re.search(r"\s0\.\d\d\s+same event", row), row  # a similarity below 1 and why

    assert "999" in one_line_error(missing)
    assert banana.returncode == 2
    assert "banana" in one_line_error(banana)


# --- topics test -----------------------------------------------------------------------------


def test_topics_test_counts_per_language_and_alerts_nobody(polled: Polled) -> None:
    before = len(polled.webhook.requests)
    by_name, by_query, unknown, neither = run_all(
        [
            ("--config", polled.config, "topics", "test", "Doubao"),
            ("--config", polled.config, "topics", "test", "--query", "Sabotage OR sabotase OR saboté"),
            ("--config", polled.config, "topics", "test", "Nope"),
            ("--config", polled.config, "topics", "test"),
        ]
    )
    text = ok(by_name)
    assert text.startswith("Doubao: 4 of 5 articles")
    assert re.search(r"^by language: id 2, (fr 1, de 1|de 1, fr 1)$", text, re.M), text
    table = text.splitlines()[2:]
    assert table[0].split()[:4] == ["score", "article_id", "story_id", "language"]
    assert len(table) == 2 + 4 and all("Doubao" in line for line in table[2:])

    text = ok(by_query)
    assert text.startswith("query: 3 of 5 articles"), text  # the intern story in three languages
    assert re.search(r"^by language: (?=.*id 1)(?=.*de 1)(?=.*fr 1)", text, re.M), text

    line = one_line_error(unknown)
    assert "Nope" in line and "Doubao" in line  # names the topics that exist
    assert neither.returncode == 2 and "Traceback" not in neither.stderr

    time.sleep(0.5)
    assert len(polled.webhook.requests) == before  # a dry run: nobody is alerted


# --- feeds: add, discover, import, export ------------------------------------------------------


def small_feed(site: HostileServer, path: str, title: str) -> str:
    """An RSS feed at ``path`` with one entry whose page is served too; returns its URL."""
    page = f"/pages{path}.html"
    site.serve(
        page,
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{title}: the weather was mild today and the market was calm again.</p>"
        f"<p>Nothing else happened in the town of {title}, the council said.</p>"
        "</article></body></html>".encode(),
        headers={"content-type": "text/html; charset=utf-8"},
    )
    site.serve(
        path,
        f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>
<link>{site.url("/")}</link><item><title>{title} today</title><link>{site.url(page)}</link>
<guid>{path}-1</guid><description>{title}: a calm day.</description></item></channel></rss>""".encode(),
        headers={"content-type": "application/rss+xml; charset=utf-8"},
    )
    return site.url(path)


def test_feeds_added_by_hand_are_polled_exported_and_kept(tmp_path: Path, site: HostileServer) -> None:
    configured = small_feed(site, "/configured.xml", "Configured")
    direct = small_feed(site, "/direct.xml", "Direct")
    announced = small_feed(site, "/announced.xml", "Announced")
    in_opml = [small_feed(site, f"/opml-{n}.xml", f"Opml {n}") for n in ("a", "b")]
    site.serve(
        "/",
        b"""<!DOCTYPE html><html><head><title>Home</title>
<link rel="alternate" type="application/rss+xml" title="Home news" href="/announced.xml">
</head><body><p>Welcome</p></body></html>""",
        headers={"content-type": "text/html; charset=utf-8"},
    )
    site.serve(
        "/plain.html",
        b"<!DOCTYPE html><html><head><title>Plain</title></head><body><p>No feed here.</p></body></html>",
        headers={"content-type": "text/html; charset=utf-8"},
    )
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
        + "".join(f'<outline type="rss" text="opml {u[-5]}" xmlUrl="{u}"/>' for u in in_opml)
        + "</body></opml>",
        encoding="utf-8",
    )
    database = f"sqlite:///{tmp_path / 'm.db'}"
    config = write_config(tmp_path, database, [{"name": "configured", "url": configured}])

    discovered = ok(monitor("--config", config, "feeds", "discover", site.url("/")))
    assert discovered.split()[0] == announced and "Home news" in discovered
    assert "added feed" in ok(monitor("--config", config, "feeds", "add", direct))
    from_home = ok(monitor("--config", config, "feeds", "add", site.url("/")))
    assert "announces 1 feed(s)" in from_home and "added feed" in from_home and announced in from_home
    assert "2 feeds added" in ok(monitor("--config", config, "feeds", "import", opml))
    assert "already polled" in ok(monitor("--config", config, "feeds", "add", direct))
    line = one_line_error(monitor("--config", config, "feeds", "add", site.url("/plain.html")))
    assert "plain.html" in line and "no feed" in line

    everything = {configured, direct, announced, *in_opml}
    exported = ET.fromstring(ok(monitor("--config", config, "feeds", "export")))
    assert exported.tag == "opml" and exported.find("head/title") is not None
    assert {o.get("xmlUrl") for o in exported.iter("outline")} == everything

    polled = ok(monitor("--config", config, "poll"))
    assert "5 feeds polled, 0 failed; 5 new articles" in polled
    assert len(re.findall(r"^✓ .*: 1 entries, 1 new, 1 stored", polled, re.M)) == 5, polled

    # Another config (the configured feed dropped) re-syncs the table: the added ones stay.
    other = small_feed(site, "/other.xml", "Other")
    changed = write_config(tmp_path, database, [{"name": "other", "url": other}])
    listed = as_json(monitor("--config", changed, "feeds", "--format", "json"))
    assert {f["url"] for f in listed} == everything - {configured} | {other}
    assert all(f["last_status"] == "ok" for f in listed if f["url"] != other)


# --- backfill of a new topic -----------------------------------------------------------------


@pytest.mark.parametrize("alert", [False, True], ids=["quiet", "alerting"])
def test_a_new_topic_is_backfilled_over_stored_articles(
    tmp_path: Path, site: HostileServer, webhook: WebhookReceiver, alert: bool
) -> None:
    feeds = [{"name": "seeds", "url": publish(site)}]
    database = f"sqlite:///{tmp_path / 'm.db'}"
    without = [t for t in DEFAULT_TOPICS if t["name"] != "Doubao"]
    first = write_config(tmp_path, database, feeds, topics=without, **hook_alerts(webhook))
    ok(monitor("--config", first, "poll"))
    first_alerts = len(webhook.wait_for(SEED_ALERTS - DOUBAO_STORIES))
    assert first_alerts == SEED_ALERTS - DOUBAO_STORIES

    second = write_config(
        tmp_path,
        database,
        feeds,
        backfill={"window": "30d", "alert": alert},
        **hook_alerts(webhook),
    )
    ok(monitor("--config", second, "poll"))
    matched = as_json(monitor("--config", second, "matches", "--format", "json"))
    doubao = [m for m in matched if m["topic"] == "Doubao"]
    assert len(doubao) == SEED_MATCHES["Doubao"], doubao

    expected = DOUBAO_STORIES if alert else 0
    hooks = webhook.wait_for(first_alerts + expected, timeout=2 if not alert else 5)
    topics = Counter(json.loads(r.body)["topic"] for r in hooks)
    assert topics["Doubao"] == expected
    assert len(hooks) == first_alerts + expected

    assert all(m.get("backfill") is True for m in doubao), "backfilled matches are not marked"
    assert all(m.get("backfill") is False for m in matched if m["topic"] != "Doubao")


# --- database --------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_on_a_fresh_path(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "deeper" / "monitor.db"
    config = write_config(tmp_path, f"sqlite:///{path}", [])
    assert "up to date" in ok(monitor("--config", config, "db", "upgrade"))
    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("select name from sqlite_master where type='table'")}
    assert {"alembic_version", "feed", "article", "match", "alert"} <= tables, tables
    assert "up to date" in ok(monitor("--config", config, "db", "upgrade"))  # twice is fine


def test_processes_started_together_on_a_fresh_database_all_succeed(tmp_path: Path) -> None:
    """Two workers (or a worker and a `monitor poll`) started at once both create the schema."""
    for attempt in range(2):
        config = write_config(tmp_path, f"sqlite:///{tmp_path / f'together-{attempt}.db'}", [])
        results = run_all([("--config", config, "db", "upgrade")] * 4)
        for result in results:
            assert "up to date" in ok(result)


@pytest.mark.parametrize(
    "database",
    [
        "sqlite:////proc/nope/x.db",
        f"postgresql+psycopg://monitor:secret@127.0.0.1:{closed_port()}/monitor",
        "not a url at all",
    ],
    ids=["sqlite-unwritable", "postgres-closed-port", "garbage"],
)
def test_db_upgrade_on_an_unusable_database_says_so_in_one_line(tmp_path: Path, database: str) -> None:
    config = write_config(tmp_path, database, [])
    started = time.monotonic()
    line = one_line_error(monitor("--config", config, "db", "upgrade", timeout=60))
    assert time.monotonic() - started < 30
    assert "database" in line and "secret" not in line  # names the setting, hides the password
