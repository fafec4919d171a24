"""Cost of placing one new article in its story with 10k, 100k and 1M articles stored (SQLite).

Run: .venv/bin/python benchmarks/stories.py [--sizes 10000,100000,1000000] [--days 60] [--updates]

For each size it builds (or reuses, from --cache) a SQLite database through the real
migrations, filled with synthetic articles whose story features look like real ones:
multilingual pseudo-names drawn with a Zipf popularity (a few names are in many
articles, most in few), story-specific numbers and dates, common numbers (12, 24, 2.5),
MinHash signatures, headline 4-grams and word stems. Stories have one to six
articles in several languages, some with syndicated copies; ``seen_at`` is spread
over --days days, so the 72 h window holds 72 h / --days of the articles. Rows are
bulk-copied (chunk files built by two worker processes, story keys sorted once), not
stored one by one. A cached database made under an older schema is brought up to date
by the real migrations (as a user's would be), not rebuilt. Then it times
``repository.store_article`` for --new articles (a quarter copies of a recent article,
a quarter other outlets' reports of a recent story, half new events) and prints ms per
article (median, p95; wall clock and CPU), the part spent in ``_candidates`` (SQL, then
decoding the candidates' JSON) and in ``stories.assign``, the rows the candidate lookup
reads, the database size, and the growth between sizes. The measured articles are
deleted afterwards, so a cached database can be measured again.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import string
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.article import Analysed, text_identity
from monitor.model import Document, Routes, TopicMatch
from monitor.store import repository
from monitor.store.db import create_engine, reading, schema_is_current, transaction, upgrade
from monitor.store.tables import Feed
from monitor.stories import StoryFeatures, StoryRules, clustering, index_keys
from monitor.stories.lexicon import STOPWORDS
from monitor.stories.stage import AssignStory

GENERATOR_VERSION = 5  # bump when the synthetic data changes, so cached files are rebuilt
END = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)  # the newest stored article; new ones follow
CHUNK = 10_000  # articles per chunk file a worker builds
ROUTES = Routes(default=("webhook:x", "email"))  # every match alerts two channels, as in a typical setup
FEEDS = 500
LANGUAGES = ("en", "id", "de", "fr")
LANGUAGE_WEIGHTS = (4, 3, 2, 2)
NAME_VOCABULARY = 120_000
STEM_VOCABULARY = 6_000
WELL_KNOWN = [
    "china",
    "trump",
    "biden",
    "ukraine",
    "russia",
    "bytedance",
    "tiktok",
    "openai",
    "google",
    "apple",
    "jakarta",
    "berlin",
    "paris",
    "london",
    "brussel",
    "macron",
    "scholz",
    "prabowo",
    "jokowi",
    "nvidia",
    "microsoft",
    "meta",
    "amazon",
    "tesla",
    "israel",
    "gaza",
    "iran",
    "beijing",
    "washington",
    "moskau",
    "kyiv",
    "europa",
]
COMMON_NUMBERS = [
    "12",
    "15",
    "24",
    "25",
    "45",
    "2.5",
    "1.5",
    "20",
    "30",
    "100",
    "50",
    "1000",
    "18",
    "16",
    "14",
    "11",
    "13",
    "17",
    "19",
    "21",
    "22",
    "35",
    "75",
    "3.5",
    "0.5",
    "250",
    "500",
    "10000",
    "1000000",
    "1000000000",
]
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "ma",
    "ne",
    "sa",
    "lu",
    "bo",
    "de",
    "vi",
    "an",
    "ter",
    "ol",
    "is",
    "un",
    "ber",
    "gan",
    "hu",
    "mi",
    "ro",
    "ta",
    "le",
    "no",
    "ki",
    "ra",
    "zu",
    "po",
    "el",
    "ar",
    "en",
    "or",
    "sh",
    "ch",
    "th",
    "ck",
    "ng",
    "ph",
    "wa",
    "ya",
    "go",
    "ha",
    "fe",
    "da",
    "bi",
    "lo",
    "mu",
    "pe",
    "sa",
    "ti",
    "ve",
]
FILLER = {
    "en": [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "for",
        "on",
        "that",
        "with",
        "said",
        "was",
        "is",
        "by",
        "as",
        "from",
        "at",
        "it",
        "has",
        "have",
        "will",
        "government",
        "company",
        "report",
        "officials",
        "week",
        "people",
        "told",
        "according",
        "market",
    ],
    "id": [
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "untuk",
        "dengan",
        "pada",
        "ini",
        "itu",
        "adalah",
        "dalam",
        "tidak",
        "akan",
        "juga",
        "telah",
        "pemerintah",
        "perusahaan",
        "menurut",
        "kata",
        "warga",
        "pasar",
        "laporan",
        "pekan",
    ],
    "de": [
        "der",
        "die",
        "das",
        "und",
        "in",
        "den",
        "von",
        "zu",
        "mit",
        "sich",
        "des",
        "auf",
        "für",
        "ist",
        "im",
        "dem",
        "nicht",
        "ein",
        "eine",
        "als",
        "auch",
        "Regierung",
        "Unternehmen",
        "sagte",
        "laut",
        "Markt",
        "Bericht",
        "Woche",
    ],
    "fr": [
        "le",
        "la",
        "les",
        "de",
        "des",
        "et",
        "en",
        "un",
        "une",
        "du",
        "dans",
        "pour",
        "que",
        "qui",
        "sur",
        "par",
        "pas",
        "au",
        "avec",
        "plus",
        "selon",
        "gouvernement",
        "entreprise",
        "marché",
        "rapport",
        "semaine",
        "a",
        "déclaré",
    ],
}
T = TypeVar("T")


# --- synthetic articles ---------------------------------------------------------------------


def _pseudo_words(rng: random.Random, count: int, syllables: tuple[int, int]) -> list[str]:
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*syllables)))] = None
    return list(found)


@dataclass(frozen=True)
class Vocabulary:
    """Names with a Zipf popularity, and per-language word stems."""

    names: list[str]
    name_weights: list[float]  # cumulative
    stems: dict[str, list[str]]
    stem_weights: list[float]  # cumulative
    sentences: dict[str, list[str]]  # filler prose, per language

    @classmethod
    def build(cls, seed: int = 7) -> Vocabulary:
        rng = random.Random(seed)
        names = WELL_KNOWN + [w for w in _pseudo_words(rng, NAME_VOCABULARY, (2, 4)) if len(w) >= 4]
        names = list(dict.fromkeys(names))
        stems = {
            lang: [w[:5] for w in _pseudo_words(rng, STEM_VOCABULARY, (2, 3)) if len(w) >= 4] for lang in LANGUAGES
        }
        shortest = min(len(pool) for pool in stems.values())
        stems = {lang: pool[:shortest] for lang, pool in stems.items()}
        sentences = {
            lang: [" ".join(rng.choices(words, k=14)).capitalize() for _ in range(500)]
            for lang, words in FILLER.items()
        }
        return cls(names, _cumulative(len(names), 1.0, 8), stems, _cumulative(shortest, 0.9, 3), sentences)

    def popular_names(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.names, cum_weights=self.name_weights, k=count)

    def rare_names(self, rng: random.Random, count: int) -> list[str]:
        return [self.names[rng.randrange(2_000, len(self.names))] for _ in range(count)]

    def common_stems(self, rng: random.Random, language: str, count: int) -> list[str]:
        return rng.choices(self.stems[language], cum_weights=self.stem_weights, k=count)


def _cumulative(count: int, exponent: float, offset: int) -> list[float]:
    total, cumulative = 0.0, []
    for rank in range(count):
        total += 1 / (rank + offset) ** exponent
        cumulative.append(total)
    return cumulative


@dataclass(frozen=True)
class Event:
    """What every report of one story shares, whatever its language."""

    actors: list[str]  # the first two or three are the headline's names
    numbers: list[str]
    dates: list[str]
    terms: dict[str, list[str]]  # the story's own word stems, per language


@dataclass(frozen=True)
class SyntheticArticle:
    title: str
    text: str
    language: str
    published_at: datetime
    features: StoryFeatures


def _specific_number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return str(rng.randint(11, 99_999))
    if kind < 0.7:
        return f"{rng.randint(11, 999) / 10:g}"
    return str(rng.randint(11, 999) * 10 ** rng.choice((3, 6, 9)))


def _significant(number: str) -> int:
    return len(number.replace(".", "").strip("0"))


def new_event(vocabulary: Vocabulary, rng: random.Random, start: datetime) -> Event:
    actors = list(
        dict.fromkeys(vocabulary.popular_names(rng, rng.randint(1, 2)) + vocabulary.rare_names(rng, rng.randint(2, 5)))
    )
    rng.shuffle(actors)
    dates = [f"{start.month:02d}-{start.day:02d}"] if rng.random() < 0.6 else []
    if rng.random() < 0.4:
        dates.append(f"{start.year}-{start.month:02d}")
    terms = {lang: _slice(vocabulary.stems[lang], rng, 25) for lang in LANGUAGES}
    numbers = [_specific_number(rng) for _ in range(rng.randint(0, 3))]
    return Event(actors, numbers, dates, terms)


def _slice(pool: list[str], rng: random.Random, length: int) -> list[str]:
    """``length`` consecutive items from a random place: a cheap stand-in for rng.sample."""
    start = rng.randrange(len(pool) - length)
    return pool[start : start + length]


def _title_grams(title: str) -> tuple[str, ...]:
    grams: set[str] = set()
    for word in title.casefold().split():
        if len(word) >= 3:
            padded = f" {word} "
            grams.update(padded[i : i + 4] for i in range(len(padded) - 3))
    return tuple(sorted(grams))


def _title_stems(title: str) -> tuple[str, ...]:
    """The headline's word stems (index keys ``w:``), function words left out as features._title_words does."""
    content = (w for w in title.casefold().split() if len(w) >= 3 and not w.isdigit() and w not in STOPWORDS)
    return tuple(dict.fromkeys(word[:5] for word in content))


