"""Levels 2 and 3 of story clustering: index keys and the decision ``assign`` makes.

``index_keys`` gives the store a few selective keys per article (LSH bands of the
MinHash signature; pairs of anchors such as two names, or a name and a number). The
store looks up the recent articles sharing keys with a new one and hands the best of
them to ``assign``, which decides, without any I/O, whether the new article joins one
of their stories. docs/stories.md explains the rule to users.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache
from itertools import combinations
from typing import overload

from . import decision
from .features import COUNTRY_MARK, NUM_PERM, STEM_LENGTH, StoryFeatures
from .rules import StoryRules

COPY_SIGNAL = "near-copy"  # how an assignment's signal starts when the article is a copy (level 2)
LSH_BANDS = 16
LSH_ROWS = NUM_PERM // LSH_BANDS
KEY_NAMES = 6  # pairs of an article's six leading names are keys
KEY_SINGLE_NAMES = 3  # and its three leading names alone (the store reads each key's newest rows only)
KEY_NUMBERS = 3  # its most specific numbers are keys, alone and with its two leading names
KEY_NAMES_WITH_NUMBERS = 2
KEY_TERMS = 5  # pairs of its five commonest word stems: for scripts without capitals (Arabic), and retellings
KEY_TITLE_WORDS = 4  # its headline's first four stems of five letters: retellings whose names and wording differ


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def index_keys(features: StoryFeatures) -> list[str]:
    """Keys under which the store files an article; articles sharing one are candidates.

    ``b<band>:<hash>`` keys are LSH bands (copies share at least one with high
    probability); ``e:<hash>`` keys are pairs of anchors (two names, a name and a
    number), which survive translation but, unlike a bare company name, are rare;
    ``n:<hash>`` keys are numbers with at least two significant digits (``58.6``,
    ``96214691``; never ``8000``); ``t:<hash>`` keys are pairs of the commonest word stems,
    which find retellings in one language whose leading names differ, and articles in
    scripts without capitals, which have no names; ``w:<hash>`` keys are the headline's
    word stems (*Vulkan* / *volcano* do not meet, *Assange* / *Assanges* do).
    """
    keys = []
    signature = features.minhash
    if len(signature) == NUM_PERM:
        for band in range(LSH_BANDS):
            rows = signature[band * LSH_ROWS : (band + 1) * LSH_ROWS]
            keys.append(f"b{band}:{_digest(','.join(map(str, rows)))}")
    names = sorted(features.names[:KEY_NAMES])
    keys.extend(f"e:{_digest(a + '|' + b)}" for a, b in combinations(names, 2))
    keys.extend(f"s:{_digest(name)}" for name in features.names[:KEY_SINGLE_NAMES])
    numbers = [n for n in features.numbers if _significant_digits(n) >= 2][:KEY_NUMBERS]
    keys.extend(f"n:{_digest(number)}" for number in numbers)
    keys.extend(
        f"e:{_digest(name + '|' + number)}" for name in features.names[:KEY_NAMES_WITH_NUMBERS] for number in numbers
    )
    keys.extend(f"t:{_digest(a + '|' + b)}" for a, b in combinations(sorted(features.terms[:KEY_TERMS]), 2))
    title_stems = [stem for stem in features.title_words if len(stem) == STEM_LENGTH][:KEY_TITLE_WORDS]
    keys.extend(f"w:{_digest(stem)}" for stem in title_stems)
    return keys


def _significant_digits(number: str) -> int:
    return len(number.replace(".", "").strip("0"))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored article the store found through shared keys, with the story it belongs to."""

    article_id: int
    story_id: int
    features: StoryFeatures


@dataclass(frozen=True, slots=True)
class Assignment:
    """The decision for a new article: join ``story_id``, or start a story when None."""

    story_id: int | None
    similarity: float  # in [0, 1]: to the closest article of the chosen story
    signal: str  # why, for people: "near-copy 0.93", "same event: names …; numbers …"


SIGNAL_NAMES = (
    "names",
    "name_share",
    "numbers",
    "dates",
    "headline",
    "text_same_language",
    "text_across_languages",
    "headline_names_missing",
    "headline_numbers_missing",
    "dates_differ",
    "weekdays_shared",
    "days_apart",
    "copy",
    "countries",
    "headline_wording",
    "chinese_japanese_korean",
)


