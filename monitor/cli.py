"""The `monitor` command. Every command is thin: it parses options and calls library code.

Failures print one line, `error: <what, where, what to do>`, and exit non-zero.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from monitor import cli_output, logs
from monitor.errors import MonitorError, UsageError

# Each command imports what it needs when it runs: `monitor --help` and the queries start
# in a fraction of a second, without the parsers, numpy or the worker pool (issue 18).
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from monitor.config import Config
    from monitor.model import Document
    from monitor.pipeline import FeedReport
    from monitor.store.records import Filters
    from monitor.store.sql import SqlStore

CONFIG_HELP = "Configuration file (default: $MONITOR_CONFIG or config/monitor.yaml)."
FORMAT_HELP = "A table for people, or JSON or CSV for programs (their shapes are in docs/cli.md)."


class _Group(click.Group):
    """Turns every MonitorError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)


def _fail(message: str, code: int) -> NoReturn:
    for line in message.splitlines() or [message]:
        click.echo(f"error: {line}", err=True)
    sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    default="text",
    show_default=True,
    help="Logs as lines, or as one JSON object per event (with the events; never a secret).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool, log_format: str) -> None:
    """Watch news feeds for topics, group copies and translations into stories, alert once per story.

    \b
    Start here:
      monitor check-config      is the configuration valid?
      monitor poll              poll every feed once now, deliver alerts
      monitor run               the daemon: poll on schedule until stopped
      monitor matches           what matched, why, and where
      monitor match FILE        would this document match? (stores nothing)
    """
    logs.configure(log_format, verbose)
    ctx.obj = _GlobalOptions(config_path, log_format)


class _GlobalOptions:
    """The options given before the command (`--config`, `--log-format`), and the config they name, read once."""

    def __init__(self, path: str | None, log_format: str) -> None:
        self.path, self.log_format = path, log_format
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from monitor.config import load_config

            self._config = load_config(self.path)
            logs.hide(self._config.secrets())
        return self._config


def _config(ctx: click.Context) -> Config:
    settings: _GlobalOptions = ctx.find_root().obj
    return settings.config


def _store(ctx: click.Context) -> SqlStore:
    """The configured database as a ``Store``, its schema brought up to date."""
    from monitor.store.sql import SqlStore

    return SqlStore.open(_config(ctx).database)


def _engine(ctx: click.Context) -> Engine:
    return _store(ctx).engine


# --- configuration -----------------------------------------------------------------------


@cli.command("check-config")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when the configuration is valid.")
@click.pass_context
def check_config(ctx: click.Context, quiet: bool) -> None:
    """Validate the configuration and every topic query; print a summary.

    Exits 2 with one line per problem (key and line) when something is wrong.
    """
    from monitor.service import compile_topics

    config = _config(ctx)
    compile_topics(config)
    if quiet:
        return
    from sqlalchemy.engine import make_url

    from monitor.service import alert_channels, run_loop

    async def described() -> list[str]:
        async with alert_channels(config) as registry:
            return [
                f"{name} ({c.kind} {c.target}{'' if c.instant else ', only when routed'})"
                for name, c in registry.items()
            ]

    channels = run_loop(described())
    routes = config.routes()
    click.echo(f"config: {config.source} is valid")
    click.echo(f"database: {make_url(config.database).render_as_string(hide_password=True)}")
    click.echo(f"feeds: {len(config.feeds)}")
    click.echo(f"topics: {len(config.topics)} ({', '.join(t.name for t in config.topics)})")
    click.echo(f"alert channels: {', '.join(channels) or 'none (matches are stored, nothing is sent)'}")
    for topic in config.topics:
        if topic.name in routes.by_topic:
            click.echo(f"  topic {topic.name} alerts: {', '.join(routes.of(topic.name)) or 'no channel'}")
    for digest in config.alerts.digests:
        click.echo(f"digest {digest.name}: {digest.parsed} to {digest.channel} ({', '.join(digest.topics)})")
    if config.alerts.operator:
        after = config.polling.alert_after.total_seconds() / 3600
        click.echo(f"operator alerts: {config.alerts.operator} (a feed failing {after:g} h, an alert given up)")


