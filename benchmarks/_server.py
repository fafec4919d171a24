"""A fast local HTTP/1.1 site for benchmarks: an asyncio server in its own process.

The site's content is a table ``path -> Resource`` built by a picklable function of
(round, port); switching rounds (``site.set_round(1)``) rebuilds it, which is how a
benchmark makes some feeds publish new items between two polls. The server runs in a
separate process so it never competes with the measured client's event loop, listens on
several loopback addresses (127.0.0.1, 127.0.0.2, ...) on one port so feeds can be spread
over many "hosts", keeps connections alive and answers conditional GETs with 304.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.connection
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx

CONTROL = "/_bench/"


@dataclass(frozen=True, slots=True)
class Resource:
    body: bytes
    content_type: str
    etag: str | None = None
    last_modified: str | None = None


Builder = Callable[[int, int], Mapping[str, Resource]]  # (round, port) -> path -> resource


def _head(status: int, reason: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Site:
    def __init__(self, build: Builder, port: int) -> None:
        self.build, self.port = build, port
        self.table = build(0, port)
        self.served: Counter[int] = Counter()
        self.hits: Counter[str] = Counter()  # requests per path since the last round or reset

    def answer(self, path: str, headers: Mapping[str, str]) -> bytes:
        if path.startswith(CONTROL):
            return self._control(path.removeprefix(CONTROL))
        self.hits[path] += 1
        found = self.table.get(path)
        if found is None:
            return self._simple(404, "Not Found", b"not found")
        validators = {}
        if found.etag:
            validators["etag"] = found.etag
        if found.last_modified:
            validators["last-modified"] = found.last_modified
        if_none_match = headers.get("if-none-match")
        if (if_none_match is not None and found.etag in {t.strip() for t in if_none_match.split(",")}) or (
            if_none_match is None and found.last_modified and headers.get("if-modified-since") == found.last_modified
        ):
            self.served[304] += 1
            return _head(304, "Not Modified", validators)
        self.served[200] += 1
        head = {
            "content-type": found.content_type,
            "content-length": str(len(found.body)),
            **validators,
        }
        return _head(200, "OK", head) + found.body

    def _simple(self, status: int, reason: str, body: bytes) -> bytes:
        self.served[status] += 1
        head = {"content-type": "text/plain", "content-length": str(len(body))}
        return _head(status, reason, head) + body

    def _control(self, command: str) -> bytes:
        if command.startswith("round/"):
            self.table = self.build(int(command.removeprefix("round/")), self.port)
            self.served.clear()
            self.hits.clear()
            body = b"ok"
        elif command == "reset":
            self.served.clear()
            self.hits.clear()
            body = b"ok"
        elif command == "repeats":  # the paths requested more than once
            body = json.dumps({path: n for path, n in self.hits.items() if n > 1}).encode()
        else:  # "stats"
            body = json.dumps({str(k): v for k, v in self.served.items()}).encode()
        return _head(200, "OK", {"content-type": "application/json", "content-length": str(len(body))}) + body


async def _connection(site: _Site, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            parts = request_line.split(" ")
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            writer.write(site.answer(parts[1] if len(parts) > 1 else "/", headers))
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


def _serve(build: Builder, hosts: list[str], ready: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        first = await asyncio.start_server(lambda r, w: None, hosts[0], 0)
        port = first.sockets[0].getsockname()[1]
        first.close()
        await first.wait_closed()
        site = _Site(build, port)
        server = await asyncio.start_server(
            lambda r, w: _connection(site, r, w), hosts, port, backlog=4096, reuse_address=True
        )
        ready.send(port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class BenchSite:
    """``with BenchSite(build, hosts=50) as site: site.url(3, "/feed.xml")``."""

    def __init__(self, build: Builder, hosts: int = 1) -> None:
        self.hosts = [f"127.0.0.{n}" for n in range(1, hosts + 1)]
        self._build = build
        self.port = 0
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> BenchSite:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_serve, args=(self._build, self.hosts, send), daemon=True)
        self._process.start()
        deadline = time.monotonic() + 60
        while not receive.poll(0.1):
            if not self._process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start; see its traceback above")
        self.port = int(receive.recv())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(10)

    def host(self, index: int) -> str:
        return self.hosts[index % len(self.hosts)]

    def control(self, command: str) -> str:
        response = httpx.get(f"http://{self.hosts[0]}:{self.port}{CONTROL}{command}", timeout=120)
        response.raise_for_status()
        return response.text

    def set_round(self, number: int) -> None:
        self.control(f"round/{number}")

    def reset_stats(self) -> None:
        self.control("reset")

    def repeats(self) -> dict[str, int]:
        """Paths requested more than once since the last round or reset, with their counts."""
        counts: dict[str, int] = json.loads(self.control("repeats"))
        return counts

    def stats(self) -> dict[str, int]:
        counts: dict[str, int] = json.loads(self.control("stats"))
        return counts
