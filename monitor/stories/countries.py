"""Countries named in an article, as language-neutral keys: Deutschland = Allemagne = Германия = 德国 = DE.

A country is the commonest name two reports of one event share across languages, and
unlike a person's name it is not found by the capitals rule (``features._names``) nor
transliterated: each language has its own word for it. The words are CLDR's territory
names (through ``babel``) in the languages of the feeds, plus a few short forms CLDR
does not list as the main name (USA, ABD, EEUU, США, 香港).

An article is read with the names of its own language and English ones (USA, EU are
written everywhere); a word is a name whole, or with one of its language's case endings
(Германии, Rosji, Chinach, Deutschlands; Arabic والصين, "and China"). CJK names are
found as substrings, since CJK text has no spaces. Adjectives and capitals (*chinois*,
*Pékin*, *Москве* = CN, RU) come from the table in demonyms.py, in every language.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from monitor.text import normalize, words

from . import demonyms

# The languages of the feeds this team monitors (and of the tuning pairs).
LANGUAGES = ("en", "de", "fr", "es", "it", "pl", "ru", "tr", "ar", "zh", "id")
# Short forms news writes more often than CLDR's main name (every language reads them).
ALIASES = {
    "US": ("usa", "abd", "eeuu", "сша", "美國"),
    "GB": ("uk", "britain", "grossbritannien", "grande-bretagne", "gran bretana", "gran bretagna", "britanya"),
    "HK": ("hong kong", "hongkong", "гонконг", "香港"),
    "KR": ("южная корея", "南韩"),
    "KP": ("north korea", "nordkorea", "coree du nord", "северная корея", "朝鲜"),
    "AE": ("uae", "оаэ"),
    "EU": ("eu", "ue", "евросоюз"),
}
# Codes that are no place a report is about, and names that are mostly other words.
NOT_COUNTRIES = frozenset({"EZ", "QO", "ZZ", "XA", "XB", "UM", "AC", "CP", "DG", "EA", "IC", "TA", "CQ"})
COMMON_WORDS = frozenset({"reunion", "man", "guinea", "jersey", "turkey", "georgia", "jordan", "того", "gana"})
# Case endings after the name without its final vowel (Rosja -> rosj-i, Германия -> германи-и).
ENDINGS = {
    "ru": ("а", "я", "у", "ю", "е", "и", "ы", "ой", "ей", "ом", "ем", "ии", "ию", "ией", "ах", "ях", "ам", "ям"),
    "pl": ("a", "u", "y", "i", "ie", "e", "em", "ii", "ia", "ach", "ami", "om"),
    "uk": ("а", "я", "у", "ю", "е", "і", "и", "ої", "ою", "ом", "ії", "ію"),
}
MIN_STEM = 4  # a shorter stem is a common word (Dania -> "dan-e", data; Самоа -> "сам-ом")
FINAL_VOWELS = "aeiouyаяоеиыйьії"
SUFFIXES = {"de": ("s", "es"), "ar": ("ي", "ية")}  # after the whole name: Deutschlands; اليمني
ARABIC_PREFIXES = ("و", "ب", "ف", "ل")  # and, in, so, for: written joined to the next word
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True, slots=True)
class _Names:
    """The country names one language reads, each with its code."""

    single: dict[str, str]  # one-word names, whole
    stems: dict[str, str]  # one-word names without their final vowel (languages with ENDINGS)
    several: dict[str, list[tuple[tuple[str, ...], str]]]  # by first word, longest first
    cjk: dict[str, str]


@cache
def _cldr(language: str) -> dict[str, str]:
    """CLDR's name of each country in ``language``, folded: {"deutschland": "DE", ...}."""
    from babel import Locale  # only the processes that extract story features need CLDR

    found: dict[str, str] = {}
    for code, name in Locale.parse(language).territories.items():
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES:
            found.setdefault(_fold(_PARENTHESES.sub("", name)), code)
    return found


def _fold(name: str) -> str:
    return normalize(name) if _CJK.search(name) else " ".join(words(name))


