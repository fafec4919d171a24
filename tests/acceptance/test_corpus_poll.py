"""Acceptance: real feeds nobody on this project wrote, polled in one `monitor poll` cycle.

The corpora in ../shared/corpora/feeds (gofeed, feedjira, rss-parser and feedvalidator
test files: real-world and edge-case RSS, Atom, RDF and JSON feeds, some invalid on
purpose) are served from a local server and configured as feeds. Polling all ~2,800
files takes minutes and `monitor poll` leases at most 500 feeds per cycle, so the test
takes a deterministic sample of about 400, spread over all four folders (every file of
the two small ones, every n-th file of the sorted lists of the two large ones).

It stays offline: every absolute URL inside a served feed (except XML namespace names
and the JSON Feed version) is rewritten to a path on the local server, and
`fetch.allow_networks` is left empty, so article links (strangers' URLs) are refused
before any connection, and the pipeline falls back to each feed's own text. Only the
operator's feed URLs, which are trusted, are fetched.

After the cycle: exit 0, no traceback, one status line per feed, and each feed either
polled fine (every entry feedparser finds with an http(s) link is counted, and stored
with its title and link or recognised as a duplicate) or failed with a recorded,
readable, one-line error.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
from conftest import ROOT, monitor
from hostile import HostileServer

CORPUS = ROOT.parent / "shared" / "corpora" / "feeds"
if not CORPUS.is_dir():
    pytest.skip(
        f"the feed corpora are not here ({CORPUS}); see ../shared/corpora/README.md",
        allow_module_level=True,
    )

EVERY_NTH = {
    "gofeed-testdata": 3,
    "feedvalidator-testcases": 15,
}  # the two small folders: every file
NOT_FEEDS = {"LICENSE.upstream", "SOURCE"}
CONTENT_TYPES = {
    ".json": "application/feed+json",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".html": "text/html",
    ".opml": "text/x-opml",
}
_STATUS = re.compile(r"^([✓✗]) (\S+): (.*)$")
_COUNTS = re.compile(r"^(\d+) entries, (\d+) new, (\d+) stored, \d+ matches(?:, (\d+) duplicates)?")


def is_expectation(path: Path) -> bool:
    """The expected-parse JSON files that sit beside the gofeed and rss-parser inputs."""
    if "output" in path.parts or path.stem.endswith("_expected"):
        return True
    return path.suffix == ".json" and any(p.suffix != ".json" for p in path.parent.glob(f"{path.stem}.*"))


def sample() -> list[Path]:
    chosen: list[Path] = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        files = sorted(
            p for p in folder.rglob("*") if p.is_file() and p.name not in NOT_FEEDS and not is_expectation(p)
        )
        chosen += files[:: EVERY_NTH.get(folder.name, 1)]
    return chosen


# --- serving the corpus offline ------------------------------------------------------------

_URL = re.compile(r"https?://[^\s\"'<>()\[\]{}\\]+")
_NAMESPACE = re.compile(r"""xmlns(?::[\w.-]+)?\s*=\s*(["'])(.*?)\1""", re.DOTALL)


def localise(text: str, local: str) -> str:
    """Point every absolute URL at ``local``, except namespace names and JSON Feed versions."""
    kept = [m.span(2) for m in _NAMESPACE.finditer(text)]

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        if "jsonfeed.org/version" in url or any(a <= match.start() < b for a, b in kept):
            return url
        return local + url.split("://", 1)[1]

    return _URL.sub(replace, text)


def offline_body(raw: bytes, local: str) -> bytes:
    """``raw`` with its URLs localised, in its own encoding (UTF-16 included)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return localise(raw.decode("utf-16"), local).encode("utf-16")
    for codec, marker in (("utf-16-le", b"<\x00"), ("utf-16-be", b"\x00<")):
        if raw[:2] == marker:
            return localise(raw.decode(codec), local).encode(codec)
    # latin-1 maps every byte to one character and back: UTF-8 and legacy encodings survive.
    return localise(raw.decode("latin-1"), local).encode("latin-1")


SUBSTANTIAL_WORDS = 50  # below this, equal text says nothing about being the same article


@dataclass(frozen=True)
class Served:
    name: str
    url: str
    body: bytes
    content_type: str


def serve_corpus(site: HostileServer, files: list[Path]) -> list[Served]:
    served = []
    for index, path in enumerate(files):
        relative = path.relative_to(CORPUS)
        name = f"c{index:03d}-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", str(relative.with_suffix("")))[-60:]
        body = offline_body(path.read_bytes(), site.url(f"/gone/{index}/"))
        content_type = CONTENT_TYPES.get(path.suffix, "application/xml")
        feed_path = f"/corpus/{index}{path.suffix}"
        site.serve(feed_path, body, headers={"content-type": content_type})
        served.append(Served(name, site.url(feed_path), body, content_type))
    return served


# --- what feedparser itself finds ----------------------------------------------------------


def linked_entries(feed: Served, substantial: dict[str, bool]) -> dict[str, set[str]]:
    """link -> titles of the entries feedparser finds with an http(s) link (or permalink id).

    ``substantial`` gets, per link, whether the entry's own text has enough words for an
    equal text to mean the same article.
    """
    if feed.content_type == "application/feed+json":
        return json_feed_entries(feed, substantial)
    parsed: Any = feedparser.parse(
        feed.body,
        response_headers={"content-type": feed.content_type, "content-location": feed.url},
    )
    found: dict[str, set[str]] = {}
    for entry in parsed.entries:
        link = http_url(entry.get("link") or "", feed.url)
        guid = entry.get("id") or ""
        if link is None and guid.startswith(("http://", "https://")):
            link = http_url(guid, feed.url)
        if link is not None:
            content = (entry.get("content") or [{}])[0].get("value") or entry.get("summary") or ""
            words = len(re.sub(r"<[^>]*>", " ", html.unescape(content)).split())
            found.setdefault(link, set()).add(entry.get("title") or "")
            substantial.setdefault(link, words >= SUBSTANTIAL_WORDS)
    return found


def json_feed_entries(feed: Served, substantial: dict[str, bool]) -> dict[str, set[str]]:
    try:
        document = json.loads(feed.body)
    except ValueError:
        return {}
    items = document.get("items") if isinstance(document, dict) else None
    found: dict[str, set[str]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            link = http_url(str(item.get("url") or item.get("external_url") or item.get("id") or ""), feed.url)
            if link is not None:
                found.setdefault(link, set()).add(str(item.get("title") or ""))
                text = str(item.get("content_text") or item.get("content_html") or "")
                words = len(re.sub(r"<[^>]*>", " ", text).split())
                substantial.setdefault(link, words >= SUBSTANTIAL_WORDS)
    return found


def plain(title: str) -> str:
    """A title as comparable text: markup and entities (even double-escaped) and spaces gone."""
    for _ in range(2):
        title = html.unescape(re.sub(r"<[^>]*>", "", title))
    return "".join(title.split()).casefold()


def http_url(link: str, base: str) -> str | None:
    absolute = urljoin(base, link.strip()) if link.strip() else ""
    parts = urlsplit(absolute)
    return absolute if parts.scheme in ("http", "https") and parts.hostname else None


# --- the test --------------------------------------------------------------------------------


def query(config: Path, *args: str) -> list[dict[str, Any]]:
    result = monitor("--config", config, *args, "--format", "json", "--limit", "100000")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


@pytest.mark.timeout(300)
def test_corpus_polls_without_crash_and_stores_every_linked_entry(
    site: HostileServer, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    feeds = serve_corpus(site, sample())
    assert len(feeds) > 300
    config = make_config(
        f"sqlite:///{tmp_path / 'monitor.db'}",
        [{"name": f.name, "url": f.url} for f in feeds],
        fetch={"allow_networks": [], "timeout": "10s"},  # strangers' links: refused, never fetched
        polling={"workers": 2},
    )

    result = monitor("--config", config, "poll", timeout=240)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines: dict[str, tuple[str, str]] = {}
    for line in result.stdout.splitlines():
        if found := _STATUS.match(line):
            mark, name, detail = found.groups()
            lines[name] = (mark, detail)
    assert set(lines) == {f.name for f in feeds}, "every feed gets one status line"
    assert {path for path, _ in site.requests} == {urlsplit(f.url).path for f in feeds}, (
        "only the feeds themselves are fetched: article links to strangers' hosts are refused"
    )

    rows = {row["name"]: row for row in query(config, "feeds")}
    stored: dict[str, dict[str, str]] = {}
    for article in query(config, "articles"):
        stored.setdefault(article["feed"], {})[article["url"]] = article["title"]

    stored_titles = {plain(title) for titles in stored.values() for title in titles.values()} - {""}
    problems: list[str] = []
    for feed in feeds:
        row, (mark, detail) = rows[feed.name], lines[feed.name]
        error = row["last_error"] or ""
        if mark == "✗" or row["last_status"] != "ok":
            if not error.strip() or "\n" in error or "Traceback" in error or "internal error" in error:
                problems.append(f"{feed.name}: failed without a readable one-line error: {error!r}")
            continue
        substantial: dict[str, bool] = {}
        expected = linked_entries(feed, substantial)
        counts = _COUNTS.match(detail)
        if counts is None:
            problems.append(f"{feed.name}: unexpected status line {detail!r}")
            continue
        entries, new, saved, duplicates = (int(n or 0) for n in counts.groups())
        mine = stored.get(feed.name, {})
        if entries < len(expected):
            problems.append(f"{feed.name}: {entries} entries read, feedparser finds {len(expected)} with a link")
        if saved + duplicates != new or saved != len(mine):
            problems.append(
                f"{feed.name}: {new} new, {saved} stored + {duplicates} duplicates, {len(mine)} in the store"
            )
        missing = {url: titles for url, titles in expected.items() if url not in mine}
        # Not stored is fine for a copy of an article stored under the same title (here or
        # in another feed), or with the same substantial text; an entry with its own title,
        # link and only a line of text (say "Comments") must not vanish as a "duplicate".
        lost = [
            min(titles)
            for url, titles in missing.items()
            if not substantial[url] and not {plain(t) for t in titles} & stored_titles
        ]
        if lost:
            problems.append(f"{feed.name}: {len(lost)} entries lost, e.g. {lost[0]!r}")
        elif len(missing) > duplicates:
            problems.append(f"{feed.name}: {len(missing)} entries missing, {duplicates} duplicates")
        for url, title in mine.items():
            titles = {plain(t) for t in expected.get(url, ())}
            if not titles or not title.strip():
                problems.append(f"{feed.name}: stored {url!r} titled {title!r}: no such entry")
            elif titles != {""} and plain(title) not in titles:
                problems.append(f"{feed.name}: stored title {title!r}, the feed says {titles}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    assert sum(len(m) for m in stored.values()) > 500, "the corpus has many linked entries; most are stored"
