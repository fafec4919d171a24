"""Topic-matching throughput: presearch automaton vs evaluating every topic.

Run: .venv/bin/python benchmarks/matching.py [--articles N] [--seed S]

Articles (3-6 KB) are stitched from the sentences of the seed pages (id, de, fr) and
an English paragraph. Five pages alone would make every article share most words, so
40% of the longer words are swapped for words of a 40,000-word lexicon drawn with
Zipf frequencies (as words occur in real text), and company and product names are
sprinkled in as news does. Topics have the shapes analysts write: a few names OR-ed
(some as phrases), AND-ed with context words from the same lexicon (wildcards,
phrases), NEAR, NOT, title: and lang: — 3 to 15 terms each. Everything is drawn from
one seeded random generator, so runs are comparable.

Columns: build wall and CPU seconds; ms per article wall and CPU on a first pass (the
lexicon keeps bringing words the matcher has not met), CPU again on a second pass over
the same articles ("seen", the steady state of a long-running monitor with a settled
vocabulary); the naive loop; candidates and matches per article. Then the pickled
10,000-topic set (what each worker process receives) and the cost of a full cyclic
collection while the set is alive, with and without gc.freeze().
"""

from __future__ import annotations

import argparse
import gc
import itertools
import pickle
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.model import Document
from monitor.text import tokenize
from monitor.topics import TopicSet, TopicSpec
from monitor.topics.snippet import sentence_spans

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_LANGUAGES = {"000": "id", "001": "id", "002": "de", "003": "fr", "004": "id"}
ENGLISH = (
    "The company said on Monday that regulators in Washington and Brussels are reviewing "
    "the deal. Analysts expect the ban to face legal challenges from users and creators. "
    "The startup raised new funding to expand its artificial intelligence research lab. "
    "Shares rose after the chatbot attracted millions of users in its first week. "
    "Lawmakers argued that the app poses a risk to national security and data privacy. "
    "A spokesperson declined to comment on the report about the internal investigation. "
    "The model was trained on thousands of graphics processors over several months. "
    "Engineers said the update improves translation and search in dozens of languages."
)
SYLLABLES = ["ka", "lo", "mi", "tra", "vex", "no", "zen", "qui", "ra", "po", "shi", "dor", "ung", "pel",
             "bel", "xi", "ta", "mun", "gri", "fa", "los", "ven", "ek", "sor", "ath", "mo"]  # fmt: skip


NAME_SYLLABLES = ["zor", "xan", "qel", "vy", "kry", "dax", "jun", "wex", "ryn", "tal", "oz",
                  "nyx", "bex", "yar", "fyn", "hax", "ix", "ul", "cor", "ept"]  # fmt: skip


def _sentences() -> dict[str, list[str]]:
    by_language: dict[str, list[str]] = {"en": []}
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        language = SEED_LANGUAGES[path.name[:3]]
        spans = sentence_spans(text)
        by_language.setdefault(language, []).extend(text[a:b] for a, b in spans if b - a > 40)
    by_language["en"] = [ENGLISH[a:b] for a, b in sentence_spans(ENGLISH)]
    return by_language


def _names(rng: random.Random, count: int) -> list[str]:
    """Company and product names, spelled unlike the lexicon's words (as names are)."""
    names: set[str] = set()
    while len(names) < count:
        word = "".join(rng.choice(NAME_SYLLABLES) for _ in range(rng.randint(2, 4)))
        names.add(word.capitalize())
    return sorted(names)


class Lexicon:
    """Synthetic words drawn with Zipf frequencies (rank r has weight 1/r)."""

    def __init__(self, rng: random.Random, size: int) -> None:
        words: set[str] = set()
        while len(words) < size:
            words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))))
        self.words = sorted(words)
        rng.shuffle(self.words)
        self.weights = list(itertools.accumulate(1 / rank for rank in range(1, size + 1)))
        self.rng = rng

    def word(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.weights)[0]


def _respell(rng: random.Random, sentence: str, lexicon: Lexicon) -> str:
    return " ".join(
        lexicon.word() if len(w) > 3 and w.isalpha() and rng.random() < 0.4 else w for w in sentence.split()
    )


def make_articles(rng: random.Random, count: int, names: list[str], lexicon: Lexicon) -> list[Document]:
    sentences = _sentences()
    languages = sorted(sentences)
    articles = []
    for _ in range(count):
        language = rng.choice(languages)
        pool = sentences[language]
        target = rng.randint(3_000, 6_000)
        parts: list[str] = []
        size = 0
        while size < target:
            sentence = _respell(rng, rng.choice(pool), lexicon)
            if rng.random() < 0.3:  # news names companies and products
                words = sentence.split()
                words.insert(rng.randrange(len(words) + 1), rng.choice(names))
                sentence = " ".join(words)
            parts.append(sentence)
            size += len(sentence) + 1
        title = " ".join(rng.choice(pool).split()[:10])
        articles.append(Document(title, " ".join(parts)[:6_000], language))
    return articles