@cache
def _names(language: str | None) -> _Names:
    chosen = (language, "en") if language in LANGUAGES else LANGUAGES
    names: dict[str, str] = {}
    for each in chosen:
        for name, code in _cldr(each).items():
            names.setdefault(name, code)
    for table in (ALIASES, demonyms.WORDS, demonyms.ARABIC, demonyms.CJK):
        for code, aliases in table.items():
            for alias in aliases:
                names.setdefault(_fold(alias), code)
    single: dict[str, str] = {}
    several: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    cjk: dict[str, str] = {}
    for name, code in names.items():
        if name in COMMON_WORDS:
            continue
        if _CJK.search(name):
            cjk[name] = code
        elif " " in name:
            several.setdefault(name.split()[0], []).append((tuple(name.split()), code))
        else:
            single[name] = code
    for named in several.values():
        named.sort(key=lambda item: -len(item[0]))
    stems = {}
    if language in ENDINGS:
        own = {name.rstrip(FINAL_VOWELS): code for name, code in _cldr(language).items() if name in single}
        stems = {stem: code for stem, code in own.items() if len(stem) >= MIN_STEM}
    return _Names(single, stems, several, cjk)


def countries(tokens: Sequence[str], text: str, language: str | None) -> tuple[str, ...]:
    """The country codes named in ``tokens`` (``monitor.text.words`` of the text) and, for
    CJK, in ``text`` itself; most named first."""
    names = _names(language)
    endings = ENDINGS.get(language or "", ())
    suffixes = SUFFIXES.get(language or "", ())
    inflected = bool(endings or suffixes or language == "ar")  # else a word is a name only whole
    single, several = names.single, names.several
    found: Counter[str] = Counter()
    after = 0  # the end of the last multi-word name
    for i, token in enumerate(tokens):  # most words are no name: one or two dict look-ups each
        if i < after:
            continue
        code = None
        for named, named_code in several.get(token, ()):  # "united states" before "united"
            if tuple(tokens[i : i + len(named)]) == named:
                code, after = named_code, i + len(named)
                break
        code = code or single.get(token) or (_inflected(token, names, endings, suffixes) if inflected else None)
        if code is None and len(token) >= _SHORTEST_STEM:
            code = _demonym(token)
        if code:
            found[code] += 1
    if names.cjk and _CJK.search(text):
        folded = normalize(text)
        for name, code in names.cjk.items():
            if count := folded.count(name):
                found[code] += count
    return tuple(code for code, _ in found.most_common())


_DEMONYM_STEMS = {stem: code for code, stems in demonyms.STEMS.items() for stem in stems}
_STEM_LENGTHS = sorted({len(stem) for stem in _DEMONYM_STEMS})
_SHORTEST_STEM = _STEM_LENGTHS[0]


@lru_cache(maxsize=1 << 16)  # most tokens are no demonym, and the same words recur in every article
def _demonym(token: str) -> str | None:
    """The code of the country whose adjective or capital ``token`` is a form of (chinesischen, Москве)."""
    for length in _STEM_LENGTHS:
        if length > len(token):
            break
        if len(token) - length <= demonyms.MAX_ENDING and (code := _DEMONYM_STEMS.get(token[:length])):
            return code
    return None


def _inflected(token: str, names: _Names, endings: Sequence[str], suffixes: Sequence[str]) -> str | None:
    """The code of the name ``token`` is a form of: with a joined Arabic prefix, a suffix, or a case ending."""
    if token[:1] in ARABIC_PREFIXES and (code := names.single.get(token[1:])):
        return code
    for suffix in suffixes:
        if token.endswith(suffix) and (code := names.single.get(token[: -len(suffix)])):
            return code
    for ending in endings:
        if token.endswith(ending) and (code := names.stems.get(token[: -len(ending)])):
            return code
    return names.stems.get(token) if endings else None


# Common words that, written as a name (capitalised mid-sentence, never in lower case in
# the text: features._names), are the country: "Turkey", not the bird.
NAMES_OF_COUNTRIES = {"turkey": "TR"}


@cache  # names recur in every article
def country_named(name: str) -> str | None:
    """The code of the country a name (one folded word, any language) names, if any:
    *libia*, *Libya*, *Turkey*, *turquia*, *chinois* -> LY, LY, TR, TR, CN."""
    return NAMES_OF_COUNTRIES.get(name) or next(iter(countries([name], name, None)), None)
