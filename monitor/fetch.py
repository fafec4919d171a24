"""HTTP fetching for feeds and article pages: the only module that talks HTTP to publishers.

Every request is bounded: one overall deadline (httpx's timeouts are per read), a cap on
the body both on the wire and after decompression (we decompress ourselves, with an output
limit, so a gzip bomb never expands in memory), a redirect limit, and a network guard that
checks every address a host name resolves to *at connect time* and then connects to that
checked address, so neither a redirect nor DNS rebinding can reach loopback, private,
link-local or cloud-metadata addresses unless their network is explicitly allowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import select
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import certifi
import httpcore
import httpx

from monitor.errors import FetchError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

MIB = 1024 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchLimits:
    """Safety limits of every request; each maps to a `fetch.*` setting of the config."""

    user_agent: str  # the composition root's (monitor.service.user_agent): one for every request monitor makes
    max_bytes: int = 10 * MIB  # body cap, on the wire and after decompression
    deadline: float = 30.0  # seconds for the whole request, redirects included (fetch.timeout)
    connect_timeout: float = 10.0
    max_redirects: int = 5
    allow_networks: tuple[IPNetwork, ...] = ()
    max_connections: int = 20  # requests in flight, all hosts together
    max_per_host: int = 2


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL, after redirects
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # decompressed; empty for 304 and for 4xx/5xx
    etag: str | None = None
    last_modified: str | None = None
    warnings: tuple[str, ...] = ()  # what was odd but read anyway, one line each

    @property
    def server_failed(self) -> bool:
        """A 5xx: the server is there but broken for now, which usually passes."""
        return self.status >= 500


class Unreachable(FetchError):
    """No answer: the name did not resolve, the connection failed or time ran out."""


class Refused(FetchError):
    """The URL leads to an address this request may not reach (fetch.allow_networks)."""

    def __init__(self, message: str, *, for_everyone: bool) -> None:
        super().__init__(message)
        self.for_everyone = for_everyone  # link-local or metadata: not even the operator's own URL


def is_transient(failure: BaseException) -> bool:
    """Whether a failed fetch is worth retrying soon: DNS, connect and timeout failures
    usually pass; a refused address, a bad certificate or an oversized body do not."""
    return isinstance(failure, Unreachable)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# --- the network guard -------------------------------------------------------------------


class AddressRefused(Exception):
    """A host resolved to an address this request may not reach."""

    def __init__(self, host: str, address: str, reason: str, hint: str, for_everyone: bool) -> None:
        super().__init__(f"{host} resolves to {address} ({reason})")
        self.host, self.address, self.reason, self.hint = host, address, reason, hint
        self.for_everyone = for_everyone


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = "link-local, where cloud metadata lives"

# Refused for every request, the operator's own feeds included: no news lives there, and
# cloud credentials do. Only an allow_networks entry inside one of these blocks opens it,
# so that a broad entry (10.0.0.0/8, 0.0.0.0/0) never opens the metadata service by accident.
ALWAYS_REFUSED: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("169.254.0.0/16"), _METADATA),  # AWS, GCP, Azure, OpenStack, ECS …
    (ipaddress.ip_network("fe80::/10"), _METADATA),
    (ipaddress.ip_network("fd00:ec2::254/128"), "AWS cloud metadata"),
    (ipaddress.ip_network("fd20:ce::254/128"), "Google Cloud metadata"),
    (ipaddress.ip_network("100.100.100.200/32"), "Alibaba Cloud metadata"),
    (ipaddress.ip_network("192.0.0.192/32"), "Oracle Cloud metadata"),
    (ipaddress.ip_network("168.63.129.16/32"), "Azure platform endpoint"),
)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv6 form (::ffff:a.b.c.d, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is None and address in _NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return embedded


def _metadata_block(address: IPAddress) -> tuple[IPNetwork, str] | None:
    """The ALWAYS_REFUSED block (and why) holding ``address``, also in an IPv6 form."""
    address = _embedded_ipv4(address) or address
    for block, reason in ALWAYS_REFUSED:
        if address.version == block.version and address in block:
            return block, reason
    return None


def always_refused(address: IPAddress, allow: Iterable[IPNetwork] = ()) -> tuple[str, str] | None:
    """(reason, block to list) when ``address`` is link-local or a cloud metadata address,
    which no request may reach unless ``allow`` names that block or a part of it."""
    found = _metadata_block(address)
    if found is None:
        return None
    block, reason = found
    inner = _embedded_ipv4(address) or address
    for net in allow:
        if net.version == block.version and inner in net and net.subnet_of(block):  # type: ignore[arg-type]
            return None
    return reason, str(block)


def refusal_reason(address: IPAddress, allow: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not be fetched on behalf of a stranger, or None when it may."""
    allow = tuple(allow)
    if _metadata_block(address) is not None:
        refused = always_refused(address, allow)
        return refused[0] if refused else None
    if any(address.version == net.version and address in net for net in allow):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal_reason(embedded, allow)
    if address.is_unspecified:
        return "not a unicast address"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return _METADATA
    if address.is_private:
        return "private network"
    if address.is_multicast or address.is_reserved:
        return "not a unicast address"
    if not address.is_global:
        return "not a public address"
    return None


