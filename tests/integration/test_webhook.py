"""Webhook delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest
from conftest import AGENT
from receivers import WebhookReceiver, closed_port, sample_alert, silent_port

from monitor.alerts.render import alert_message, webhook_body
from monitor.alerts.webhook import WebhookDeliveryError, deliver_webhook, verify_signature, webhook_client
from monitor.errors import DeliveryError
from monitor.model import AlertContent

SECRET = "whsec_0123456789"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


def deliver(url: str, secret: str | None = SECRET, alert: AlertContent | None = None, timeout: float = 5.0) -> None:
    async def go() -> None:
        async with webhook_client({"User-Agent": AGENT}) as client:  # as the composition root's
            await deliver_webhook(client, url, secret, alert_message(alert or sample_alert()), timeout=timeout)

    asyncio.run(go())


def failure(url: str, timeout: float = 5.0) -> WebhookDeliveryError:
    with pytest.raises(WebhookDeliveryError) as caught:
        deliver(url, timeout=timeout)
    return caught.value


def test_delivered_alert_is_signed_and_the_signature_verifies(receiver: WebhookReceiver) -> None:
    deliver(receiver.url)
    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "monitor-bytedance-ai-5-webhook-hooks.example.org"
    assert request.headers["user-agent"] == AGENT  # the client's: one User-Agent for all monitor sends
    assert request.body == webhook_body(sample_alert())
    assert json.loads(request.body)["story"]["id"] == 5
    stamp, header = request.headers["x-monitor-timestamp"], request.headers["x-monitor-signature"]
    assert abs(int(stamp) - time.time()) < 60
    assert header.startswith("sha256=")
    assert verify_signature(SECRET, stamp, request.body, header)


def test_tampered_body_stale_time_or_wrong_secret_are_rejected(receiver: WebhookReceiver) -> None:
    deliver(receiver.url)
    [request] = receiver.requests
    stamp, header = request.headers["x-monitor-timestamp"], request.headers["x-monitor-signature"]
    tampered = request.body.replace(b'"score":0.8251', b'"score":0.9999')
    assert tampered != request.body
    assert not verify_signature(SECRET, stamp, tampered, header)
    assert not verify_signature("whsec_other", stamp, request.body, header)
    assert not verify_signature(SECRET, str(int(stamp) + 1), request.body, header)
    assert not verify_signature(SECRET, stamp, request.body, header, now=int(stamp) + 301)
    assert not verify_signature(SECRET, "yesterday", request.body, header)
    assert not verify_signature(SECRET, stamp, request.body, "sha256=nötig")
    # A receiver rotating secrets can list several signatures.
    assert verify_signature(SECRET, stamp, request.body, f"sha256=00, {header}")


def test_without_a_secret_no_signature_is_sent(receiver: WebhookReceiver) -> None:
    deliver(receiver.url, secret=None)
    [request] = receiver.requests
    assert "x-monitor-signature" not in request.headers
    assert "x-monitor-timestamp" in request.headers


def test_a_500_raises_delivery_error_and_the_next_attempt_delivers(
    receiver: WebhookReceiver,
) -> None:
    receiver.fail_next(1, status=500)
    error = failure(receiver.url)
    assert isinstance(error, DeliveryError)
    assert error.status == 500 and error.retry_after is None
    assert str(error) == f"webhook {receiver.url.removesuffix('/hook')}/… answered 500; will retry"
    deliver(receiver.url)
    assert [r.answered for r in receiver.requests] == [500, 200]
    first, second = receiver.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_retry_after_is_exposed_in_seconds_or_as_a_date(receiver: WebhookReceiver) -> None:
    receiver.fail_next(1, status=503, retry_after="120")
    receiver.fail_next(1, status=429, retry_after=formatdate(time.time() + 600, usegmt=True))
    seconds = failure(receiver.url)
    assert seconds.retry_after == 120.0 and "retry after 120s" in str(seconds)
    dated = failure(receiver.url)
    assert dated.status == 429
    assert dated.retry_after is not None and 590 <= dated.retry_after <= 601


def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    receiver.fail_next(1, status=308)
    error = failure(receiver.url)
    assert error.status == 308 and "redirects are not followed" in str(error)
    assert len(receiver.requests) == 1


def test_error_lines_do_not_reveal_the_url_path_or_query(receiver: WebhookReceiver) -> None:
    receiver.fail_next(1, status=404)
    secret_url = receiver.url.replace("/hook", "/services/T000/B000/XXXXtoken?key=abc")
    error = failure(secret_url)
    assert "XXXXtoken" not in str(error) and "abc" not in str(error)
    assert "answered 404" in str(error) and "\n" not in str(error)


def test_a_refused_port_fails_fast() -> None:
    started = time.monotonic()
    error = failure(f"http://127.0.0.1:{closed_port()}/hook")
    assert time.monotonic() - started < 2
    assert error.status is None
    assert "cannot connect" in str(error) and str(error).endswith("; will retry")


def test_a_receiver_that_never_answers_costs_only_the_timeout() -> None:
    with silent_port() as port:
        started = time.monotonic()
        error = failure(f"http://127.0.0.1:{port}/hook", timeout=0.5)
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2
    assert str(error) == f"webhook http://127.0.0.1:{port}/… timed out after 0.5s; will retry"


def test_an_invalid_url_is_one_clear_line() -> None:
    with pytest.raises(DeliveryError, match=r"^webhook .*: .*; "):
        deliver("http://[::1/hook")


def test_a_busy_channel_reuses_its_connections_while_another_is_slow() -> None:
    """Two channels sending 16 at a time each (the outbox's way), one of them slow: the fast
    one keeps a connection per send in flight for its next alerts, not one (a TLS handshake)
    per alert. One shared httpx pool closed every idle connection beyond 20: 72 for 80."""
    with WebhookReceiver(keep_alive=True) as fast, WebhookReceiver(keep_alive=True, delay=0.5) as slow:

        async def go() -> None:
            async with webhook_client({"User-Agent": AGENT}) as client:
                message = alert_message(sample_alert())

                async def channel(url: str, alerts: int) -> None:  # one of a channel's 16 slots
                    for _ in range(alerts):
                        await deliver_webhook(client, url, SECRET, message)

                await asyncio.gather(
                    *(channel(fast.url, 5) for _ in range(16)), *(channel(slow.url, 1) for _ in range(16))
                )

        asyncio.run(go())
        assert (len(fast.delivered), len(slow.delivered)) == (80, 16)
        assert fast.connections <= 16
