"""Issue 5's hostile cases, each inside one whole poll cycle next to a good feed.

Every test polls the five seeds (tests/seedsite.py) and one misbehaving feed in the same
cycle, in-process through ``monitor.service.running``, and checks what a user would see:
the cycle ends within a bound, the seeds were still stored, and the bad feed carries one
readable error line (or, when only its content is hostile, its entries were stored safely).
The fetch and parse units are tested alone in test_fetch.py and test_feeds.py.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import monitor
from hostile import (
    Handler,
    HostileServer,
    drip,
    now_http_date,
    oversized,
    redirect,
    redirect_chain,
    respond,
    stall_after_headers,
    zeros_compressed,
)
from seedsite import publish

from monitor.config import load_config
from monitor.fetch import MIB
from monitor.pipeline import FeedReport
from monitor.service import running
from monitor.store.records import Filters
from monitor.store.sql import SqlStore

TIMEOUT = 2.0  # fetch.timeout of every test: a slow server costs about this much
CYCLE_BOUND = 15.0  # seconds for a whole cycle: generous, yet far below what each case costs unbounded
MAX_BYTES = MIB
LOOPBACK = ["127.0.0.0/8"]
Row = dict[str, Any]
MakeConfig = Callable[..., Path]


@dataclass
class Cycle:
    """What one poll cycle did and what the database shows right after it."""

    reports: dict[str, FeedReport]
    seconds: float
    began: datetime
    ended: datetime
    feeds: dict[str, Row]
    articles: list[Row]

    def stored(self, feed: str) -> list[Row]:
        return [a for a in self.articles if a["feed"] == feed]


def poll(config: Path, cycles: int = 1, *, between: Callable[[], None] | None = None) -> list[Cycle]:
    """Run ``cycles`` poll cycles of every feed in one process, as `monitor poll` does.

    ``between`` runs after each cycle but the last: a server that changes its answer.
    """
    loaded = load_config(config)

    async def main() -> list[Cycle]:
        done: list[Cycle] = []
        async with running(loaded) as runtime:
            engine = runtime.services.store.engine
            for number in range(cycles):
                if number and between is not None:
                    between()
                began, started = datetime.now(UTC), time.monotonic()
                report, _ = await runtime.poll([])
                seconds = time.monotonic() - started
                done.append(
                    Cycle(
                        reports={f.name: f for f in report.feeds},
                        seconds=seconds,
                        began=began,
                        ended=datetime.now(UTC),
                        feeds={f.name: f.to_json() for f in SqlStore(engine).feeds()},
                        articles=[a.to_json() for a in SqlStore(engine).articles(Filters(), limit=10_000)],
                    )
                )
        return done

    return asyncio.run(main())


def setup(
    make_config: MakeConfig,
    tmp_path: Path,
    site: HostileServer,
    hostile: list[dict[str, str]],
    *,
    allow: list[str] = LOOPBACK,
    **sections: Any,
) -> Path:
    """A config polling the seeds and the ``hostile`` feeds, with short limits."""
    return make_config(
        f"sqlite:///{tmp_path / 'monitor.db'}",
        [{"name": "seeds", "url": publish(site)}, *hostile],
        fetch={"allow_networks": allow, "timeout": f"{TIMEOUT:g}s", "max_bytes": MAX_BYTES},
        **sections,
    )


def assert_bounded_and_seeds_stored(cycle: Cycle) -> None:
    assert cycle.seconds < CYCLE_BOUND, f"the cycle took {cycle.seconds:.1f} s"
    seeds = cycle.feeds["seeds"]
    assert seeds["error_count"] == 0 and seeds["last_error"] is None, seeds
    assert len(cycle.stored("seeds")) == 5


def recorded_error(cycle: Cycle, name: str = "hostile") -> str:
    """The error stored on the feed after its first failure; one line, with the feed's URL."""
    row = cycle.feeds[name]
    assert row["error_count"] == 1, row
    error = row["last_error"]
    assert isinstance(error, str) and error and "\n" not in error, row
    assert "Traceback" not in error and "internal error" not in error, error
    assert row["url"] in error, error
    return error


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f'{prolog}<rss version="2.0"><channel><title>Hostile</title>'
        f"<link>https://hostile.example/</link><description>d</description>"
        f"{items}</channel></rss>"
    )


