"""`monitor run` under systemd: READY, WATCHDOG pings and STOPPING over a real notify socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from monitor import systemd


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """systemd's end: a datagram socket at a short path (unix socket paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="notify-", dir="/tmp") as folder:
        path = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(0.5)
            yield sock, path


def receive_until(sock: socket.socket, wanted: str, within: float) -> list[str]:
    """Every message received until ``wanted`` arrives (fails after ``within`` seconds)."""
    got: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if got[-1] == wanted:
            return got
    raise AssertionError(f"no {wanted} within {within} s; got {got}")


def test_run_says_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, make_config: Any, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [])
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000"}  # a ping every 0.3 s
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-c", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before_ready = receive_until(sock, "READY=1", within=60)
        assert "STOPPING=1" not in before_ready
        pings = [m for m in receive_until(sock, "WATCHDOG=1", within=5) if m == "WATCHDOG=1"]
        started = time.monotonic()
        while len(pings) < 4:
            pings += [m for m in receive_until(sock, "WATCHDOG=1", within=5) if m == "WATCHDOG=1"]
        assert time.monotonic() - started < 3  # every half timeout, not once
        process.send_signal(signal.SIGTERM)
        receive_until(sock, "STOPPING=1", within=10)
        assert process.wait(timeout=20) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_nothing_is_sent_without_notify_socket_and_a_gone_systemd_is_no_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert systemd.notify("READY=1") is False  # logged as a warning, the daemon goes on


def test_the_watchdog_interval_is_half_the_timeout_and_only_for_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert systemd.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval() == 15.0
