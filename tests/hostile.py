"""A local HTTP server that misbehaves on purpose, for tests of fetching and polling.

    with HostileServer() as server:
        server.serve("/feed.xml", FEED, headers={"content-type": "application/rss+xml"})
        server.route("/slow", drip(b"<rss/>", interval=1.0))
        url = server.url("/feed.xml")

A route is a function of the request handler that writes whatever it wants on the raw
socket (``handler.wfile``). The helpers below build the usual misbehaviours. Routes whose
path ends with ``*`` match every path with that prefix. Every request is logged in
``server.requests`` as (path, headers), header names in lower case.
"""

from __future__ import annotations

import gzip
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

Route = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.owner.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.owner.find(self.path)
        try:
            if route is None:
                self.send_simple(404, b"not found")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on us, which is what many tests want

    def send_simple(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        merged = {"content-length": str(len(body)), **(headers or {})}
        for name, value in merged.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    @property
    def stopping(self) -> threading.Event:
        return self.server.owner.stopping

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HostileServer


class HostileServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """``tls``: serve HTTPS with this server context."""
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.owner = self
        if tls is not None:  # each accepted connection then does its handshake before it is handled
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()  # ends dripping and stalling routes
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, handler: Route) -> None:
        self.routes[path] = handler

    def serve(self, path: str, body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.route(path, respond(body, status=status, headers=headers))

    def find(self, path: str) -> Route | None:
        if path in self.routes:
            return self.routes[path]
        prefixes = [p for p in self.routes if p.endswith("*") and path.startswith(p[:-1])]
        return self.routes[max(prefixes, key=len)] if prefixes else None

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)


# --- well-behaved and misbehaving routes ---------------------------------------------------


def respond(body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Route:
    def route(handler: Handler) -> None:
        handler.send_simple(status, body, headers)

    return route


def conditional(body: bytes, *, etag: str, last_modified: str, content_type: str) -> Route:
    """Answers 304 when the client presents the validators it was given."""

    def route(handler: Handler) -> None:
        if handler.headers.get("if-none-match") == etag:
            handler.send_simple(304, b"", {"etag": etag})
            return
        handler.send_simple(200, body, {"etag": etag, "last-modified": last_modified, "content-type": content_type})

    return route


def oversized(total: int, *, declare_length: bool) -> Route:
    """A body of ``total`` bytes, with or without a Content-Length announcing it."""

    def route(handler: Handler) -> None:
        handler.send_response(200)
        if declare_length:
            handler.send_header("content-length", str(total))
        else:
            handler.send_header("connection", "close")
        handler.end_headers()
        block = b"x" * 65536
        sent = 0
        while sent < total and not handler.stopping.is_set():
            handler.wfile.write(block[: total - sent])
            sent += len(block)

    return route


def zeros_compressed(size: int, encodings: Iterable[str]) -> bytes:
    """``size`` zero bytes compressed by each encoding in turn (a decompression bomb)."""
    data: bytes | None = None
    for encoding in encodings:
        compressor = (
            zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if encoding == "gzip" else zlib.compressobj(9)
        )
        if data is None:
            block = bytes(1 << 20)
            parts = [compressor.compress(block) for _ in range(size >> 20)]
        else:
            parts = [compressor.compress(data)]
        data = b"".join(parts) + compressor.flush()
    assert data is not None
    return data


def encoded(body: bytes, encodings: Iterable[str]) -> tuple[bytes, str]:
    names = list(encodings)
    for name in names:
        body = gzip.compress(body) if name == "gzip" else zlib.compress(body)
    return body, ", ".join(names)


def drip(body: bytes, *, interval: float) -> Route:
    """Sends the headers, then one byte every ``interval`` seconds."""

    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        for index in range(len(body)):
            if handler.stopping.wait(interval):
                return
            handler.wfile.write(body[index : index + 1])
            handler.wfile.flush()

    return route


def stall_after_headers() -> Route:
    def route(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("content-length", "1000")
        handler.end_headers()
        handler.wfile.flush()
        handler.stopping.wait(60)

    return route


def redirect(location: str, status: int = 302) -> Route:
    return respond(b"", status=status, headers={"location": location})


def redirect_chain(prefix: str) -> Route:
    """``{prefix}N`` redirects to ``{prefix}N-1``; ``{prefix}0`` is the content."""

    def route(handler: Handler) -> None:
        step = int(handler.path[len(prefix) :])
        if step == 0:
            handler.send_simple(200, b"the end", {"content-type": "text/plain"})
        else:
            handler.send_simple(302, b"", {"location": f"{prefix}{step - 1}"})

    return route


def now_http_date(offset: float = 0.0) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + offset))