def item(title: str, link: str, description: str, extra: str = "") -> str:
    return (
        f"<item><title>{title}</title><link>{html.escape(link)}</link>"
        f"<guid>{html.escape(link)}</guid><description>{description}</description>{extra}</item>"
    )


XML = {"content-type": "application/rss+xml; charset=utf-8"}


# --- feeds that fail: each a recorded error, in bounded time ------------------------------------


def _oversized(site: HostileServer, declare: bool) -> str:
    site.route("/hostile", oversized(64 * MIB, declare_length=declare))
    return "/hostile"


def _bomb(site: HostileServer, encodings: list[str]) -> str:
    bomb = zeros_compressed(128 * MIB, encodings)
    assert len(bomb) < MAX_BYTES  # small on the wire, only the decoded size is over the cap
    site.serve("/hostile", bomb, headers={**XML, "content-encoding": ", ".join(encodings)})
    return "/hostile"


def _labelled_gzip_oversized(site: HostileServer) -> str:
    body = rss(item("Doubao", "/x", "x" * (2 * MAX_BYTES))).encode()  # not compressed at all
    site.serve("/hostile", body, headers={**XML, "content-encoding": "gzip"})
    return "/hostile"


def _drip(site: HostileServer) -> str:
    body = rss(item("Doubao", "/x", "slow")).encode()
    site.route("/hostile", drip(body, interval=0.05))  # each read is quick, the whole is not
    return "/hostile"


def _stall(site: HostileServer) -> str:
    site.route("/hostile", stall_after_headers())
    return "/hostile"


def _loop(site: HostileServer) -> str:
    site.route("/loop/a", redirect("/loop/b"))
    site.route("/loop/b", redirect(site.url("/loop/a")))
    return "/loop/a"


def _chain(site: HostileServer) -> str:
    site.route("/hop*", redirect_chain("/hop"))
    return "/hop50"


def _entities(site: HostileServer) -> str:
    # A "]>" inside an entity value ends a naive DOCTYPE strip early; the rest is refused.
    prolog = '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "]>"><!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    site.serve("/hostile", rss(item("&xxe;", "/x", "&xxe;"), prolog).encode(), headers=XML)
    return "/hostile"


def _html(site: HostileServer) -> str:
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
    site.serve("/hostile", page, headers=XML)
    return "/hostile"


def _empty(site: HostileServer) -> str:
    site.serve("/hostile", b"", headers=XML)
    return "/hostile"


@dataclass(frozen=True)
class Failing:
    install: Callable[[HostileServer], str]  # sets the route up, returns the feed's path
    expected: tuple[str, ...]  # what the recorded error line says
    requests: int = 1  # the most requests the feed may cost (no retry storm, no endless hops)


FAILING = {
    "over-cap-with-length": Failing(lambda s: _oversized(s, True), ("body larger than 1 MiB",)),
    "over-cap-without-length": Failing(lambda s: _oversized(s, False), ("body larger than 1 MiB",)),
    "gzip-bomb": Failing(lambda s: _bomb(s, ["gzip"]), ("body larger than 1 MiB",)),
    "gzip-deflate-bomb": Failing(lambda s: _bomb(s, ["gzip", "deflate"]), ("body larger than 1 MiB",)),
    "labelled-gzip-over-cap": Failing(_labelled_gzip_oversized, ("body larger than 1 MiB",)),
    "drip": Failing(_drip, ("no complete answer within 2 s", "fetch.timeout")),
    "stall-after-headers": Failing(_stall, ("no complete answer within 2 s", "fetch.timeout")),
    "redirect-loop": Failing(_loop, ("redirect loop",), requests=2),
    "long-redirect-chain": Failing(_chain, ("more than 5 redirects", "fetch.max_redirects"), requests=6),
    "xml-entities": Failing(_entities, ("declares XML entities", "refused")),
    "html-as-feed": Failing(_html, ("not a feed", "HTML page")),
    "empty-200": Failing(_empty, ("not a feed", "empty body")),
}
SEED_PATHS = ("/feed.xml", "/news/")