# --- polling -----------------------------------------------------------------------------


@cli.command()
@click.option("--feed", "names", multiple=True, metavar="NAME", help="Poll only this feed (repeatable).")
@click.pass_context
def poll(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Poll every feed once now, process new articles, queue due digests, deliver due alerts.

    Prints one line per feed and a summary. Exits 0 even when some feeds failed:
    their errors are stored (see `monitor feeds --failing`). Exits 1 with one line
    when the database cannot be written (disk full, read-only).
    """
    from monitor.service import run_loop, running

    config = _config(ctx)

    async def go() -> None:
        async with running(config) as runtime:
            known = {name for name, _ in runtime.services.store.active_feeds()} if names else set()
            if unknown := sorted(set(names) - known):
                raise MonitorError(f"no feed named {', '.join(unknown)}; `monitor feeds` lists them")
            cycle, delivered = await runtime.poll(names)
            if (failure := runtime.services.storage.error) is not None:
                raise failure  # one line and exit 1: nothing more was fetched once writing failed
            for feed in cycle.feeds:
                click.echo(_feed_line(feed))
            stored = sum(f.stored for f in cycle.feeds)
            click.echo(
                f"{len(cycle.feeds)} feeds polled, {len(cycle.failed)} failed; {stored} new articles, "
                f"{sum(f.matches for f in cycle.feeds)} matches, {sum(f.alerts for f in cycle.feeds)} alerts queued; "
                f"{delivered.delivered} alerts delivered, {delivered.retrying} waiting to retry, "
                f"{delivered.failed} given up"
            )

    run_loop(go())


def _feed_line(feed: FeedReport) -> str:
    from monitor.polling import PollOutcome  # loaded with the poll already

    if feed.error:
        return f"✗ {feed.name}: {feed.error}"
    detail = f"{feed.status}"
    if feed.outcome is PollOutcome.OK:
        detail = f"{feed.entries} entries, {feed.new} new, {feed.stored} stored, {feed.matches} matches"
        if feed.duplicates:
            detail += f", {feed.duplicates} duplicates"
        if feed.page_failures:
            detail += f", {feed.page_failures} pages unreadable (used the feed's text)"
    warnings = "".join(f"; warning: {w}" for w in feed.warnings)
    return f"✓ {feed.name}: {detail} ({feed.seconds:.1f} s){warnings}"


@cli.command()
@click.option("--serve", "and_serve", is_flag=True, help="Also serve the HTTP API and feeds (`monitor serve`).")
@click.pass_context
def run(ctx: click.Context, and_serve: bool) -> None:
    """Run as a daemon: poll feeds on their schedule and deliver alerts until SIGTERM or Ctrl-C.

    Polls each feed as it falls due and sends each alert as soon as it is queued, every
    channel on its own; queues each digest when its period ends. Status lines go to stderr,
    among them one when the database stops taking writes (polling pauses) and one when it
    takes them again.

    Several `monitor run` processes may share one PostgreSQL database; each claims
    due feeds with a lease, so none is polled twice at once. With --serve the same
    process answers HTTP on `api.listen` too: one process (or container) polls and serves.

    Started by systemd with `Type=notify` (NOTIFY_SOCKET set), it says when it is
    ready and stopping, and pings the watchdog (WatchdogSec) every half timeout.
    """
    from monitor import metrics
    from monitor.scheduler import run_forever
    from monitor.service import DATABASE_WAIT, run_loop, running, serving_metrics
    from monitor.systemd import supervised

    metrics.start()  # the daemon's counters can be scraped (metrics.listen, --serve); a one-shot poll keeps none

    config = _config(ctx)
    settings: _GlobalOptions = ctx.find_root().obj
    report = logs.status_printer(settings.log_format, lambda line: click.echo(line, err=True))
    listener = _listener(config) if and_serve else None

    async def go() -> None:
        stop = asyncio.Event()
        async with (
            running(config, wait_for_database=DATABASE_WAIT, eager=True) as runtime,
            supervised(stop),
        ):
            with serving_metrics(config, runtime.store) as url:
                if url:
                    report(f"metrics at {url}")
                if listener is None:
                    await run_forever(runtime.jobs(report), report, stop)
                    return
                from monitor.api.health import Readiness
                from monitor.api.server import serve as serve_http

                polling = asyncio.create_task(run_forever(runtime.jobs(report), report, stop))

                def workers() -> str | None:
                    return "the poller has stopped" if polling.done() else runtime.services.pool.problem

                try:
                    await serve_http(config, listener, Readiness(runtime.store, workers), stop, report)
                finally:
                    stop.set()
                    await polling

    run_loop(go())


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Serve the HTTP API, its OpenAPI docs and Atom feeds on `api.listen` until SIGTERM or Ctrl-C.

    Polls nothing: run it beside `monitor run` on the same database, or use
    `monitor run --serve`. The API is under /api/v1 (docs/api.md); /healthz and
    /readyz answer without a token. Listening beyond loopback needs `api.tokens`.
    """
    from monitor.api.health import Readiness
    from monitor.api.server import serve as serve_http
    from monitor.api.server import stop_on_signals
    from monitor.service import run_loop

    config = _config(ctx)
    listener = _listener(config)
    store = _store(ctx)

    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        await serve_http(config, listener, Readiness(store), stop, lambda line: click.echo(line, err=True))
        click.echo("stopped", err=True)

    try:
        run_loop(go())
    finally:
        store.close()


def _listener(config: Config) -> Any:
    from monitor.api.server import open_listener

    return open_listener(config)


# --- dry runs ----------------------------------------------------------------------------


@cli.command()
@click.argument("source")
@click.option("-q", "--query", help="Match this query instead of the configured topics.")
@click.option("--explain", is_flag=True, help="Also print the parsed query tree.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
@click.option("--lang", metavar="CODE", help="Declare the document's language (e.g. de) instead of detecting it.")
@click.pass_context
def match(
    ctx: click.Context,
    source: str,
    query: str | None,
    explain: bool,
    as_json: bool,
    lang: str | None,
) -> None:
    """Would this document match? SOURCE is a file, a URL, or - for stdin. Stores nothing.

    HTML is extracted as the pipeline would; for plain text the first line is the title.
    A URL is fetched like an article link: public addresses and `fetch.allow_networks` only.

    \b
    monitor match seeds/000_dc6b95992fa60b00.txt
    monitor match --query 'TikTok NEAR/10 (ban OR larangan)' article.html --explain
    """
    from monitor.service import compile_topics
    from monitor.topics import TopicSet, TopicSpec
    from monitor.topics import explain as explain_query
    from monitor.topics.snippet import snippet_offsets, unmarked

    topics = TopicSet.compile([TopicSpec("query", query)]) if query else compile_topics(_config(ctx))
    document = _read_document(ctx, source, lang)
    found = topics.match(document)
    if as_json:
        rows = [
            {
                "topic": m.topic,
                "score": round(m.score, 3),
                "terms": list(m.terms),
                "clause": m.clause,
                "snippet": m.snippet,
                **snippet_offsets(m.snippet),
            }
            for m in found
        ]
        click.echo(
            json.dumps(
                {"title": document.title, "language": document.language, "matches": rows},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if explain:
        queries = [query] if query else [t.query for t in _config(ctx).topics]
        for text in queries:
            click.echo(explain_query(text))
    click.echo(f"{document.title or '(no title)'} [{document.language or 'language unknown'}]")
    if not found:
        click.echo("no topic matches")
    for m in found:
        click.echo(f"\n{m.topic}: score {m.score:.2f}; terms {', '.join(m.terms)}")
        click.echo(f"  decided by: {m.clause}")
        click.echo(f"  {cli_output.highlighted(*unmarked(m.snippet))}", color=cli_output.color())


def _read_document(ctx: click.Context, source: str, lang: str | None) -> Document:
    from monitor.extract import extract_article
    from monitor.model import Document
    from monitor.text import detect_language

    if source.startswith(("http://", "https://")):
        body = asyncio.run(_fetch_once(_config(ctx), source))
    elif source == "-":
        body = sys.stdin.buffer.read()
    else:
        try:
            body = Path(source).read_bytes()
        except OSError as exc:
            raise MonitorError(f"{source}: cannot read it ({exc.strerror}); give a file, a URL or -") from None
    head = body[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<article", b"<div", b"<p")):
        extracted = extract_article(body, source)
        if extracted is None:
            raise MonitorError(f"{source}: no article text found in this HTML")
        title, text, declared = extracted.title or "", extracted.text, extracted.language
    else:
        title, _, text = body.decode("utf-8", errors="replace").strip().partition("\n")
        declared = None
    language = lang or detect_language(f"{title}\n{text}", declared)
    return Document(title=title.strip(), text=text.strip(), language=language, url=source)


async def _fetch_once(config: Config, url: str) -> bytes:
    from monitor.fetch import Fetcher
    from monitor.service import fetch_limits

    fetcher = Fetcher(fetch_limits(config))
    try:
        result = await fetcher.get(url)  # any URL: fetch.allow_networks applies
    finally:
        await fetcher.aclose()
    if result.status >= 400:
        raise MonitorError(f"{url} answered HTTP {result.status}")
    return result.body


# --- queries -----------------------------------------------------------------------------


def _since(value: str | None, option: str = "--since") -> datetime | None:
    if value is None:
        return None
    from monitor.config import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a duration; write e.g. 2d, 12h or 30m") from None


def _query_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--format",
        "fmt",
        type=click.Choice(cli_output.FORMATS),
        default="table",
        show_default=True,
        help=FORMAT_HELP,
    )(fn)
    fn = click.option(
        "--limit",
        type=click.IntRange(1),
        default=50,
        show_default=True,
        metavar="N",
        help="At most this many rows, newest first.",
    )(fn)
    fn = click.option("--until", metavar="AGE", help="Only what is older than AGE, e.g. 1d.")(fn)
    fn = click.option("--since", metavar="AGE", help="Only the last AGE, e.g. 2d, 12h, 30m.")(fn)
    return click.option("--topic", metavar="NAME", help="Only this topic.")(fn)


def _source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--feed", metavar="NAME", help="Only from this feed.")(fn)
    return click.option("--lang", metavar="CODE", help="Only in this language, e.g. de.")(fn)


def _filters(
    topic: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lang: str | None = None,
    feed: str | None = None,
) -> Filters:
    """The query options as the store's filters."""
    from monitor.store.records import Filters

    return Filters(topic, _since(since), _since(until, "--until"), lang, feed)


def _show(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str]) -> None:
    click.echo(cli_output.render(rows, fmt, columns))


def _json(records: Sequence[Any]) -> list[dict[str, Any]]:
    """Query records as their JSON rows (monitor.store.records): what every format shows."""
    return [record.to_json() for record in records]


@cli.command()
@_query_options
@_source_options
@click.pass_context
def matches(ctx: click.Context, /, limit: int, fmt: str, **filters: Any) -> None:
    """Stored matches, newest first: topic, article, score and the terms that fired."""
    rows = _json(_store(ctx).matches(_filters(**filters), limit=limit))
    _show(rows, fmt, ["matched_at", "topic", "score", "language", "story_id", "title", "terms"])


@cli.command()
@_query_options
@_source_options
@click.option(
    "--id",
    "story_id",
    type=int,
    metavar="N",
    help="Show one story with each article's similarity and joining signal.",
)
@click.pass_context
def stories(ctx: click.Context, /, limit: int, fmt: str, story_id: int | None, **filters: Any) -> None:
    """Stories, newest first: one event, every outlet and language that carried it.

    --since keeps the stories still growing then; --lang and --feed those with an
    article in that language or from that feed.
    """
    store = _store(ctx)
    if story_id is not None:
        one = store.story(story_id)
        rows = [one.to_json()] if one is not None else []
    else:
        rows = _json(store.stories(_filters(**filters), limit=limit))
    if story_id is not None and fmt == "table":
        if not rows:
            raise MonitorError(f"no story {story_id}; `monitor stories` lists them")
        story = rows[0]
        click.echo(
            f"story {story['id']}: {story['title']} (first seen {story['first_seen']}; {', '.join(story['topics'])})"
        )
        _show(story["articles"], fmt, ["id", "language", "feed", "similarity", "signal", "title"])
        return
    if fmt == "table":
        rows = [{**row, "outlets": len(row["articles"])} for row in rows]
    _show(rows, fmt, ["id", "first_seen", "outlets", "languages", "topics", "title"])


@cli.command()
@_query_options
@_source_options
@click.pass_context
def articles(ctx: click.Context, /, limit: int, fmt: str, **filters: Any) -> None:
    """Stored articles, newest first (JSON and CSV include the extracted text).

    TEXT_SOURCE says where the text came from: the page, the feed (the page was no
    article, e.g. a consent wall), or "rejected: <reason>" (neither was).
    """
    rows = _json(_store(ctx).articles(_filters(**filters), limit=limit, with_text=fmt != "table"))
    _show(rows, fmt, ["id", "published_at", "language", "feed", "story_id", "text_source", "title"])


@cli.command()
@click.argument("query")
@click.option("--since", metavar="AGE", help="Only articles fetched in the last AGE, e.g. 2d, 12h, 30m.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=50, show_default=True, metavar="N", help="At most N articles."
)
@click.option("--cursor", metavar="CURSOR", help="Continue after the page that printed this cursor.")
@click.option(
    "--format", "fmt", type=click.Choice(cli_output.FORMATS), default="table", show_default=True, help=FORMAT_HELP
)
@click.pass_context
def search(ctx: click.Context, query: str, since: str | None, limit: int, cursor: str | None, fmt: str) -> None:
    """Stored articles that QUERY matches, newest first, in the topic query language.

    A full-text index finds the candidates, the topic matcher decides, so QUERY means
    what it means in a topic (NEAR/n, lang:, title:, site:, prefix*, case-sensitive AI).
    JSON and CSV rows are those of `monitor articles`, with score, terms and snippet.

    \b
    monitor search 'TikTok NEAR/10 (ban OR larangan)'
    monitor search 'title:Doubao OR 豆包' --since 7d --format json
    """
    page = _store(ctx).search(query, since=_since(since), limit=limit, cursor=cursor)
    _show(_json(page.items), fmt, ["id", "published_at", "language", "feed", "score", "title"])
    if not page.narrowed:
        click.echo(
            "note: nothing in the query narrows a full-text search (only lang:, site:, NOT...): "
            f"the newest articles were examined one by one ({page.scanned})",
            err=True,
        )
    if page.next_cursor:
        why = f"stopped after examining {page.scanned} candidates" if page.bounded else "more results"
        click.echo(f"note: {why}; continue with --cursor {page.next_cursor}", err=True)


@cli.group(invoke_without_command=True)
@_query_options
@click.option(
    "--status",
    type=click.Choice(["pending", "delivered", "failed"]),
    help="Only alerts in this state.",
)
@click.pass_context
def alerts(ctx: click.Context, /, limit: int, fmt: str, status: str | None, **filters: Any) -> None:
    """The alert outbox: what was sent where, what waits for a retry and why.

    Without a subcommand, lists the alerts, newest first.
    """
    if ctx.invoked_subcommand:
        return
    where = _filters(**filters)
    rows = _json(
        _store(ctx).alerts(topic=where.topic, status=status, since=where.since, until=where.until, limit=limit)
    )
    _show(
        rows,
        fmt,
        ["id", "created_at", "kind", "topic", "story_id", "channel", "status", "attempts", "last_error"],
    )


@alerts.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(1), metavar="[ID]...")
@click.option("--failed", "every_failed", is_flag=True, help="Every alert that was given up.")
@click.pass_context
def alerts_retry(ctx: click.Context, ids: tuple[int, ...], every_failed: bool) -> None:
    """Put failed alerts back in the outbox: the given IDs, or --failed for all.

    The next `monitor poll` or the running daemon sends them (one more attempt; if it
    fails, the usual backoff applies while `alerts.retry_for` since the alert was
    queued allows). Exits 1 when an ID does not exist or was not failed.
    """
    if bool(ids) == every_failed:
        raise UsageError("give alert IDs or --failed (not both); `monitor alerts --status failed` lists them")
    outcome = _store(ctx).requeue_failed(None if every_failed else ids, datetime.now(UTC))
    click.echo(f"{len(outcome.queued)} alerts queued again{_ids(outcome.queued)}")
    problems = [f"alert {i} does not exist" for i in outcome.missing]
    problems += [f"alert {i} is {status}, not failed; left as it is" for i, status in outcome.not_failed]
    if problems:
        raise MonitorError("; ".join(problems))


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(map(str, ids[:20])) + (", …" if len(ids) > 20 else "")
    return f": {shown}" if ids else ""


@alerts.command("test")
@click.argument("channel")
@click.pass_context
def alerts_test(ctx: click.Context, channel: str) -> None:
    """Send a test message through CHANNEL now; print the result in one line.

    The message says it is a test and names the channel; the outbox is not touched.
    Exits 1 when the channel does not exist or the message was not delivered.
    """
    import time

    from monitor.alerts.render import channel_test_message
    from monitor.errors import DeliveryError
    from monitor.service import alert_channels, run_loop

    config = _config(ctx)

    async def go() -> None:
        async with alert_channels(config) as registry:
            if channel not in registry:
                known = ", ".join(registry) or "none is configured"
                raise MonitorError(f"no alert channel named {channel!r} (channels: {known})")
            target = registry[channel]
            started = time.monotonic()
            try:
                await registry.deliver(channel, channel_test_message(channel, datetime.now(UTC)))
            except DeliveryError as exc:
                raise MonitorError(f"{channel}: {str(exc).removesuffix('; will retry')}") from None
            click.echo(
                f"✓ {channel} ({target.kind} {target.target}): test message delivered "
                f"in {time.monotonic() - started:.1f} s"
            )

    run_loop(go())


@cli.group(invoke_without_command=True)
@click.option("--failing", is_flag=True, help="Only feeds that fail or are dead: the ones that need a human.")
@click.option(
    "--format", "fmt", type=click.Choice(cli_output.FORMATS), default="table", show_default=True, help=FORMAT_HELP
)
@click.option("--limit", type=click.IntRange(1), default=1000, show_default=True, metavar="N", help="At most N feeds.")
@click.pass_context
def feeds(ctx: click.Context, failing: bool, fmt: str, limit: int) -> None:
    """The polled feeds: last status and error, failures in a row, next check.

    Without a subcommand, lists the feeds of the config file and those added with
    `monitor feeds add` or `monitor feeds import`.
    """
    if ctx.invoked_subcommand:
        return
    rows = _json(_synced_store(ctx).feeds(failing=failing, limit=limit))
    _show(
        rows,
        fmt,
        ["name", "last_status", "error_count", "last_checked_at", "next_check_at", "last_error", "last_warning"],
    )


@cli.group()
def topics() -> None:
    """Write and tune topics before they alert anyone."""


@topics.command("test")
@click.argument("name", required=False)
@click.option("-q", "--query", help="Try this query instead of a configured topic.")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    metavar="AGE",
    help="Over the articles stored in the last AGE.",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    metavar="N",
    help="Show this many top matches.",
)
@click.pass_context
def topics_test(ctx: click.Context, name: str | None, query: str | None, since: str, limit: int) -> None:
    """Run a topic (NAME) or a query (--query) over stored articles; alert nobody.

    Prints how many articles would have matched, per language, and the best matches:
    the way to tune a query before saving it in the configuration.
    """
    from monitor.preview import chosen_topic, preview_topic

    config = _config(ctx)
    if bool(name) == bool(query):
        raise click.UsageError("give a topic NAME or --query, not both")
    spec = chosen_topic(config.topics, name, query)
    gc.enable()  # off since main(): the scan may take a while
    found = preview_topic(spec, _store(ctx).stored_documents(_since(since) or datetime.now(UTC)), limit)
    click.echo(f"{spec.name}: {found.matched} of {found.scanned} articles stored since {since} ago would match")
    if found.by_language:
        click.echo("by language: " + ", ".join(f"{lang} {n}" for lang, n in found.by_language))
    rows = [
        {
            "score": m.score,
            "article_id": m.article_id,
            "story_id": m.story_id,
            "language": m.language,
            "title": m.title,
            "terms": list(m.terms),
        }
        for m in found.best
    ]
    if rows:
        click.echo(cli_output.table(rows, ["score", "article_id", "story_id", "language", "title", "terms"]))


@feeds.command("add")
@click.argument("url")
@click.option("--name", help="A short name (default: derived from the URL).")
@click.pass_context
def feeds_add(ctx: click.Context, url: str, name: str | None) -> None:
    """Add a feed by URL; a web site's home page works too (its announced feed is found).

    Feeds added here live in the database, beside those of the config file. A feed
    found on a page is a stranger's URL: it is polled from public addresses and
    `fetch.allow_networks` only, as article links are.
    """
    from monitor.config import feed_name_from_url
    from monitor.discovery import find_feeds

    found = asyncio.run(_find_feeds(_config(ctx), url, find_feeds))
    feed = found[0]
    if feed.url != url:
        click.echo(f"{url} is a page; it announces {len(found)} feed(s), adding {feed.url}")
    discovered = feed.url != url  # the page's announcement: a stranger's URL, polled as one
    added = _add_feed(ctx, feed.url, name or feed_name_from_url(feed.url), discovered=discovered)
    click.echo(f"added feed {added} ({feed.url})" if added else f"{feed.url} is already polled")


@feeds.command("discover")
@click.argument("url")
@click.pass_context
def feeds_discover(ctx: click.Context, url: str) -> None:
    """List the feeds a web page announces (`<link rel="alternate">`), adding nothing."""
    from monitor.discovery import announced_feeds

    for feed in asyncio.run(_find_feeds(_config(ctx), url, announced_feeds)):
        click.echo(f"{feed.url}  {feed.name}".rstrip())


@feeds.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def feeds_import(ctx: click.Context, opml_file: str) -> None:
    """Add every feed of an OPML file (as exported by feed readers); feeds already polled are skipped."""
    from monitor.config import feed_name_from_url
    from monitor.opml import parse_opml

    refs = parse_opml(Path(opml_file).read_bytes(), opml_file)
    added = [name for ref in refs if (name := _add_feed(ctx, ref.url, ref.name or feed_name_from_url(ref.url)))]
    click.echo(f"{len(added)} feeds added, {len(refs) - len(added)} already polled, from {opml_file}")


@feeds.command("export")
@click.pass_context
def feeds_export(ctx: click.Context) -> None:
    """Print every polled feed as OPML, for a feed reader or another monitor."""
    from monitor.opml import FeedRef, render_opml

    refs = [FeedRef(url=url, name=name) for name, url in _synced_store(ctx).active_feeds()]
    click.echo(render_opml(refs).decode("utf-8"), nl=False)


async def _find_feeds(config: Config, url: str, find: Callable[..., Any]) -> Any:
    from monitor.fetch import Fetcher
    from monitor.service import fetch_limits

    fetcher = Fetcher(fetch_limits(config))
    try:
        return await find(fetcher, url)
    finally:
        await fetcher.aclose()


def _add_feed(ctx: click.Context, url: str, name: str, *, discovered: bool = False) -> str | None:
    return _synced_store(ctx).add_feed(url, name, datetime.now(UTC), discovered=discovered)


def _synced_store(ctx: click.Context) -> SqlStore:
    """The store with the feeds of the config file in it (as `monitor run` would have them)."""
    store = _store(ctx)
    store.sync_feeds(_config(ctx).feeds, datetime.now(UTC))
    return store


# --- digests -----------------------------------------------------------------------------


@cli.group()
def digest() -> None:
    """Look at a digest before its time, or send it now (alerts.digests)."""


def _digest_config(ctx: click.Context, name: str) -> Any:
    config = _config(ctx)
    for candidate in config.alerts.digests:
        if candidate.name == name:
            return candidate
    names = ", ".join(d.name for d in config.alerts.digests) or "none is configured (alerts.digests)"
    raise UsageError(f"no digest named {name!r}; the digests are: {names}")


@digest.command("preview")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the webhook JSON document instead of the text.")
@click.pass_context
def digest_preview(ctx: click.Context, name: str, as_json: bool) -> None:
    """Print the digest of the period in progress, as it stands now (sends nothing).

    The stories listed are those since the previous digest ended; the text is the
    email's text part.
    """
    from monitor import digests
    from monitor.alerts import digest as render

    chosen = _digest_config(ctx, name)
    now = datetime.now(UTC)
    found, sent = digests.current(_store(ctx), chosen, now)
    content = render.DigestContent(0, found, "(preview)", now)
    if as_json:
        click.echo(json.dumps(render.webhook_payload(content), ensure_ascii=False, indent=2))
        return
    if sent:
        click.echo("(this period's digest was sent already; these stories go in the next one)", err=True)
    click.echo(render.text(content), nl=False)


@digest.command("send")
@click.argument("name")
@click.pass_context
def digest_send(ctx: click.Context, name: str) -> None:
    """Send the digest of the period in progress now, once: the period's scheduled one is
    then not sent, and the next period's starts from now."""
    from monitor import digests
    from monitor.service import deliver_channel, run_loop

    config = _config(ctx)
    chosen = _digest_config(ctx, name)
    store = _store(ctx)
    now = datetime.now(UTC)
    found, sent = digests.current(store, chosen, now)
    if not sent and not found.story_count:
        click.echo(f"digest {name}: no new stories since {found.since:%Y-%m-%d %H:%M} UTC; nothing sent")
        return
    if sent or digests.queue(store, found, chosen.channel, now) is None:
        click.echo(f"digest {name}: already sent for this period; `monitor alerts` shows it")
        return
    stats = run_loop(deliver_channel(config, store, chosen.channel))
    state = "sent" if stats.delivered else "queued (delivery failed; retried by `monitor run`, see `monitor alerts`)"
    click.echo(f"digest {name}: {found.story_count} stories {state} to {chosen.channel}")


# --- database ----------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database maintenance: schema, backup, retention."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create the schema or migrate it to the newest version (other commands do this too)."""
    _store(ctx)
    click.echo("database schema is up to date")


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_backup(ctx: click.Context, path: Path) -> None:
    """Copy the SQLite database to PATH while the monitor runs (SQLite's online backup).

    For PostgreSQL it says to use pg_dump, and exits 1.
    """
    from monitor.store.db import backup

    pages = backup(_engine(ctx), path)
    click.echo(f"backed up {pages} pages to {path}")


@db.command("prune")
@click.pass_context
def db_prune(ctx: click.Context) -> None:
    """Apply `retention.articles` now, as `monitor run` does daily; prints what went."""
    from monitor.runtime import log_pruned, retention_cutoff

    config = _config(ctx)
    cutoff = retention_cutoff(config, datetime.now(UTC))
    if cutoff is None:
        click.echo("retention.articles is not set: articles are kept forever, nothing to prune")
        return
    pruned = _store(ctx).prune(cutoff)
    log_pruned(pruned, cutoff)
    click.echo(
        f"emptied {pruned.articles} articles and deleted {pruned.story_keys} story keys "
        f"from before {cutoff:%Y-%m-%d %H:%M} UTC; matches, alerts and stories kept"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """The `monitor` program. Its cycle collector stays off until a command that runs long
    starts its work (``service.run_loop``, `topics test`): imports create hundreds of
    thousands of objects and no garbage, and collecting among them was a quarter of the
    startup's CPU."""
    gc.disable()
    cli.main(args=list(argv) if argv is not None else None, prog_name="monitor")
