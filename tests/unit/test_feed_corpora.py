"""Every real-world feed of ../shared/corpora/feeds parses or fails with one clear error.

The corpus is not part of the project (see its README); without it this module is skipped.
The whole set (about 2,800 documents) takes a few seconds, so nothing is sampled.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT

from monitor.errors import ParseError
from monitor.feeds import parse_feed

CORPORA = ROOT.parent / "shared" / "corpora" / "feeds"
NOT_FEEDS = {"LICENSE", "SOURCE", "README"}

if not CORPORA.is_dir():
    pytest.skip(f"feed corpora not present at {CORPORA}", allow_module_level=True)


def documents() -> list[Path]:
    """Feed files: expectations (JSON beside an XML file) and licences are left out."""
    found = []
    for path in sorted(CORPORA.rglob("*")):
        if not path.is_file() or path.name.split(".")[0].upper() in NOT_FEEDS:
            continue
        if path.suffix == ".json":
            head = path.read_bytes()[:2048]
            if b"jsonfeed.org" not in head and "/json/invalid/" not in path.as_posix():
                continue
        found.append(path)
    return found


def test_every_corpus_feed_parses_or_fails_clearly() -> None:
    paths = documents()
    assert len(paths) > 2000
    now = datetime.now(UTC)
    parsed = failed = entries = 0
    started = time.monotonic()
    for path in paths:
        url = f"https://corpus.example/{path.relative_to(CORPORA).as_posix()}"
        try:
            feed = parse_feed(path.read_bytes(), {}, url)
        except ParseError as error:
            message = str(error)
            assert message.startswith("not a feed: ") and "\n" not in message, path
            failed += 1
            continue
        parsed += 1
        for entry in feed.entries:
            entries += 1
            assert entry.title and entry.url.startswith(("http://", "https://")), path
            assert entry.published_at is None or entry.published_at <= now.replace(year=now.year + 1)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"{elapsed:.0f} s for {len(paths)} documents"
    # Most of the corpus is real feeds: a regression that rejects them all must show.
    assert parsed > 0.8 * len(paths) and entries > 2000, (parsed, failed, entries)
