"""`monitor poll` tells the operator channel when a feed has failed long enough, and when it recovers."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import monitor, write_config
from hostile import HostileServer, respond
from receivers import WebhookReceiver
from seedsite import feed_xml


def test_monitor_poll_tells_the_operator_when_a_feed_has_failed_long_enough_and_when_it_recovers(
    tmp_path: Path, site: HostileServer
) -> None:
    site.route("/feed.xml", respond(b"down for maintenance", status=503))
    with WebhookReceiver() as ops:
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'monitor.db'}",
            [{"name": "flaky", "url": site.url("/feed.xml")}],
            alerts={"webhooks": [{"name": "ops", "url": ops.url}], "operator": "webhook:ops"},
            polling={"tick": "1s", "workers": 1, "alert_after": "1s"},
        )

        def poll_it() -> None:
            result = monitor("--config", config, "poll", "--feed", "flaky")
            assert "Traceback" not in result.stderr, result.stderr

        poll_it()  # fails: the run of failures begins
        assert ops.requests == []
        time.sleep(1.2)
        poll_it()  # failing for more than alert_after: told
        poll_it()  # still failing: not told again
        site.route("/feed.xml", respond(feed_xml(site.url(""), []), headers={"content-type": "application/rss+xml"}))
        poll_it()  # recovered: told
        poll_it()
        events = [json.loads(r.body) for r in ops.requests]
    assert [(e["event"], e["subject"]) for e in events] == [("feed_failing", "flaky"), ("feed_recovered", "flaky")]
    assert "answered HTTP 503" in events[0]["error"] and events[0]["url"] == site.url("/feed.xml")
    assert events[1]["summary"].startswith("feed flaky recovered at ")