@dataclass(frozen=True, slots=True)
class Signals:
    """What two articles share, each signal in [0, 1]; ``decision.COEFFICIENTS`` weighs them."""

    names: float  # shared names, 5 or more = 1
    name_share: float  # shared names / names of the article that has fewer (its ten leading ones, 3 at least)
    numbers: float  # shared specific numbers, 3 or more = 1
    dates: float  # shared days (1 each) and months (0.5 each), 2 or more = 1
    headline: float  # Dice coefficient of the headlines' character n-grams
    text_same_language: float  # cosine of the commonest word stems, when both are in one language
    text_across_languages: float  # the same across two languages (cognates: sabotase / Sabotage)
    headline_names_missing: float  # share of one headline's names the other article never mentions
    headline_numbers_missing: float  # the same for the headline's numbers and days (numbers: one language only)
    dates_differ: float  # 1 when both mention days and none of them is the same
    weekdays_shared: float  # 1 when both ledes name a weekday and one of them is the same
    days_apart: float  # the gap between their publication times in days (0 when one is unknown), 3 or more = 1
    copy: float  # estimated Jaccard similarity of word 3-shingles
    countries: float  # countries among the three each names most that both name, 3 = 1 (language-neutral: DE, CN)
    headline_wording: float  # Dice coefficient of the headlines' word stems, when both are in one language
    chinese_japanese_korean: float  # 1 when one is written in CJK: its wording is compared on character pairs
    shared: tuple[str, ...] = ()  # the shared names, numbers and dates, for people

    def values(self) -> tuple[float, ...]:
        return _signal_values(self)

    def describe(self) -> str:
        """``names 0.60, numbers 0.33, headline 0.41 (trump, biden, 8000)``: the signals that fired."""
        fired = ", ".join(
            f"{name} {value:.2f}" for name, value in zip(SIGNAL_NAMES, self.values(), strict=True) if value
        )
        shared = f" ({', '.join(self.shared[:6])})" if self.shared else ""
        return (fired or "nothing in common") + shared


_signal_values = operator.attrgetter(*SIGNAL_NAMES)


def copy_similarity(a: StoryFeatures, b: StoryFeatures) -> float:
    """Estimated Jaccard similarity of the two articles' word 3-shingles."""
    if len(a.minhash) != NUM_PERM or len(b.minhash) != NUM_PERM:
        return 0.0
    shared: int = sum(map(operator.eq, a.minhash, b.minhash))  # lengths checked above
    return shared / NUM_PERM


