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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations

from .features import NUM_PERM, StoryFeatures

LSH_BANDS = 16
LSH_ROWS = NUM_PERM // LSH_BANDS
# Evidence score of "same event" (see docs/stories.md): points per shared name (at most
# NAME_CAP names count), per shared number or day, and for headline / text similarity.
NAME_CAP = 5.0
W_NAME = 0.12
W_SPECIFIC = 0.25
W_HEADLINE = 0.6
W_TEXT = 0.6
KEY_NAMES = 6  # pairs of an article's six leading names are keys
KEY_NUMBERS = 3  # its most specific numbers are keys, alone and with its two leading names
KEY_NAMES_WITH_NUMBERS = 2


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=6).hexdigest()


def index_keys(features: StoryFeatures) -> list[str]:
    """Keys under which the store files an article; articles sharing one are candidates.

    ``b<band>:<hash>`` keys are LSH bands (copies share at least one with high
    probability); ``e:<hash>`` keys are pairs of anchors (two names, a name and a
    number), which survive translation but, unlike a bare company name, are rare;
    ``n:<hash>`` keys are numbers with at least two significant digits (``58.6``,
    ``96214691``; never ``8000``).
    """
    keys = []
    signature = features.minhash
    if len(signature) == NUM_PERM:
        for band in range(LSH_BANDS):
            rows = signature[band * LSH_ROWS : (band + 1) * LSH_ROWS]
            keys.append(f"b{band}:{_digest(','.join(map(str, rows)))}")
    names = sorted(features.names[:KEY_NAMES])
    keys.extend(f"e:{_digest(a + '|' + b)}" for a, b in combinations(names, 2))
    numbers = [n for n in features.numbers if _significant_digits(n) >= 2][:KEY_NUMBERS]
    keys.extend(f"n:{_digest(number)}" for number in numbers)
    keys.extend(
        f"e:{_digest(name + '|' + number)}" for name in features.names[:KEY_NAMES_WITH_NUMBERS] for number in numbers
    )
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


@dataclass(frozen=True, slots=True)
class StoryRules:
    """Thresholds of the story decision; every field can be set in the configuration.

    window: only articles published (or seen) this close to the new one are compared.
    copy_threshold: estimated Jaccard similarity of word 3-shingles from which an
        article is a copy of another (syndication, a re-edited version).
    event_threshold: evidence score (shared names, numbers, dates, headline and text
        similarity; see docs/stories.md) from which two articles report the same event.
    """

    window: timedelta = timedelta(hours=72)
    copy_threshold: float = 0.5
    event_threshold: float = 0.68


@dataclass(frozen=True, slots=True)
class _Evidence:
    score: float
    names: tuple[str, ...]
    numbers: tuple[str, ...]
    dates: tuple[str, ...]
    headline: float
    text: float
    missing: tuple[str, ...]  # headline names of one article absent from the other

    def describe(self) -> str:
        parts = []
        if self.names:
            parts.append("names " + ", ".join(self.names[:4]))
        if self.numbers:
            parts.append("numbers " + ", ".join(self.numbers[:3]))
        if self.dates:
            parts.append("date " + ", ".join(self.dates[:2]))
        if self.headline >= 0.2:
            parts.append(f"headline {self.headline:.2f}")
        if self.text >= 0.2:
            parts.append(f"text {self.text:.2f}")
        return "; ".join(parts) or "nothing in common"


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


def _missing_headline_names(a: StoryFeatures, b: StoryFeatures) -> list[str]:
    """Names ``a``'s headline puts forward that ``b`` never mentions, even approximately."""
    known = set(b.names) | set(b.title_names)
    missing = []
    for name in a.title_names:
        if name in known or any(_same_name(name, other) for other in known):
            continue
        missing.append(name)
    return missing


def _missing_headline_numbers(a: StoryFeatures, b: StoryFeatures, same_language: bool) -> list[str]:
    """Numbers and dates ``a``'s headline announces that ``b`` does not have.

    A date never changes in translation; a number may (an amount converted to the
    local currency), so numbers only count between articles in the same language.
    """
    missing = []
    for item in a.title_numbers:
        if len(item) == 5 and item[2] == "-":
            found = item in b.dates
        else:
            found = not same_language or item in b.numbers
        if not found:
            missing.append(item)
    return missing