def _refusal(address: IPAddress, allow: tuple[IPNetwork, ...], stranger: bool) -> tuple[str, str, bool] | None:
    """(reason, what to do, refused for everyone) when this request may not connect to ``address``."""
    refused = always_refused(address, allow)
    if refused is not None:
        reason, block = refused
        narrower = " (or a narrower network holding it)" if ipaddress.ip_network(block).num_addresses > 1 else ""
        return reason, f"list {block}{narrower} in fetch.allow_networks to allow it", True
    if stranger and (why := refusal_reason(address, allow)) is not None:
        return why, "add its network to fetch.allow_networks to allow it", False
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``."""
    try:
        ipaddress.ip_address(host)
        return [host]  # an address already: no resolver thread to wait for
    except ValueError:
        pass
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, connects only to a checked one.

    ``check``: the stranger rule (public addresses and ``allow`` only); without it, every
    address but link-local and cloud metadata (``always_refused``).
    """

    def __init__(self, allow: tuple[IPNetwork, ...], resolve: Resolver, check: bool) -> None:
        self._allow, self._resolve, self._check = allow, resolve, check

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolve(host.strip("[]"), port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        # All of them, not only the first: a name with one public and one private
        # address must not reach the private one on a retry or a rebind.
        for text in addresses:
            refused = _refusal(ipaddress.ip_address(text.split("%")[0]), self._allow, stranger=self._check)
            if refused:
                raise AddressRefused(host, text, *refused)
        last_error: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            try:
                return await AsyncioStream.connect(address, port, timeout, local_address, socket_options or ())
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@contextmanager
def _raising(timeout: type[Exception], failure: type[Exception]) -> Iterator[None]:
    """asyncio's and the socket's errors as the httpcore ones the pool expects."""
    try:
        yield
    except TimeoutError as exc:
        raise timeout(str(exc) or "timed out") from exc
    except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError: the cause stays attached
        raise failure(str(exc) or type(exc).__name__) from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    """A connection over asyncio's own streams.

    httpcore's AnyIO backend wraps every connect, read and write in a cancel scope and
    asks the running library each time; on a cycle of small answers that was a fifth of
    the CPU. Its readability check is cheap too: the pool asks it of every idle connection
    each time a request starts or ends (encode/httpcore#928).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def connect(
        cls, address: str, port: int, timeout: float | None, local_address: str | None, options: Iterable[Any]
    ) -> AsyncioStream:
        with _raising(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                local = (local_address, 0) if local_address else None
                reader, writer = await asyncio.open_connection(address, port, local_addr=local)
        for option in options:
            writer.get_extra_info("socket").setsockopt(*option)
        return cls(reader, writer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _raising(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _raising(httpcore.WriteTimeout, httpcore.WriteError):
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()  # not waited for: a TLS goodbye the server never answers must not hold the pool

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if isinstance(ssl_context, DeferredCertificates):
            ssl_context.load_once()
        with _raising(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # a read would return at once: data, the end, or a closed socket
            return self._reader.at_eof() or _readable(self._writer.get_extra_info("socket"))
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return self._writer.get_extra_info(info)  # "socket", "ssl_object"


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once; a closed socket counts, as in httpcore."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class DeferredCertificates(ssl.SSLContext):
    """A client TLS context that reads its certificate authorities at the first handshake.

    The system's authorities and certifi's, as httpcore trusts them by default. Reading
    the bundles costs about 40 ms of CPU: a poll cycle where every feed answers 304 over
    plain HTTP, or a process that only queries, never pays it.
    """

    loaded = False

    def load_once(self) -> None:
        if not self.loaded:
            self.load_default_certs(ssl.Purpose.SERVER_AUTH)
            self.load_verify_locations(certifi.where())
            self.loaded = True


def tls_context() -> ssl.SSLContext:
    """The context HTTPS servers are checked against: hostname and chain, as
    ``ssl.create_default_context()``, its bundles read when first needed.

    Built once per transport: given none, httpcore builds one for every new connection,
    and reading the bundles costs 38 ms of CPU, far more than the TLS handshake itself.
    """
    return DeferredCertificates(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default


class GuardedTransport:
    """Two httpcore connection pools that never share a connection.

    Requests marked trusted (the first hop of an operator-configured feed URL) may reach
    any address but link-local and cloud metadata ones; every other request goes through the pool whose backend refuses
    addresses outside ``allow_networks`` at connect time. Separate pools matter: a kept-
    alive connection opened for a trusted intranet feed must not serve an article link.
    """

    def __init__(
        self, limits: FetchLimits, resolve: Resolver = system_resolve, tls: ssl.SSLContext | None = None
    ) -> None:
        """``tls``: the certificate authorities HTTPS servers are checked against (default: ``tls_context()``)."""
        tls = tls or tls_context()

        def pool(check: bool) -> httpcore.AsyncConnectionPool:
            return httpcore.AsyncConnectionPool(
                ssl_context=tls,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_connections,
                keepalive_expiry=30.0,
                network_backend=GuardedBackend(limits.allow_networks, resolve, check),
            )

        self._trusted_pool, self._guarded_pool = pool(False), pool(True)

    def pool(self, trusted: bool) -> httpcore.AsyncConnectionPool:
        return self._trusted_pool if trusted else self._guarded_pool

    async def aclose(self) -> None:
        await self._trusted_pool.aclose()
        await self._guarded_pool.aclose()


# --- decompression with an output limit ----------------------------------------------------


class _TooLarge(Exception):
    pass


class _Inflater:
    """One gzip or deflate layer whose output never exceeds ``limit`` bytes in total.

    A body labelled gzip that does not start with gzip's magic bytes is passed through
    as it is, as feedparser and browsers read it, and ``not_compressed`` says so.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._limit, self._produced, self._first = limit, 0, True
        self._head = b""  # the first bytes, until there are two to sniff
        self.not_compressed = False
        self._obj = self._new(zlib.MAX_WBITS)

    def _new(self, wbits: int) -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else wbits)

    def feed(self, data: bytes) -> bytes:
        if self._first and self._gzip:
            self._head += data
            if len(self._head) < 2:
                return b""
            self._first, data = False, self._head
            self.not_compressed = not data.startswith(b"\x1f\x8b")
        if self.not_compressed:
            return self._count(data)
        if self._first and not self._gzip and data:
            # "deflate" is zlib-wrapped by the standard, raw by many servers: sniff it.
            self._first = False
            if data[0] & 0x0F != 8:
                self._obj = self._new(-zlib.MAX_WBITS)
        out: list[bytes] = []
        while data:
            chunk = self._obj.decompress(data, self._limit - self._produced + 1)
            out.append(self._count(chunk))
            data = self._obj.unconsumed_tail
            if self._obj.eof:
                data, rest = self._obj.unused_data, data
                if not (self._gzip and data.startswith(b"\x1f\x8b")):
                    break  # trailing garbage after the stream is ignored, as browsers do
                self._obj = self._new(zlib.MAX_WBITS)  # the next gzip member
                data += rest
        return b"".join(out)

    def _count(self, chunk: bytes) -> bytes:
        self._produced += len(chunk)
        if self._produced > self._limit:
            raise _TooLarge
        return chunk

    def flush(self) -> bytes:
        if self._first and self._gzip:  # a body of fewer than two bytes: not gzip either
            self._first, self.not_compressed = False, True
            return self._count(self._head)
        if self.not_compressed:
            return b""
        return self._count(bytes(self._obj.flush()))