def _dice(a: Sequence[str], b: Sequence[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * len(set(a) & set(b)) / (len(a) + len(b))


def _cosine(a: Collection[str], b: Collection[str]) -> float:
    """Cosine of two sets of terms (each term once)."""
    return len(set(a) & set(b)) / math.sqrt(len(a) * len(b)) if a and b else 0.0


COGNATE_LETTERS = 4


@lru_cache(maxsize=1 << 12)  # a new article is compared with up to 20 candidates
def _cognates(terms: tuple[str, ...]) -> frozenset[str]:
    """Word stems cut to four letters, for texts in two languages: a word and its cognate
    often part at the fifth (*salud* / *salute*, *crimen* / *crimini*, *menos* / *meno*).
    Out of fold, averaged over six splits into folds, this gives cross-language F1 0.003 to
    0.02 more than five letters at the same thresholds."""
    return frozenset(term[:COGNATE_LETTERS] for term in terms)


LEADING_COUNTRIES = 3  # the countries an article is about; further ones are mentioned in passing
NAMES_FOR_SHARE = 10
FEWEST_NAMES_FOR_SHARE = 3  # one name shared out of one is no evidence that all of them are


def _missing_share(a: StoryFeatures, b_names: set[str], b_countries: Sequence[str]) -> float:
    """The share of ``a``'s headline names that ``b`` never mentions, even approximately."""
    if not a.title_names:
        return 0.0
    missing = [n for n in a.title_names if n not in b_names and not _mentioned(n, b_names, b_countries)]
    return len(missing) / len(a.title_names)


def _mentioned(name: str, names: set[str], named_countries: Sequence[str]) -> bool:
    """Whether an article mentions ``name`` in another spelling (*Selenskyj* / *Zelensky*) or,
    for a country, in any words (a Chinese text names Pakistan in characters)."""
    if name.startswith(COUNTRY_MARK):
        return name[len(COUNTRY_MARK) :].upper() in named_countries
    return any(_same_name(name, other) for other in names)


def _missing_numbers_share(a: StoryFeatures, b: StoryFeatures, same_language: bool) -> float:
    """The share of the numbers and days ``a``'s headline announces that ``b`` lacks.

    A day never changes in translation; a number may (an amount converted to the local
    currency), so numbers only count between articles in the same language.
    """
    checked = [item for item in a.title_numbers if same_language or _is_day(item)]
    if not checked:
        return 0.0
    missing = [item for item in checked if item not in (b.dates if _is_day(item) else b.numbers)]
    return len(missing) / len(checked)


CJK_LANGUAGES = frozenset(("zh", "ja", "ko"))


def _in_cjk(features: StoryFeatures) -> bool:
    """Chinese, Japanese or Korean: their terms and headline grams are character pairs, whose
    similarities run lower than those of words (the fit gives such pairs an offset of their own)."""
    if features.language is not None:
        return features.language in CJK_LANGUAGES
    return any(gram.startswith("~") for gram in features.title_grams)  # features._cjk_grams marks them


def _days_apart(a: StoryFeatures, b: StoryFeatures) -> float:
    if a.published_at is None or b.published_at is None:
        return 0.0
    return min(1.0, abs((a.published_at - b.published_at).total_seconds()) / (3 * 86400))


def _is_day(item: str) -> bool:
    return len(item) == 5 and item[2] == "-"


def _same_name(a: str, b: str) -> bool:
    """Spelling variants across languages: Selenskyj / Zelensky, Praktikant / Praktikanten."""
    if min(len(a), len(b)) >= 5 and (a.startswith(b) or b.startswith(a)):
        return True
    if abs(len(a) - len(b)) > 3 or min(len(a), len(b)) < 5:
        return False
    grams_a, grams_b = _trigrams(a), _trigrams(b)
    return 2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b)) >= 0.6


@lru_cache(maxsize=1 << 16)  # the same names recur in every comparison
def _trigrams(name: str) -> frozenset[str]:
    return frozenset(name[i : i + 3] for i in range(len(name) - 2))


@overload
def signals(a: StoryFeatures, b: StoryFeatures) -> Signals: ...
@overload
def signals(a: StoryFeatures, b: StoryFeatures, at_least: float) -> Signals | None: ...
def signals(a: StoryFeatures, b: StoryFeatures, at_least: float | None = None) -> Signals | None:
    """What ``a`` and ``b`` share, as the signals the decision weighs (symmetric).

    With ``at_least``, None when the probability cannot reach it whatever the headline
    names check says: that check is the costly part, and most candidates fall short before it.
    """
    b_names, b_numbers, b_dates = set(b.names), set(b.numbers), set(b.dates)
    names = [n for n in a.names if n in b_names]
    numbers = [n for n in a.numbers if n in b_numbers]
    dates = [d for d in a.dates if d in b_dates]
    fewer = min(len(a.names[:NAMES_FOR_SHARE]), len(b.names[:NAMES_FOR_SHARE]))
    leading = set(a.names[:NAMES_FOR_SHARE]) & set(b.names[:NAMES_FOR_SHARE])
    same_language = a.language is not None and a.language == b.language
    text = _cosine(a.terms, b.terms) if same_language else _cosine(_cognates(a.terms), _cognates(b.terms))
    day_points = sum(1.0 if len(d) == 5 else 0.5 for d in dates)
    a_days, b_days = {d for d in a.dates if len(d) == 5}, {d for d in b.dates if len(d) == 5}
    found = Signals(
        names=min(1.0, len(names) / 5),
        name_share=len(leading) / max(fewer, FEWEST_NAMES_FOR_SHARE) if fewer else 0.0,
        numbers=min(1.0, len(numbers) / 3),
        dates=min(1.0, day_points / 2),
        headline=_dice(a.title_grams, b.title_grams),
        text_same_language=text if same_language else 0.0,
        text_across_languages=0.0 if same_language else text,
        headline_names_missing=0.0,
        headline_numbers_missing=max(
            _missing_numbers_share(a, b, same_language), _missing_numbers_share(b, a, same_language)
        ),
        dates_differ=1.0 if a_days and b_days and not a_days & b_days else 0.0,
        weekdays_shared=1.0 if set(a.weekdays) & set(b.weekdays) else 0.0,
        days_apart=_days_apart(a, b),
        copy=copy_similarity(a, b),
        countries=len(set(a.countries[:LEADING_COUNTRIES]) & set(b.countries[:LEADING_COUNTRIES])) / LEADING_COUNTRIES,
        headline_wording=_dice(a.title_words, b.title_words) if same_language else 0.0,
        chinese_japanese_korean=1.0 if _in_cjk(a) or _in_cjk(b) else 0.0,
        shared=(*names[:4], *numbers[:2], *dates[:2]),
    )
    # The missing headline names can only lower the probability when their weight is negative.
    most_it_adds = max(0.0, decision.COEFFICIENTS[_HEADLINE_NAMES_MISSING])
    if at_least is not None and _score(found) + most_it_adds < _logit(at_least):
        return None
    a_known, b_known = set(a.names) | set(a.title_names), b_names | set(b.title_names)
    missing = max(_missing_share(a, b_known, b.countries), _missing_share(b, a_known, a.countries))
    return replace(found, headline_names_missing=missing) if missing else found


