"""What the story clusterer keeps of an article: its fingerprint and its anchors.

Two kinds of evidence are extracted once per article and stored as JSON:

* a MinHash signature over word 3-shingles of the article prose, to find copies;
* signals that survive translation, to find the same event told elsewhere: proper
  names (``ByteDance``, ``Toutiao``), numbers normalised across notations
  (``8.000`` = ``8 000`` = ``8,000``; ``10,8 miliar`` = ``10.8 billion``), dates
  (``22/10`` = ``22. Oktober`` = ``October 22``), the weekdays the lede names (a daily
  report of Monday is not Tuesday's), the countries named as language-neutral codes
  (``Deutschland`` = ``Германии`` = ``德国`` = DE, countries.py), character 4-grams and
  word stems of the title, and 5-letter word stems of the text (which also catch
  cognates: sabotase / Sabotage / saboté).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

from monitor.errors import ParseError
from monitor.model import Document
from monitor.text import detect_language, normalize, words

from . import minhash
from .countries import countries, country_named
from .lexicon import GERMAN_COMMON_NOUNS, MONTHS, NOT_NAMES, SCALES, STOPWORDS, WEEKDAYS
from .urls import article_lines

NUM_PERM = 64
SHINGLE_WORDS = 3
MAX_NAMES = 40
MAX_NUMBERS = 12
MAX_TERMS = 60
STEM_LENGTH = 5
COUNTRY_MARK = "@"  # a name that names a country, as its code: libia, Libya, Libyen -> @ly
MAX_COUNTRIES = 8  # enough to rank them; the decision reads the first three

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
    weekdays: tuple[int, ...] = ()  # ISO weekdays the lede names (absent from features stored before them)
    countries: tuple[str, ...] = ()  # ISO codes of the countries named, most named first (countries.py)
    title_words: tuple[str, ...] = ()  # 5-letter stems of the headline's content words

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
                weekdays=tuple(data.get("weekdays", ())),
                countries=tuple(data.get("countries", ())),
                title_words=tuple(data.get("title_words", ())),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ParseError(f"Stored story features are not valid: {error}.") from error


def story_features(doc: Document, published_at: datetime | None) -> StoryFeatures:
    """Extract the story evidence of one article (pure, about 1 ms for 4 kB of prose)."""
    lines = article_lines(doc.text) or [line for line in doc.text.splitlines() if line.strip()]
    language = doc.language or detect_language(f"{doc.title}\n{doc.text}")
    prose = "\n".join(lines)
    prose_words = words(prose)
    title_word_list = words(doc.title)
    title_words = {_latin(word) for word in title_word_list}
    names, strong = _names(lines, language)
    names += _cjk_names(doc.title, prose)
    # The headline's names are the main actors: they lead the list (and the index keys).
    names = sorted(names, key=lambda name: name not in title_words)
    # A country is one name in every language (Libia, Libya, Libyen: @ly).
    names = list(dict.fromkeys(_as_country(name) for name in names))
    trusted = {_as_country(name) for name in strong} if language == "de" else set(names)
    title_words |= {_as_country(word) for word in title_words}
    title_names = [name for name in names if name in title_words and name in trusted]
    title_names += [w for w in _strong_tokens(doc.title) if w not in title_names]
    folded_title = normalize(_blank_contacts(doc.title))
    folded = f"{folded_title}\n{normalize(_blank_contacts(prose))}"
    dates, number_text, number_starts = _dates(folded)
    title_dates, title_number_text, title_number_starts = _dates(folded_title)
    title_numbers = [*_numbers(title_number_text, title_number_starts), *(d for d in title_dates if len(d) == 5)]
    return StoryFeatures(
        language=language,
        published_at=published_at,
        minhash=_minhash(prose_words),
        names=tuple(names[:MAX_NAMES]),
        title_names=tuple(title_names[:8]),
        title_numbers=tuple(title_numbers[:6]),
        numbers=tuple(_numbers(number_text, number_starts)[:MAX_NUMBERS]),
        dates=tuple(dates),
        title_grams=tuple(sorted(_grams(title_word_list) | _cjk_grams(doc.title))),
        terms=tuple(_terms([*title_word_list, *prose_words], _cjk_bigrams(f"{doc.title}\n{prose}"))),
        weekdays=_weekdays(folded[:LEDE_CHARS]),
        countries=countries([*title_word_list, *prose_words], f"{doc.title}\n{prose}", language)[:MAX_COUNTRIES],
        title_words=_title_words(title_word_list),
    )


def _as_country(name: str) -> str:
    code = country_named(name)
    return f"{COUNTRY_MARK}{code.lower()}" if code else name


def _title_words(title_words: list[str]) -> tuple[str, ...]:
    """The headline's content words as stems, in order (CJK characters are left to title_grams)."""
    content = (word for word in title_words if len(word) >= 3 and not word.isdigit() and word not in STOPWORDS)
    return tuple(dict.fromkeys(word[:STEM_LENGTH] for word in content))


