"""`monitor run` started before its PostgreSQL server (compose starts both at once) waits for it.

The daemon's database address at first leads nowhere; a few seconds later a forwarder
to the tests' real PostgreSQL server opens there. The daemon must say it is waiting,
keep running, then poll the seeds and alert as usual.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import HOOK_SECRET, ROOT
from hostile import HostileServer
from postgres import create_database
from receivers import WebhookReceiver, closed_port
from seedsite import publish

SEED_ALERTS = 7


@contextmanager
def forwarder(port: int, target: tuple[str, int]) -> Iterator[None]:
    """Listen on 127.0.0.1:``port`` and pass every connection through to ``target``."""
    listener = socket.create_server(("127.0.0.1", port))
    stop = threading.Event()
    opened: list[socket.socket] = []

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(target)
            opened.extend((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for connection in opened:
            connection.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"after {timeout:.0f} s still waiting for {what}"
        time.sleep(0.2)


@pytest.mark.postgres
def test_run_waits_for_a_database_that_starts_later(
    postgres_admin_url: str | None,
    tmp_path: Path,
    site: HostileServer,
    webhook: WebhookReceiver,
    make_config: Callable[..., Path],
) -> None:
    if postgres_admin_url is None:
        if os.environ.get("MONITOR_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL binaries not found but MONITOR_REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL is not installed here (CI installs it: see .ci/run)")
    real = urlsplit(create_database(postgres_admin_url, f"monitor_{uuid.uuid4().hex[:12]}"))
    port = closed_port()
    config = make_config(
        real._replace(netloc=f"{real.username}@127.0.0.1:{port}").geturl(),
        [{"name": "seeds", "url": publish(site)}],
        alerts={"webhooks": [{"url": webhook.url, "secret": "${HOOK_SECRET}", "name": "receiver"}]},
    )
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=ROOT,
            env={**os.environ, "HOOK_SECRET": HOOK_SECRET},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            wait_until(lambda: "waiting for the database" in log.read_text(), 60, "the waiting line")
            time.sleep(4)  # more than one retry: still waiting, not crashed
            assert daemon.poll() is None, log.read_text()
            first = log.read_text().splitlines()[0]
            assert "waiting for the database, " in first and "s more:" in first and f"127.0.0.1:{port}" in first
            with forwarder(port, (real.hostname or "127.0.0.1", real.port or 5432)):
                wait_until(lambda: len(webhook.delivered) >= SEED_ALERTS, 90, "the seed alerts")
                daemon.send_signal(signal.SIGTERM)
                assert daemon.wait(timeout=30) == 0, log.read_text()
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(10)
    output = log.read_text()
    assert "Traceback" not in output, output
    assert "monitor running: 1 feeds" in output
