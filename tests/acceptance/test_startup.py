"""The first minute: a command loads what it needs, and a quiet poll cycle forks nothing.

How fast is measured by benchmarks/first_minute.py; these tests hold what makes it fast:
which modules a command imports, and that no worker process starts without a document.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from conftest import ROOT
from hostile import HostileServer, conditional

from monitor.config import load_config
from monitor.service import running
from monitor.store import db

# Loaded by the commands that parse, extract, cluster, fetch or migrate: never by --help or a query.
PARSING = {"trafilatura", "numpy", "feedparser", "lxml", "courlan", "py3langid", "multiprocessing.forkserver"}


def imported_by(*args: str | Path) -> set[str]:
    """Every module the real `monitor` command imports (python -X importtime)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "monitor", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(re.findall(r"^import time:.*\|\s*([\w.]+)\s*$", result.stderr, re.MULTILINE))


def test_help_imports_neither_the_parsers_nor_the_database_nor_http() -> None:
    loaded = imported_by("--help")
    assert not loaded & (PARSING | {"sqlalchemy", "pydantic", "httpx", "alembic", "yaml"})


def test_a_query_on_a_current_schema_imports_no_parser_no_migration_and_no_http(
    tmp_path: Path, make_config: Any
) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [])
    first = imported_by("-c", config, "matches")  # creates the schema: Alembic runs
    assert "alembic" in first
    loaded = imported_by("-c", config, "matches")
    assert "sqlalchemy" in loaded  # it did read the database
    assert not loaded & (PARSING | {"alembic", "httpx"})


def test_a_poll_where_every_feed_answers_304_imports_no_parser_no_migration_no_notifier(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    """What a quiet cycle does not need it does not load: the parsers and the feed reader
    (no document), Alembic (the schema is current), Apprise (nothing to send), PostgreSQL's
    dialect (on SQLite), the full-text index writer (nothing stored), the ORM, the models and
    the query side's records (its statements are Core's), the digests (none configured), the daemon's scheduler and
    prometheus_client (nobody scrapes a one-shot poll)."""
    feed = conditional(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Doubao</title><guid>one</guid><description>TikTok.</description></item></channel></rss>",
        etag='"1"',
        last_modified=format_datetime(datetime(2024, 1, 1, tzinfo=UTC), usegmt=True),
        content_type="application/rss+xml",
    )
    site.route("/feed.xml", feed)
    config = make_config(
        f"sqlite:///{tmp_path / 'm.db'}",
        [{"name": "quiet", "url": site.url("/feed.xml")}],
        alerts={"channels": [{"name": "chat", "type": "apprise", "url": "json://127.0.0.1:9/"}]},
    )
    first = imported_by("-c", config, "poll")  # parses the feed and stores its item
    assert {"feedparser", "monitor.feeds", "monitor.store.search", "sqlmodel"} <= first
    loaded = imported_by("-c", config, "poll")
    assert "httpx" in loaded  # it did poll
    quiet = {"alembic", "apprise", "sqlalchemy.dialects.postgresql", "monitor.store.search", "monitor.feeds"}
    orm = {"sqlalchemy.orm", "sqlmodel", "monitor.store.tables", "monitor.store.repository"}
    query_side = {"monitor.store.queries", "monitor.store.records"}
    daemon = {"apscheduler", "monitor.scheduler", "prometheus_client", "monitor.digests", "monitor.alerts.digest"}
    assert not loaded & (PARSING | quiet | orm | query_side | daemon)


def test_the_head_read_from_file_names_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from monitor.store.db import _alembic_config

    engine = db.create_engine("sqlite://")
    assert db.head_revision() == ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def test_a_cycle_where_every_feed_answers_304_starts_no_worker_process(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>ByteDance news</title><guid>one</guid><description>Doubao and TikTok.</description></item>"
        b"</channel></rss>"
    )
    stamp = format_datetime(datetime(2024, 1, 1, tzinfo=UTC), usegmt=True)
    for n in range(3):
        feed = conditional(body, etag=f'"{n}"', last_modified=stamp, content_type="application/rss+xml")
        site.route(f"/{n}.xml", feed)
    feeds = [{"name": f"f{n}", "url": site.url(f"/{n}.xml")} for n in range(3)]
    config = load_config(make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds))

    async def one_cycle(eager: bool = False) -> tuple[list[str], int]:
        async with running(config, eager=eager) as runtime:
            report, _ = await runtime.poll([])
            return [feed.status for feed in report.feeds], runtime.services.pool.started

    statuses, started = asyncio.run(one_cycle())
    assert statuses == ["ok"] * 3 and started >= 1  # parsing needs the workers
    statuses, started = asyncio.run(one_cycle())
    assert statuses == ["not modified"] * 3
    assert started == 0
    # The daemon starts them with the process, so its first new articles do not wait for them.
    statuses, started = asyncio.run(one_cycle(eager=True))
    assert statuses == ["not modified"] * 3
    assert started == config.polling.workers
