"""Shared fixtures: real servers on 127.0.0.1 and a way to run the real `monitor` command.

The tests come in tiers, one folder each, marked by it (``pytest -m unit`` runs in seconds):
``unit`` pure functions and the in-memory store; ``integration`` one part against real
servers, databases or processes; ``acceptance`` the `monitor` command as a user runs it.
Tests that use PostgreSQL are marked ``postgres`` too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile import HostileServer
from hypothesis import settings
from postgres import create_database, postgres_server
from receivers import SmtpReceiver, WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOPICS = yaml.safe_load((ROOT / "config" / "monitor.yaml").read_text(encoding="utf-8"))["topics"]
AGENT = "monitor/test (+https://example.org/monitor)"  # the User-Agent tests give the fetcher
HOOK_SECRET = "test-secret-не-угадать"


# CI tries the same examples every run, so that a property failing there fails again when
# rerun, not by luck of the draw; a developer's run explores new ones. No deadline anywhere:
# a loaded machine is not a failure.
settings.register_profile("ci", derandomize=True, deadline=None, database=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

TIERS = ("unit", "integration", "acceptance")
# A test module may borrow cases from one of another tier (the search tests re-run the query
# language's table): every tier's folder is importable, whichever pytest collects first.
sys.path[:0] = [str(Path(__file__).parent / tier) for tier in TIERS]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.fspath).parent.name
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: put it in tests/unit, tests/integration or tests/acceptance")
        item.add_marker(tier)
        params = getattr(item, "callspec", None)
        if params is not None and "postgresql" in params.params.values():
            item.add_marker("postgres")


@pytest.fixture
def site() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str | None]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded default and on a real PostgreSQL server."""
    return new_database(request.param, request, tmp_path)


def new_database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of ``kind`` ("sqlite" or "postgresql") for one test."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    admin: str | None = request.getfixturevalue("postgres_admin_url")
    if admin is None:
        if os.environ.get("MONITOR_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL binaries not found but MONITOR_REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL is not installed here (CI installs it: see .ci/run)")
    return create_database(admin, f"monitor_{uuid.uuid4().hex[:12]}")


Config = dict[str, Any]


def write_config(directory: Path, database: str, feeds: list[dict[str, str]], **sections: Any) -> Path:
    """Write a config file for one test's servers; keyword arguments replace whole sections."""
    config: Config = {
        "database": database,
        "feeds": feeds,
        "topics": DEFAULT_TOPICS,
        "fetch": {"allow_networks": ["127.0.0.0/8"], "timeout": "5s"},
        "polling": {"tick": "1s", "workers": 1},
    }
    config.update(sections)
    path = directory / f"monitor-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """``write_config`` into this test's temporary folder."""

    def make(database: str, feeds: list[dict[str, str]], **sections: Any) -> Path:
        return write_config(tmp_path, database, feeds, **sections)

    return make


def alert_sections(webhook: WebhookReceiver, smtp: SmtpReceiver) -> dict[str, Any]:
    return {
        "alerts": {
            "webhooks": [{"url": webhook.url, "secret": "${HOOK_SECRET}", "name": "receiver"}],
            "email": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "sender": "monitor@example.org",
                "recipients": ["analyst@example.org"],
                "starttls": False,
            },
        }
    }


def monitor(
    *args: str | Path, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "HOOK_SECRET": HOOK_SECRET, **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The promise for every failure: exit non-zero, one line on stderr, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]
