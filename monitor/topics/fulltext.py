"""What a full-text index can rule out for a query: the words a matching article must hold.

Search (monitor.store.search) asks a full-text index for the articles holding these words,
then lets the topic matcher decide on each, so the index only has to be *conservative*:
every article the query matches must satisfy the narrowing, never the reverse. The index
holds the matcher's own folded words (monitor.text), so a word means the same to both.

- A term needs its words in order (a phrase), split before each wildcard word after the
  first, since an index phrase can end in a prefix only at its last word.
- A word that may match inside a compound (German ``Verbot`` in *TikTokverbot*) needs
  itself or one of the longer stored words containing it: see ``expand``.
- AND needs each part (NOT parts need nothing), OR one of its branches, NEAR both sides,
  within the distance when both are phrases (or OR groups of them).
- ``lang:``, ``site:``, letter case and the exact NEAR and ONEAR rules are the matcher's:
  they narrow nothing here. A query with nothing left to narrow on gives None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

from monitor.model import Field
from monitor.topics.evaluate import is_compound_candidate
from monitor.topics.nodes import And, Near, Node, Not, Or, Term

NEAR_PAIRS = 16  # phrase pairs one NEAR may expand to; beyond, both sides are only required


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words next to each other in one field (any field when None); the last may be a prefix."""

    words: tuple[str, ...]
    prefix: bool = False
    field: Field | None = None


@dataclass(frozen=True, slots=True)
class Compound:
    """``word``, or any longer word containing it (compounding-language articles only)."""

    word: str
    field: Field | None = None


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Need, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Need, ...]


@dataclass(frozen=True, slots=True)
class Close:
    """One of ``left`` at most ``distance`` words from one of ``right``, in one field."""

    left: tuple[Phrase, ...]
    right: tuple[Phrase, ...]
    distance: int
    field: Field | None = None


Need = Phrase | Compound | AllOf | AnyOf | Close


def narrowing(node: Node) -> Need | None:
    """What every article matching ``node`` holds; None when the index can rule nothing out."""
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, And):
        return _all([narrowing(child) for child in node.children if not isinstance(child, Not)])
    if isinstance(node, Or):
        branches = [narrowing(child) for child in node.children]
        return _any(branches)
    if isinstance(node, Near):
        return _near(node)
    return None  # lang:, site:, NOT: facts the index does not hold, or nothing required


def _term(term: Term) -> Need | None:
    words = [word for word in term.words if word.norm]
    if not words:
        return None
    if len(words) == 1 and is_compound_candidate(term, words[0]) and not words[0].prefix:
        return Compound(words[0].norm, term.field)
    chunks: list[Phrase] = []
    current: list[str] = []
    for word in words:
        current.append(word.norm)
        if word.prefix:
            chunks.append(Phrase(tuple(current), True, term.field))
            current = []
    if current:
        chunks.append(Phrase(tuple(current), False, term.field))
    return chunks[0] if len(chunks) == 1 else AllOf(tuple(chunks))


def _all(parts: list[Need | None]) -> Need | None:
    kept = tuple(part for part in parts if part is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AllOf(kept)


def _any(branches: list[Need | None]) -> Need | None:
    if not branches or any(branch is None for branch in branches):
        return None  # a branch that needs nothing makes the OR need nothing
    kept = tuple(branch for branch in branches if branch is not None)
    return kept[0] if len(kept) == 1 else AnyOf(kept)


def _near(node: Near) -> Need | None:
    left, right = narrowing(node.left), narrowing(node.right)
    lefts, rights = _phrases(left), _phrases(right)
    if lefts and rights and len(lefts) * len(rights) <= NEAR_PAIRS:
        fields = {phrase.field for phrase in lefts + rights} - {None}
        if len(fields) <= 1:
            return Close(lefts, rights, node.distance, next(iter(fields), None))
    return _all([left, right])


def _phrases(need: Need | None) -> tuple[Phrase, ...]:
    """The phrases of a phrase or an OR of phrases; () for anything else."""
    if isinstance(need, Phrase):
        return (need,)
    if isinstance(need, AnyOf) and all(isinstance(part, Phrase) for part in need.parts):
        return tuple(part for part in need.parts if isinstance(part, Phrase))
    return ()


def expand(need: Need | None, containing: Callable[[str], tuple[str, ...] | None]) -> Need | None:
    """``need`` with each ``Compound`` spelled out as its word or the stored words containing it.

    ``containing(word)`` gives those words, or None when there are too many to list: the
    compound then narrows nothing (and neither does an OR it is a branch of).
    """
    if need is None or isinstance(need, Phrase | Close):
        return need
    if isinstance(need, Compound):
        longer = containing(need.word)
        if longer is None:
            return None
        return _any([Phrase((word,), False, need.field) for word in (need.word, *longer)])
    if isinstance(need, AllOf):
        return _all([expand(part, containing) for part in need.parts])
    return _any([expand(part, containing) for part in need.parts])


def compounds(need: Need | None) -> list[str]:
    """The words of ``need`` that may match inside compounds."""
    if isinstance(need, Compound):
        return [need.word]
    if isinstance(need, AllOf | AnyOf):
        return [word for part in need.parts for word in compounds(part)]
    return []


def pairs(close: Close) -> list[tuple[Phrase, Phrase]]:
    return list(product(close.left, close.right))
