"""Run the HTTP application with uvicorn inside the process's own event loop.

The listening socket is opened before anything else starts, so a port in use or a
refused address is one line at start, not a traceback after the workers are up. The
caller owns the signals: `monitor run --serve` stops the poller and the server together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator, Sequence

import uvicorn
from fastapi import APIRouter

from monitor.api.app import create_app
from monitor.api.health import Readiness
from monitor.config import Config, is_loopback, parse_listen
from monitor.errors import ConfigError, MonitorError

log = logging.getLogger(__name__)


def open_listener(config: Config) -> socket.socket:
    """The bound socket for ``api.listen``; refuses a non-loopback address without ``api.tokens``."""
    listen = config.api.listen
    host, port = parse_listen(listen)
    if not is_loopback(host) and not config.api.tokens:
        raise ConfigError(
            f"api.listen {listen} is reachable from other machines but api.tokens is empty: "
            "refusing to serve the data to anyone; add api.tokens (docs/configuration.md) or listen on 127.0.0.1"
        )
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise MonitorError(f"api.listen {listen}: cannot resolve {host} ({exc.strerror or exc})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(False)
    except OSError as exc:
        sock.close()
        raise MonitorError(
            f"api.listen {listen}: cannot listen there ({exc.strerror or exc}); "
            "is another server on that port? choose another in api.listen"
        ) from None
    return sock


def address_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the caller handles SIGTERM and SIGINT (see stop_on_signals)


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)


async def serve(
    config: Config,
    listener: socket.socket,
    readiness: Readiness,
    stop: asyncio.Event,
    report: Callable[[str], None],
    routers: Sequence[APIRouter] = (),
) -> None:
    """Answer HTTP on ``listener`` until ``stop`` is set; requests in flight are finished first."""
    app = create_app(config, readiness, routers)
    server = _Server(
        uvicorn.Config(app, log_config=None, lifespan="off", server_header=False, timeout_graceful_shutdown=5)
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    report(f"serving http://{address_of(listener)}/ (web page at /, API under /api/v1, its docs at /api/v1/docs)")
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    waiting.cancel()
    try:
        await task
    except SystemExit:  # uvicorn exits when it cannot start; it logged why
        raise MonitorError(f"the HTTP server on {address_of(listener)} could not start") from None
    finally:
        listener.close()
