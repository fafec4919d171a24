"""Fetching against real local servers that misbehave on purpose (tests/hostile.py)."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import ssl
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import AGENT
from hostile import (
    Handler,
    HostileServer,
    conditional,
    drip,
    encoded,
    now_http_date,
    oversized,
    redirect,
    redirect_chain,
    stall_after_headers,
    zeros_compressed,
)
from receivers import self_signed_cert

from monitor.errors import FetchError
from monitor.fetch import (
    MIB,
    Fetcher,
    FetchLimits,
    FetchResult,
    GuardedTransport,
    Unreachable,
    always_refused,
    is_transient,
    refusal_reason,
    tls_context,
)
from monitor.polling import PollPolicy, next_interval

T = TypeVar("T")
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def fetch(
    url: str,
    limits: FetchLimits | None = None,
    *,
    trusted: bool = False,
    etag: str | None = None,
    transport: GuardedTransport | None = None,
) -> FetchResult:
    async def main() -> FetchResult:
        fetcher = Fetcher(limits or FetchLimits(AGENT, allow_networks=LOOPBACK), transport)
        try:
            return await fetcher.get(url, trusted=trusted, etag=etag)
        finally:
            await fetcher.aclose()

    return asyncio.run(main())


def failure(call: Callable[[], object], within: float = 10.0) -> str:
    """The FetchError message ``call`` raises, asserting it came within ``within`` seconds."""
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        call()
    elapsed = time.monotonic() - started
    assert elapsed < within, f"took {elapsed:.1f} s"
    message = str(caught.value)
    assert "\n" not in message
    return message


def run(coroutine: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coroutine())  # type: ignore[arg-type]


# --- ordinary behaviour ------------------------------------------------------------------


def test_conditional_get_returns_304_with_empty_body(server: HostileServer) -> None:
    server.route(
        "/feed",
        conditional(FEED, etag='"v1"', last_modified=now_http_date(), content_type="text/xml"),
    )
    first = fetch(server.url("/feed"), trusted=True)
    assert (first.status, first.body, first.etag) == (200, FEED, '"v1"')
    assert first.headers["content-type"] == "text/xml"
    assert first.last_modified is not None
    second = fetch(server.url("/feed"), trusted=True, etag=first.etag)
    assert (second.status, second.body) == (304, b"")
    assert server.requests[-1][1].get("if-none-match") == '"v1"'
    assert server.requests[-1][1]["user-agent"] == AGENT  # the one the composition root gives


@pytest.mark.parametrize("encodings", [["gzip"], ["deflate"], ["gzip", "gzip"], ["gzip", "deflate"]])
def test_compressed_bodies_are_decoded(server: HostileServer, encodings: list[str]) -> None:
    body, header = encoded(FEED * 100, encodings)
    server.serve("/feed", body, headers={"content-encoding": header})
    assert fetch(server.url("/feed")).body == FEED * 100


def test_error_status_is_returned_with_retry_after(server: HostileServer) -> None:
    server.serve("/busy", b"slow down", status=429, headers={"retry-after": "120"})
    server.serve("/down", b"", status=503, headers={"retry-after": now_http_date(600)})
    busy = fetch(server.url("/busy"))
    assert (busy.status, busy.headers["retry-after"], busy.body) == (429, "120", b"")
    down = fetch(server.url("/down"))
    assert down.status == 503 and down.headers["retry-after"].endswith("GMT")


def test_short_redirect_chain_is_followed_to_the_final_url(server: HostileServer) -> None:
    server.route("/hop*", redirect_chain("/hop"))
    result = fetch(server.url("/hop3"))
    assert (result.status, result.body, result.url) == (200, b"the end", server.url("/hop0"))


def test_a_kept_alive_connection_the_server_closed_is_not_reused(server: HostileServer) -> None:
    # The pool must notice the closed socket before reusing it (fetch.AsyncioStream),
    # else the second request fails with "server disconnected".
    ports: list[int] = []

    def once_then_close(handler: Handler) -> None:
        ports.append(handler.client_address[1])
        handler.send_simple(200, b"ok")
        handler.close_connection = True  # no "Connection: close": the client is not told

    server.route("/once*", once_then_close)

    async def main() -> list[bytes]:
        fetcher = Fetcher(FetchLimits(AGENT, allow_networks=LOOPBACK))
        try:
            first = await fetcher.get(server.url("/once1"))
            await asyncio.sleep(0.2)  # the server has closed its end by now
            second = await fetcher.get(server.url("/once2"))
            return [first.body, second.body]
        finally:
            await fetcher.aclose()

    assert run(main) == [b"ok", b"ok"]
    assert len(set(ports)) == 2  # a second connection, not the dead one


def test_kept_alive_connections_are_reused(server: HostileServer) -> None:
    ports: list[int] = []

    def ok(handler: Handler) -> None:
        ports.append(handler.client_address[1])
        handler.send_simple(200, b"ok")

    server.route("/alive*", ok)

    async def main() -> None:
        fetcher = Fetcher(FetchLimits(AGENT, allow_networks=LOOPBACK))
        try:
            for n in range(3):
                await fetcher.get(server.url(f"/alive{n}"))
        finally:
            await fetcher.aclose()

    run(main)
    assert len(ports) == 3 and len(set(ports)) == 1


def test_per_host_cap_limits_concurrent_requests(server: HostileServer) -> None:
    lock, active, peak = threading.Lock(), [0], [0]

    def slow(handler: Handler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        handler.send_simple(200, b"ok")

    server.route("/slow*", slow)

    async def main() -> list[FetchResult]:
        fetcher = Fetcher(FetchLimits(AGENT, allow_networks=LOOPBACK, max_per_host=2))
        try:
            urls = [server.url(f"/slow{i}") for i in range(6)]
            return await asyncio.gather(*(fetcher.get(u) for u in urls))
        finally:
            await fetcher.aclose()

    results = run(main)
    assert [r.status for r in results] == [200] * 6
    assert peak[0] == 2


def test_unreachable_server_and_bad_urls_give_one_line(server: HostileServer) -> None:
    with HostileServer() as gone:
        url = gone.url("/feed")
    assert url in failure(lambda: fetch(url, trusted=True))
    assert "only http and https" in failure(lambda: fetch("file:///etc/passwd", trusted=True))
    assert "not a valid URL" in failure(lambda: fetch("http://[::1", trusted=True))
    assert "not a valid URL" in failure(lambda: fetch("http:///path", trusted=True))


# --- size caps and decompression bombs --------------------------------------------------------


@pytest.mark.parametrize("declare_length", [True, False])
def test_body_over_the_cap_is_refused(server: HostileServer, declare_length: bool) -> None:
    server.route("/big", oversized(20 * MIB, declare_length=declare_length))
    limits = FetchLimits(AGENT, allow_networks=LOOPBACK, max_bytes=MIB)
    message = failure(lambda: fetch(server.url("/big"), limits))
    assert message == (f"{server.url('/big')}: body larger than 1 MiB; raise fetch.max_bytes to accept it")


_BOMB = 256 * MIB


@pytest.mark.parametrize("encodings", [["gzip"], ["deflate"], ["gzip", "gzip"], ["deflate", "gzip", "gzip"]])
def test_decompression_bombs_stop_at_the_cap_in_bounded_memory(server: HostileServer, encodings: list[str]) -> None:
    bomb = zeros_compressed(_BOMB, encodings)
    assert len(bomb) < MIB  # small on the wire: only the decompressed size is over the cap
    header = ", ".join(encodings)
    server.serve("/bomb", bomb, headers={"content-encoding": header})
    limits = FetchLimits(AGENT, allow_networks=LOOPBACK, max_bytes=2 * MIB)
    tracemalloc.start()
    try:
        message = failure(lambda: fetch(server.url("/bomb"), limits))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "body larger than 2 MiB" in message
    assert peak < 24 * MIB, f"peak {peak / MIB:.0f} MiB while decoding a {_BOMB / MIB:.0f} MiB bomb"


def test_body_labelled_gzip_but_not_compressed_is_read_with_a_warning(server: HostileServer) -> None:
    # As feedparser and browsers read it: the label is wrong, the feed is fine.
    server.serve("/liar", FEED, headers={"content-encoding": "gzip"})
    server.serve("/twice", FEED, headers={"content-encoding": "gzip, gzip"})
    server.serve("/tiny", b"x", headers={"content-encoding": "gzip"})
    for path in ("/liar", "/twice"):
        result = fetch(server.url(path))
        assert result.body == FEED
        (warning,) = result.warnings
        assert warning.startswith(server.url(path)) and "not compressed" in warning and "\n" not in warning
    assert fetch(server.url("/tiny")).body == b"x"


def test_uncompressed_body_labelled_gzip_is_still_capped(server: HostileServer) -> None:
    server.route("/big", oversized(4 * MIB, declare_length=False))
    server.routes["/big"] = _labelled_gzip(server.routes["/big"])
    limits = FetchLimits(AGENT, allow_networks=LOOPBACK, max_bytes=MIB)
    assert "body larger than 1 MiB" in failure(lambda: fetch(server.url("/big"), limits))


def _labelled_gzip(route: Callable[[Handler], None]) -> Callable[[Handler], None]:
    def labelled(handler: Handler) -> None:
        original = handler.end_headers

        def end_headers() -> None:
            handler.send_header("content-encoding", "gzip")
            original()

        handler.end_headers = end_headers  # type: ignore[method-assign]
        route(handler)

    return labelled


def test_body_that_is_corrupt_in_the_declared_encoding_is_an_error(server: HostileServer) -> None:
    body, _ = encoded(FEED * 10, ["gzip"])
    server.serve("/broken", body[:12] + b"\x00" * 40, headers={"content-encoding": "gzip"})
    server.serve("/deflate", FEED, headers={"content-encoding": "deflate"})
    assert "not valid gzip data" in failure(lambda: fetch(server.url("/broken")))
    assert "not valid deflate data" in failure(lambda: fetch(server.url("/deflate")))


# --- slow servers: one overall deadline -----------------------------------------------------


def test_dripping_server_hits_the_overall_deadline(server: HostileServer) -> None:
    server.route("/drip", drip(FEED, interval=0.3))  # each read is quick; the whole is not
    limits = FetchLimits(AGENT, allow_networks=LOOPBACK, deadline=1.5)
    message = failure(lambda: fetch(server.url("/drip"), limits), within=5)
    assert "no complete answer within 1.5 s" in message and "fetch.timeout" in message


def test_server_stalling_after_headers_hits_the_deadline(server: HostileServer) -> None:
    server.route("/stall", stall_after_headers())
    limits = FetchLimits(AGENT, allow_networks=LOOPBACK, deadline=1.0)
    assert "within 1 s" in failure(lambda: fetch(server.url("/stall"), limits), within=5)


# --- redirects ------------------------------------------------------------------------------


def test_redirect_loop_is_reported(server: HostileServer) -> None:
    server.route("/a", redirect("/b"))
    server.route("/b", redirect("/a"))
    assert "redirect loop" in failure(lambda: fetch(server.url("/a")))


def test_long_redirect_chain_is_cut(server: HostileServer) -> None:
    server.route("/hop*", redirect_chain("/hop"))
    message = failure(lambda: fetch(server.url("/hop50")))
    assert "more than 5 redirects" in message and "fetch.max_redirects" in message
    assert server.hits("/hop45") == 1 and server.hits("/hop44") == 0


# --- the network guard --------------------------------------------------------------------------


def strict() -> FetchLimits:
    return FetchLimits(AGENT)  # no allow_networks: what an article link gets in production


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_untrusted_url_to_loopback_is_refused(server: HostileServer, host: str) -> None:
    server.serve("/secret", b"internal")
    message = failure(lambda: fetch(server.url("/secret", host=host), strict()))
    assert "loopback" in message and "fetch.allow_networks" in message
    assert server.hits("/secret") == 0


def test_trusted_feed_on_loopback_is_fetched_but_its_redirect_is_not(server: HostileServer) -> None:
    server.serve("/feed", FEED)
    server.route("/moved", redirect("/feed"))
    assert fetch(server.url("/feed"), strict(), trusted=True).body == FEED
    assert "loopback" in failure(lambda: fetch(server.url("/moved"), strict(), trusted=True))
    assert server.hits("/feed") == 1


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/admin", "private network"),
        ("http://192.168.0.1/", "private network"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "not a unicast address"),
    ],
)
def test_redirect_to_internal_addresses_is_refused_even_from_a_trusted_feed(
    server: HostileServer, target: str, reason: str
) -> None:
    server.route("/go", redirect(target))
    # The server itself is reachable (allowed), the place it sends us to is not.
    message = failure(lambda: fetch(server.url("/go"), FetchLimits(AGENT), trusted=True))
    assert reason in message


def test_allow_networks_opens_an_internal_network(server: HostileServer) -> None:
    server.serve("/intranet", b"ok")
    assert fetch(server.url("/intranet", host="localhost"), FetchLimits(AGENT, allow_networks=LOOPBACK))


def resolver(table: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [])

    return resolve


def test_public_looking_name_resolving_to_loopback_is_refused(server: HostileServer) -> None:
    server.serve("/page", b"internal")
    names = {"news.example.com": ["127.0.0.1"], "mixed.example.com": ["93.184.216.34", "127.0.0.1"]}
    for name in names:
        transport = GuardedTransport(strict(), resolve=resolver(names))
        url = server.url("/page", host=name)
        assert "refused to connect to 127.0.0.1" in failure(lambda: fetch(url, transport=transport))  # noqa: B023
    assert server.hits("/page") == 0


def test_connection_goes_to_the_address_that_was_checked(server: HostileServer) -> None:
    server.serve("/page", b"reached")
    transport = GuardedTransport(
        FetchLimits(AGENT, allow_networks=LOOPBACK), resolve=resolver({"feed.test": ["127.0.0.1"]})
    )
    result = fetch(server.url("/page", host="feed.test"), transport=transport)
    assert result.body == b"reached"
    assert server.requests[-1][1]["host"] == f"feed.test:{server.port}"


# --- HTTPS ------------------------------------------------------------------------------


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[HostileServer, ssl.SSLContext]]:
    """A TLS server whose certificate (for localhost and 127.0.0.1) only the returned client context trusts."""
    certificate = self_signed_cert(tmp_path)
    with HostileServer(tls=certificate.server_context()) as running:
        yield running, ssl.create_default_context(cafile=str(certificate.cert_file))


def test_https_page_is_fetched_from_the_checked_address_and_its_certificate_verified(
    https: tuple[HostileServer, ssl.SSLContext],
) -> None:
    server, trusting = https
    server.serve("/feed", FEED)
    for host in ("localhost", "127.0.0.1"):
        transport = GuardedTransport(FetchLimits(AGENT, allow_networks=LOOPBACK), tls=trusting)
        assert fetch(server.url("/feed", host=host), transport=transport).body == FEED
    # The connection goes to the address that was resolved and checked, but the
    # certificate must still name the host of the URL: feed.test resolves here, and
    # the server's certificate is not feed.test's.
    transport = GuardedTransport(
        FetchLimits(AGENT, allow_networks=LOOPBACK), resolve=resolver({"feed.test": ["127.0.0.1"]}), tls=trusting
    )
    assert "certificate" in failure(lambda: fetch(server.url("/feed", host="feed.test"), transport=transport))
    assert server.hits("/feed") == 2


def test_https_server_with_an_untrusted_certificate_is_refused(https: tuple[HostileServer, ssl.SSLContext]) -> None:
    server, _ = https
    server.serve("/feed", FEED)
    message = failure(lambda: fetch(server.url("/feed", host="localhost")))  # the default authorities
    assert "certificate verify failed" in message and server.url("/feed", host="localhost") in message
    assert server.hits("/feed") == 0


def test_the_system_authorities_are_read_at_the_first_handshake_not_before(
    https: tuple[HostileServer, ssl.SSLContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = https
    server.serve("/feed", FEED)
    # The system's authorities, as OpenSSL finds them: here, only the test server's certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    context = tls_context()
    transport = GuardedTransport(FetchLimits(AGENT, allow_networks=LOOPBACK), tls=context)
    assert context.cert_store_stats()["x509_ca"] == 0  # nothing read yet: a plain-HTTP process never pays for it
    assert fetch(server.url("/feed", host="localhost"), transport=transport).body == FEED
    assert context.cert_store_stats()["x509_ca"] >= 1


def test_https_to_loopback_is_refused_before_any_handshake(https: tuple[HostileServer, ssl.SSLContext]) -> None:
    server, trusting = https
    server.serve("/feed", FEED)
    transport = GuardedTransport(strict(), tls=trusting)
    assert "refused to connect to 127.0.0.1" in failure(lambda: fetch(server.url("/feed"), transport=transport))
    assert server.hits("/feed") == 0


def test_kept_alive_trusted_connection_does_not_serve_untrusted_requests(
    server: HostileServer,
) -> None:
    server.serve("/feed", FEED)
    server.serve("/private", b"secret")

    async def main() -> None:
        fetcher = Fetcher(strict())
        try:
            assert (await fetcher.get(server.url("/feed"), trusted=True)).status == 200
            with pytest.raises(FetchError, match="loopback"):
                await fetcher.get(server.url("/private"))
        finally:
            await fetcher.aclose()

    run(main)
    assert server.hits("/private") == 0


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2a00:1450:4001::1", False),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("fd00:ec2::254", True),  # AWS metadata over IPv6
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 form of 169.254.169.254
        ("2002:7f00:1::", True),  # 6to4 form of 127.0.0.1
        ("fe80::1", True),
    ],
)
def test_refusal_reason(address: str, refused: bool) -> None:
    assert (refusal_reason(ipaddress.ip_address(address)) is not None) is refused


# --- link-local and cloud metadata: refused for every request --------------------------------

METADATA_NAMES = {
    "metadata.test": ["169.254.169.254"],
    "ecs.test": ["169.254.170.2"],
    "aws6.test": ["fd00:ec2::254"],
    "gcp6.test": ["fd20:ce::254"],
    "alibaba.test": ["100.100.100.200"],
    "mapped.test": ["::ffff:169.254.169.254"],
    "zoned.test": ["fe80::1%eth0"],
}


@pytest.mark.parametrize("name", METADATA_NAMES)
def test_operator_feed_resolving_to_cloud_metadata_is_refused(name: str) -> None:
    # Trusted (an operator's feed) and loopback allowed: metadata stays out of reach.
    transport = GuardedTransport(FetchLimits(AGENT, allow_networks=LOOPBACK), resolve=resolver(METADATA_NAMES))
    message = failure(lambda: fetch(f"http://{name}/latest/meta-data/", trusted=True, transport=transport))
    address = METADATA_NAMES[name][0]
    assert f"refused to connect to {address} (" in message and "metadata" in message, message
    assert "in fetch.allow_networks" in message


def test_a_name_with_a_metadata_address_beside_a_reachable_one_is_never_requested(server: HostileServer) -> None:
    server.serve("/feed", FEED)
    names = {"feed.test": ["127.0.0.1", "169.254.169.254"]}
    transport = GuardedTransport(FetchLimits(AGENT, allow_networks=LOOPBACK), resolve=resolver(names))
    message = failure(lambda: fetch(server.url("/feed", host="feed.test"), trusted=True, transport=transport))
    assert "169.254.169.254 (link-local" in message
    assert server.hits("/feed") == 0  # the loopback address was reachable, and not asked either


def test_literal_metadata_addresses_are_refused_before_any_connection() -> None:
    # Refused from the address alone: nothing on this machine is asked to connect.
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/", "http://[fe80::1]/"):
        assert "refused to connect to" in failure(lambda: fetch(url, trusted=True), within=2)  # noqa: B023


@pytest.mark.parametrize(
    ("allow", "opened"),
    [
        ("169.254.169.254/32", True),
        ("169.254.0.0/16", True),
        ("169.254.0.0/15", False),  # wider than link-local: not an explicit entry
        ("0.0.0.0/0", False),
        ("10.0.0.0/8", False),
    ],
)
def test_only_an_explicit_allow_networks_entry_opens_metadata(allow: str, opened: bool) -> None:
    networks = (ipaddress.ip_network(allow),)
    metadata = ipaddress.ip_address("169.254.169.254")
    assert (always_refused(metadata, networks) is None) is opened
    assert (refusal_reason(metadata, networks) is None) is opened


def test_a_broad_allow_networks_entry_opens_loopback_but_not_metadata() -> None:
    everything = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    assert refusal_reason(ipaddress.ip_address("127.0.0.1"), everything) is None
    assert refusal_reason(ipaddress.ip_address("10.1.2.3"), everything) is None
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"):
        assert refusal_reason(ipaddress.ip_address(address), everything) is not None, address
    assert always_refused(ipaddress.ip_address("fd00:ec2::254"), (ipaddress.ip_network("fd00:ec2::254/128"),)) is None


# --- what kind of failure: the polling policy retries the transient ones soon --------------------


def test_unreachable_and_slow_servers_are_transient_failures(server: HostileServer) -> None:
    with HostileServer() as gone:
        closed = gone.url("/feed")
    server.route("/stall", stall_after_headers())
    server.serve("/down", b"", status=503)
    with pytest.raises(Unreachable) as refused_connection:
        fetch(closed, trusted=True)
    with pytest.raises(Unreachable) as too_slow:
        fetch(server.url("/stall"), FetchLimits(AGENT, allow_networks=LOOPBACK, deadline=0.5))
    assert is_transient(refused_connection.value) and is_transient(too_slow.value)
    assert fetch(server.url("/down")).server_failed


def test_refusals_and_broken_bodies_are_not_transient(server: HostileServer) -> None:
    server.route("/big", oversized(4 * MIB, declare_length=True))
    with pytest.raises(FetchError) as refused:
        fetch(server.url("/feed"), strict())
    with pytest.raises(FetchError) as too_big:
        fetch(server.url("/big"), FetchLimits(AGENT, allow_networks=LOOPBACK, max_bytes=MIB))
    assert not is_transient(refused.value) and not is_transient(too_big.value)
    assert not fetch(server.url("/missing")).server_failed


def test_an_untrusted_certificate_is_not_a_transient_failure(https: tuple[HostileServer, ssl.SSLContext]) -> None:
    server, _ = https
    server.serve("/feed", FEED)
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/feed", host="localhost"))
    assert "certificate verify failed" in str(caught.value) and not is_transient(caught.value)


def test_retry_after_from_a_real_answer_postpones_the_next_poll(server: HostileServer) -> None:
    server.serve("/busy", b"", status=429, headers={"retry-after": "7200"})
    server.serve("/down", b"", status=503, headers={"retry-after": now_http_date(3 * 3600)})
    for path, hours in (("/busy", 2), ("/down", 3)):
        answer = fetch(server.url(path))
        wait = next_interval(
            PollPolicy(jitter=0.0),
            entry_dates=[],
            hints=None,
            response_headers=answer.headers,
            status=answer.status,
            consecutive_failures=0,
            override=timedelta(minutes=10),
            now=datetime.now(UTC),
            rng=random.Random(0),
        )
        assert abs(wait - timedelta(hours=hours)) < timedelta(seconds=5)