class _Decoder:
    """Undo Content-Encoding layers (last applied, first undone), each one bounded."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
        unsupported = [n for n in names if n in ("br", "zstd", "compress", "x-compress")]
        if unsupported:
            raise ValueError(f"unsupported content encoding {unsupported[0]!r}")
        self._layers = [_Inflater(n, limit) for n in reversed(names) if n in _INFLATABLE]

    def feed(self, data: bytes) -> bytes:
        for layer in self._layers:
            data = layer.feed(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for layer in self._layers:
            data = layer.feed(data) + layer.flush()
        return data

    @property
    def not_compressed(self) -> int:
        """How many of the gzip layers announced were not there."""
        return sum(layer.not_compressed for layer in self._layers)


_INFLATABLE = ("gzip", "x-gzip", "deflate")


# --- the fetcher --------------------------------------------------------------------------


class _HostGate:
    """At most ``per_host`` requests at a time to one host; forgets idle hosts."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._gates: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        gate, users = self._gates.get(host, (asyncio.Semaphore(self._per_host), 0))
        self._gates[host] = (gate, users + 1)
        try:
            async with gate:
                yield
        finally:
            gate, users = self._gates[host]
            if users <= 1:
                del self._gates[host]
            else:
                self._gates[host] = (gate, users - 1)