def report_of(
    event: Event,
    vocabulary: Vocabulary,
    rng: random.Random,
    published_at: datetime,
    language: str | None = None,
) -> SyntheticArticle:
    """One outlet's report of ``event``: its names and numbers, its own words and extras."""
    lang = language or rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
    headline_names = event.actors[: rng.randint(2, 3)]
    extras = vocabulary.popular_names(rng, rng.randint(5, 20))
    names = list(dict.fromkeys(headline_names + event.actors + extras))[:40]
    common = rng.sample(COMMON_NUMBERS, rng.randint(0, 4))
    numbers = sorted(dict.fromkeys(event.numbers + common), key=lambda n: -_significant(n))[:12]
    filler = FILLER[lang]
    title_words = [n.capitalize() for n in headline_names] + rng.sample(filler, 5)
    title_numbers = event.numbers[:1] if event.numbers and rng.random() < 0.4 else []
    rng.shuffle(title_words)
    title = " ".join(title_words + title_numbers)
    own = event.terms[lang]
    terms = list(dict.fromkeys(_slice(own, rng, 20) + vocabulary.common_stems(rng, lang, 50)))[:60]
    shown = [n.capitalize() for n in names] + numbers
    lines = [" ".join(rng.choices(filler, k=14) + rng.choices(shown, k=4)) for _ in range(rng.randint(6, 10))]
    features = StoryFeatures(
        language=lang,
        published_at=published_at,
        minhash=tuple(rng.getrandbits(32) for _ in range(64)),
        names=tuple(names),
        title_names=tuple(headline_names),
        title_numbers=tuple(title_numbers),
        numbers=tuple(numbers),
        dates=tuple(event.dates),
        title_grams=_title_grams(title),
        terms=tuple(terms),
        title_words=_title_stems(title),
    )
    return SyntheticArticle(title, "\n".join(lines), lang, published_at, features)