def _same_name(a: str, b: str) -> bool:
    """Spelling variants across languages: Selenskyj / Zelensky, Praktikant / Praktikanten."""
    if min(len(a), len(b)) >= 5 and (a.startswith(b) or b.startswith(a)):
        return True
    if abs(len(a) - len(b)) > 3 or min(len(a), len(b)) < 5:
        return False
    grams_a = {a[i : i + 3] for i in range(len(a) - 2)}
    grams_b = {b[i : i + 3] for i in range(len(b) - 2)}
    return 2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b)) >= 0.6


def evidence(
    a: StoryFeatures,
    b: StoryFeatures,
    rarity: dict[str, float] | None = None,
    *,
    threshold: float | None = None,
) -> _Evidence:
    """How strongly ``a`` and ``b`` look like the same event, with the reasons.

    ``rarity`` down-weights anchors that several competing stories share (a company
    every candidate mentions says nothing about which story this is). With a
    ``threshold``, headlines are only checked for what the other article lacks when the
    score reaches it (below it the pair is rejected anyway; the check is the costly part).
    """
    weights = rarity or {}
    b_names, b_numbers, b_dates = set(b.names), set(b.numbers), set(b.dates)
    names = tuple(n for n in a.names if n in b_names)
    numbers = tuple(n for n in a.numbers if n in b_numbers)
    dates = tuple(d for d in a.dates if d in b_dates)
    headline = _dice(a.title_grams, b.title_grams)
    shared_terms = set(a.terms) & set(b.terms)
    text = len(shared_terms) / math.sqrt(len(a.terms) * len(b.terms)) if a.terms and b.terms else 0
    name_points = min(NAME_CAP, sum(weights.get(n, 1.0) for n in names))
    specific_points = sum(weights.get(n, 1.0) for n in numbers) + sum(
        weights.get(d, 1.0) * (1.0 if len(d) == 5 else 0.5) for d in dates
    )
    score = W_NAME * name_points + W_SPECIFIC * specific_points + W_HEADLINE * headline + W_TEXT * text
    if threshold is not None and score < threshold:
        return _Evidence(score, names, numbers, dates, headline, text, ())
    # Translations rename countries and institutions (Japan / Jepang, EZB / ECB), so the
    # headline check only applies between articles written in the same language.
    same_language = a.language is not None and a.language == b.language
    missing = tuple(_missing_headline_numbers(a, b, same_language))
    missing += tuple(_missing_headline_numbers(b, a, same_language))
    if same_language:
        missing += tuple(_missing_headline_names(a, b) + _missing_headline_names(b, a))
    return _Evidence(score, names, numbers, dates, headline, text, missing)


def _rarity(candidates: Sequence[Candidate]) -> dict[str, float]:
    """1 / number of candidate stories mentioning each anchor."""
    stories: dict[str, set[int]] = {}
    for candidate in candidates:
        f = candidate.features
        for anchor in {*f.names, *f.numbers, *f.dates}:
            stories.setdefault(anchor, set()).add(candidate.story_id)
    return {anchor: 1.0 / len(ids) for anchor, ids in stories.items()}


def assign(features: StoryFeatures, candidates: Sequence[Candidate], rules: StoryRules = StoryRules()) -> Assignment:
    """Choose the story a new article joins among its candidates, or None for a new story."""
    in_window = [c for c in candidates if _within(features, c.features, rules.window)]
    best_copy: tuple[float, Candidate] | None = None
    for candidate in in_window:
        similarity = copy_similarity(features, candidate.features)
        if similarity >= rules.copy_threshold and (best_copy is None or similarity > best_copy[0]):
            best_copy = (similarity, candidate)
    if best_copy is not None:
        return Assignment(best_copy[1].story_id, best_copy[0], f"near-copy {best_copy[0]:.2f}")
    rarity = _rarity(in_window)
    best: tuple[float, Candidate, _Evidence] | None = None
    for candidate in in_window:
        found = evidence(features, candidate.features, rarity, threshold=rules.event_threshold)
        if found.missing or found.score < rules.event_threshold:
            continue
        if best is None or found.score > best[0]:
            best = (found.score, candidate, found)
    if best is None:
        return Assignment(None, 0.0, "new story")
    score, chosen, found = best
    return Assignment(chosen.story_id, min(1.0, score), f"same event: {found.describe()}")


def _within(a: StoryFeatures, b: StoryFeatures, window: timedelta) -> bool:
    if a.published_at is None or b.published_at is None:
        return True  # the store already limits candidates to recently seen articles
    return abs(a.published_at - b.published_at) <= window