@dataclass
class _Hop:
    url: httpx.URL
    trusted: bool
    seen: set[str] = field(default_factory=set)


def _size(limit: int) -> str:
    return f"{limit / MIB:g} MiB" if limit >= MIB else f"{limit} bytes"


_ACCEPT = (
    b"application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
# httpcore's exceptions, as the one line a user reads when the exception has no text
_NETWORK_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (httpcore.TimeoutException, "timed out"),
    (httpcore.ConnectError, "cannot connect"),
    (httpcore.ProtocolError, "broken HTTP answer"),
    (httpcore.NetworkError, "network error"),
)


def _header_text(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """A response's headers by lower-case name, repeated ones joined with commas; values
    read as ASCII, else UTF-8, else Latin-1, as httpx reads them."""
    pairs = list(raw)
    for encoding in ("ascii", "utf-8", "iso-8859-1"):
        try:
            headers: dict[str, str] = {}
            for name, value in pairs:
                key, text = name.decode(encoding).lower(), value.decode(encoding)
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            return headers
        except UnicodeDecodeError:
            continue
    raise AssertionError("Latin-1 decodes any bytes")


class Fetcher:
    """One pair of connection pools per process; ``get`` never takes unbounded time or memory.

    Requests go to httpcore's pools directly: redirects are followed here (every hop counted
    and checked), no cookie is kept, no proxy is read from the environment (it would bypass
    the address guard), and httpx's client layer cost about a fifth of a 304's CPU.
    """

    def __init__(self, limits: FetchLimits, transport: GuardedTransport | None = None) -> None:
        self.limits = limits
        self._transport = transport or GuardedTransport(limits)
        self._headers = [
            (b"accept", _ACCEPT),
            (b"accept-encoding", b"gzip, deflate"),
            (b"connection", b"keep-alive"),
            (b"user-agent", limits.user_agent.encode()),
        ]
        deadline = limits.deadline  # httpcore's timeouts are per read or write; the deadline bounds the whole
        self._timeouts = {"connect": limits.connect_timeout, "read": deadline, "write": deadline, "pool": deadline}
        self._all = asyncio.Semaphore(limits.max_connections)
        self._hosts = _HostGate(limits.max_per_host)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        trusted: bool = False,
    ) -> FetchResult:
        """GET ``url``; raise FetchError with one clear line when it cannot be done safely."""
        try:
            hop = _Hop(httpx.URL(url), trusted)
        except (httpx.InvalidURL, ValueError) as exc:
            raise FetchError(f"{url}: not a valid URL ({exc})") from exc
        conditional = []
        if etag:
            conditional.append((b"if-none-match", etag.encode()))
        if last_modified:
            conditional.append((b"if-modified-since", last_modified.encode()))
        try:
            # The clock starts once the first host lets us in: waiting for our own turn is
            # not the server's slowness.
            async with asyncio.timeout(None) as deadline:
                for redirects in range(self.limits.max_redirects + 1):
                    result = await self._hop(hop, conditional, deadline)
                    if isinstance(result, FetchResult):
                        return result
                    hop = _Hop(result, trusted=False, seen=hop.seen | {str(hop.url)})
                    if str(hop.url) in hop.seen:
                        raise FetchError(
                            f"{url}: redirect loop back to {hop.url} after {redirects + 1} "
                            "redirects; the site is misconfigured"
                        )
                raise FetchError(
                    f"{url}: more than {self.limits.max_redirects} redirects; "
                    "raise fetch.max_redirects to follow longer chains"
                )
        except TimeoutError as exc:
            raise Unreachable(
                f"{url}: no complete answer within {self.limits.deadline:g} s; "
                "the server is too slow (raise fetch.timeout to wait longer)"
            ) from exc
        except AddressRefused as exc:
            raise Refused(
                f"{url}: refused to connect to {exc.address} ({exc.reason}); {exc.hint}", for_everyone=exc.for_everyone
            ) from exc
        except tuple(kind for kind, _ in _NETWORK_FAILURES) as exc:
            detail = str(exc) or next(text for kind, text in _NETWORK_FAILURES if isinstance(exc, kind))
            if _caused_by(exc, ssl.SSLError) and not _caused_by(exc, ssl.SSLEOFError):
                raise FetchError(f"{url}: {detail}") from exc  # a certificate or TLS setup problem stays
            raise Unreachable(f"{url}: {detail}") from exc
        except (httpcore.UnsupportedProtocol, httpcore.ProxyError) as exc:
            raise FetchError(f"{url}: {str(exc) or type(exc).__name__}") from exc

    async def _hop(
        self, hop: _Hop, conditional: list[tuple[bytes, bytes]], deadline: asyncio.Timeout
    ) -> FetchResult | httpx.URL:
        """One request: a result, or the URL a redirect points to."""
        url = hop.url
        if url.scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs are fetched")
        if not url.host:
            raise FetchError(f"{url}: not a valid URL (no host name)")
        async with self._hosts.slot(url.host), self._all:
            if deadline.when() is None:
                deadline.reschedule(asyncio.get_running_loop().time() + self.limits.deadline)
            request = httpcore.Request(
                b"GET",
                httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
                headers=[(b"host", url.netloc), *self._headers, *conditional],
                extensions={"timeout": self._timeouts},
            )
            response = await self._transport.pool(hop.trusted).handle_async_request(request)
            try:
                headers = _header_text(response.headers)
                location = headers.get("location")
                if response.status in _REDIRECT_STATUSES and location:
                    try:
                        return url.join(location.strip())
                    except (httpx.InvalidURL, ValueError) as exc:
                        raise FetchError(f"{url}: bad redirect target {location!r}") from exc
                ok = 200 <= response.status < 300
                body, warnings = await self._read_body(url, response, headers) if ok else (b"", ())
                return FetchResult(
                    url=str(url),
                    status=response.status,
                    headers=headers,
                    body=body,
                    etag=headers.get("etag"),
                    last_modified=headers.get("last-modified"),
                    warnings=warnings,
                )
            finally:
                await response.aclose()

    async def _read_body(
        self, url: httpx.URL, response: httpcore.Response, headers: Mapping[str, str]
    ) -> tuple[bytes, tuple[str, ...]]:
        """The decoded body, and the warnings its decoding gave."""
        limit = self.limits.max_bytes
        too_large = FetchError(f"{url}: body larger than {_size(limit)}; raise fetch.max_bytes to accept it")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        encoding = headers.get("content-encoding", "")
        try:
            decoder = _Decoder(encoding, limit)
        except ValueError as exc:
            raise FetchError(f"{url}: {exc}") from exc
        parts: list[bytes] = []
        received = produced = 0
        try:
            # As the connection reads them (64 KiB at most): re-chunking would copy them again.
            async for raw in response.aiter_stream():
                received += len(raw)
                if received > limit:
                    raise too_large
                part = decoder.feed(raw)
                produced += len(part)
                parts.append(part)
            part = decoder.flush()
        except _TooLarge:
            raise too_large from None
        except zlib.error as exc:
            raise FetchError(f"{url}: the body is not valid {encoding} data ({exc})") from exc
        if produced + len(part) > limit:
            raise too_large
        parts.append(part)
        warnings: tuple[str, ...] = ()
        if decoder.not_compressed:
            warnings = (
                f"{url}: labelled Content-Encoding {encoding} but not compressed; "
                "read as it is (the server is misconfigured)",
            )
        return b"".join(parts), warnings
