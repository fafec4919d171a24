"""Which literals a document must contain for a query to have any chance (Lucene Monitor's
"presearcher" idea), so one automaton pass finds the few topics worth evaluating.

For each query we pick a set of literals such that every matching document contains
at least one of them: a term gives its own literal, OR gives the union of its
branches, AND and NEAR give the cheapest of their required parts (the one least
likely to occur: long words and phrases), NOT gives nothing. A query whose every
required part is lang: or site: has no literal and is evaluated for every document.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.text import is_nospace_token
from monitor.topics.evaluate import (
    AndMatcher,
    Matcher,
    NearMatcher,
    OrMatcher,
    TermMatcher,
    is_stemmable,
)
from monitor.topics.nodes import Term


@dataclass(frozen=True, slots=True)
class Requirement:
    """One literal whose presence makes a topic a candidate."""

    literal: int  # id of the surface literal in the automaton
    infix: int | None  # id of the in-compound literal (triggers in compounding languages)
    stem_word: str | None  # folded word whose stem also triggers (stemmed topics only)


def _cost(term: Term) -> float:
    """Guess of how often a term occurs, with no corpus to count: short words are common,
    phrases rare, and a word the query capitalises is usually a name, rarer than a word
    of the same length (Lucene Monitor also weighs terms by length)."""
    letters = 0.0
    for word in term.words:
        weight = 2.5 if is_nospace_token(word.norm[:1]) else 1.0
        if word.raw[:1].isupper():
            weight *= 1.5
        letters += weight * len(word.norm) * (0.5 if word.prefix else 1.0)
    phrase_bonus = 2.0 if len(term.words) > 1 else 1.0
    return 1.0 / (max(letters, 1.0) * phrase_bonus) ** 2


def _term_requirement(matcher: TermMatcher, stem: bool) -> Requirement:
    stem_word = None
    if stem:
        words = [w.norm for w in matcher.term.words if is_stemmable(matcher.term, w)]
        stem_word = max(words, key=len) if words else None
    return Requirement(matcher.literal, matcher.infix, stem_word)


def requirements(matcher: Matcher, stem: bool) -> tuple[list[Requirement], float] | None:
    """The literals one of which any matching document contains, and their total cost;
    None when the query has no such literals (it must be evaluated for every document)."""
    if isinstance(matcher, TermMatcher):
        return [_term_requirement(matcher, stem)], _cost(matcher.term)
    if isinstance(matcher, OrMatcher):
        union: list[Requirement] = []
        total = 0.0
        for child in matcher.children:
            found = requirements(child, stem)
            if found is None:
                return None
            union.extend(found[0])
            total += found[1]
        return union, total
    if isinstance(matcher, AndMatcher):
        options = [requirements(child, stem) for child in matcher.required]
    elif isinstance(matcher, NearMatcher):
        options = [requirements(matcher.left, stem), requirements(matcher.right, stem)]
    else:
        return None
    known = [option for option in options if option is not None]
    return min(known, key=lambda option: option[1]) if known else None
