"""Named channels and per-topic routing, through the real command line and real receivers.

The seed site's five documents alert three topics (ByteDance AI: 3 stories, Doubao: 2,
TikTok ban: 2). Receivers are real HTTP servers on 127.0.0.1; the Apprise channel is a
``json://`` URL pointed at one of them. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import DEFAULT_TOPICS, monitor, one_line_error
from hostile import HostileServer
from receivers import WebhookReceiver, closed_port, silent_port
from seedsite import publish

from monitor.alerts.webhook import verify_signature
from monitor.config import load_config
from monitor.service import running

POLICY_SECRET = "policy-secret-9f8e7d"


def topics(**routes: list[str] | None) -> list[dict[str, Any]]:
    """The default topics, each routed as given (by name, spaces as underscores); the rest unrouted."""
    chosen = []
    for topic in DEFAULT_TOPICS:
        route = routes.get(topic["name"].replace(" ", "_"), ...)
        chosen.append(topic if route is ... else {**topic, "channels": route})
    return chosen


def apprise_url(receiver: WebhookReceiver) -> str:
    return receiver.url.replace("http://", "json://", 1)


def alert_rows(config: Path, *args: str) -> list[dict[str, Any]]:
    result = monitor("--config", config, "alerts", "--format", "json", "--limit", "500", *args)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_each_topic_reaches_its_channels_and_no_other(database_url: str, site: HostileServer, make_config: Any) -> None:
    quiet = {**next(t for t in DEFAULT_TOPICS if t["name"] == "ByteDance AI"), "name": "ByteDance quiet"}
    with (
        WebhookReceiver() as policy,
        WebhookReceiver("/apprise") as product,
        WebhookReceiver() as everyone,
    ):
        config = make_config(
            database_url,
            [{"name": "seeds", "url": publish(site)}],
            topics=[*topics(TikTok_ban=["policy"], Doubao=["product"]), {**quiet, "channels": []}],
            alerts={
                "channels": [
                    {"name": "policy", "type": "webhook", "url": policy.url, "secret": POLICY_SECRET, "instant": False},
                    {"name": "product", "type": "apprise", "url": apprise_url(product), "instant": False},
                ],
                "webhooks": [{"name": "everyone", "url": everyone.url, "secret": "${HOOK_SECRET}"}],
            },
        )
        checked = monitor("--config", config, "check-config")
        assert checked.returncode == 0, checked.stderr
        assert "policy (webhook http://127.0.0.1:" in checked.stdout and "only when routed" in checked.stdout
        assert "topic TikTok ban alerts: policy" in checked.stdout
        assert "topic ByteDance quiet alerts: no channel" in checked.stdout

        polled = monitor("--config", config, "poll")
        assert polled.returncode == 0, polled.stderr
        assert "7 alerts delivered" in polled.stdout

        # The webhook routed to the policy team got TikTok ban only, signed with its own secret.
        assert len(policy.requests) == 2
        for request in policy.requests:
            assert json.loads(request.body)["topic"] == "TikTok ban"
            stamp, signature = request.headers["x-monitor-timestamp"], request.headers["x-monitor-signature"]
            assert verify_signature(POLICY_SECRET, stamp, request.body, signature)
        # The Apprise json:// channel got Doubao only, as Apprise's JSON notification.
        assert len(product.requests) == 2
        for request in product.requests:
            notice = json.loads(request.body)
            assert notice["title"].startswith("[monitor] Doubao: ") and "Topic: Doubao" in notice["message"]
        # The unrouted topic went to every instant channel: the shorthand webhook alone.
        assert len(everyone.requests) == 3
        assert {json.loads(r.body)["topic"] for r in everyone.requests} == {"ByteDance AI"}

    # The outbox agrees, and the topic routed to no channel matched but queued nothing.
    rows = alert_rows(config)
    assert Counter((r["topic"], r["channel"]) for r in rows) == {
        ("TikTok ban", "policy"): 2,
        ("Doubao", "product"): 2,
        ("ByteDance AI", "webhook:everyone"): 3,
    }
    matches = monitor("--config", config, "matches", "--topic", "ByteDance quiet", "--format", "json")
    assert len(json.loads(matches.stdout)) >= 3


def test_a_route_to_an_unknown_channel_is_refused_with_topic_channel_and_line(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "alerts:\n"
        "  channels:\n"
        "    - {name: slack, type: apprise, url: 'slack://TokenA/TokenB/TokenC'}\n"
        "topics:\n"
        "  - name: TikTok ban\n"
        "    query: tiktok AND ban\n"
        "    channels:\n"
        "      - slack\n"
        "      - product-team\n",
        encoding="utf-8",
    )
    line = one_line_error(monitor("--config", config, "check-config"))
    assert "topics.0.channels.1 (line 9)" in line
    assert "topic 'TikTok ban' routes to channel 'product-team', which does not exist (channels: slack)" in line


def test_secrets_in_urls_and_tokens_never_show(tmp_path: Path) -> None:
    """Receivers that refuse: the failures are recorded and printed, the secrets never."""
    secrets = ["T0kenPathSecret", "pa55wordSecret", "queryS3cret", "whsecHookSecret", "smtpPassw0rd"]
    config = tmp_path / "monitor.yaml"
    config.write_text(
        json.dumps(
            {
                "database": f"sqlite:///{tmp_path / 'm.db'}",
                "topics": DEFAULT_TOPICS,
                "alerts": {
                    "channels": [
                        {
                            "name": "chat",
                            "type": "apprise",
                            "url": f"json://user:pa55wordSecret@127.0.0.1:{closed_port()}/T0kenPathSecret",
                        },
                        {
                            "name": "hook",
                            "type": "webhook",
                            "url": f"http://127.0.0.1:{closed_port()}/T0kenPathSecret?token=queryS3cret",
                            "secret": "whsecHookSecret",
                        },
                        {
                            "name": "mail",
                            "type": "email",
                            "host": "127.0.0.1",
                            "port": closed_port(),
                            "sender": "m@example.org",
                            "recipients": ["a@example.org"],
                            "username": "monitor",
                            "password": "smtpPassw0rd",
                            "starttls": False,
                        },
                    ]
                },
            }
        ),
        encoding="utf-8",
    )
    shown = [monitor("-v", "--config", config, "check-config")]
    for channel in ("chat", "hook", "mail"):
        result = monitor("--config", config, "alerts", "test", channel)
        assert one_line_error(result).startswith(f"error: {channel}: ")
        shown += [result, monitor("-v", "--config", config, "alerts", "test", channel)]
    shown.append(monitor("--config", config, "alerts", "--format", "json"))
    for result in shown:
        for secret in secrets:
            assert secret not in result.stdout + result.stderr, (secret, result.args)
    assert "chat (apprise json://…)" in shown[0].stdout


def test_alerts_test_sends_one_marked_message_and_says_so_in_one_line(tmp_path: Path, webhook: WebhookReceiver) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(
        json.dumps({"alerts": {"channels": [{"name": "team", "type": "webhook", "url": webhook.url}]}}),
        encoding="utf-8",
    )
    result = monitor("--config", config, "alerts", "test", "team")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("✓ team (webhook http://127.0.0.1:") and "test message delivered" in line
    [request] = webhook.requests
    body = json.loads(request.body)
    assert body["type"] == "monitor.test" and body["channel"] == "team"
    unknown = one_line_error(monitor("--config", config, "alerts", "test", "team2"))
    assert "no alert channel named 'team2' (channels: team)" in unknown
    assert len(webhook.requests) == 1


def test_retry_puts_failed_alerts_back_and_they_are_delivered(
    database_url: str, site: HostileServer, make_config: Any, webhook: WebhookReceiver
) -> None:
    webhook.fail_next(1000)
    alerts = {
        "webhooks": [{"name": "team", "url": webhook.url}],
        "retry_for": "1s",
        "first_retry": "0.1s",
    }
    config = make_config(database_url, [{"name": "seeds", "url": publish(site)}], alerts=alerts)
    for _ in range(10):  # the first failures are retried, until retry_for has passed
        assert monitor("--config", config, "poll").returncode == 0
        if len(alert_rows(config, "--status", "failed")) == 7:
            break
        time.sleep(0.5)
    failed = alert_rows(config, "--status", "failed")
    assert len(failed) == 7 and all("answered 500" in row["last_error"] for row in failed)

    one = failed[0]["id"]
    webhook.stop_failing()
    retried = monitor("--config", config, "alerts", "retry", str(one))
    assert retried.returncode == 0 and retried.stdout.strip() == f"1 alerts queued again: {one}"
    assert monitor("--config", config, "poll").returncode == 0
    assert len(webhook.delivered) == 1
    # Retrying a delivered alert changes nothing and says why.
    assert f"alert {one} is delivered, not failed" in one_line_error(
        monitor("--config", config, "alerts", "retry", str(one))
    )
    everything = monitor("--config", config, "alerts", "retry", "--failed")
    assert everything.returncode == 0 and everything.stdout.startswith("6 alerts queued again")
    assert monitor("--config", config, "poll").returncode == 0
    assert len(webhook.delivered) == 7
    assert not alert_rows(config, "--status", "failed")


def test_an_alert_is_sent_when_it_is_stored_and_a_slow_receiver_holds_up_no_other(
    database_url: str, site: HostileServer, tmp_path: Path, make_config: Any
) -> None:
    """The dispatcher looks at the outbox once an hour here: only being woken can deliver in time."""
    with WebhookReceiver() as fast, silent_port() as hanging:
        config = load_config(
            make_config(
                database_url,
                [{"name": "seeds", "url": publish(site)}],
                alerts={
                    "webhooks": [
                        {"name": "fast", "url": fast.url},
                        {"name": "hanging", "url": f"http://127.0.0.1:{hanging}/hook"},
                    ]
                },
            )
        )

        async def poll_and_watch() -> tuple[float, float]:
            async with running(config) as runtime:
                delivering = asyncio.create_task(runtime.dispatcher.run(timedelta(hours=1), lambda line: None))
                try:
                    report = await runtime.poll_feeds()
                    stored_at = time.monotonic()
                    assert sum(f.alerts for f in report.feeds) == 14
                    while len(fast.requests) < 7 and time.monotonic() - stored_at < 10:
                        await asyncio.sleep(0.01)
                    return time.monotonic() - stored_at, len(fast.requests)
                finally:
                    runtime.dispatcher.stop()
                    delivering.cancel()
                    await asyncio.gather(delivering, return_exceptions=True)

        seconds, received = asyncio.run(poll_and_watch())
    assert received == 7
    # The hanging receiver holds 4 of its own slots for 10 s; the fast one is done well before.
    assert seconds < 3.0, f"the fast receiver had its alerts {seconds:.1f} s after the poll ended"