def make_queries(rng: random.Random, count: int, names: list[str], lexicon: Lexicon) -> list[str]:
    seed_words = sorted({w for pool in _sentences().values() for s in pool for w in tokenize(s) if len(w) > 3})
    famous = ["ByteDance", "TikTok", "OpenAI", "Doubao", "ChatGPT", "Baidu", "Ernie"]

    def name() -> str:
        return rng.choice(famous) if rng.random() < 0.002 else rng.choice(names)

    def context(k: int) -> list[str]:
        terms = []
        for _ in range(k):
            roll = rng.random()
            # Context words: mostly from the lexicon (skipping its 50 most common words,
            # which no analyst would pick), some from the seed pages.
            word = rng.choice(seed_words) if roll > 0.8 else lexicon.words[rng.randint(50, 20_000)]
            if roll < 0.15 and len(word) > 5:
                terms.append(word[: rng.randint(4, len(word) - 1)] + "*")
            elif roll < 0.30:
                terms.append(f'"{word} {lexicon.word()}"')
            else:
                terms.append(word)
        return terms

    queries = []
    for _ in range(count):
        entity = " OR ".join(f'"{name()} {name()}"' if rng.random() < 0.2 else name() for _ in range(rng.randint(1, 3)))
        words = context(rng.randint(2, 10))
        shape = rng.random()
        if shape < 0.4:
            query = f"({entity}) AND ({' OR '.join(words)})"
        elif shape < 0.65:
            query = f"({entity}) NEAR/{rng.randint(3, 20)} ({' OR '.join(words)})"
        elif shape < 0.8:
            query = f"({entity}) AND ({' OR '.join(words[:-1])}) NOT {words[-1]}"
        elif shape < 0.9:
            query = f"title:({entity}) OR (({entity}) AND {' AND '.join(words[:2])})"
        else:
            language = rng.choice(["id", "de", "fr", "en"])
            query = f"({entity}) AND ({' OR '.join(words)}) AND lang:{language}"
        queries.append(query)
    return queries


def _per_article_ms(run: object, articles: list[Document]) -> tuple[float, float]:
    """Mean wall-clock and CPU milliseconds per article (CPU time shows the cost itself
    when other processes share the two cores)."""
    assert callable(run)
    for doc in articles[:3]:  # warm the caches a long-running monitor would have warm
        run(doc)
    timings = []
    cpu_start = time.process_time()
    for doc in articles:
        start = time.perf_counter()
        run(doc)
        timings.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / len(articles)
    return statistics.mean(timings) * 1000, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--naive-articles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20241022)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    names = _names(rng, 20_000)
    lexicon = Lexicon(rng, 40_000)
    articles = make_articles(rng, args.articles, names, lexicon)
    queries = make_queries(rng, 10_000, names, lexicon)
    sizes = [len(doc.text.encode()) for doc in articles]
    print(
        f"{len(articles)} articles, {min(sizes)}-{max(sizes)} bytes "
        f"(mean {statistics.mean(sizes):.0f}), languages "
        f"{sorted({doc.language or '' for doc in articles})}"
    )
    print(
        f"{'topics':>7} {'build s':>8} {'cpu s':>6} {'ms/article':>11} {'cpu ms':>7} {'seen ms':>8} {'naive ms':>9} "
        f"{'ratio':>7} {'candidates':>11} {'matches':>8}"
    )
    topics = TopicSet.compile([])
    for count in (10, 1_000, 10_000):
        specs = [TopicSpec(f"topic {i:05d}", q) for i, q in enumerate(queries[:count])]
        start, cpu_start = time.perf_counter(), time.process_time()
        topics = TopicSet.compile(specs)
        build, build_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        fast, fast_cpu = _per_article_ms(topics.match, articles)
        _, seen_cpu = _per_article_ms(topics.match, articles)  # again: every word already met
        naive, _ = _per_article_ms(topics.match_naive, articles[: args.naive_articles])
        candidates = statistics.mean(len(topics.candidates(doc)) for doc in articles)
        matches = statistics.mean(len(topics.match(doc)) for doc in articles)
        print(
            f"{count:>7} {build:>8.3f} {build_cpu:>6.2f} {fast:>11.3f} {fast_cpu:>7.3f} {seen_cpu:>8.3f} {naive:>9.2f} "
            f"{naive / fast:>6.1f}x {candidates:>11.1f} {matches:>8.2f}"
        )
    _pickled(topics, articles)
    _collections(topics)


def _pickled(topics: TopicSet, articles: list[Document]) -> None:
    """What a worker process pays to receive the set: the pickle, and the first articles it
    matches (each topic is compiled again the first time the presearch picks it)."""
    cpu_start = time.process_time()
    data = pickle.dumps(topics, pickle.HIGHEST_PROTOCOL)
    dump = time.process_time() - cpu_start
    cpu_start = time.process_time()
    copy = pickle.loads(data)
    load = time.process_time() - cpu_start
    cpu_start = time.process_time()
    for doc in articles:
        copy.match(doc)
    first = (time.process_time() - cpu_start) / len(articles) * 1000
    cpu_start = time.process_time()
    for doc in articles:
        copy.match(doc)
    again = (time.process_time() - cpu_start) / len(articles) * 1000
    print(
        f"pickled {len(topics.names)} topics: {len(data) / 1e6:.1f} MB, dump {dump:.3f} s, load {load:.3f} s CPU; "
        f"the copy matches the same articles in {first:.3f} cpu ms/article, then {again:.3f}"
    )


def _collections(topics: TopicSet) -> None:
    """A full cyclic collection walks every object the set keeps, unless frozen (gc.freeze)."""
    del topics  # kept alive by the caller: only its objects' cost is measured
    cpu_start = time.process_time()
    gc.collect()
    full = time.process_time() - cpu_start
    gc.freeze()
    cpu_start = time.process_time()
    gc.collect()
    frozen = time.process_time() - cpu_start
    gc.unfreeze()
    print(f"a full gc.collect() with the 10,000-topic set alive: {full:.3f} s CPU; after gc.freeze(): {frozen:.4f} s")


if __name__ == "__main__":
    main()