def _minhash(tokens: list[str]) -> tuple[int, ...]:
    if not tokens:
        return ()
    size = min(SHINGLE_WORDS, len(tokens))
    # Runs of ``size`` words, joined in C loops: zip stops where the last shifted copy ends.
    shingles = map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False))
    # A repeated shingle changes no minimum: hashing it twice costs less than a set.
    return minhash.signature(map(str.encode, shingles), _PERMUTATIONS)


_NOT_NAMES = NOT_NAMES | MONTHS.keys()
# Names are folded token by token; the same tokens recur across articles, so cache.
_fold = lru_cache(maxsize=1 << 16)(normalize)
# Where a sentence ends: [.!?:;] before a space, or a quote, bracket or bar. (Splitting
# at the one character, not at r"(?<=[.!?:;])\s+|[quotes]+\s*", leaves the same words
# in each piece, and a pattern that opens with a character class is scanned at C speed.)
_QUOTES = re.escape('"“”„«»()[]|')
_SENTENCE_BREAK = re.compile(f"[.!?:;{_QUOTES}](?:(?<=[{_QUOTES}])|(?=\\s))")
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


def _names(lines: list[str], language: str | None) -> tuple[list[str], set[str]]:
    """Proper names, most frequent first, and those among them shaped like names anywhere.

    A name is a word shaped like one (TikTok, GPU), or a capitalised word that is written
    with its capital in the middle of a sentence and never in lower case in this text
    (which rules out a headline's or a sentence's first word, and ordinary words in
    title-case lines). A sentence opener counts only when the same word is also a name
    mid-sentence. German capitalises every noun, so there only the name-shaped ones are
    trusted for the headline. Cyrillic names are transliterated, so *Путин* = *Putin*.
    """
    counts: Counter[str] = Counter()
    openers: Counter[str] = Counter()
    strong: set[str] = set()
    lower_forms: dict[str, str] = {}  # folded name -> its spelling in lower case
    written_lower: set[str] = set()
    german = language == "de"
    for line in lines:
        sentences = [_TOKEN.findall(sentence) for sentence in _SENTENCE_BREAK.split(line)]
        in_line = sum(map(len, sentences))
        capitalised = sum(map(str.isupper, map(itemgetter(0), chain(*sentences)))) if 4 <= in_line <= 20 else 0
        if capitalised and capitalised / in_line >= _TITLE_CASE_SHARE:
            continue  # a line in title case (a menu, a headline): its capitals tell nothing
        for sentence in sentences:
            for position, token in enumerate(sentence):
                if token.islower():
                    written_lower.add(token)
                    continue  # no capital at all: neither capitalised nor shaped like a name
                folded = _fold(token)
                if folded in _NOT_NAMES or len(folded) < 3 or (not folded.isascii() and _CJK_CHAR.search(folded)):
                    continue  # (CJK has no capitals; _cjk_names finds its names)
                if _is_strong(token):
                    counts[folded] += 1
                    strong.add(folded)
                elif token[0].isupper():
                    if german and (folded in GERMAN_COMMON_NOUNS or folded.endswith(_NOUN_SUFFIXES)):
                        continue
                    (counts if position > 0 else openers)[folded] += 1
                    lower_forms[folded] = token.lower()
    for folded, count in openers.items():
        if folded in counts:
            counts[folded] += count
    names = [
        _latin(name)
        for name, _ in counts.most_common()
        if name in strong or lower_forms.get(name, "") not in written_lower
    ]
    return list(dict.fromkeys(names)), {_latin(name) for name in strong}


