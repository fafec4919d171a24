"""The process pool that runs CPU-bound work, and what its workers hold.

``WorkerPool`` keeps the CPU-bound work (feed parsing, and ``analyse`` for articles) off
the event loop and bounded: a document that takes longer than the time limit is
abandoned and its worker killed and replaced; workers are also recycled after many
tasks, against leaks. Workers fork from a server that preloaded ``monitor.worker_preload``
(which runs ``preload``), so a new one is cheap.

The stages a worker runs are pure (``monitor.article``, ``monitor.feeds``); the state a
worker keeps between documents, its compiled topics, lives here: ``install_topics`` is
the pool's ``setup``, and this module's ``analyse`` hands them to the pure stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import spawn
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, TypeVar

from monitor import metrics
from monitor.errors import MonitorError, ParseError

if TYPE_CHECKING:  # loaded where the work runs, in the workers: the parent only names them
    from monitor.article import Analysed
    from monitor.model import Entry
    from monitor.topics import TopicSet

T = TypeVar("T")

# --- what a worker holds and runs --------------------------------------------------------------

_installed: dict[str, TopicSet] = {}  # this worker's topics, set once by install_topics

# Where the classes of what the workers send back live (Analysed and its StoryFeatures,
# ParsedFeed): the pool's ``answers_from``, and loaded in the fork server.
ANSWER_MODULES = ("monitor.article", "monitor.feeds", "monitor.stories.features")


@functools.cache
def preload() -> None:
    """Load what every worker needs before its first document, once per process.

    The pool's fork server runs this (by importing ``monitor.worker_preload``); each worker is
    then forked from it with the parsers and the language model already in memory
    (shared, copy-on-write), so a worker that is recycled or replaced after a stuck
    document starts in milliseconds instead of re-importing for a second.
    """
    import feedparser  # noqa: F401
    import py3langid
    import trafilatura  # noqa: F401

    from monitor import text

    py3langid.classify("warm up")  # the model loads on first use
    text.words("warm-up — 豆包")  # the word splitter's Unicode patterns compile on first use
    for module in ANSWER_MODULES:  # the stages themselves: else each new worker imports them
        importlib.import_module(module)


@functools.cache
def lower_priority() -> None:
    """Run below the event loop, once per process: a forked worker inherits it.

    The event loop fetches, stores and feeds the workers, and a CPU-bound document must
    not make it wait for a core (measured: 3-4 % more articles per second on 2 cores).
    The fork server lowers itself too, before it loads the parsers: at nice 0 its second
    of loading took a core from the event loop of a daemon starting to poll (stalls of
    50-90 ms with the process off every core, on a loaded machine).
    """
    os.nice(WORKER_NICENESS)


def install_topics(topics: TopicSet) -> None:
    """Give this process the topics ``analyse`` matches against (a worker's initializer)."""
    _installed["topics"] = topics


def analyse(
    entry: Entry,
    feed_language: str | None,
    now: datetime,
    page: bytes | None = None,
    page_url: str = "",
    page_rejected: str | None = None,
) -> Analysed | None:
    """``monitor.article.analyse`` with this worker's topics: what the pipeline hands a worker.

    The topics reach each worker once, when it starts, not with every article.
    """
    # Matching nothing would lose matches silently: a worker without topics is a bug.
    if "topics" not in _installed:
        raise RuntimeError("no topics in this worker process: create the WorkerPool with setup=install_topics")
    from monitor import article

    return article.analyse(entry, feed_language, _installed["topics"], now, page, page_url, page_rejected)


# --- the process pool -------------------------------------------------------------------------

MAIN_PATH_VARIABLE = "MONITOR_WORKER_MAIN"  # the parent's main script, for the fork server to load

WORKER_NICENESS = 10  # added to the monitor's own: its event loop gets a core before the workers

# A frame on a worker's socket: 8-byte length, then a pickle. Length 0 is the worker's "ready".
_FRAME = struct.Struct("!Q")


class _WorkerLost(Exception):
    """The worker died with this document handed to it (killed for another one, or crashed)."""


def _receive(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        count = sock.recv_into(view[got:])
        if not count:
            raise EOFError
        got += count
    return buffer


def _serve(sock: socket.socket, setup: Callable[[], None] | None) -> None:
    """A worker's life: run each document it is sent and send back the outcome, until EOF."""
    preload()  # done already when forked from the fork server, which imported monitor.worker_preload

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it closes us
    lower_priority()  # done already, and inherited, when forked from the fork server
    if setup is not None:
        setup()
    try:
        sock.sendall(_FRAME.pack(0))
        while True:
            fn, args = pickle.loads(_receive(sock, _FRAME.unpack(_receive(sock, _FRAME.size))[0]))
            try:
                outcome: tuple[bool, Any] = (True, fn(*args))
            except Exception as exc:
                outcome = (False, exc)
            try:
                data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an exception or result that cannot cross: say what it was
                data = pickle.dumps((False, ParseError(f"{_name(fn)} gave an answer that cannot be sent back: {exc}")))
            sock.sendall(_FRAME.pack(len(data)) + data)
    except (EOFError, OSError):
        return  # the pool closed our socket: it wants us gone


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", "the task")


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    sock: socket.socket
    pending: deque[asyncio.Future[bytes]] = field(default_factory=deque)  # answered in this order
    writer: asyncio.StreamWriter | None = None  # set once the worker said it is ready
    handed: int = 0
    retiring: bool = False  # has had its share of documents: takes no more, exits when done
    lifetime: asyncio.Task[None] | None = None

    def hand(self, payload: bytes) -> asyncio.Future[bytes]:
        assert self.writer is not None
        future = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        self.handed += 1
        self.writer.write(_FRAME.pack(len(payload)) + payload)
        return future


class WorkerPool:
    """``workers`` processes, each document within ``timeout``; no helper threads for the hand-overs.

    Each worker has its own socket, read and written by the event loop, so handing over a
    document and taking its result cost no thread and no lock (ProcessPoolExecutor's
    helper threads took a tenth of the event loop's CPU, and its ``max_tasks_per_child``
    can hang at exit: CPython gh-115634). At most two documents per worker are handed over
    at a time, so that a worker that finishes one finds the next already waiting; callers
    beyond that wait their turn (the queue is the callers themselves, as bounded as the
    pipeline's own concurrency). The time limit starts at the hand-over: a document can
    spend part of it behind one other, at most as long as that one takes. A document over
    its limit has its worker killed; the document queued behind it is handed to another.
    """

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 20.0,
        max_tasks_per_child: int = 1000,
        setup: Callable[[], None] | None = None,
        answers_from: Sequence[str] = (),
    ):
        """``setup`` (picklable, e.g. a ``functools.partial``) runs once in each new worker.

        ``answers_from``: the modules that define what the workers send back. Reading the
        first answer would import them, on the event loop (numpy for story features: a
        150 ms stall of every fetch in flight); they are imported on a thread instead,
        while the first worker starts, which takes longer.
        """
        self.workers, self.timeout, self.max_tasks_per_child = workers, timeout, max_tasks_per_child
        self.setup, self.answers_from = setup, tuple(answers_from)
        self.rebuilds = 0  # workers replaced because a document was too slow or crashed one
        self.started = 0  # worker processes started: none until the first document (a cycle of 304s)
        self._new_process: Callable[..., BaseProcess] | None = None  # set up with the first worker
        self._workers: list[_Worker] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(2 * workers)
        self._changed = asyncio.Event()  # a worker became ready, or one ended
        self._cannot_start: str | None = None  # why the last worker died before it was ready
        self._running = 0  # calls of ``run`` not answered yet

    @property
    def busy(self) -> bool:
        """Whether a document is being worked on or waits for a worker: more answers are coming."""
        return self._running > 0

    @property
    def problem(self) -> str | None:
        """Why no worker can be started now (the last one died before it was ready), or None."""
        return self._cannot_start

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; ParseError when it is too slow or kills its worker."""
        self._bind()
        try:
            payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ParseError(f"{_name(fn)} failed: cannot hand it to a worker: {exc}") from exc
        self._running += 1
        try:
            return await self._run(fn, payload)
        finally:
            self._running -= 1

    async def _run(self, fn: Callable[..., T], payload: bytes) -> T:
        async with self._slots:
            for attempt in range(2):
                worker = await self._ready_worker()
                answer = worker.hand(payload)
                if worker.handed >= self.max_tasks_per_child:
                    worker.retiring = True
                    self._top_up()  # its successor starts loading now
                try:
                    data = await asyncio.wait_for(answer, self.timeout)
                except TimeoutError:
                    await self._end(worker)
                    raise ParseError(f"{_name(fn)} took longer than {self.timeout:g} s; skipped") from None
                except _WorkerLost:
                    if attempt == 1:
                        raise ParseError(f"{_name(fn)} crashed its worker process; skipped") from None
                    continue  # killed for another document, or crashed: once more, on another worker
                try:
                    ok, value = pickle.loads(data)
                except Exception as exc:
                    raise ParseError(f"{_name(fn)} failed: its answer cannot be read: {exc}") from exc
                if ok:
                    return value  # type: ignore[no-any-return]
                if isinstance(value, MonitorError):
                    raise value
                raise ParseError(f"{_name(fn)} failed: {type(value).__name__}: {value}") from value
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Start the workers now, in the background, rather than with the first document.

        For a long-lived process: the fork server loads the parsers and the language model
        (about a second of CPU) while the first feeds are fetched, not while the first new
        articles wait for it. Call it from the event loop that will run the documents.
        """
        self._bind()
        self._top_up()

    def close(self) -> None:
        """Stop every worker now, including one stuck inside a document."""
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.lifetime is not None:
                worker.lifetime.cancel()
            _stop(worker)
        for worker in workers:
            if worker.process.pid is not None:
                worker.process.join(timeout=5)

    def _bind(self) -> None:
        """Workers belong to one event loop: a pool used from a new one starts them again."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close()
            self._loop, self._cannot_start = loop, None
            self._slots, self._changed = asyncio.Semaphore(2 * self.workers), asyncio.Event()

    async def _ready_worker(self) -> _Worker:
        while True:
            if self._cannot_start:  # the next caller tries again
                error, self._cannot_start = self._cannot_start, None
                raise ParseError(error)
            self._top_up()
            ready = [w for w in self._workers if w.writer is not None and not w.retiring]
            if ready:
                return min(ready, key=lambda w: len(w.pending))
            self._changed.clear()
            await self._changed.wait()

    def _top_up(self) -> None:
        """Start workers until ``workers`` of them are loading or taking documents."""
        while sum(not w.retiring for w in self._workers) < self.workers:
            ours, theirs = socket.socketpair()
            if self._new_process is None:
                self._new_process = _process_factory()
                if self.answers_from:
                    threading.Thread(target=_import, args=(self.answers_from,), daemon=True).start()
            worker = _Worker(self._new_process(target=_serve, args=(theirs, self.setup), daemon=True), ours)
            self._workers.append(worker)
            self.started += 1
            worker.lifetime = asyncio.get_running_loop().create_task(self._live(worker, theirs))

    async def _live(self, worker: _Worker, theirs: socket.socket) -> None:
        """Start one worker, read its answers in order, and clean up after it ends."""
        loop = asyncio.get_running_loop()
        try:
            try:
                # Blocks until the fork server has loaded the parsers (a second, the first time).
                await loop.run_in_executor(None, _start, worker.process, theirs)
                reader, worker.writer = await asyncio.open_connection(sock=worker.sock)
                await reader.readexactly(_FRAME.size)  # "ready"
            except Exception as exc:
                why = "it exited before it was ready (its error is above)"
                if not isinstance(exc, asyncio.IncompleteReadError):
                    why = f"{type(exc).__name__}: {exc}"
                self._cannot_start = f"cannot start a worker process: {why}"
                raise
            self._cannot_start = None
            self._changed.set()
            while True:
                size = _FRAME.unpack(await reader.readexactly(_FRAME.size))[0]
                data = await reader.readexactly(size)
                answer = worker.pending.popleft()
                if not answer.done():  # else its caller stopped waiting
                    answer.set_result(data)
                if worker.retiring and not worker.pending:
                    break  # its share is done: closing the socket tells it to exit
        except (asyncio.IncompleteReadError, OSError):
            if not worker.retiring and worker in self._workers:  # not closed by us
                self.rebuilds += 1  # it died, or was killed for a document that took too long
                metrics.worker_restarted()
        except Exception:
            pass  # could not start: _cannot_start says why to whoever waits for a worker
        finally:
            if worker in self._workers:
                self._workers.remove(worker)
            for answer in worker.pending:
                if not answer.done():
                    answer.set_exception(_WorkerLost())
            _stop(worker, kill=not worker.retiring)
            if worker.writer is None:
                worker.sock.close()
            self._changed.set()
        if worker.process.pid is not None:  # it started: reap it
            await loop.run_in_executor(None, worker.process.join, 5)

    async def _end(self, worker: _Worker) -> None:
        """Kill a worker stuck in a document and wait until it is gone."""
        _stop(worker)
        if worker.lifetime is not None:
            await asyncio.wait([worker.lifetime])


def _start(process: BaseProcess, theirs: socket.socket) -> None:
    """Start a worker, then close our copy of its end of the socket (we see EOF when it dies).

    Both on the thread, even when the pool has stopped waiting (closed while the worker
    starts): ``theirs`` closed while ``start`` sends it to the fork server would send a
    closed descriptor, or another socket's under the same number, and kill the fork server.
    """
    try:
        process.start()
    finally:
        theirs.close()


def _import(modules: tuple[str, ...]) -> None:
    for module in modules:
        importlib.import_module(module)


def _process_factory() -> Callable[..., BaseProcess]:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn").Process
    # Not "fork": this process has threads, which a forked child would inherit half-way;
    # a fork server that has loaded the parsers once starts each worker quickly and shares
    # that memory. The main module too: else every worker runs it again (the console
    # script, or a benchmark's imports: 0.1-0.5 s of CPU each), and the fork server's own
    # "__main__" preload never loads it (Python 3.11 hands it no main path), so
    # monitor.worker_preload does, from the path given here.
    main_path = spawn.get_preparation_data("worker").get("init_main_from_path")
    if main_path:
        os.environ[MAIN_PATH_VARIABLE] = main_path
    else:  # (python -c, python -m): not a parent's, inherited with the environment
        os.environ.pop(MAIN_PATH_VARIABLE, None)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["monitor.worker_preload"])
    return context.Process


def _stop(worker: _Worker, *, kill: bool = True) -> None:
    if worker.writer is not None:
        worker.writer.close()
    else:  # shut down, not closed: a transport may be in the making on its descriptor (_live closes it)
        with contextlib.suppress(OSError):
            worker.sock.shutdown(socket.SHUT_RDWR)
    if kill and worker.process.pid is not None and worker.process.is_alive():
        worker.process.kill()