def copy_of(original: StoryFeatures, rng: random.Random, published_at: datetime) -> StoryFeatures:
    """A syndicated copy: most shingles kept (estimated Jaccard 0.6-0.9), another headline."""
    kept = rng.uniform(0.6, 0.9)
    minhash = tuple(v if rng.random() < kept else rng.getrandbits(32) for v in original.minhash)
    title = (
        " ".join(n.capitalize() for n in original.title_names) + " " + " ".join(rng.sample(string.ascii_lowercase, 5))
    )
    return replace(
        original,
        minhash=minhash,
        published_at=published_at,
        title_grams=_title_grams(title),
        title_words=_title_stems(title),
    )


def features_json(features: StoryFeatures) -> str:
    """``features.to_json()``, the same text, without dataclasses.asdict's deep copies (20x faster)."""
    data = {field.name: getattr(features, field.name) for field in fields(features)}
    data["published_at"] = features.published_at.isoformat() if features.published_at else None
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# --- building a database --------------------------------------------------------------------


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy stores a DateTime on SQLite (naive UTC, microseconds always written)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


ARTICLE_COLUMNS = (
    "id, feed_id, guid, url, canonical_url, text_hash, title, text, language, published_at, "
    "fetched_at, story_id, story_similarity, story_signal, features"
)
STORY_COLUMNS = "id, title, language, first_seen, last_seen, article_count"


