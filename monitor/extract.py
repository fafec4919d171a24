"""Article text out of an HTML page (pure), and the process pool that runs CPU-bound work.

``extract_article`` is trafilatura plus what trafilatura does not tell: the language the
page declares and a range-checked publication date. ``WorkerPool`` keeps the CPU-bound
work (feed parsing, and ``monitor.analysis`` for articles) off the event loop and
bounded: a document that takes longer than the time limit is abandoned, its worker
killed and the pool rebuilt; workers are also recycled after many tasks, against leaks.
Workers fork from a server that preloaded ``monitor.preload``, so a new one is cheap.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from monitor.errors import MonitorError, ParseError

T = TypeVar("T")

MAX_HTML_BYTES = 5 * 1024 * 1024  # trafilatura's time grows with the page; articles are smaller
MIN_TEXT_CHARS = 50
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    language: str | None  # declared by the page (<html lang>, Content-Language meta, og:locale)
    published_at: datetime | None  # UTC; None when absent or outside 1990..now+2 days


def extract_article(html: bytes, url: str, *, metadata: bool = True) -> Extracted | None:
    """The main text of an article page; None when the page has no article text.

    Without ``metadata`` the page's title and date are not looked for (a third of
    trafilatura's time): for entries whose feed already gave both.
    """
    from trafilatura import bare_extraction

    html = html[:MAX_HTML_BYTES]
    if not html.strip():
        return None
    try:
        document: Any = bare_extraction(
            html, url=url, with_metadata=metadata, include_comments=False, include_tables=True
        )
    except (ValueError, TypeError, RecursionError):
        return None  # trafilatura gives up on some malformed markup with these
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        return None  # a menu or a caption, not an article: the feed's summary is better
    title = (getattr(document, "title", None) or "").strip() or None
    return Extracted(
        title=title,
        text=text,
        language=declared_language(html),
        published_at=_published(getattr(document, "date", None)),
    )


_HTML_LANG = re.compile(rb"<html\b[^>]{0,2000}?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])", re.I)
_META_LANG = re.compile(
    rb"<meta\b[^>]{0,500}?http-equiv\s*=\s*[\"']?content-language[\"']?[^>]{0,500}?"
    rb"content\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])",
    re.I,
)
_OG_LOCALE = re.compile(
    rb"<meta\b[^>]{0,500}?property\s*=\s*[\"']?og:locale[\"']?[^>]{0,500}?"
    rb"content\s*=\s*[\"']?\s*([A-Za-z]{2,3})(?![A-Za-z])",
    re.I,
)


def declared_language(html: bytes) -> str | None:
    """The ISO 639 code the page declares for itself, if any ('de-AT' → 'de')."""
    head = html[:65536]
    for pattern in (_HTML_LANG, _META_LANG, _OG_LOCALE):
        found = pattern.search(head)
        if found:
            return found.group(1).decode("ascii").lower()
    return None


def _published(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip()[:32])
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not EARLIEST_DATE <= moment <= datetime.now(UTC) + timedelta(days=2):
        return None
    return moment.astimezone(UTC)


# --- the process pool -------------------------------------------------------------------------


def _start_worker(setup: Callable[[], None] | None) -> None:
    import monitor.preload  # noqa: F401  (already loaded when the fork server preloaded it)

    if setup is not None:
        setup()


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", "the task")


class WorkerPool:
    """A bounded process pool: ``workers`` processes, each document within ``timeout``.

    At most two documents per worker are handed over at a time, so that a worker that
    finishes one finds the next already waiting instead of idling while the event loop
    gets round to handing it one; callers beyond that wait their turn (the queue is the
    callers themselves, as bounded as the pipeline's own concurrency). The time limit
    starts at the hand-over: a document can spend part of it waiting for a worker, at
    most as long as the document ahead of it takes.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 20.0,
        max_tasks_per_child: int = 1000,
        setup: Callable[[], None] | None = None,
    ):
        """``setup`` (picklable, e.g. a ``functools.partial``) runs once in each new worker."""
        self.workers, self.timeout, self.max_tasks_per_child = workers, timeout, max_tasks_per_child
        self.setup = setup
        self.rebuilds = 0  # how many times a stuck or crashed pool was replaced
        self._handed = 0  # documents handed to the current executor
        self._executor = self._new_executor()
        # Recycled executors still finishing their documents, with their processes (which
        # shutdown() forgets), so that one stuck there can still be killed.
        self._retired: list[tuple[ProcessPoolExecutor, list[BaseProcess]]] = []
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        context: multiprocessing.context.BaseContext
        if "forkserver" in multiprocessing.get_all_start_methods():
            # Not "fork": this process has threads, which a forked child would inherit
            # half-way; a fork server that has loaded the parsers once starts each worker
            # quickly and shares that memory.
            context = multiprocessing.get_context("forkserver")
            # "__main__" too: else every worker imports the main module again on its own.
            context.set_forkserver_preload(["__main__", "monitor.preload"])
        else:
            context = multiprocessing.get_context("spawn")
        self._handed = 0
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=_start_worker, initargs=(self.setup,)
        )

    def _current(self) -> ProcessPoolExecutor:
        """The executor for the next document: a fresh one once this one's workers have had their share.

        Whole pools are recycled, not single workers: ProcessPoolExecutor's own
        ``max_tasks_per_child`` can leave queued tasks with no worker to run them and then
        hang the interpreter's exit (CPython gh-115634, Python 3.11 to 3.15).
        """
        if self._handed >= self.workers * self.max_tasks_per_child:
            retired = self._executor
            self._executor = self._new_executor()
            self._retired = [(e, ps) for e, ps in self._retired if any(p.is_alive() for p in ps)]
            self._retired.append((retired, _processes(retired)))
            retired.shutdown(wait=False)  # its workers finish what they were handed, then exit
        self._handed += 1
        return self._executor

    def start(self) -> None:
        """Start the workers now, in a thread: starting them blocks until the fork server
        has loaded the parsers (a second or so), which the event loop must not wait for."""
        executor = self._executor

        def spawn() -> None:
            try:
                for _ in range(self.workers):
                    executor.submit(_start_worker, None)
            except (RuntimeError, OSError):
                pass  # the pool was closed or replaced meanwhile: the next document starts workers

        threading.Thread(target=spawn, name="worker-pool-start", daemon=True).start()

    def _turn(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(2 * self.workers), loop
        return self._slots

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; ParseError when it is too slow or kills its worker."""
        async with self._turn():
            for attempt in range(2):
                executor = self._current()
                try:
                    future: Future[T] = executor.submit(fn, *args)
                    return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
                except TimeoutError:
                    self._replace(executor)
                    raise ParseError(f"{_name(fn)} took longer than {self.timeout:g} s; skipped") from None
                except (BrokenProcessPool, RuntimeError) as exc:
                    # Another document's timeout killed our worker, or a worker died:
                    # retry once on the fresh pool, then give up on this document.
                    if isinstance(exc, RuntimeError) and "shutdown" not in str(exc):
                        raise ParseError(f"{_name(fn)} failed: {exc}") from exc
                    self._replace(executor)
                    if attempt == 1:
                        raise ParseError(f"{_name(fn)} crashed its worker process; skipped") from exc
                except MonitorError:
                    raise
                except Exception as exc:
                    raise ParseError(f"{_name(fn)} failed: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if broken is self._executor:  # else someone else replaced it already, or it was retired
            self._executor = self._new_executor()
            self.rebuilds += 1
        retired = [ps for e, ps in self._retired if e is broken]
        _kill(broken, retired[0] if retired else _processes(broken))

    def close(self) -> None:
        _kill(self._executor, _processes(self._executor))
        for executor, processes in self._retired:
            _kill(executor, processes)


def _processes(executor: ProcessPoolExecutor) -> list[BaseProcess]:
    return list((getattr(executor, "_processes", None) or {}).values())  # None once shut down


def _kill(executor: ProcessPoolExecutor, processes: list[BaseProcess]) -> None:
    """Stop a pool now, including a worker stuck inside a document."""
    # A running task cannot be cancelled through the executor's API, hence its processes.
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=5)