_HEADLINE_NAMES_MISSING = SIGNAL_NAMES.index("headline_names_missing")


@lru_cache(maxsize=16)  # called with the threshold, once per candidate
def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


# The similarities of wording are weighed by their square root: the first shared words of
# two headlines or texts say more than the next ones (out of fold, 0.02-0.03 more precision
# at the same recall than the plain similarities).
_ROOTED = frozenset(("headline", "text_same_language", "text_across_languages"))
_ROOTED_AT = tuple(name in _ROOTED for name in SIGNAL_NAMES)


def model_inputs(found: Signals) -> tuple[float, ...]:
    """The values the fitted coefficients multiply: the signals, wording similarities square-rooted."""
    return tuple(map(_input, found.values(), _ROOTED_AT))


def _input(value: float, rooted: bool) -> float:
    return math.sqrt(value) if rooted else value


def probability(found: Signals) -> float:
    """The fitted probability that two articles with these signals report the same event."""
    return 1.0 / (1.0 + math.exp(-_score(found)))


def _score(found: Signals) -> float:
    """The log-odds that the two report the same event."""
    terms: Iterator[float] = map(operator.mul, decision.COEFFICIENTS, model_inputs(found))
    return decision.INTERCEPT + sum(terms)


DEFAULT_RULES = StoryRules()


def assign(features: StoryFeatures, candidates: Sequence[Candidate], rules: StoryRules = DEFAULT_RULES) -> Assignment:
    """Choose the story a new article joins among its candidates, or None for a new story."""
    in_window = [
        c for c in candidates if _within(features, c.features, rules.window) and not other_day(features, c.features)
    ]
    best_copy: tuple[float, Candidate] | None = None
    for candidate in in_window:
        similarity = copy_similarity(features, candidate.features)
        if similarity >= rules.copy_threshold and (best_copy is None or similarity > best_copy[0]):
            best_copy = (similarity, candidate)
    if best_copy is not None:
        return Assignment(best_copy[1].story_id, best_copy[0], f"{COPY_SIGNAL} {best_copy[0]:.2f}")
    best: tuple[float, Candidate, Signals] | None = None
    for candidate in in_window:
        found = signals(features, candidate.features, at_least=rules.event_threshold)
        if found is None:
            continue
        p = probability(found)
        if p >= rules.event_threshold and (best is None or p > best[0]):
            best = (p, candidate, found)
    if best is None:
        return Assignment(None, 0.0, "new story")
    p, chosen, found = best
    return Assignment(chosen.story_id, p, f"same event p={p:.2f}: {found.describe()}")


def other_day(a: StoryFeatures, b: StoryFeatures) -> bool:
    """Whether the two ledes name weekdays and none is the same: Monday's market report and
    Tuesday's, in the same words with other figures. Such articles are never one story,
    however alike: an additive score cannot say "everything matches but the day"."""
    return bool(a.weekdays and b.weekdays and not set(a.weekdays) & set(b.weekdays))


def _within(a: StoryFeatures, b: StoryFeatures, window: timedelta) -> bool:
    if a.published_at is None or b.published_at is None:
        return True  # the store already limits candidates to recently seen articles
    return abs(a.published_at - b.published_at) <= window
