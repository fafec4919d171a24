"""What the story clusterer keeps of an article: its fingerprint and its anchors.

Two kinds of evidence are extracted once per article and stored as JSON:

* a MinHash signature over word 3-shingles of the article prose, to find copies;
* signals that survive translation, to find the same event told elsewhere: proper
  names (``ByteDance``, ``Toutiao``), numbers normalised across notations
  (``8.000`` = ``8 000`` = ``8,000``; ``10,8 miliar`` = ``10.8 billion``), dates
  (``22/10`` = ``22. Oktober`` = ``October 22``), character 4-grams of the title and
  5-letter word stems (which also catch cognates: sabotase / Sabotage / saboté).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

from monitor.errors import ParseError
from monitor.model import Document
from monitor.text import detect_language, normalize, words

from . import minhash
from .lexicon import GERMAN_COMMON_NOUNS, MONTHS, NOT_NAMES, SCALES, STOPWORDS
from .urls import article_lines

NUM_PERM = 64
SHINGLE_WORDS = 3
MAX_NAMES = 40
MAX_NUMBERS = 12
MAX_TERMS = 60
STEM_LENGTH = 5

_PERMUTATIONS = minhash.Permutations.create(NUM_PERM, seed=20241022)


@dataclass(frozen=True, slots=True)
class StoryFeatures:
    """The evidence ``assign`` compares; JSON-serialisable, stored beside the article."""

    language: str | None
    published_at: datetime | None
    minhash: tuple[int, ...]  # empty when the article has no prose to shingle
    names: tuple[str, ...]  # normalised proper names, most mentioned first
    title_names: tuple[str, ...]  # the names the headline puts forward
    title_numbers: tuple[str, ...]  # the numbers and "MM-DD" dates the headline puts forward
    numbers: tuple[str, ...]  # canonical decimal strings, e.g. "8000", "10800000000"
    dates: tuple[str, ...]  # "MM-DD" when the day is known, "YYYY-MM" when the year is
    title_grams: tuple[str, ...]  # character 4-grams of the normalised headline
    terms: tuple[str, ...]  # 5-letter stems of content words, most frequent first

    def to_json(self) -> str:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}  # asdict deep-copies
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StoryFeatures:
        try:
            data = json.loads(text)
            published = data["published_at"]
            return cls(
                language=data["language"],
                published_at=datetime.fromisoformat(published) if published else None,
                **{
                    key: tuple(data[key])
                    for key in (
                        "minhash",
                        "names",
                        "title_names",
                        "title_numbers",
                        "numbers",
                        "dates",
                        "title_grams",
                        "terms",
                    )
                },
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ParseError(f"Stored story features are not valid: {error}.") from error


def story_features(doc: Document, published_at: datetime | None) -> StoryFeatures:
    """Extract the story evidence of one article (pure, a few milliseconds)."""
    lines = article_lines(doc.text) or [line for line in doc.text.splitlines() if line.strip()]
    language = doc.language or detect_language(f"{doc.title}\n{doc.text}")
    prose = "\n".join(lines)
    folded_prose = normalize(prose)
    prose_words = words(prose)
    title_words = set(words(doc.title))
    names, strong = _names(lines, language, title_words)
    # The headline's names are the main actors: they lead the list (and the index keys).
    names = sorted(names, key=lambda name: name not in title_words)
    trusted = strong if language == "de" else set(names)
    title_names = [name for name in names if name in title_words and name in trusted]
    title_names += [w for w in _strong_tokens(doc.title) if w not in title_names]
    dates, number_text = _dates(f"{normalize(doc.title)}\n{folded_prose}")
    title_dates, title_number_text = _dates(normalize(doc.title))
    title_numbers = [*_numbers(title_number_text), *(d for d in title_dates if len(d) == 5)]
    return StoryFeatures(
        language=language,
        published_at=published_at,
        minhash=_minhash(prose_words),
        names=tuple(names[:MAX_NAMES]),
        title_names=tuple(title_names[:8]),
        title_numbers=tuple(title_numbers[:6]),
        numbers=tuple(_numbers(number_text)[:MAX_NUMBERS]),
        dates=tuple(dates),
        title_grams=tuple(sorted(_grams(doc.title))),
        terms=tuple(_terms([*words(doc.title), *prose_words])),
    )


def _minhash(tokens: list[str]) -> tuple[int, ...]:
    if not tokens:
        return ()
    size = min(SHINGLE_WORDS, len(tokens))
    shingles = {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}
    return minhash.signature((shingle.encode("utf-8") for shingle in shingles), _PERMUTATIONS)


_NOT_NAMES = NOT_NAMES | MONTHS.keys()
# Names are folded token by token; the same tokens recur across articles, so cache.
_fold = lru_cache(maxsize=1 << 16)(normalize)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?:;])\s+|[\"“”„«»()\[\]|]+\s*")
_TOKEN = re.compile(r"[^\W\d_][\w]*")
_TITLE_CASE_SHARE = 0.6
_NOUN_SUFFIXES = ("ung", "heit", "keit", "schaft", "tion", "sion", "tat", "ismus", "nis", "tum")


@lru_cache(maxsize=1 << 16)  # the same words recur in every article
def _is_strong(token: str) -> bool:
    """ByteDance, TikTok, iPhone, GPU, LEGO: shaped like a name in any language."""
    letters = [c for c in token if c.isalpha()]
    if len(letters) < 3:
        return False
    return any(c.isupper() for c in token[1:]) and (any(c.islower() for c in token) or len(letters) >= 3)


def _strong_tokens(text: str) -> list[str]:
    found = []
    for token in _TOKEN.findall(text):
        folded = _fold(token)
        if _is_strong(token) and folded not in _NOT_NAMES and folded not in found:
            found.append(folded)
    return found


def _common_german_noun(folded: str) -> bool:
    return folded in GERMAN_COMMON_NOUNS or folded.endswith(_NOUN_SUFFIXES)


def _names(lines: list[str], language: str | None, title_words: set[str]) -> tuple[list[str], set[str]]:
    """Proper names, most frequent first, and those among them shaped like names anywhere.

    A name is a capitalised word that does not open a sentence, or a word with an inner
    capital or in capitals (TikTok, GPU). A sentence opener counts when the word is also
    capitalised elsewhere or in the headline. German capitalises every noun, so there
    only the name-shaped ones are trusted for the headline check.
    """
    counts: Counter[str] = Counter()
    openers: Counter[str] = Counter()
    strong: set[str] = set()
    german = language == "de"
    for line in lines:
        tokens = _TOKEN.findall(line)
        capitalised = sum(token[0].isupper() for token in tokens)
        headline_like = 4 <= len(tokens) <= 20 and capitalised / len(tokens) >= _TITLE_CASE_SHARE
        for sentence in _SENTENCE_BREAK.split(line):
            for position, token in enumerate(_TOKEN.findall(sentence)):
                folded = _fold(token)
                if folded in _NOT_NAMES or len(folded) < 3 or headline_like:
                    continue
                if _is_strong(token):
                    counts[folded] += 1
                    strong.add(folded)
                elif token[0].isupper():
                    if german and (folded in GERMAN_COMMON_NOUNS or folded.endswith(_NOUN_SUFFIXES)):
                        continue
                    (counts if position > 0 else openers)[folded] += 1
    lower = {token for line in lines for token in _TOKEN.findall(line) if token.islower()}
    for folded, count in openers.items():
        if folded in counts or (folded in title_words and not german and folded not in lower):
            counts[folded] += count
    return [name for name, _ in counts.most_common()], strong


_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(rf"\b(?P<day>\d{{1,2}})\.?\s+(?P<month>{_MONTH})\b\.?(?:\s+(?P<year>\d{{4}}))?"),
    re.compile(rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})\b(?:,?\s+(?P<year>\d{{4}}))?"),
    re.compile(rf"\b(?P<month>{_MONTH})\s+(?P<year>(?:19|20)\d\d)\b"),
    re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mm>\d\d)-(?P<day>\d\d)\b"),
    re.compile(r"\b(?P<day>\d{1,2})/(?P<mm>\d{1,2})(?:/(?P<year>\d{4}))?\b"),
)


def _dates(text: str) -> tuple[list[str], str]:
    """Dates mentioned in ``text`` (normalised) and the text with them blanked out."""
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(start < match.end() and match.start() < end for start, end in spans):
                continue
            parts = match.groupdict()
            month = MONTHS[parts["month"]] if parts.get("month") else int(parts["mm"])
            day = int(parts["day"]) if parts.get("day") else None
            if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
                continue
            spans.append(match.span())
            if day is not None:
                found.append(f"{month:02d}-{day:02d}")
            if parts.get("year"):
                found.append(f"{parts['year']}-{month:02d}")
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return list(dict.fromkeys(found)), text


_NUMBER = re.compile(
    r"(?<![\w.,])(?:"
    r"(?P<dot>\d{1,3}(?:\.\d{3})+(?:,\d+)?)"  # 8.000 / 1.234,5 (id, de)
    r"|(?P<comma>\d{1,3}(?:,\d{3})+(?:\.\d+)?)"  # 8,000 / 1,234.5 (en)
    r"|(?P<space>\d{1,3}(?: \d{3})+(?:,\d+)?)"  # 8 000 (fr)
    r"|(?P<plain>\d+(?:[.,]\d+)?)"  # 8000 / 10,8 / 1.2
    r")(?![\d:])(?:\s*(?:%|persen|prozent|pour cent|percent))?(?:\s+(?P<scale>[a-z]+))?"
)


def _numbers(text: str) -> list[str]:
    """Numbers in ``text``, as canonical values, most specific first; years and 0-9 skipped."""
    found: list[str] = []
    for match in _NUMBER.finditer(text):
        if match.group("dot"):
            value = float(match.group("dot").replace(".", "").replace(",", "."))
        elif match.group("comma"):
            value = float(match.group("comma").replace(",", ""))
        elif match.group("space"):
            value = float(match.group("space").replace(" ", "").replace(",", "."))
        else:
            plain = match.group("plain")
            if len(plain) == 4 and plain.isdigit() and 1900 <= int(plain) <= 2099:
                continue  # a year: dates carry it
            value = float(plain.replace(",", "."))
        scale = SCALES.get(match.group("scale") or "", 1)
        if scale == 1 and value < 10 and value.is_integer():
            continue  # "two people", "3 goals": too common to tell events apart
        value = round(value * scale, 3)
        canonical = str(int(value)) if value.is_integer() else f"{value:g}"
        if canonical not in found:
            found.append(canonical)
    return sorted(found, key=lambda number: -len(number.strip("0").replace(".", "")))


def _grams(title: str) -> set[str]:
    grams: set[str] = set()
    for word in words(title):
        if len(word) < 3 or word in STOPWORDS:
            continue
        padded = f" {word} "
        grams.update(padded[i : i + 4] for i in range(len(padded) - 3))
    return grams


def _terms(tokens: list[str]) -> list[str]:
    counts = Counter(
        word[:STEM_LENGTH] for word in tokens if len(word) >= 4 and not word.isdigit() and word not in STOPWORDS
    )
    return [term for term, _ in counts.most_common(MAX_TERMS)]
