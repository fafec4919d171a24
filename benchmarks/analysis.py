"""CPU cost per article of each stage of `monitor.article.analyse`, next to trafilatura.

Run: .venv/bin/python benchmarks/analysis.py [--rounds 3]

The pages are those of benchmarks/polling.py (`article_page`, the 300 pages of its
measured cycle: 1 feed in 20 of 2,000, 3 new items each), so this follows its page
template. Each stage is timed alone over all pages, in this process on one core, best
of ``--rounds`` passes: trafilatura.extract as the polling benchmark times it, then
what analyse does: extract_article, detect_language, topic matching (the topics of
config/monitor.yaml), story_features and the text hash the pipeline stores, and the
whole analyse call. The last line is the ratio analyse / trafilatura.extract.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import trafilatura

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from polling import EPOCH, NEW_ITEMS, article_page, load_seeds  # noqa: E402

from monitor import article, stories  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.extract import extract_article  # noqa: E402
from monitor.model import Document, Entry  # noqa: E402
from monitor.service import compile_topics  # noqa: E402
from monitor.text import detect_language  # noqa: E402

FEEDS = range(0, 2000, 20)  # the changed feeds of polling.py's default cycle
T = TypeVar("T")


def cpu_ms_per_item(stage: Callable[[T], object], items: Sequence[T], rounds: int) -> float:
    """Best-of-``rounds`` CPU milliseconds per item of ``stage`` over ``items``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for item in items:
            stage(item)
        best = min(best, time.process_time() - started)
    return best * 1000 / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes per stage; the best counts")
    args = parser.parse_args()

    seeds = load_seeds()
    entries, pages = [], []
    for feed in FEEDS:
        for item in range(NEW_ITEMS):
            title, page = article_page(seeds, feed, item)
            url = f"http://127.0.0.1/a/{feed}/{item}.html"
            entries.append(Entry(guid=url, url=url, title=title, summary="", published_at=EPOCH, language=None))
            pages.append(page)
    topics = compile_topics(load_config(ROOT / "config" / "monitor.yaml"))
    now = datetime.now(UTC)  # the time analyse checks page dates against, as a worker is given it

    # What each stage reads, computed once as analyse computes it.
    pairs = list(zip(entries, pages, strict=True))
    extracted = [extract_article(page, entry.url, metadata=False) for entry, page in pairs]
    documents = []
    for entry, found in zip(entries, extracted, strict=True):
        text = found.text if found else ""
        language = detect_language(f"{entry.title}\n{text}", found.language if found else "id")
        documents.append(Document(entry.title, text, language, entry.url))

    rounds = args.rounds
    extraction = cpu_ms_per_item(lambda p: trafilatura.extract(p[1], url=p[0].url), pairs, rounds)
    stages = {
        "extract_article": cpu_ms_per_item(lambda p: extract_article(p[1], p[0].url, metadata=False), pairs, rounds),
        "detect_language": cpu_ms_per_item(lambda d: detect_language(f"{d.title}\n{d.text}", "id"), documents, rounds),
        "topic matching": cpu_ms_per_item(topics.match, documents, rounds),
        "story_features": cpu_ms_per_item(lambda d: stories.story_features(d, EPOCH), documents, rounds),
        "text_hash": cpu_ms_per_item(lambda d: stories.text_hash(d.text), documents, rounds),
    }
    whole = cpu_ms_per_item(lambda p: article.analyse(p[0], "id", topics, now, p[1]), pairs, rounds)

    sizes = sorted(len(page) for page in pages)
    print(f"{len(pages)} pages ({sizes[0]}-{sizes[-1]} bytes of HTML), CPU ms per article, best of {rounds}:")
    print(f"  {'trafilatura.extract alone':<26} {extraction:6.2f}")
    for name, ms in stages.items():
        print(f"  {name:<26} {ms:6.2f}")
    print(f"  {'analyse, the whole call':<26} {whole:6.2f}   (its stages timed alone: {sum(stages.values()):.2f})")
    print(
        f"analyse / trafilatura.extract = {whole / extraction:.2f} (a worker's CPU per article; issue 5's "
        "target is on the whole cycle's throughput: benchmarks/polling.py)"
    )


if __name__ == "__main__":
    main()
