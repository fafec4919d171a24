"""One hash of everything the worker-side article analysis says about a fixed set of pages.

    python tools/analysis_fingerprint.py                 print the hash (and the CPU it took)
    python tools/analysis_fingerprint.py --dump FILE     also write one line per article: its key and hash

An optimisation of ``monitor.article.analyse`` (extraction, language, not-article
checks, topic matching, story features, text hashes) must not change what it returns:
run this before and after, and the two hashes are equal. The articles:

* the polling benchmark's pages (benchmarks/_pages.py, every page style, built from
  seeds/), each once with the feed's title and date and once without (so the page's
  metadata is read);
* when the shared corpora are beside the project (../shared/corpora, or ``--corpora``): every text of the
  real multilingual story pairs, once inside a news page and once as a feed's summary
  with no page (consent walls, captchas and "unavailable" pages among them), and the
  entries of the real feeds of feedjira's and rss-parser's samples, as feeds give them.

The time is fixed, and the topics are those of config/monitor.yaml. With ``--dump``, a
``diff`` of two dumps names the articles whose analysis changed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _pages import PAGE_STYLES, Story  # noqa: E402
from polling import article_page, load_seeds  # noqa: E402

from monitor.article import analyse  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.errors import ParseError  # noqa: E402
from monitor.feeds import parse_feed  # noqa: E402
from monitor.model import Entry  # noqa: E402
from monitor.service import compile_topics  # noqa: E402

NOW = datetime(2024, 10, 25, 12, 0, tzinfo=UTC)
PUBLISHED = datetime(2024, 10, 22, 6, 0, tzinfo=UTC)
BENCH_FEEDS = range(0, 2000, 50)  # 40 feeds of polling.py's 2,000, 3 items each
FEED_SAMPLES = ("feedjira-sample-feeds", "rss-parser-testdata")
ENTRIES_PER_FEED = 30

# key, entry, feed language, page (or None)
Case = tuple[str, Entry, str | None, bytes | None]


def benchmark_pages() -> Iterator[Case]:
    seeds = load_seeds()
    for style in sorted(PAGE_STYLES):
        for feed in BENCH_FEEDS:
            for item in range(3):
                title, page = article_page(seeds, feed, item, style)
                url = f"http://127.0.0.1/a/{feed}/{item}.html"
                with_feed_data = Entry(guid=url, url=url, title=title, summary="", published_at=PUBLISHED)
                yield f"bench/{style}/{feed}/{item}", with_feed_data, "id", page
                bare = Entry(guid=url, url=url, title="", summary="", published_at=None)
                yield f"bench/{style}/{feed}/{item}/metadata", bare, None, page


def story_texts(corpora: Path) -> Iterator[Case]:
    path = corpora / "stories" / "semeval2022-task8-tune.csv"
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [
        (row["pair_id"].split("_")[side], row[f"lang{side + 1}"], row[f"text_{side + 1}"])
        for row in rows
        for side in (0, 1)
    ]
    others = [text for _, _, text in texts[:50]]
    for number, (article, language, raw) in enumerate(dict.fromkeys(texts)):
        text = raw.strip()
        title = " ".join(text.split()[:12])
        url = f"http://127.0.0.1/story/{article}.html"
        sentences = [part.strip() + "." for part in text.split(". ") if part.strip()]
        story = Story(
            title,
            [f"Article {article}.", *(sentences or [text])],
            language,
            others,
            PUBLISHED + timedelta(minutes=number),
        )
        page = PAGE_STYLES["news"](story)
        entry = Entry(guid=url, url=url, title=title, summary="", published_at=PUBLISHED)
        yield f"story/{article}/page", entry, None, page
        yield (
            f"story/{article}/summary",
            Entry(guid=url, url=url, title=title, summary=text, published_at=None),
            None,
            None,
        )


def feed_entries(corpora: Path) -> Iterator[Case]:
    for sample in FEED_SAMPLES:
        for path in sorted((corpora / "feeds" / sample).rglob("*")):
            if not path.is_file() or path.suffix.lower() not in (".xml", ".rss", ".atom", ".json", ".rdf"):
                continue
            url = f"http://127.0.0.1/{sample}/{path.name}"
            try:
                parsed = parse_feed(path.read_bytes(), {}, url, now=NOW)
            except ParseError:
                continue
            for number, entry in enumerate(parsed.entries[:ENTRIES_PER_FEED]):
                yield (
                    f"feed/{sample}/{path.relative_to(corpora / 'feeds' / sample)}/{number}",
                    entry,
                    parsed.language,
                    None,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--dump", type=Path, help="write 'key hash' per article to this file")
    parser.add_argument(
        "--corpora", type=Path, default=ROOT.parent / "shared" / "corpora", help="default: ../shared/corpora"
    )
    args = parser.parse_args()

    topics = compile_topics(load_config(ROOT / "config" / "monitor.yaml"))
    cases = [*benchmark_pages(), *story_texts(args.corpora), *feed_entries(args.corpora)]
    whole, lines = hashlib.sha256(), []
    started = time.process_time()
    for key, entry, feed_language, page in cases:
        analysed = analyse(entry, feed_language, topics, NOW, page)
        digest = hashlib.sha256(repr(analysed).encode()).hexdigest()
        whole.update(f"{key} {digest}\n".encode())
        lines.append(f"{key} {digest}\n")
    seconds = time.process_time() - started
    if args.dump:
        args.dump.write_text("".join(lines), encoding="utf-8")
    kinds = ", ".join(
        f"{kind} {sum(key.startswith(kind + '/') for key, *_ in cases)}" for kind in ("bench", "story", "feed")
    )
    print(f"{len(cases)} articles ({kinds}); CPU {seconds:.1f} s")
    print(f"fingerprint {whole.hexdigest()}")


if __name__ == "__main__":
    main()
