"""`--log-format json`: one JSON object per event on stderr, and never a secret in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import HOOK_SECRET, monitor
from hostile import HostileServer
from receivers import closed_port
from seedsite import publish

TOKEN = "T0KEN-in-the-webhook-path"
FEED_PASSWORD = "hunter2-feed-password"
DB_PASSWORD = "pg-password-not-shown"


def test_json_logs_carry_one_object_per_event_and_no_secret(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    site.serve("/broken.xml", b"down", status=500)
    feed = publish(site).replace("http://", f"http://reader:{FEED_PASSWORD}@")
    config = make_config(
        f"sqlite:///{tmp_path / 'm.db'}",
        [{"name": "seeds", "url": feed}, {"name": "broken", "url": site.url("/broken.xml")}],
        alerts={
            "webhooks": [
                {"url": f"http://127.0.0.1:{closed_port()}/hooks/{TOKEN}", "secret": "${HOOK_SECRET}", "name": "down"}
            ]
        },
    )
    result = monitor("--log-format", "json", "-c", config, "poll", timeout=300)
    assert result.returncode == 0, result.stderr

    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]  # each line one object
    polled = {e["feed"]: e for e in events if e["event"] == "feed_polled"}
    assert set(polled) == {"seeds", "broken"}
    seeds = polled["seeds"]
    assert seeds["status"] == "ok" and seeds["stored"] >= 5 and seeds["matches"] >= 1 and seeds["alerts"] >= 1
    assert isinstance(seeds["duration"], float) and seeds["error"] is None
    for key in ("time", "level", "logger", "message", "entries", "new", "duplicates"):
        assert key in seeds
    assert polled["broken"]["status"] == "HTTP 500" and "500" in polled["broken"]["error"]
    for secret in (FEED_PASSWORD, HOOK_SECRET, TOKEN):
        assert secret not in result.stderr


def test_the_config_names_its_secrets() -> None:
    from monitor.config import parse_config

    config = parse_config(
        f"database: postgresql+psycopg://monitor:{DB_PASSWORD}@db/monitor\n"
        f"alerts:\n  webhooks: [{{url: 'https://hooks.example.org/{TOKEN}', secret: s3cret-value}}]\n"
        "  email: {host: mx.example.org, sender: a@example.org, recipients: [b@example.org], password: mail-pw-1}\n",
        env={},
    )
    assert set(config.secrets()) == {f"https://hooks.example.org/{TOKEN}", "s3cret-value", "mail-pw-1", DB_PASSWORD}
