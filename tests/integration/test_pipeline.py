"""The orchestrator's promise that one bad entry never costs the others their turn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from hostile import HostileServer, conditional
from seedsite import publish, seeds

from monitor.config import load_config
from monitor.service import open_store, running
from monitor.store import repository
from monitor.store.records import Filters


def test_an_entry_that_hits_a_bug_is_recorded_and_the_others_are_stored(
    tmp_path: Path, site: HostileServer, make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = seeds()[1]
    real = repository._is_duplicate

    def failing_on_one(connection: Any, new: repository.NewArticle, *args: Any) -> Any:
        if new.title == broken.title:
            raise RuntimeError("injected bug")
        return real(connection, new, *args)

    # Inside the batch writer: the other articles of the same transaction must survive it.
    monkeypatch.setattr(repository, "_is_duplicate", failing_on_one)
    config = load_config(make_config(f"sqlite:///{tmp_path / 'm.db'}", [{"name": "seeds", "url": publish(site)}]))

    async def poll_twice() -> tuple[Any, Any]:
        async with running(config) as runtime:
            first, _ = await runtime.poll([])
            monkeypatch.setattr(repository, "_is_duplicate", real)  # the bug is fixed
            second, _ = await runtime.poll([])
            return first, second

    first, second = asyncio.run(poll_twice())
    report = first.feeds[0]
    assert report.stored == 4
    assert report.error is not None and "injected bug" in report.error and "\n" not in report.error
    # The feed's body was not marked as seen, so the next poll retries the failed entry only.
    assert second.feeds[0].stored == 1 and second.feeds[0].error is None
    engine_rows = _articles(config)
    assert sorted(a["title"] for a in engine_rows) == sorted(s.title for s in seeds())


def _articles(config: Any) -> list[dict[str, Any]]:
    from monitor.service import open_store

    return [row.to_json() for row in open_store(config).articles(Filters(), limit=100)]


def test_a_feeds_own_ttl_still_counts_when_it_answers_304(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    # 20 entries in the last day: the publishing rhythm alone says poll every 8.4 h;
    # the feed's <ttl> asks for 15 h, and must still count on the 304 that follows.
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>Kabar {n}</title><guid>kabar-{n}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(hours=n))}</pubDate>"
        f"<description>Kabar nomor {n} tentang ByteDance.</description></item>"
        for n in range(20)
    )
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><ttl>900</ttl>{items}</channel></rss>'
    site.route(
        "/ttl.xml",
        conditional(rss.encode(), etag='"v1"', last_modified=format_datetime(now), content_type="application/rss+xml"),
    )
    config = load_config(make_config(f"sqlite:///{tmp_path / 'm.db'}", [{"name": "ttl", "url": site.url("/ttl.xml")}]))

    async def poll_twice() -> list[str]:
        async with running(config) as runtime:
            statuses = []
            for _ in range(2):
                report, _ = await runtime.poll([])
                statuses.append(report.feeds[0].status)
            return statuses

    assert asyncio.run(poll_twice()) == ["ok", "not modified"]
    (feed,) = open_store(config).feeds()
    assert feed.interval is not None and 0.9 * 15 * 3600 <= feed.interval <= 1.1 * 15 * 3600


def test_links_another_feed_brought_are_not_fetched_again(
    tmp_path: Path, site: HostileServer, make_config: Any
) -> None:
    # Two feeds of one site list the same articles: the second feed's entries are new to
    # it (their GUIDs are its own) but each page is fetched and stored once.
    items = seeds()
    publish(site, "/a.xml", items)
    publish(site, "/b.xml", items)
    feeds = [{"name": "a", "url": site.url("/a.xml")}, {"name": "b", "url": site.url("/b.xml")}]
    config = load_config(make_config(f"sqlite:///{tmp_path / 'm.db'}", feeds))

    async def poll_one_then_the_other() -> tuple[Any, Any]:
        async with running(config) as runtime:
            first, _ = await runtime.poll(["a"])
            second, _ = await runtime.poll(["b"])
            return first.feeds[0], second.feeds[0]

    first, second = asyncio.run(poll_one_then_the_other())
    assert (first.new, first.stored) == (len(items), len(items))
    assert (second.new, second.stored, second.duplicates, second.error) == (len(items), 0, len(items), None)
    assert [site.hits(f"/news/{seed.name}.html") for seed in items] == [1] * len(items)
    assert len(_articles(config)) == len(items)