# Cyrillic to Latin (a simplified scientific transliteration), so a name written in
# Russian or Ukrainian meets its Latin spelling half-way: Путин -> putin, Зеленский -> zelenskii.
_CYRILLIC = str.maketrans(
    {
        **dict(zip("абвгдезийклмнопрстуфыэ", "abvgdeziiklmnoprstufye", strict=True)),
        **{"ё": "e", "ж": "zh", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ю": "iu", "я": "ia"},
        **{"ъ": "", "ь": "", "і": "i", "ї": "i", "є": "ie", "ґ": "g"},
    }
)


def _latin(folded: str) -> str:
    return folded.translate(_CYRILLIC) if not folded.isascii() else folded


_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,}")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
CJK_NAME_MIN_COUNT = 2


def _cjk_bigrams(text: str) -> list[str]:
    """Character bigrams of the Chinese, Japanese and Korean runs of ``text`` (no spaces there)."""
    return [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]


def _cjk_names(title: str, prose: str) -> list[str]:
    """CJK has no capitals: the headline's character bigrams that the text repeats stand for its names."""
    title_bigrams = dict.fromkeys(_cjk_bigrams(title))
    if not title_bigrams:
        return []
    counts = Counter(_cjk_bigrams(prose))
    return [gram for gram in title_bigrams if counts[gram] >= CJK_NAME_MIN_COUNT]


def _cjk_grams(title: str) -> set[str]:
    return {f"~{gram}" for gram in _cjk_bigrams(title)}


# Digits that identify a contact, not an event: phone and fax numbers (with a country
# code, a leading 0 or a label) and postcodes before a town name. Police releases from
# different towns share their force's switchboard number.
_CONTACT_LABELS = (
    r"(?:tel|telefon|telephone|phone|fax|mobil|mobile|tél|téléphone|teléfono|telefono|тел|телефон|电话|ext|durchwahl)"
)
_CONTACT = re.compile(
    _CONTACT_LABELS + r"\.?\s*[:.]?\s*[+(]?\d[\d ()./-]{2,}\d"
    r"|(?<![\w.,])(?:\+\d{1,3}[ .-]?\d|\(?0\d{1,4}\)?(?: ?/ ?|[ -])\d)[\d /-]{4,}\d"  # 0162 / 201 3290
    r"|(?<![\w.,])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"  # (323) 890-5500, 323-890-5500
    r"|(?<![\w.,-])\d{1,4}(?:-\d{2,4}){3}(?![\w-])"  # 1-300-88-7827 (four groups: no date has them)
    r"|(?<![\w.,/])(?:\d{2,3}/|\(\d{2,3}\) ?)\d{3}[ -]?\d{2}[ -]?\d{2}(?![\d/])"  # 22/123 45 67, (22) 123-45-67
    r"|(?-i:(?:^|(?<=, ))(?:[A-Z]-)?\d{5}(?= [A-ZÄÖÜÉ][a-zäöüéèß]+))"  # 68161 Mannheim
    r"|(?-i:(?<=[A-Z]{2} )\d{5}(?:-\d{4})?\b)",  # MN 55414
    re.IGNORECASE | re.MULTILINE,
)
_LABEL_ENDING = re.compile(_CONTACT_LABELS + r"\Z", re.IGNORECASE)  # a label ending at the search's endpos
_LONGEST_LABEL, _SHORTEST_LABEL = 9, 2  # "telephone", "电话"


def _blank_contacts(text: str) -> str:
    """``text`` with phone, fax and postcode digits blanked (same length, so offsets hold).

    ``_CONTACT.sub`` would try its seven patterns at every character (a third of
    ``story_features``' time); every match holds a run of digits, so they are tried only
    where one can start near such a run (``_contact_starts``), from left to right as
    ``sub`` does: the same matches (tests/test_story_features.py compares the two).
    """
    pieces, done = [], 0
    for start in _contact_starts(text):
        if start >= done and (match := _CONTACT.match(text, start)):
            pieces += [text[done:start], " " * (match.end() - start)]
            done = match.end()
    return "".join([*pieces, text[done:]]) if pieces else text


