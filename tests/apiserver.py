"""A real `monitor serve` (or `monitor run --serve`) subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from conftest import HOOK_SECRET, ROOT

START_SECONDS = 60.0  # start-up on a loaded 2-core machine (the poller's workers load too)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """One serving subprocess; ``client`` talks to it, ``output`` is its stderr so far."""

    def __init__(self, config: Path, port: int, *args: str, env: dict[str, str] | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = config.with_suffix(f".{port}.log")
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), *args],
            cwd=ROOT,
            env={**os.environ, "HOOK_SECRET": HOOK_SECRET, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
        )
        self.client = httpx.Client(base_url=self.base, timeout=30)

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, path: str = "/healthz") -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.process.poll() is None, f"exited {self.process.returncode}:\n{self.output}"
            try:
                if self.client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"not answering {path} after {START_SECONDS:.0f} s:\n{self.output}"
            time.sleep(0.1)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def stop(self) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds until the process was gone)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        return code, time.monotonic() - started

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log_file.close()


@contextmanager
def served(config: Path, port: int, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """A running server, answering /healthz; killed at the end if the test did not stop it."""
    server = Served(config, port, *(args or ("serve",)), env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.close()
