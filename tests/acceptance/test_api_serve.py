"""`monitor serve` and `monitor run --serve` as an operator starts them: health, readiness, refusals."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from apiserver import free_port, served
from conftest import monitor, one_line_error
from hostile import HostileServer
from seedsite import publish


def test_serve_answers_health_and_readiness_and_stops_on_sigterm(
    make_config: Callable[..., Path], database_url: str
) -> None:
    port = free_port()
    config = make_config(database_url, [], api={"listen": f"127.0.0.1:{port}"})
    with served(config, port) as server:
        assert server.get("/healthz").json() == {"status": "ok"}
        ready = server.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok", "workers": "ok"}}
        missing = server.get("/api/v1/no-such-thing")
        assert missing.status_code == 404
        assert set(missing.json()) == {"error", "detail"}
        code, seconds = server.stop()
        assert code == 0, server.output
        assert seconds < 8
        assert f"serving http://127.0.0.1:{port}/" in server.output
        assert "Traceback" not in server.output


def test_run_serve_polls_and_serves_in_one_process(
    make_config: Callable[..., Path], site: HostileServer, tmp_path: Path
) -> None:
    port = free_port()
    feeds = [{"name": "seeds", "url": publish(site)}]
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds, api={"listen": f"127.0.0.1:{port}"})
    with served(config, port, "run", "--serve") as server:
        deadline = time.monotonic() + 60
        while site.hits("/feed.xml") == 0:  # the same process polls
            assert time.monotonic() < deadline, server.output
            time.sleep(0.1)
        ready = server.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["workers"] == "ok", ready.text
        code, seconds = server.stop()
        assert code == 0, server.output
        assert seconds < 8, server.output
        assert "monitor running: 1 feeds" in server.output
        assert server.output.rstrip().splitlines()[-1] == "stopped"


@pytest.mark.parametrize("command", [["serve"], ["run", "--serve"]])
def test_listening_beyond_loopback_without_tokens_is_refused(
    make_config: Callable[..., Path], tmp_path: Path, command: list[str]
) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [], api={"listen": f"0.0.0.0:{free_port()}"})
    line = one_line_error(monitor("--config", config, *command, timeout=60))
    assert "api.tokens is empty" in line and "0.0.0.0" in line


def test_a_port_in_use_is_one_line(make_config: Callable[..., Path], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [], api={"listen": f"127.0.0.1:{port}"})
        line = one_line_error(monitor("--config", config, "serve", timeout=60))
    assert f"api.listen 127.0.0.1:{port}: cannot listen there" in line


@pytest.mark.parametrize(
    ("api", "complaint"),
    [
        ({"listen": "localhost"}, "is not HOST:PORT"),
        ({"listen": "127.0.0.1:99999"}, "is not HOST:PORT"),
        ({"tokens": [{"name": "ci", "token": "too-short", "scope": "read"}]}, "at least 16"),
        ({"tokens": [{"name": "ci", "token": "a-long-enough-token", "scope": "write"}]}, "'read' or 'admin'"),
    ],
)
def test_bad_api_config_is_refused_at_load(
    make_config: Callable[..., Path], tmp_path: Path, api: dict[str, object], complaint: str
) -> None:
    config = make_config(f"sqlite:///{tmp_path / 'm.db'}", [], api=api)
    line = one_line_error(monitor("--config", config, "check-config"))
    assert "api." in line and complaint in line
