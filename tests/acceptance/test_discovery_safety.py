"""The stranger rule for URLs the operator did not type (issue 14, item 7).

A feed URL that a page announces is a stranger's, like an article link: it may only reach
public addresses and the networks of ``fetch.allow_networks``. Link-local and cloud
metadata addresses are refused for every request, the operator's own URLs included,
unless their network is listed explicitly. `monitor match URL` and `feeds discover`
fetch any URL under the stranger rule. Real servers on 127.0.0.1; names are mapped to
addresses through the fetcher's resolver seam where a test needs a name.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from conftest import AGENT, monitor, one_line_error, write_config
from hostile import HostileServer

from monitor.discovery import announced_feeds, find_feeds
from monitor.errors import FetchError
from monitor.fetch import Fetcher, FetchLimits, GuardedTransport
from monitor.opml import FeedRef

FEED = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>Local news</title>"
    b"<item><title>One</title><link>http://news.example/1</link></item></channel></rss>"
)
XML = {"content-type": "application/rss+xml"}
HTML = {"content-type": "text/html"}
LOOPBACK = ["127.0.0.0/8"]


def page_announcing(feed_url: str) -> bytes:
    return (
        '<!DOCTYPE html><html><head><title>Home</title><link rel="alternate" '
        f'type="application/rss+xml" title="News" href="{feed_url}"></head><body>hi</body></html>'
    ).encode()


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as running:
        yield running


def resolver(table: dict[str, list[str]], asked: list[str]) -> Callable[[str, int], Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return table.get(host, [])

    return resolve


def find(url: str, names: dict[str, list[str]], allow: list[str], *, discover: bool = False) -> list[FeedRef]:
    limits = FetchLimits(AGENT, allow_networks=tuple(ipaddress.ip_network(n) for n in allow))
    asked: list[str] = []

    async def main() -> list[FeedRef]:
        fetcher = Fetcher(limits, GuardedTransport(limits, resolve=resolver(names, asked)))
        try:
            return await (announced_feeds if discover else find_feeds)(fetcher, url)
        finally:
            await fetcher.aclose()

    return asyncio.run(main())


def refused(call: Callable[[], object]) -> str:
    with pytest.raises(FetchError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the library: find_feeds (feeds add) and announced_feeds (feeds discover) -------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "169.254.169.254 (link-local, where cloud metadata lives)"),
        ("fd00:ec2::254", "fd00:ec2::254 (AWS cloud metadata)"),
        ("100.100.100.200", "100.100.100.200 (Alibaba Cloud metadata)"),
    ],
)
def test_a_page_announcing_a_metadata_feed_is_refused_with_one_line(
    server: HostileServer, address: str, reason: str
) -> None:
    # Loopback is allowed (the page is there); the announced feed resolves to metadata.
    server.serve(
        "/page", page_announcing("http://metadata.test/latest/meta-data/"), headers={"content-type": "text/html"}
    )
    names = {"news.test": ["127.0.0.1"], "metadata.test": [address]}
    message = refused(lambda: find(server.url("/page", host="news.test"), names, LOOPBACK))
    assert message.startswith(f"{server.url('/page', host='news.test')} announces the feed http://metadata.test/")
    assert f"refused to connect to {reason}" in message and "fetch.allow_networks" in message
    assert "feed's own URL" not in message  # adding it by hand would not help: metadata is refused for everyone


def test_a_page_announcing_a_loopback_feed_is_refused_and_the_feed_never_requested(server: HostileServer) -> None:
    # No allow_networks: the page the operator typed is theirs, the feed it names is not.
    server.serve(
        "/page", page_announcing(server.url("/feed.xml", host="feeds.test")), headers={"content-type": "text/html"}
    )
    server.serve("/feed.xml", FEED, headers=XML)
    names = {"news.test": ["127.0.0.1"], "feeds.test": ["127.0.0.1"]}
    message = refused(lambda: find(server.url("/page", host="news.test"), names, []))
    assert "refused to connect to 127.0.0.1 (loopback)" in message and "add the feed's own URL" in message
    assert server.hits("/page") == 1 and server.hits("/feed.xml") == 0
    # Typed by the operator, the same feed URL is theirs.
    direct = server.url("/feed.xml", host="feeds.test")
    assert find(direct, names, []) == [FeedRef(direct, "Local news")]
    # And a network the operator allows is open to strangers' links too.
    assert find(server.url("/page", host="news.test"), names, LOOPBACK)[0].url == direct


def test_an_operator_url_at_a_metadata_address_is_refused_too() -> None:
    names = {"metadata.test": ["169.254.169.254"]}
    message = refused(lambda: find("http://metadata.test/latest/meta-data/", names, LOOPBACK))
    assert "refused to connect to 169.254.169.254 (link-local" in message
    # (That an explicit allow_networks entry opens it is tested on the guard alone, in
    # test_fetch.py: a test must not connect to a metadata address that may be real.)


def test_discover_fetches_the_page_under_the_stranger_rule(server: HostileServer) -> None:
    server.serve("/page", page_announcing("/feed.xml"), headers=HTML)
    names = {"news.test": ["127.0.0.1"]}
    message = refused(lambda: find(server.url("/page", host="news.test"), names, [], discover=True))
    assert "refused to connect to 127.0.0.1 (loopback)" in message
    assert server.hits("/page") == 0
    found = find(server.url("/page", host="news.test"), names, LOOPBACK, discover=True)
    assert found == [FeedRef(server.url("/feed.xml", host="news.test"), "News")]


# --- the command line ----------------------------------------------------------------------------


def test_feeds_add_refuses_a_page_announcing_cloud_metadata(tmp_path: Path, server: HostileServer) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    server.serve("/page", page_announcing(metadata), headers=HTML)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [])  # allows 127.0.0.0/8

    line = one_line_error(monitor("--config", config, "feeds", "add", server.url("/page"), timeout=60))
    assert f"announces the feed {metadata}" in line and "169.254.169.254 (link-local" in line, line

    exported = monitor("--config", config, "feeds", "export", timeout=60)
    assert exported.returncode == 0 and "169.254" not in exported.stdout


def test_match_and_discover_refuse_internal_addresses_given_directly(tmp_path: Path, server: HostileServer) -> None:
    server.serve("/article.html", b"<html><body><p>internal</p></body></html>", headers=HTML)
    server.serve("/page", page_announcing("/feed.xml"), headers=HTML)
    strict = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [], fetch={"allow_networks": []})
    commands = {
        ("match", server.url("/article.html")): "(loopback)",
        ("match", "http://169.254.169.254/latest/meta-data/"): "(link-local",
        ("match", "http://[fd00:ec2::254]/latest/meta-data/"): "(AWS cloud metadata)",
        ("feeds", "discover", server.url("/page")): "(loopback)",
        ("feeds", "discover", "http://100.100.100.200/latest/meta-data/"): "(Alibaba Cloud metadata)",
    }
    for args, reason in commands.items():
        line = one_line_error(monitor("--config", strict, *args, timeout=60))
        assert "refused to connect to" in line and reason in line and "fetch.allow_networks" in line, line
    assert server.requests == []


def test_a_discovered_feed_stays_a_strangers_url_when_it_is_polled(tmp_path: Path, server: HostileServer) -> None:
    """Added from a page's announcement, a feed is polled under fetch.allow_networks; the
    same kind of URL added by the operator directly is trusted as the config's feeds are."""
    server.serve("/announced.xml", FEED, headers=XML)
    server.serve("/typed.xml", FEED.replace(b"Local news", b"Typed news"), headers=XML)
    server.serve("/page", page_announcing("/announced.xml"), headers=HTML)
    database = f"sqlite:///{tmp_path / 'm.db'}"
    adding = write_config(tmp_path, database, [])  # allows 127.0.0.0/8, as an intranet setup would
    for url in (server.url("/page"), server.url("/typed.xml")):
        added = monitor("--config", adding, "feeds", "add", url, timeout=60)
        assert added.returncode == 0 and "added feed" in added.stdout, added.stderr
    assert server.hits("/announced.xml") == server.hits("/typed.xml") == 1  # each checked to be a feed

    strict = write_config(tmp_path, database, [], fetch={"allow_networks": []})
    polled = monitor("--config", strict, "poll", timeout=60)
    assert server.hits("/typed.xml") == 2, polled.stdout  # the operator's own URL: trusted
    assert server.hits("/announced.xml") == 1, polled.stdout  # the page's: refused before connecting
    refused_line = next(line for line in polled.stdout.splitlines() if "announced" in line)
    assert "refused to connect to" in refused_line and "(loopback)" in refused_line, polled.stdout