@pytest.mark.parametrize("case", FAILING.values(), ids=FAILING.keys())
def test_failing_feed_is_recorded_and_the_seeds_are_still_stored(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig, case: Failing
) -> None:
    path = case.install(site)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url(path)}])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    error = recorded_error(cycle)
    for fragment in case.expected:
        assert fragment in error, error
    assert cycle.stored("hostile") == []
    hostile_requests = [p for p, _ in site.requests if not p.startswith(SEED_PATHS)]
    assert len(hostile_requests) <= case.requests, hostile_requests


def test_cli_shows_the_bomb_on_one_line_next_to_the_good_feed(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    url = site.url(_bomb(site, ["gzip", "deflate"]))
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": url}])

    started = time.monotonic()
    result = monitor("--config", config, "poll", timeout=60)

    assert time.monotonic() - started < CYCLE_BOUND + 10  # plus the interpreter's start
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"✗ hostile: {url}: body larger than 1 MiB; raise fetch.max_bytes to accept it" in lines
    assert any(line.startswith("✓ seeds: 5 entries, 5 new, 5 stored") for line in lines), lines
    assert "2 feeds polled, 1 failed; 5 new articles" in result.stdout
    assert "Traceback" not in result.stderr


# --- hostile content: stored safely, in bounded time -----------------------------------------


@pytest.mark.parametrize(
    "prolog",
    [
        '<?xml version="1.0"?><!DOCTYPE rss ['
        + '<!ENTITY lol0 "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        + "]>",
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{"x" * 100_000}">]>',
    ],
    ids=["billion-laughs", "big-entity-repeated"],
)
def test_entity_expansion_is_refused_or_stripped_within_the_bound(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig, prolog: str
) -> None:
    reference = "&lol9;" if "lol9" in prolog else "&big;" * 10_000
    body = rss(item(f"Doubao {reference}", site.url("/gone/1"), f"Laughs {reference}"), prolog)
    site.serve("/hostile", body.encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    if cycle.feeds["hostile"]["error_count"]:
        assert "entit" in recorded_error(cycle)  # refused: fine too
    else:
        (article,) = cycle.stored("hostile")  # stripped: the entry is kept, not expanded
        for text in (article["title"], article["text"]):
            # At most the references themselves; one expansion alone would be 100,000 chars.
            assert "lollol" not in text and "xxxxxxxxxx" not in text and len(text) < 100_000


def test_huge_email_like_author_costs_bounded_time(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    author = "a" * 20_000 + "@" + "b." * 20_000  # minutes of feedparser's regexes uncapped
    body = rss(item("Doubao launch", site.url("/gone/1"), "ByteDance ships Doubao.", f"<author>{author}</author>"))
    site.serve("/hostile", body.encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert cycle.feeds["hostile"]["error_count"] == 0
    (article,) = cycle.stored("hostile")
    assert article["title"] == "Doubao launch" and article["text"] == "ByteDance ships Doubao."


GERMAN = "Künstliche Intelligenz: ByteDance stellt Doubao vor"


def _encoded(codec: str, prolog: str, bom: bytes = b"") -> bytes:
    return bom + rss(item(GERMAN, "/gone/1", "Ein Bericht über Doubao."), prolog).encode(codec)


CHARSETS = [
    # Latin-1 bytes served as UTF-8 without a declaration: the title survives, maybe mangled.
    ("wrong-charset", _encoded("latin-1", ""), "application/rss+xml; charset=utf-8", False),
    (
        "missing-charset",
        _encoded("latin-1", '<?xml version="1.0" encoding="iso-8859-1"?>'),
        "text/xml",
        True,
    ),
    ("utf8-bom", _encoded("utf-8", '<?xml version="1.0"?>', b"\xef\xbb\xbf"), "text/xml", True),
    (
        "utf16-bom",
        (
            "\ufeff"
            + rss(item(GERMAN, "/gone/1", "Ein Bericht über Doubao."), '<?xml version="1.0" encoding="utf-16"?>')
        ).encode("utf-16-le"),
        "application/xml",
        True,
    ),
    *(
        (
            f"{codec}-{'bom' if bom else 'no-bom'}",
            _encoded(codec, '<?xml version="1.0" encoding="utf-32"?>', bom.encode(codec)),
            "application/rss+xml",
            True,
        )
        for codec in ("utf-32-le", "utf-32-be")
        for bom in ("\ufeff", "")
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "exact"),
    [case[1:] for case in CHARSETS],
    ids=[case[0] for case in CHARSETS],
)
def test_odd_charsets_and_byte_order_marks_still_give_the_entry(
    tmp_path: Path,
    site: HostileServer,
    make_config: MakeConfig,
    body: bytes,
    content_type: str,
    exact: bool,
) -> None:
    site.serve("/hostile", body, headers={"content-type": content_type})
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert cycle.feeds["hostile"]["error_count"] == 0, cycle.feeds["hostile"]
    (article,) = cycle.stored("hostile")
    if exact:
        assert article["title"] == GERMAN
        assert article["text"] == "Ein Bericht über Doubao."
    else:
        assert "Intelligenz: ByteDance stellt Doubao vor" in article["title"]


# What only looks hostile: markup quoted as text, a wrong Content-Encoding label.

XXE_POST = (
    "<![CDATA[<p>An XXE payload reads a file:</p><pre><!DOCTYPE foo [ "
    '<!ENTITY xxe SYSTEM "file:///etc/passwd"> ]><foo>&xxe;</foo></pre><p>Doubao is not affected.</p>]]>'
)


def test_a_security_blog_quoting_entities_and_doctypes_in_cdata_keeps_every_item(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    items = item("Doubao and XXE", site.url("/gone/1"), XXE_POST) + item(
        "Doubao and HTML",
        site.url("/gone/2"),
        "<![CDATA[Start a page with <!DOCTYPE html> and [close] it]]>",
        "<!-- <!ENTITY quoted in a comment> -->",
    )
    site.serve("/hostile", rss(items).encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert cycle.feeds["hostile"]["error_count"] == 0, cycle.feeds["hostile"]
    stored = {a["title"]: a["text"] for a in cycle.stored("hostile")}
    assert set(stored) == {"Doubao and XXE", "Doubao and HTML"}
    assert '<!ENTITY xxe SYSTEM "file:///etc/passwd">' in stored["Doubao and XXE"]
    assert "root:" not in stored["Doubao and XXE"]  # quoted, never resolved
    assert stored["Doubao and HTML"] == "Start a page with and [close] it"


def test_a_feed_labelled_gzip_but_not_compressed_is_read_with_a_warning(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    body = rss(item("Doubao launch", site.url("/gone/1"), "ByteDance ships Doubao.")).encode()
    site.serve("/hostile", body, headers={**XML, "content-encoding": "gzip"})
    url = site.url("/hostile")
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": url}])

    result = monitor("--config", config, "poll", timeout=60)

    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "hostile:" in line]
    assert line.startswith("✓ hostile: 1 entries, 1 new, 1 stored"), line
    assert line.endswith(
        f"; warning: {url}: labelled Content-Encoding gzip but not compressed; read as it is "
        "(the server is misconfigured)"
    ), line
    assert f"WARNING monitor.pipeline: feed hostile: {url}: labelled" in result.stderr
    # Kept on the feed for `monitor feeds`, until a poll without it.
    feeds = json.loads(monitor("--config", config, "feeds", "--format", "json").stdout)
    (feed,) = [row for row in feeds if row["name"] == "hostile"]
    assert feed["last_warning"].startswith(f"{url}: labelled Content-Encoding gzip but not compressed"), feed
    assert feed["last_status"] == "ok" and feed["error_count"] == 0, feed


def test_invalid_dates_are_stored_as_unknown(tmp_path: Path, site: HostileServer, make_config: MakeConfig) -> None:
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    dates = {
        "zeros": "0000-00-00",
        "month13": "2024-13-05T10:00:00Z",
        "far-future": "2999-01-01T00:00:00Z",
        "sane": format_datetime(yesterday),
    }
    items = "".join(
        item(f"Doubao {name}", site.url(f"/gone/{name}"), f"Text {name}", f"<pubDate>{d}</pubDate>")
        for name, d in dates.items()
    )
    site.serve("/hostile", rss(items).encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert cycle.feeds["hostile"]["error_count"] == 0
    published = {a["title"].split()[-1]: a["published_at"] for a in cycle.stored("hostile")}
    assert published == {
        "zeros": None,
        "month13": None,
        "far-future": None,
        "sane": yesterday.isoformat().replace("+00:00", "Z"),
    }


# --- strangers' links to internal addresses -------------------------------------------------


def _forbidden_targets(site: HostileServer) -> dict[str, str]:
    """One URL per kind of internal address; the loopback ones would reach ``site``."""
    return {
        "loopback": site.url("/private/loopback"),
        "private": "http://10.0.0.1/private/lan",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "ipv6-loopback": f"http://[::1]:{site.port}/private/v6",
        "localhost": site.url("/private/name", host="localhost"),
    }


def _private_hits(site: HostileServer) -> list[str]:
    return [path for path, _ in site.requests if path.startswith(("/private/", "/latest/"))]


@pytest.mark.parametrize("route", ["direct", "via-redirect"])
def test_article_links_to_internal_addresses_are_not_fetched(
    tmp_path: Path,
    site: HostileServer,
    make_config: MakeConfig,
    caplog: pytest.LogCaptureFixture,
    route: str,
) -> None:
    site.route("/private/*", respond(b"<html><body><p>internal secret</p></body></html>"))
    targets = _forbidden_targets(site)
    if route == "direct":
        # No allow_networks: the operator's feed URL is trusted even on loopback, links are not.
        allow: list[str] = []
        links = targets
    else:
        # Only the redirector's own address is allowed; where it sends us is checked again.
        allow = ["127.0.0.1/32"]
        targets["loopback"] = site.url("/private/loopback", host="127.0.0.2")
        del targets["localhost"]  # here it resolves to 127.0.0.1 only, which is now allowed
        links = {kind: site.url(f"/jump/{kind}") for kind in targets}
        for kind, target in targets.items():
            site.route(f"/jump/{kind}", redirect(target))
    items = "".join(item(f"Doubao via {kind}", url, f"Summary of the {kind} entry.") for kind, url in links.items())
    site.serve("/hostile", rss(items).encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}], allow=allow)
    caplog.set_level(logging.INFO, logger="monitor.pipeline")

    (cycle,) = poll(config)

    # The seeds are stored from their feed's own text when their (local) pages are refused.
    assert_bounded_and_seeds_stored(cycle)
    assert site.hits("/hostile") == 1 and site.hits("/feed.xml") == 1
    assert _private_hits(site) == []
    if route == "via-redirect":  # the redirector was asked; the place it named was not
        assert all(site.hits(f"/jump/{kind}") == 1 for kind in targets)
    assert cycle.feeds["hostile"]["error_count"] == 0
    assert cycle.reports["hostile"].page_failures == len(targets)
    refusals = [r.getMessage() for r in caplog.records if "refused to connect to" in r.getMessage()]
    for url in links.values():
        assert any(url in message for message in refusals), (url, refusals)
    stored = {a["title"]: a["text"] for a in cycle.stored("hostile")}
    assert stored == {f"Doubao via {kind}": f"Summary of the {kind} entry." for kind in targets}
    assert not any("secret" in a["text"] for a in cycle.articles)


def test_feed_redirecting_to_internal_addresses_is_refused(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    site.route("/private/*", respond(rss(item("Doubao", "/x", "internal")).encode(), headers=XML))
    targets = _forbidden_targets(site)
    for kind, target in targets.items():
        site.route(f"/moved/{kind}", redirect(target))
    hostile = [{"name": kind, "url": site.url(f"/moved/{kind}")} for kind in targets]
    config = setup(make_config, tmp_path, site, hostile, allow=[])

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert _private_hits(site) == []
    reasons = {
        "loopback": "(loopback)",
        "private": "10.0.0.1 (private network)",
        "metadata": "169.254.169.254 (link-local",
        "ipv6-loopback": "::1 (loopback)",
        "localhost": "(loopback)",
    }
    for kind in targets:
        error = recorded_error(cycle, kind)
        assert "refused to connect to" in error and reasons[kind] in error, error
        assert "fetch.allow_networks" in error, error


def test_an_operator_feed_at_a_cloud_metadata_address_is_refused(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    # Trusted (the operator's own URL) and loopback allowed: metadata stays out of reach.
    hostile = [
        {"name": "metadata", "url": "http://169.254.169.254/latest/meta-data/"},
        {"name": "metadata6", "url": "http://[fd00:ec2::254]/latest/meta-data/"},
    ]
    config = setup(make_config, tmp_path, site, hostile)

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert "refused to connect to 169.254.169.254 (link-local" in recorded_error(cycle, "metadata")
    assert "refused to connect to fd00:ec2::254 (AWS cloud metadata)" in recorded_error(cycle, "metadata6")
    assert "list 169.254.0.0/16" in recorded_error(cycle, "metadata")


# --- servers asking us to wait, and feeds that are gone --------------------------------------


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def assert_next_check_after(cycle: Cycle, name: str, wait: timedelta, jitter: float = 0.10) -> None:
    """next_check_at is ``wait`` after the poll, within the jitter (and a second of rounding)."""
    due = _moment(cycle.feeds[name]["next_check_at"])
    slack = timedelta(seconds=1)
    earliest = cycle.began + wait * (1 - jitter) - slack
    latest = cycle.ended + wait * (1 + jitter) + slack
    assert earliest <= due <= latest, f"{name} is due {due - cycle.ended} after the poll"


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (429, "7200", timedelta(hours=2)),
        (503, "date", timedelta(hours=3)),
    ],
    ids=["429-seconds", "503-http-date"],
)
def test_retry_after_postpones_the_next_poll(
    tmp_path: Path,
    site: HostileServer,
    make_config: MakeConfig,
    status: int,
    retry_after: str,
    wait: timedelta,
) -> None:
    header = now_http_date(wait.total_seconds()) if retry_after == "date" else retry_after
    site.serve("/hostile", b"busy", status=status, headers={"retry-after": header})
    # A fixed interval of 10 minutes: only the server's Retry-After can push the poll out.
    hostile = [{"name": "hostile", "url": site.url("/hostile"), "interval": "10m"}]
    config = setup(make_config, tmp_path, site, hostile)

    (cycle,) = poll(config)

    assert_bounded_and_seeds_stored(cycle)
    assert f"HTTP {status}" in recorded_error(cycle)
    assert_next_check_after(cycle, "hostile", wait)


def twelve_recent_items() -> str:
    """Twelve entries of the last week, linking where nothing is fetched (stored from the feed's text)."""
    now = datetime.now(UTC)
    return "".join(
        item(
            f"Doubao {n}",
            f"http://10.0.0.1/{n}",
            f"Entry {n}.",
            f"<pubDate>{format_datetime(now - timedelta(hours=12 * n + 1))}</pubDate>",
        )
        for n in range(12)
    )


def test_retry_after_is_honoured_on_a_feed_that_publishes_often(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    # 12 entries in the last week: the adaptive rule polls about every 14 h. Then the server
    # answers 503 asking for 16 h: the next poll is due in 16 h, not at the 24 h maximum.
    items = twelve_recent_items()
    site.serve("/hostile", rss(items).encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])
    busy = respond(b"", status=503, headers={"retry-after": str(16 * 3600)})

    first, second = poll(config, cycles=2, between=lambda: site.route("/hostile", busy))

    assert len(first.stored("hostile")) == 12
    assert_next_check_after(first, "hostile", timedelta(days=7) / 12)
    assert_bounded_and_seeds_stored(second)
    assert "HTTP 503" in recorded_error(second)
    assert_next_check_after(second, "hostile", timedelta(hours=16))


def test_missing_feed_backs_off_after_three_failures(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    # Read once, then gone: a 404 is not a failure that passes by itself.
    site.serve("/hostile", rss(item("Doubao", "http://10.0.0.1/1", "Once.")).encode(), headers=XML)
    hostile = [{"name": "hostile", "url": site.url("/hostile"), "interval": "10m"}]
    config = setup(make_config, tmp_path, site, hostile)

    first, *cycles = poll(config, cycles=4, between=lambda: site.serve("/hostile", b"gone", status=404))

    assert first.feeds["hostile"]["error_count"] == 0
    for number, cycle in enumerate(cycles, start=1):
        assert cycle.seconds < CYCLE_BOUND
        assert len(cycle.stored("seeds")) == 5 and cycle.feeds["seeds"]["error_count"] == 0
        row = cycle.feeds["hostile"]
        assert row["error_count"] == number and "HTTP 404" in row["last_error"], row
    assert cycles[1].feeds["seeds"]["last_status"] == "not modified"
    assert_next_check_after(cycles[0], "hostile", timedelta(minutes=10))
    assert_next_check_after(cycles[1], "hostile", timedelta(minutes=10))
    # The third failure in a row adds one backoff step (polling.backoff_step, 1 h).
    assert_next_check_after(cycles[2], "hostile", timedelta(minutes=70))


# --- new and transiently failing feeds are retried soon ---------------------------------------


def fails_then_serves(failures: int, body: bytes) -> Callable[[Handler], None]:
    """Answers 503 to the first ``failures`` requests, then ``body``."""
    asked = [0]

    def route(handler: Handler) -> None:
        asked[0] += 1
        if asked[0] <= failures:
            handler.send_simple(503, b"try again")
        else:
            handler.send_simple(200, body, XML)

    return route


def test_a_new_feed_failing_twice_is_retried_soon_and_then_read(
    tmp_path: Path, site: HostileServer, make_config: MakeConfig
) -> None:
    items = twelve_recent_items()
    site.route("/hostile", fails_then_serves(2, rss(items).encode()))
    with HostileServer() as gone:
        closed = gone.url("/feed.xml")  # nothing listens there any more: connection refused
    hostile = [{"name": "hostile", "url": site.url("/hostile")}, {"name": "closed", "url": closed}]
    config = setup(make_config, tmp_path, site, hostile)

    first, second, third = poll(config, cycles=3)

    # Failing on 503 and on connect: 5 min, then 10 (polling.min_interval, doubling), not
    # the 24 h a feed with no known entries would otherwise wait.
    for name in ("hostile", "closed"):
        assert_next_check_after(first, name, timedelta(minutes=5))
        assert_next_check_after(second, name, timedelta(minutes=10))
    assert "HTTP 503" in recorded_error(first) and closed in recorded_error(first, "closed")
    assert third.feeds["hostile"]["error_count"] == 0 and len(third.stored("hostile")) == 12
    assert_next_check_after(third, "hostile", timedelta(days=7) / 12)  # its own pace from now on
    assert_next_check_after(third, "closed", timedelta(minutes=20))


def test_a_read_feed_timing_out_is_retried_soon(tmp_path: Path, site: HostileServer, make_config: MakeConfig) -> None:
    site.serve("/hostile", rss(item("Doubao", "http://10.0.0.1/1", "Once.")).encode(), headers=XML)
    config = setup(make_config, tmp_path, site, [{"name": "hostile", "url": site.url("/hostile")}])

    first, second = poll(config, cycles=2, between=lambda: site.route("/hostile", stall_after_headers()))

    assert_next_check_after(first, "hostile", timedelta(hours=24))  # one old entry: the maximum
    assert "no complete answer" in recorded_error(second)
    assert_next_check_after(second, "hostile", timedelta(minutes=5))
