"""Deliver one alert to a webhook: a signed JSON POST (thin adapter over httpx).

The receiver's answer decides: 2xx is delivered, anything else raises
``WebhookDeliveryError`` (a ``DeliveryError``) with one line naming the receiver and the
cause, plus the ``Retry-After`` delay when the receiver asked for one. The outbox owns
retries; this module sends once.
"""

from __future__ import annotations

import asyncio
import hmac
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from monitor.alerts.render import Message, signature
from monitor.errors import DeliveryError

SIGNATURE_HEADER = "X-Monitor-Signature"
TIMESTAMP_HEADER = "X-Monitor-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer, read and dropped to keep its connection


class WebhookDeliveryError(DeliveryError):
    """A webhook receiver did not accept an alert; it stays queued and is retried."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status  # HTTP status, None for a transport failure
        self.retry_after = retry_after  # seconds the receiver asked us to wait, if it did


class Lanes(httpx.AsyncBaseTransport):
    """Requests to one receiver spread over connection pools of their own, one request at a time
    per pool, each keeping its connection alive for the next.

    An httpx pool rescans all its connections for every request it assigns or releases: at
    16 requests in flight to one receiver (the outbox's ``PER_CHANNEL``) that cost 1.3 ms of
    CPU per request, against 0.5 ms in pools of one (benchmarks/alerts.py drain). And one
    shared pool closes every idle connection once it holds more than 20, so two busy
    channels opened a connection (a TLS handshake) per alert. A lane is made when all of a
    receiver's are busy: there are as many as requests were ever in flight to it at once.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[bytes, bytes, int | None], list[httpx.AsyncHTTPTransport]] = {}
        self._lanes: list[httpx.AsyncHTTPTransport] = []
        self._tls: ssl.SSLContext | None = None  # one for every lane: each costs 20-40 ms of CPU

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        idle = self._idle.setdefault((request.url.raw_scheme, request.url.raw_host, request.url.port), [])
        lane = idle.pop() if idle else self._new_lane()
        try:
            response = await lane.handle_async_request(request)
        except BaseException:
            idle.append(lane)
            raise
        stream = _Releasing(response.stream, lambda: idle.append(lane))
        return httpx.Response(
            response.status_code, headers=response.headers, stream=stream, extensions=response.extensions
        )

    def _new_lane(self) -> httpx.AsyncHTTPTransport:
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        lane = httpx.AsyncHTTPTransport(verify=self._tls)
        self._lanes.append(lane)
        return lane

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response's body; its lane is free again once it is closed."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream, self._release = stream, release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        release, self._release = self._release, _nothing  # once, however often it is closed
        try:
            await self._stream.aclose()
        finally:
            release()


def _nothing() -> None:
    pass


def webhook_client(headers: dict[str, str]) -> httpx.AsyncClient:
    """What webhooks post with: ``Lanes``; redirects are not followed."""
    return httpx.AsyncClient(headers=headers, follow_redirects=False, transport=Lanes())


def display_url(url: str) -> str:
    """Scheme, host and port only: webhook paths and queries often carry tokens (Slack)."""
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.hostname or '?'}"
        if parts.port:
            origin += f":{parts.port}"
    except ValueError:
        return "<invalid url>"
    return origin + ("/…" if parts.path.strip("/") or parts.query else "")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def signed_headers(secret: str | None, key: str, body: bytes, now: float) -> dict[str, str]:
    """The request headers; the signature only when a secret is configured."""
    stamp = int(now)
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(stamp),
        IDEMPOTENCY_HEADER: key,
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, stamp, body)
    return headers


async def deliver_webhook(
    client: httpx.AsyncClient,
    url: str,
    secret: str | None,
    message: Message,
    *,
    now: Callable[[], float] = time.time,
    timeout: float = 10.0,
) -> None:
    """POST the message's payload once; return when the receiver answered 2xx, raise otherwise."""
    body = message.payload
    headers = signed_headers(secret, message.key, body, now())
    where = f"webhook {display_url(url)}"
    try:
        # httpx timeouts are per operation; the outer deadline bounds the whole exchange.
        async with asyncio.timeout(timeout):
            request = client.build_request("POST", url, content=body, headers=headers, timeout=timeout)
            # Redirects are not followed: a POST that moved is a configuration to fix.
            response = await client.send(request, stream=True, follow_redirects=False)
            await _discard_body(response)
    except TimeoutError:
        raise WebhookDeliveryError(f"{where} timed out after {timeout:g}s; will retry") from None
    except httpx.TimeoutException:
        raise WebhookDeliveryError(f"{where} timed out after {timeout:g}s; will retry") from None
    except httpx.ConnectError as error:
        raise WebhookDeliveryError(f"{where}: cannot connect ({_reason(error)}); will retry") from None
    except httpx.HTTPError as error:
        raise WebhookDeliveryError(f"{where}: {_reason(error)}; will retry") from None
    except httpx.InvalidURL as error:
        raise WebhookDeliveryError(f"{where}: invalid URL ({_reason(error)}); fix the channel's url") from None
    if response.is_success:
        return
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now())
    detail = f"answered {response.status_code}"
    if response.is_redirect:
        detail += " (redirects are not followed; configure the final URL)"
    if retry_after is not None:
        detail += f", retry after {retry_after:g}s"
    raise WebhookDeliveryError(f"{where} {detail}; will retry", status=response.status_code, retry_after=retry_after)


async def _discard_body(response: httpx.Response) -> None:
    """Read and drop a short answer, so its connection serves the next alert; a long one is
    cut off with its connection: a receiver cannot make us read or buffer much."""
    seen = 0
    try:
        async for chunk in response.aiter_raw():
            seen += len(chunk)
            if seen > MAX_ANSWER_BYTES:
                break
    finally:
        await response.aclose()


def _reason(error: Exception) -> str:
    text = " ".join(str(error).split()).rstrip(".")
    return text or type(error).__name__


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``timestamp`` and ``body`` under ``secret``, recently.

    For receivers: reject stale timestamps (replays) and compare in constant time.
    ``header`` may list several comma-separated signatures (secret rotation).
    """
    try:
        stamp = int(timestamp.strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        return False
    expected = signature(secret, stamp, body)
    candidates = [part.strip() for part in header.split(",")]
    # Compare against every candidate so timing does not reveal which one matched.
    results = [hmac.compare_digest(expected.encode(), candidate.encode(errors="replace")) for candidate in candidates]
    return any(results)
