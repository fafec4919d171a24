"""systemd's notify protocol: ready, alive, stopping; a few datagrams, no dependency.

With ``Type=notify`` systemd starts `monitor run` with ``NOTIFY_SOCKET`` set and waits
for ``READY=1``; with ``WatchdogSec`` it also sets ``WATCHDOG_USEC`` and restarts the
service when no ``WATCHDOG=1`` arrives within it. The pings come from a task on the event
loop, so a loop that is stuck stops them. Without ``NOTIFY_SOCKET`` this does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)


def _address(value: str) -> str:
    return "\0" + value[1:] if value.startswith("@") else value  # "@name": the abstract namespace


def notify(message: str) -> bool:
    """Send ``message`` (e.g. "READY=1") to systemd; False when not started by it or it is gone."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), _address(address))
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", address, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd set for this process, in seconds; None without one."""
    usec, pid = os.environ.get("WATCHDOG_USEC", ""), os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


@contextlib.asynccontextmanager
async def supervised(stop: asyncio.Event) -> AsyncIterator[None]:
    """Ready on entry, a watchdog ping every half timeout while inside, stopping when
    ``stop`` is set (a SIGTERM) or on the way out."""
    if not os.environ.get("NOTIFY_SOCKET"):
        yield
        return

    async def ping(every: float) -> None:
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(every)

    async def stopping() -> None:
        await stop.wait()
        notify("STOPPING=1")

    tasks = [asyncio.create_task(stopping())]
    if (every := watchdog_interval()) is not None:
        tasks.append(asyncio.create_task(ping(every)))
    notify("READY=1")
    try:
        yield
    finally:
        if not stop.is_set():
            notify("STOPPING=1")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