def _contact_starts(text: str) -> list[int]:
    """Every place where a ``_CONTACT`` match can start, from the runs of digits each one has.

    A match starts at the first digit of a run, at a "+" or "(" just before it, at a
    postcode's "D-" before it, or at a label ("Tel.: +49...") that ends where the dots,
    colons, spaces, "+" and "(" before the run begin (a label ends in a letter).
    """
    starts = set()
    for digit in _digit_run_starts(text):
        starts.add(digit)
        if digit and text[digit - 1] in "+(":
            starts.add(digit - 1)
        if digit >= 2 and text[digit - 1] == "-" and "A" <= text[digit - 2] <= "Z":
            starts.add(digit - 2)
        end = digit
        while end and (text[end - 1] in ".:+(" or text[end - 1].isspace()):  # isspace is re's \s
            end -= 1
        if end and text[end - 1].isalpha():
            starts.update(
                start
                for start in range(max(0, end - _LONGEST_LABEL), end - _SHORTEST_LABEL + 1)
                if _LABEL_ENDING.match(text, start, end)
            )
    return sorted(starts)


LEDE_CHARS = 1000  # the headline and first paragraphs, where a report says which day it is about
_WEEKDAY_NUMBER = {normalize(name): day for name, day in WEEKDAYS.items()}
# A weekday is a whole word (CJK ones are not words: no spaces there). The "(?<!\w)" in
# front of each name is checked in _weekdays instead: a pattern that opens with a
# look-behind is tried at every character (1.6 ms per lede), one that opens with the
# names' first letters is scanned for them at C speed.
_WEEKDAY = re.compile(
    "|".join(
        re.escape(name) if _CJK_CHAR.match(name) else rf"{re.escape(name)}(?!\w)"
        for name in sorted(_WEEKDAY_NUMBER, key=len, reverse=True)
    )
)


def _weekdays(lede: str) -> tuple[int, ...]:
    """The ISO weekdays (1 = Monday) named in ``lede`` (normalised text), ascending."""
    days, position = set(), 0
    while match := _WEEKDAY.search(lede, position):
        start = match.start()
        if start and _is_word_char(lede[start - 1]) and not _CJK_CHAR.match(lede, start):
            position = start + 1  # inside a word ("Montagsdemo" is no Monday): look on from the next character
            continue
        days.add(_WEEKDAY_NUMBER[match.group()])
        position = match.end()
    return tuple(sorted(days))


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what re's \w matches in str patterns


_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
# Each pattern, and whether it starts with the month (else with a run of digits).
_DATE_PATTERNS = (
    (re.compile(rf"\b(?P<day>\d{{1,2}})\.?\s+(?P<month>{_MONTH})\b\.?(?:\s+(?P<year>\d{{4}}))?"), False),
    (re.compile(rf"\b(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})\b(?:,?\s+(?P<year>\d{{4}}))?"), True),
    (re.compile(rf"\b(?P<month>{_MONTH})\s+(?P<year>(?:19|20)\d\d)\b"), True),
    (re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<mm>\d\d)-(?P<day>\d\d)\b"), False),
    (re.compile(r"\b(?P<day>\d{1,2})/(?P<mm>\d{1,2})(?:/(?P<year>\d{4}))?\b"), False),
    (re.compile(r"\b(?P<day>\d{1,2})\.(?P<mm>\d{1,2})\.(?:(?P<year>(?:19|20)\d\d)\b)?"), False),
    # Chinese and Japanese: 2019年12月31日, 12 月 31 日, 2020年1月
    (re.compile(r"(?:(?P<year>(?:19|20)\d\d)\s*年\s*)?(?P<mm>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号]"), False),
    (re.compile(r"(?P<year>(?:19|20)\d\d)\s*年\s*(?P<mm>\d{1,2})\s*月"), False),
)


_DIGIT_RUN_START = re.compile(r"\d(?<!\d\d)")  # a digit first: the scan skips to digits at C speed
_LONGEST_MONTH = max(map(len, MONTHS))


def _digit_run_starts(text: str) -> list[int]:
    return [match.start() for match in _DIGIT_RUN_START.finditer(text)]