@dataclass(frozen=True)
class ChunkSpec:
    index: int
    size: int  # total articles of the database
    days: float
    directory: str


def _articles_per_story(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4, 5, 6), weights=(55, 20, 12, 7, 4, 2))[0]


Placed = tuple[SyntheticArticle, datetime, float, str]  # report, seen at, similarity, signal


def story_reports(event: Event, vocabulary: Vocabulary, rng: random.Random, clock: datetime) -> list[Placed]:
    """The reports of one story, seen over the following 30 hours, some with a syndicated copy."""
    reports: list[Placed] = []
    for n in range(_articles_per_story(rng)):
        seen_at = min(END, clock + timedelta(hours=0 if n == 0 else rng.uniform(0, 30)))
        report = report_of(event, vocabulary, rng, seen_at - timedelta(minutes=rng.uniform(5, 120)))
        signal = "first article" if n == 0 else "same event: names " + ", ".join(event.actors[:3])
        reports.append((report, seen_at, 1.0 if n == 0 else rng.uniform(0.7, 1.0), signal))
        if rng.random() < 0.1:
            copied = copy_of(report.features, rng, seen_at + timedelta(hours=1))
            copy_seen = min(END, seen_at + timedelta(hours=1))
            reports.append((replace(report, features=copied), copy_seen, 0.8, "near-copy 0.80"))
    return reports


def build_chunk(spec: ChunkSpec) -> str:
    """Articles ``index*CHUNK`` to the next chunk, whole stories, in a staging SQLite file."""
    vocabulary = _vocabulary()
    rng = random.Random(f"chunk-{spec.index}")
    first_id = spec.index * CHUNK + 1
    count = min(CHUNK, spec.size - spec.index * CHUNK)
    period = timedelta(days=spec.days)
    mean_story = 2.1  # articles per story, copies included
    story_step = period * mean_story / spec.size
    articles: list[tuple[Any, ...]] = []
    story_rows: list[tuple[Any, ...]] = []
    keys: list[tuple[str, str, int]] = []
    story_id = first_id  # story ids of a chunk lie inside its article id range: no clash
    clock = END - period + story_step * (first_id / mean_story)
    while len(articles) < count:
        clock += story_step * rng.uniform(0.5, 1.5)
        event = new_event(vocabulary, rng, clock)
        reports = story_reports(event, vocabulary, rng, clock)[: count - len(articles)]
        for report, seen_at, similarity, signal in reports:
            article_id = first_id + len(articles)
            feed = rng.randrange(1, FEEDS + 1)
            url = f"https://outlet{feed}.example/{report.language}/{seen_at:%Y/%m}/{article_id}-{event.actors[0]}"
            text = f"{report.title}\n{report.text}"
            seen_text = _sqlite_time(seen_at)
            articles.append(
                (
                    article_id, feed, url, url, url,
                    hashlib.blake2b(f"{article_id}{text}".encode(), digest_size=16).hexdigest(),
                    report.title, text, report.language, _sqlite_time(report.published_at),
                    seen_text, story_id, similarity, signal, features_json(report.features),
                )
            )  # fmt: skip
            keys.extend((key, seen_text, article_id) for key in set(index_keys(report.features)))
        seen = [seen_at for _, seen_at, _, _ in reports]
        first = reports[0][0]
        story_rows.append(
            (story_id, first.title, first.language, _sqlite_time(min(seen)), _sqlite_time(max(seen)), len(seen))
        )
        story_id += 1
    path = Path(spec.directory) / f"chunk-{spec.index}.db"
    _write_chunk(path, articles, story_rows, keys)
    return str(path)


def _write_chunk(
    path: Path,
    articles: list[tuple[Any, ...]],
    story_rows: list[tuple[Any, ...]],
    keys: list[tuple[str, str, int]],
) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(f"CREATE TABLE article ({ARTICLE_COLUMNS})")
    con.execute(f"CREATE TABLE story ({STORY_COLUMNS})")
    con.execute("CREATE TABLE story_key (key, seen_at, article_id)")
    con.execute("BEGIN")
    con.executemany(f"INSERT INTO article VALUES ({', '.join('?' * 15)})", articles)
    con.executemany("INSERT INTO story VALUES (?, ?, ?, ?, ?, ?)", story_rows)
    con.executemany("INSERT INTO story_key VALUES (?, ?, ?)", keys)
    con.execute("COMMIT")
    con.close()


