"""Prometheus metrics of one process: the stages call the small functions here, a scrape reads them.

Labels are closed sets (an outcome, a kind, a topic or channel name from the config),
never a URL or an article: a label per article would grow without end. Each process
keeps its own counters (the extraction workers report through the main process), so
several `monitor run` processes are scraped one by one and summed by Prometheus.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from functools import wraps
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# From a few seconds (a webhook right after the poll) to a day (a receiver down for hours).
_ALERT_DELAY = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600)


class _Metrics:
    """The process's counters and histograms, registered with prometheus_client's registry."""

    def __init__(self) -> None:
        from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics

        # No *_created series beside every counter: twice the lines, nothing to alert on.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.feed_polls = Counter("monitor_feed_polls", "Feed polls by outcome.", ["outcome"])
        self.fetch_seconds = Histogram(
            "monitor_fetch_seconds", "Time of one HTTP fetch, failures included.", ["kind"], buckets=_FAST
        )
        self.articles_stored = Counter("monitor_articles_stored", "Articles stored (new items).")
        self.duplicates = Counter(
            "monitor_duplicates",
            "New entries that were a story already known: "
            "the same item (not stored), a copy or the same event (stored).",
            ["level"],
        )
        self.matches = Counter("monitor_matches", "Stored topic matches.", ["topic"])
        self.stories = Counter("monitor_stories", "New stories (an article that joined no story).")
        self.alerts = Counter(
            "monitor_alerts", "Outbox rows queued and delivery attempts by outcome.", ["channel", "status"]
        )
        self.time_to_alert = Histogram(
            "monitor_time_to_alert_seconds",
            "From the article's publication (when its feed says) or first sight to the alert's delivery.",
            ["since"],
            buckets=_ALERT_DELAY,
        )
        self.worker_restarts = Counter(
            "monitor_worker_restarts", "Extraction worker processes replaced (died or timed out)."
        )
        self.db_write_seconds = Histogram(
            "monitor_db_write_seconds",
            "Time of one write transaction, by what it writes.",
            ["operation"],
            buckets=_FAST,
        )
        # Present from the start: a rate over a series that appears later misses its first step.
        for kind in ("feed", "page"):
            self.fetch_seconds.labels(kind)
        for outcome in ("ok", "not_modified", "http_error", "error"):
            self.feed_polls.labels(outcome)
        for level in ("same item", "copy", "same event"):
            self.duplicates.labels(level)
        REGISTRY.register(_BACKLOG)


class _Kept:
    """What this process keeps: nothing until ``start``."""

    metrics: _Metrics | None = None


def start() -> None:
    """Keep metrics from now on; called by the processes whose /metrics can be scraped
    (`monitor run`, the API). A one-shot command (`monitor poll`) keeps none: nobody could
    read them, and loading prometheus_client would cost it about 10 ms of CPU."""
    if _Kept.metrics is None:
        _Kept.metrics = _Metrics()


# --- what the stages call ------------------------------------------------------------------


def feed_polled(outcome: str) -> None:
    if metrics := _Kept.metrics:
        metrics.feed_polls.labels(outcome).inc()


def fetch_timer(kind: str) -> AbstractContextManager[object]:
    """``with metrics.fetch_timer("page"): ...`` times one fetch, a failed one too."""
    return metrics.fetch_seconds.labels(kind).time() if (metrics := _Kept.metrics) else nullcontext()


def article_stored(*, new_story: bool, copy: bool, topics: Iterable[str], alerts: Iterable[str]) -> None:
    """One article stored: its story (new, or joined as a ``copy`` or the same event), matches and queued alerts."""
    if (metrics := _Kept.metrics) is None:
        return
    metrics.articles_stored.inc()
    if new_story:
        metrics.stories.inc()
    else:
        metrics.duplicates.labels("copy" if copy else "same event").inc()
    for topic in topics:
        metrics.matches.labels(topic).inc()
    alerts_queued(alerts)


def alerts_queued(channels: Iterable[str]) -> None:
    """Outbox rows written, one per channel named."""
    if metrics := _Kept.metrics:
        for channel in channels:
            metrics.alerts.labels(channel, "queued").inc()


def same_item(count: int = 1) -> None:
    """Entries not stored because the same item (GUID, link or text) is stored already."""
    if metrics := _Kept.metrics:
        metrics.duplicates.labels("same item").inc(count)


def alert_attempted(channel: str, status: str) -> None:
    """``status``: delivered, retried (will be tried again) or failed (given up)."""
    if metrics := _Kept.metrics:
        metrics.alerts.labels(channel, status).inc()


def alert_delivered(published_at: datetime | None, first_seen: datetime, now: datetime) -> None:
    if (metrics := _Kept.metrics) is None:
        return
    metrics.time_to_alert.labels("first_sight").observe(max(0.0, (now - _utc(first_seen)).total_seconds()))
    if published_at is not None:
        metrics.time_to_alert.labels("publication").observe(max(0.0, (now - _utc(published_at)).total_seconds()))


def worker_restarted() -> None:
    if metrics := _Kept.metrics:
        metrics.worker_restarts.inc()


def timed_write(operation: str, write: Callable[P, T]) -> Callable[P, T]:
    """``write`` with each call's time observed as a database write of ``operation``."""

    @wraps(write)
    def timed(*args: P.args, **kwargs: P.kwargs) -> T:
        if (metrics := _Kept.metrics) is None:
            return write(*args, **kwargs)
        with metrics.db_write_seconds.labels(operation).time():
            return write(*args, **kwargs)

    return timed


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # SQLite returns naive UTC


# --- read from the database at scrape time --------------------------------------------------

Backlog = Callable[[], tuple[float, int]]  # (oldest pending alert's age in seconds, feeds due)


class _BacklogCollector:
    """The two gauges that are facts of the shared database, read when scraped."""

    def __init__(self) -> None:
        self.read: Backlog | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily

        if self.read is None:
            return
        try:
            oldest, due = self.read()
        except Exception as exc:  # the database down must not fail the scrape of everything else
            log.warning("metrics: could not read the outbox and feed backlog: %s", exc)
            return
        yield GaugeMetricFamily(
            "monitor_outbox_oldest_pending_seconds",
            "Age of the oldest alert due and not delivered yet (0 when none); the same for every process.",
            value=oldest,
        )
        yield GaugeMetricFamily(
            "monitor_feeds_due",
            "Feeds whose time has come and that no worker holds; the same for every process.",
            value=due,
        )


_BACKLOG = _BacklogCollector()


def watch_backlog(read: Backlog | None) -> None:
    """Read the database's backlog with ``read`` at each scrape (None: stop reading it)."""
    _BACKLOG.read = read


# --- the scrape endpoint --------------------------------------------------------------------


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus's text format, and its content type."""
    from prometheus_client import REGISTRY
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    start()
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def authorized(header: str | None, tokens: Sequence[str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``tokens`` (none configured: anyone)."""
    if not tokens:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens)


class MetricsServer:
    """``GET /metrics`` on ``host:port`` in a thread of its own; a bearer token when ``tokens`` are given."""

    def __init__(self, host: str, port: int, tokens: Sequence[str] = ()) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(tuple(tokens)))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitor-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(tokens: tuple[str, ...]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found: the metrics are at /metrics\n", "text/plain; charset=utf-8")
            elif not authorized(self.headers.get("Authorization"), tokens):
                self._answer(401, b"a bearer token is required\n", "text/plain; charset=utf-8")
            else:
                self._answer(200, *exposition())

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", "Bearer")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # scrapes every 15 s: not worth a line
            pass

    return Handler