def _month_starts(text: str, digit_starts: list[int]) -> list[int]:
    """Where a month can start that is followed, after an optional dot and spaces, by
    the digits at one of ``digit_starts``: a whole word that is a key of MONTHS."""
    starts = []
    for digit in digit_starts:
        end = digit
        while end and text[end - 1].isspace():  # what re calls whitespace
            end -= 1
        if end == digit or not end:
            continue
        if text[end - 1] == ".":
            end -= 1
        start = end
        while start and end - start <= _LONGEST_MONTH and (text[start - 1].isalnum() or text[start - 1] == "_"):
            start -= 1  # back over word characters, at most one more than the longest month has
        if text[start:end] in MONTHS:
            starts.append(start)
    return starts


def _matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern that can only match at ``starts`` (sorted).

    The date and number patterns open with a word boundary or a look-behind, so the regex
    engine cannot skip ahead and tries them at every character; trying them only where
    they can begin is many times cheaper.
    """
    end = 0
    for start in starts:
        if start >= end and (match := pattern.match(text, start)):
            yield match
            end = match.end()


def _dates(text: str) -> tuple[list[str], str, list[int]]:
    """Dates mentioned in ``text`` (normalised), the text with them blanked out, and the
    places in it where a run of digits may begin (for ``_numbers``)."""
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    digit_starts = _digit_run_starts(text)
    if not digit_starts:
        return [], text, []  # every pattern needs a digit
    month_starts = _month_starts(text, digit_starts)
    for pattern, month_first in _DATE_PATTERNS:
        for match in _matches_at(pattern, text, month_starts if month_first else digit_starts):
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
    pieces, last = [], 0
    for start, end in sorted(spans):
        pieces += [text[last:start], " " * (end - start)]
        last = end
    # Blanking keeps the digit runs outside dates, and may start one where a date ended.
    number_starts = sorted(digit_starts + [end for _, end in spans])
    return list(dict.fromkeys(found)), "".join([*pieces, text[last:]]), number_starts


_NUMBER = re.compile(  # not after a word and a hyphen: COVID-19, G-20, MH-17 are names
    # not inside a word either, but after a CJK character (no spaces there: 贷款108亿)
    r"(?<![.,])(?<![^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af])(?<![^\W\d_]-)(?:"
    r"(?P<dot>\d{1,3}(?:\.\d{3})+(?:,\d+)?)"  # 8.000 / 1.234,5 (id, de)
    r"|(?P<comma>\d{1,3}(?:,\d{3})+(?:\.\d+)?)"  # 8,000 / 1,234.5 (en)
    r"|(?P<space>\d{1,3}(?: \d{3})+(?:,\d+)?)"  # 8 000 (fr)
    r"|(?P<plain>\d+(?:[.,]\d+)?)"  # 8000 / 10,8 / 1.2
    r")(?![\d:])(?:\s*(?:%|persen|prozent|pour cent|percent))?"
    r"(?:\s*(?P<cjk_scale>[万亿])|\s+(?P<scale>[^\W\d_]+(?: millones)?))?"  # 1,5 Mrd, 3 млн, 80亿, 2 mil millones
)


def _numbers(text: str, digit_starts: list[int]) -> list[str]:
    """Numbers in ``text``, as canonical values, most specific first; years and 0-9 skipped.

    ``digit_starts``: where the runs of digits of ``text`` begin (more places do no harm).
    """
    found: list[str] = []
    for match in _matches_at(_NUMBER, text, digit_starts):  # a number starts a run of digits
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
        scale = SCALES.get(match.group("cjk_scale") or match.group("scale") or "", 1)
        if scale == 1 and value < 10 and value.is_integer():
            continue  # "two people", "3 goals": too common to tell events apart
        value = round(value * scale, 3)
        canonical = str(int(value)) if value.is_integer() else f"{value:g}"
        if canonical not in found:
            found.append(canonical)
    return sorted(found, key=lambda number: -len(number.strip("0").replace(".", "")))


def _grams(title_words: list[str]) -> set[str]:
    grams: set[str] = set()
    for word in title_words:
        if len(word) < 3 or word in STOPWORDS:
            continue
        padded = f" {word} "
        grams.update(padded[i : i + 4] for i in range(len(padded) - 3))
    return grams


def _terms(tokens: list[str], cjk_bigrams: list[str]) -> list[str]:
    counts = Counter(
        [word[:STEM_LENGTH] for word in tokens if len(word) >= 4 and not word.isdigit() and word not in STOPWORDS]
    )
    counts.update(cjk_bigrams)
    return [term for term, _ in counts.most_common(MAX_TERMS)]