_VOCABULARY: Vocabulary | None = None


def _vocabulary() -> Vocabulary:
    global _VOCABULARY  # noqa: PLW0603 - built once per worker process
    if _VOCABULARY is None:
        _VOCABULARY = Vocabulary.build()
    return _VOCABULARY


def build_database(path: Path, size: int, days: float) -> float:
    """Create the schema by migration, then bulk-copy ``size`` synthetic articles. Seconds taken."""
    started = time.perf_counter()
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    with transaction(engine) as session:
        session.add_all(
            Feed(id=i, name=f"outlet{i}", url=f"https://outlet{i}.example/feed") for i in range(1, FEEDS + 1)
        )
    engine.dispose()
    staging = path.parent / f"staging-{size}"
    staging.mkdir(exist_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=DELETE", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-1000000"):
        con.execute(f"PRAGMA {pragma}")
    con.execute("ATTACH ? AS staged", (str(staging / "keys.db"),))
    con.execute("PRAGMA staged.journal_mode=OFF")
    con.execute("CREATE TABLE staged.story_key (key, seen_at, article_id)")
    specs = [ChunkSpec(i, size, days, str(staging)) for i in range(-(-size // CHUNK))]
    with multiprocessing.Pool(2) as pool:
        for done, chunk in enumerate(pool.imap(build_chunk, specs), 1):
            con.execute("ATTACH ? AS chunk", (chunk,))
            con.execute("BEGIN")
            con.execute(f"INSERT INTO story ({STORY_COLUMNS}) SELECT * FROM chunk.story")
            con.execute(f"INSERT INTO article ({ARTICLE_COLUMNS}) SELECT * FROM chunk.article")
            con.execute("INSERT INTO staged.story_key SELECT * FROM chunk.story_key")
            con.execute("COMMIT")
            con.execute("DETACH chunk")
            Path(chunk).unlink()
            if done % 10 == 0 or done == len(specs):
                _progress(f"  {size:,}: chunk {done}/{len(specs)} ({time.perf_counter() - started:.0f} s)")
    _progress(f"  {size:,}: sorting story keys ({time.perf_counter() - started:.0f} s)")
    con.execute("BEGIN")  # in primary-key order: the WITHOUT ROWID B-tree is written by appending
    con.execute("INSERT INTO story_key SELECT * FROM staged.story_key ORDER BY key, seen_at, article_id")
    con.execute("COMMIT")
    con.execute("DETACH staged")
    (staging / "keys.db").unlink()
    staging.rmdir()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return time.perf_counter() - started


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds per stored article: wall clock for the total, CPU time for everything else."""

    candidates: list[float]
    decode: list[float]
    assign: list[float]
    total: list[float]
    cpu: list[float]  # CPU time of this process (SQLite runs in it): what other load cannot inflate
    found: list[int]  # candidates handed to assign
    scanned: list[int]  # story_key rows in the window under the article's keys
    read: list[int]  # of those, the rows the lookup reads (each key offers its newest few)


@contextmanager
def _timed(owner: Any, name: str, into: list[float], wrap: Callable[[Any], Any] = lambda f: f) -> Iterator[None]:
    """Temporarily replace ``owner.name`` by a version that adds its CPU time to ``into``."""
    inner = getattr(owner, name)  # as called: bound to the class for a classmethod; loads a lazy name
    original = vars(owner).get(name, inner)  # as stored: a function, or a classmethod object

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()  # CPU time: other processes on the machine do not inflate it
        try:
            return inner(*args, **kwargs)
        finally:
            into.append(time.process_time() - start)

    setattr(owner, name, wrap(timed))
    try:
        yield
    finally:
        setattr(owner, name, original)


@dataclass(frozen=True)
class Planned:
    article: repository.NewArticle
    expected_story: int | None  # None: a new event


def plan_new_articles(engine: Engine, count: int, seed: int = 99) -> list[Planned]:
    """A quarter copies of recent articles, a quarter other reports of recent stories, half new."""
    vocabulary = _vocabulary()
    rng = random.Random(seed)
    with reading(engine) as session:
        recent = session.execute(
            sa.text("SELECT story_id, features FROM article WHERE fetched_at >= :since ORDER BY id DESC LIMIT 2000"),
            {"since": _sqlite_time(END - timedelta(hours=48))},
        ).all()
    picks = rng.sample(list(recent), min(len(recent), count // 2))
    planned = []
    for n in range(count):
        published = END + timedelta(minutes=n)
        if n < len(picks):
            story_id, stored_json = picks[n]
            stored = StoryFeatures.from_json(stored_json)
            if n % 2 == 0:
                features = copy_of(stored, rng, published)
                title, text, language = (
                    "copy",
                    f"copy {n} " + " ".join(rng.choices(FILLER["en"], k=80)),
                    stored.language,
                )
            else:
                specific = [x for x in stored.numbers if _significant(x) >= 2][:3]
                terms = {lang: _slice(vocabulary.stems[lang], rng, 25) for lang in LANGUAGES}
                if stored.language:
                    terms[stored.language] = list(stored.terms[:25])  # same words in the same language
                event = Event(list(stored.names[:5]), specific, list(stored.dates), terms)
                report = report_of(event, vocabulary, rng, published)
                features, title, text, language = report.features, report.title, report.text, report.language
            expected: int | None = story_id
        else:
            report = report_of(new_event(vocabulary, rng, published), vocabulary, rng, published)
            features, title, text, language, expected = (
                report.features,
                report.title,
                report.text,
                report.language,
                None,
            )
        url = f"https://newcomer{n % 40}.example/{language}/{n}"
        planned.append(
            Planned(
                _new_article(n, url, title, f"{title} {n}\n{text}", language, published, features),
                expected,
            )
        )
    return planned


def _new_article(
    n: int, url: str, title: str, text: str, language: str | None, published: datetime, features: StoryFeatures
) -> repository.NewArticle:
    """Article ``n`` as a worker would hand it over, matching the topic once in five."""
    matches = [TopicMatch("ByteDance AI", 0.8, ("bytedance",), snippet="…")] if n % 5 == 0 else []
    analysed = Analysed(Document(title, text, language, url), published, matches, features, text_identity(text))
    return repository.NewArticle(1 + n % FEEDS, url, analysed)


def measure(engine: Engine, planned: Sequence[Planned], updates: bool = False) -> tuple[Timings, int, int]:
    """Store each planned article through store_article; timings, joined as expected, new as expected.

    ``updates``: the topic has ``updates: true``, so an article joining a story first looks up
    whether the story was alerted (and, when it was, its outlets and languages)."""
    assign_story = AssignStory()
    t = Timings([], [], [], [], [], [], [], [])
    right_story = right_new = 0
    with (
        _timed(repository, "_candidates", t.candidates),
        _timed(clustering, "assign", t.assign),
        _timed(StoryFeatures, "from_json", t.decode, staticmethod),
    ):
        for n, item in enumerate(planned):
            decoded_before = len(t.decode)
            now = END + timedelta(minutes=n, seconds=30)
            start, cpu = time.perf_counter(), time.process_time()
            stored = repository.store_article(
                engine, item.article, ROUTES, assign_story, now, updates={"ByteDance AI"} if updates else ()
            )
            t.total.append(time.perf_counter() - start)
            t.cpu.append(time.process_time() - cpu)
            t.found.append(len(t.decode) - decoded_before)
            assert stored is not None, "a synthetic article was taken for a duplicate"
            if item.expected_story is None:
                right_new += stored.new_story
            else:
                right_story += stored.story_id == item.expected_story
            under, read = _rows_under_keys(engine, item.article.features, now - assign_story.window)
            t.scanned.append(under)
            t.read.append(read)
    # The decode time is inside _candidates: report the SQL part without it.
    per_call = [sum(t.decode[i : i + f]) for i, f in _offsets(t.found)]
    t.candidates = [c - d for c, d in zip(t.candidates, per_call, strict=True)]
    t.decode = per_call
    return t, right_story, right_new


def _offsets(counts: Sequence[int]) -> Iterator[tuple[int, int]]:
    start = 0
    for count in counts:
        yield start, count
        start += count


def _rows_under_keys(engine: Engine, features: StoryFeatures, since: datetime) -> tuple[int, int]:
    """story_key rows in the window under the article's keys, and how many of them the lookup reads."""
    keys = sorted(set(index_keys(features)))
    with reading(engine) as session:
        marks = ", ".join(f":k{i}" for i in range(len(keys)))
        query = sa.text(f"SELECT count(*) FROM story_key WHERE key IN ({marks}) AND seen_at >= :since GROUP BY key")
        counts = session.execute(query, {**{f"k{i}": k for i, k in enumerate(keys)}, "since": _sqlite_time(since)})
        per_key = [int(row[0]) for row in counts]
    return sum(per_key), sum(min(n, repository.ROWS_PER_KEY) for n in per_key)


def remove_measured(engine: Engine) -> None:
    """Delete what measuring added (everything after END), so the cached database stays as built.

    Through a plain sqlite3 connection, without foreign-key checks: with them, SQLite
    looks for story_key rows pointing at each deleted article, and story_key has no
    index on article_id, so each delete would scan the whole table.
    """
    engine.dispose()  # no pooled connection holds a transaction open
    assert engine.url.database
    con = sqlite3.connect(engine.url.database, isolation_level=None, timeout=30)
    after = {"end": _sqlite_time(END), "recent": _sqlite_time(END - timedelta(days=4))}
    try:
        con.execute("BEGIN IMMEDIATE")
        added = con.execute("SELECT id, features FROM article WHERE fetched_at > :end", after).fetchall()
        con.executemany(
            "DELETE FROM story_key WHERE key = ? AND seen_at > ?",  # a range of the primary key
            sorted({(key, after["end"]) for _, text in added for key in index_keys(StoryFeatures.from_json(text))}),
        )
        for statement in (
            "DELETE FROM alert WHERE created_at > :end",
            "DELETE FROM match WHERE matched_at > :end",
            "DELETE FROM article WHERE fetched_at > :end",
            # Stories the measured articles joined count them no more; those they started go.
            "UPDATE story SET article_count = (SELECT count(*) FROM article WHERE story_id = story.id), "
            "last_seen = (SELECT max(fetched_at) FROM article WHERE story_id = story.id) "
            "WHERE id IN (SELECT story_id FROM article WHERE fetched_at > :recent) AND last_seen > :end",
            "DELETE FROM story WHERE first_seen > :end",
        ):
            con.execute(statement, after)
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _scalar(session: Session, query: str, n: int) -> int:
    return int(session.execute(sa.text(query), {"n": n}).scalar_one())


def query_plan(engine: Engine) -> list[str]:
    """How SQLite runs the candidate lookup (EXPLAIN QUERY PLAN of the real statement)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "story_key" in statement and not captured:
            captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with reading(engine) as session:
            repository._candidates(session.connection(), ["b0:x", "e:y"], END)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as connection:
        statement, parameters = captured[0]
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return [row[-1] for row in rows]


# --- report ---------------------------------------------------------------------------------


def _ms(values: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


def _size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


FREE_BYTES = "SELECT freelist_count * page_size FROM pragma_freelist_count, pragma_page_size"


def _migrate(engine: Engine, size: int) -> None:
    """Bring a cached database to the current schema: migrated like a user's, not rebuilt."""
    if schema_is_current(engine):
        return
    _progress(f"  {size:,}: migrating the cached database (about 8 minutes at 1M articles)")
    started = time.perf_counter()
    upgrade(engine)
    _progress(f"  {size:,}: migrated in {time.perf_counter() - started:.0f} s")


def run(size: int, days: float, new: int, cache: Path, rebuild: bool, updates: bool = False) -> dict[str, float]:
    path = cache / f"stories-{size}-{days:g}d-v{GENERATOR_VERSION}.db"
    built = Path(f"{path}.built")
    build_seconds = None
    if rebuild or not built.exists():
        built.unlink(missing_ok=True)
        build_seconds = build_database(path, size, days)
        built.write_text(f"{build_seconds:.1f}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        _migrate(engine, size)
        remove_measured(engine)  # left over by an interrupted run
        with reading(engine) as session:
            key_rows = _scalar(session, "SELECT count(*) FROM story_key WHERE article_id <= :n", size)
            since = {"since": _sqlite_time(END - StoryRules().window)}
            in_window = session.execute(
                sa.text("SELECT count(*) FROM article WHERE fetched_at >= :since"), since
            ).scalar_one()
            free_bytes = int(session.execute(sa.text(FREE_BYTES)).scalar_one())
        file_bytes = _size_of(path)
        db_bytes = file_bytes - free_bytes
        planned = plan_new_articles(engine, new)
        warm = plan_new_articles(engine, 20, seed=5)  # first statements prepare and warm the caches
        measure(engine, warm, updates)
        remove_measured(engine)
        timings, right_story, right_new = measure(engine, planned, updates)
        plan = query_plan(engine)
        remove_measured(engine)
    finally:
        engine.dispose()
    median, p95 = _ms(timings.total)
    cand = _ms(timings.candidates)
    decode = _ms(timings.decode)
    assign = _ms(timings.assign)
    rest = [
        tot - c - d - a
        for tot, c, d, a in zip(timings.cpu, timings.candidates, timings.decode, timings.assign, strict=True)
    ]
    joiners = sum(p.expected_story is not None for p in planned)
    print(f"\n== {size:,} stored articles over {days:g} days ({path}) ==")
    when = f"built in {build_seconds:.0f} s" if build_seconds else f"cached, built in {float(built.read_text()):.0f} s"
    print(
        f"database {db_bytes / 2**30:.2f} GiB in use ({db_bytes / size / 1024:.1f} KiB per article), {when}; "
        f"file {file_bytes / 2**30:.2f} GiB (free pages left by a migration; VACUUM returns them)"
    )
    print(f"story_key rows {key_rows:,} ({key_rows / size:.1f} per article); articles in the 72 h window {in_window:,}")
    print(f"store_article, {new} new articles:   median {median:6.2f} ms   p95 {p95:6.2f} ms (wall clock)")
    cpu = _ms(timings.cpu)
    print(f"  CPU time of store_article     median {cpu[0]:6.2f} ms   p95 {cpu[1]:6.2f} ms, of which:")
    print(f"  _candidates SQL               median {cand[0]:6.2f} ms   p95 {cand[1]:6.2f} ms")
    print(f"  decoding candidates' JSON     median {decode[0]:6.2f} ms   p95 {decode[1]:6.2f} ms")
    print(f"  stories.assign                median {assign[0]:6.2f} ms   p95 {assign[1]:6.2f} ms")
    print(f"  rest (dedup, inserts, commit) median {_ms(rest)[0]:6.2f} ms   p95 {_ms(rest)[1]:6.2f} ms")
    scanned, read = sorted(timings.scanned), sorted(timings.read)
    print(
        f"  candidates per article: median {statistics.median(timings.found):.0f}; window rows under "
        f"its keys: median {statistics.median(scanned):.0f}, p95 {scanned[int(0.95 * (len(scanned) - 1))]}; "
        f"read (at most {repository.ROWS_PER_KEY} per key): median {statistics.median(read):.0f}, "
        f"p95 {read[int(0.95 * (len(read) - 1))]}"
    )
    print(
        f"  joined the expected story {right_story}/{joiners}; started a story as expected {right_new}/{new - joiners}"
    )
    print("  candidate lookup plan: " + " | ".join(plan))
    return {"median": median, "p95": p95, "cpu": cpu[0], "candidates": cand[0], "bytes": db_bytes}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="stored articles, comma-separated")
    parser.add_argument("--days", type=float, default=60, help="period the stored articles span")
    parser.add_argument("--new", type=int, default=200, help="articles timed per size")
    parser.add_argument(
        "--cache", type=Path, default=Path("/tmp/monitor-bench-stories"), help="where built databases are kept"
    )
    parser.add_argument("--rebuild", action="store_true", help="build even when a cached database exists")
    parser.add_argument("--updates", action="store_true", help="the matched topic sends story updates")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = {size: run(size, args.days, args.new, args.cache, args.rebuild, args.updates) for size in sizes}
    print("\n== growth ==")
    for smaller, larger in itertools.pairwise(sizes):
        a, b = results[smaller], results[larger]
        ratios = ", ".join(
            f"{name} x{b[name] / a[name]:.2f}" for name in ("median", "p95", "cpu", "candidates", "bytes")
        )
        print(f"{smaller:>9,} -> {larger:>9,} articles (x{larger / smaller:g}): {ratios}")
    largest = results[sizes[-1]]
    verdict = "meets" if largest["median"] <= 5 else "MISSES"
    print(
        f"target <= 5 ms per article at {sizes[-1]:,}: median {largest['median']:.2f} ms wall, "
        f"{largest['cpu']:.2f} ms CPU ({verdict}; load average now {os.getloadavg()[0]:.1f}, "
        f"{os.cpu_count()} cores)"
    )
    print(f"whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
