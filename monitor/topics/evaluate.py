"""Compiled queries: each node becomes a matcher that evaluates against a ``DocIndex``.

An evaluation returns None (no match) or an ``Outcome``: a score in [0, 1], the
position spans a NEAR above can use, the hits (which term, which tokens) and the
clause that decided it, written as query text.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

from monitor.text import is_nospace_token, stemmer_for
from monitor.topics.document import BODY_BASE, DocIndex
from monitor.topics.nodes import And, Lang, Near, Node, Not, Or, Site, Term, Word, term_text, to_query

COMPOUND_MIN_LETTERS = 5
TITLE_WEIGHT = 3  # a title hit counts like three body hits
SATURATION = 0.6  # each further hit closes 40% of the remaining gap to 1

Span = tuple[int, int]  # first and last token position, inclusive
HitRef = tuple[int, int, int]  # term order in the query, first and last token position


@dataclass(slots=True)
class Outcome:
    score: float
    spans: list[Span]
    hits: list[HitRef]
    clause: str


@dataclass(slots=True)
class Context:
    """What one evaluation may consult: the document, the topic's stemming switch, the
    literals the presearch automaton looked for and those it saw (None: no presearch)."""

    doc: DocIndex
    stem: bool
    fired: set[int] | None
    searched: frozenset[int] = frozenset()


class Matcher(Protocol):
    def evaluate(self, ctx: Context) -> Outcome | None: ...


_STEMS: dict[tuple[str, str], str] = {}


def stem_of(word: str, language: str) -> str:
    key = (language, word)
    stem = _STEMS.get(key)
    if stem is None:
        stemmer = stemmer_for(language)
        stem = stemmer([word])[0] if stemmer else word
        if len(_STEMS) > 200_000:
            _STEMS.clear()
        _STEMS[key] = stem
    return stem


def is_stemmable(term: Term, word: Word) -> bool:
    """Quotes mean exact; wildcards and case-sensitive words are compared as written."""
    return not term.quoted and not word.prefix and not word.case_sensitive


def is_compound_candidate(term: Term, word: Word) -> bool:
    return (
        not term.quoted
        and not word.case_sensitive
        and len(word.norm) >= COMPOUND_MIN_LETTERS
        and not is_nospace_token(word.norm[0])
    )


def literal_of(term: Term) -> str:
    """The text the presearch automaton looks for in the haystack " w1 w2 ... "."""
    words = term.words
    if len(words) == 1:
        word = words[0]
        return " " + word.norm if word.prefix else f" {word.norm} "
    parts: list[str] = []
    for word in words:
        parts.append(word.norm)
        if word.prefix:
            return " " + " ".join(parts)
    return " " + " ".join(parts) + " "


def infix_literal_of(term: Term) -> str | None:
    """For a word that may match inside compounds, the bare word (no spaces around)."""
    words = term.words
    if len(words) == 1 and is_compound_candidate(term, words[0]):
        return words[0].norm
    return None


_NONE: list[int] = []  # no positions (never changed: callers copy before they change)


def leaf_score(positions: list[int]) -> float:
    title_hits = bisect_left(positions, BODY_BASE)
    weight = TITLE_WEIGHT * title_hits + (len(positions) - title_hits)
    return 1.0 - SATURATION**weight


class TermMatcher:
    """A term or phrase; ``order`` is its place among the query's terms."""

    __slots__ = ("_anywhere", "_plain", "_whole_word", "infix", "literal", "order", "term", "text", "width")

    def __init__(self, term: Term, order: int, literal: int, infix: int | None) -> None:
        self.term = term
        self.order = order
        self.literal = literal  # id of the whole-word / prefix / phrase literal
        self.infix = infix  # id of the in-compound literal, if the term may match there
        self.text = term_text(term)
        self.width = len(term.words) - 1
        word = term.words[0]
        # One whole word compared folded: its positions are one look-up in the word index
        # (outside compounding languages when it may match inside compounds).
        plain = len(term.words) == 1 and not word.prefix and not word.case_sensitive
        self._whole_word = word.norm if plain else None
        self._plain = plain and infix is None
        self._anywhere = self._whole_word if term.field is None else None  # no title:/body:

    def evaluate(self, ctx: Context) -> Outcome | None:
        word = self._anywhere
        if word is not None and not ctx.stem and (self._plain or not ctx.doc.compounding):
            # The commonest case, inline: most terms of a candidate are not in the document.
            starts = ctx.doc.index.get(word)
            if starts is None:
                return None
        else:
            starts = self.positions(ctx)
            if not starts:
                return None
        width = self.width
        order = self.order
        if width:
            spans = [(p, p + width) for p in starts]
            hits = [(order, p, p + width) for p in starts]
        else:
            spans = list(zip(starts, starts, strict=True))
            hits = [(order, p, p) for p in starts]
        return Outcome(leaf_score(starts), spans, hits, self.text)

    def _stemming(self, ctx: Context) -> bool:
        return ctx.stem and not self.term.quoted and ctx.doc.stems is not None

    def positions(self, ctx: Context) -> list[int]:
        doc = ctx.doc
        stemming = ctx.stem and self._stemming(ctx)
        whole_word = self._whole_word
        if whole_word is not None and not stemming and (self._plain or not doc.compounding):
            found = doc.index.get(whole_word)
            if found is None:
                return _NONE
        else:
            fired = ctx.fired
            # The presearch saw every surface form it looked for; only stem matches escape it.
            # (Checked first: most terms of a candidate topic are absent from the document.)
            if fired is not None and not stemming:
                # The literal whose absence rules the term out (in compounding languages the
                # in-compound one, which the surface literal implies).
                gate = self.infix if doc.compounding and self.infix is not None else self.literal
                if gate not in fired and gate in ctx.searched:
                    return _NONE
            words = self.term.words
            found = self._word_positions(ctx, words[0], stemming, single=len(words) == 1)
            if len(words) > 1:
                found = [p for p in found if self._rest_follows(ctx, p, stemming)]
        field = self.term.field
        if field == "title":
            return found[: bisect_left(found, BODY_BASE)]
        if field == "body":
            return found[bisect_left(found, BODY_BASE) :]
        return found

    def _word_positions(self, ctx: Context, word: Word, stemming: bool, single: bool) -> list[int]:
        doc = ctx.doc
        if stemming and is_stemmable(self.term, word):
            assert doc.language is not None
            found = doc.stem_index.get(stem_of(word.norm, doc.language), [])
            if single and doc.compounding and is_compound_candidate(self.term, word):
                found = sorted(set(found).union(doc.scan("infix", word.norm)))
        elif word.prefix:
            found = doc.scan("prefix", word.norm)
        elif single and doc.compounding and is_compound_candidate(self.term, word):
            found = doc.scan("infix", word.norm)
        else:
            found = doc.index.get(word.norm, [])
        if word.case_sensitive:
            found = [p for p in found if _case_matches(doc, p, word)]
        return found

    def _rest_follows(self, ctx: Context, start: int, stemming: bool) -> bool:
        doc = ctx.doc
        limit = BODY_BASE + len(doc.body_norm) if start >= BODY_BASE else len(doc.title_norm)
        for offset, word in enumerate(self.term.words[1:], 1):
            position = start + offset
            if position >= limit:
                return False
            norm = doc.norm_at(position)
            if stemming and is_stemmable(self.term, word):
                stems = doc.stems
                assert stems is not None and doc.language is not None
                if stems[norm] != stem_of(word.norm, doc.language):
                    return False
            elif word.prefix:
                if not norm.startswith(word.norm):
                    return False
            elif norm != word.norm:
                return False
            if word.case_sensitive and not _case_matches(doc, position, word):
                return False
        return True


def _case_matches(doc: DocIndex, position: int, word: Word) -> bool:
    form = doc.case_form_at(position)
    return form.startswith(word.case_form) if word.prefix else form == word.case_form


class OrMatcher:
    def __init__(self, children: list[Matcher]) -> None:
        self.children = children

    def evaluate(self, ctx: Context) -> Outcome | None:
        best: Outcome | None = None
        spans: list[Span] = []
        hits: list[HitRef] = []
        for child in self.children:
            outcome = child.evaluate(ctx)
            if outcome is None:
                continue
            spans.extend(outcome.spans)
            hits.extend(outcome.hits)
            if best is None or outcome.score > best.score:
                best = outcome
        if best is None:
            return None
        spans.sort()
        return Outcome(best.score, spans, hits, best.clause)


class PredicateMatcher:
    """lang: and site:, facts about the document rather than words in it."""

    def __init__(self, node: Lang | Site) -> None:
        self.node = node
        self.text = to_query(node)

    def evaluate(self, ctx: Context) -> Outcome | None:
        node = self.node
        if isinstance(node, Lang):
            return Outcome(1.0, [], [], self.text) if ctx.doc.language in node.codes else None
        holds = not ctx.doc.hosts.isdisjoint(node.domains)
        return Outcome(1.0, [], [], self.text) if holds else None


class AndMatcher:
    """Every positive child must match and no NOT child may; predicates are checked first."""

    def __init__(self, required: list[Matcher], excluded: list[tuple[Matcher, str]], clause_order: list[int]) -> None:
        self.required = required
        self.excluded = excluded
        self.clause_order = clause_order  # children in query order: >= 0 required, < 0 excluded
        self.predicates = [i for i, m in enumerate(required) if isinstance(m, PredicateMatcher)]
        self.ordered = self.predicates + [i for i in range(len(required)) if i not in self.predicates]

    def evaluate(self, ctx: Context) -> Outcome | None:
        outcomes: list[Outcome | None] = [None] * len(self.required)
        for i in self.ordered:
            outcome = self.required[i].evaluate(ctx)
            if outcome is None:
                return None
            outcomes[i] = outcome
        for matcher, _ in self.excluded:
            if matcher.evaluate(ctx) is not None:
                return None
        found = [o for o in outcomes if o is not None]
        scored = [o.score for i, o in enumerate(found) if i not in self.predicates]
        score = sum(scored) / len(scored) if scored else 1.0
        clauses: list[str] = []
        for index in self.clause_order:
            if index >= 0:
                clauses.append(found[index].clause)
            else:
                clauses.append("NOT " + self.excluded[-index - 1][1])
        spans = sorted(span for o in found for span in o.spans)
        hits = [hit for o in found for hit in o.hits]
        return Outcome(score, spans, hits, " AND ".join(clauses))


class NearMatcher:
    def __init__(self, left: Matcher, right: Matcher, distance: int, ordered: bool) -> None:
        self.left = left
        self.right = right
        self.distance = distance
        self.ordered = ordered
        self.operator = f"{'ONEAR' if ordered else 'NEAR'}/{distance}"

    def evaluate(self, ctx: Context) -> Outcome | None:
        left = self.left.evaluate(ctx)
        if left is None:
            return None
        right = self.right.evaluate(ctx)
        if right is None:
            return None
        distance = self.distance
        right_starts = [span[0] for span in right.spans]
        longest = max(end - start for start, end in right.spans)
        spans: set[Span] = set()
        used: set[Span] = set()
        best_gap = distance + 1
        for a_start, a_end in left.spans:
            low = a_end + 1 if self.ordered else a_start - distance - 1 - longest
            first = bisect_left(right_starts, low)
            last = bisect_right(right_starts, a_end + distance + 1)
            for b_start, b_end in right.spans[first:last]:
                if a_end < b_start:
                    gap = b_start - a_end - 1
                elif b_end < a_start and not self.ordered:
                    gap = a_start - b_end - 1
                else:
                    continue  # overlapping tokens, or out of order for ONEAR
                if gap > distance:
                    continue
                best_gap = min(best_gap, gap)
                spans.add((min(a_start, b_start), max(a_end, b_end)))
                used.add((a_start, a_end))
                used.add((b_start, b_end))
        if not spans:
            return None
        closeness = 1.0 - best_gap / (distance + 1)
        score = (left.score + right.score) / 2 * (0.5 + 0.5 * closeness)
        # The hits inside a span used: among the used spans starting at or before a hit,
        # the one reaching furthest must reach past its end.
        ordered_used = sorted(used)
        used_starts = [start for start, _ in ordered_used]
        reach = list(accumulate((end for _, end in ordered_used), max))
        hits = [
            hit
            for hit in left.hits + right.hits
            if (at := bisect_right(used_starts, hit[1]) - 1) >= 0 and reach[at] >= hit[2]
        ]
        right_clause = right.clause
        if " NEAR/" in right_clause or " ONEAR/" in right_clause:
            right_clause = f"({right_clause})"
        clause = f"{left.clause} {self.operator} {right_clause}"
        return Outcome(score, sorted(spans), hits, clause)


class Compiler:
    """Turns a tree into matchers, numbering terms in query order and interning literals."""

    def __init__(self, literals: dict[str, int]) -> None:
        self.literals = literals
        self.terms: list[TermMatcher] = []

    def literal_id(self, text: str) -> int:
        found = self.literals.get(text)
        if found is None:
            found = self.literals[text] = len(self.literals)
        return found

    def compile(self, node: Node) -> Matcher:
        if isinstance(node, Term):
            infix = infix_literal_of(node)
            matcher = TermMatcher(
                node,
                len(self.terms),
                self.literal_id(literal_of(node)),
                None if infix is None else self.literal_id(infix),
            )
            self.terms.append(matcher)
            return matcher
        if isinstance(node, Lang | Site):
            return PredicateMatcher(node)
        if isinstance(node, Or):
            return OrMatcher([self.compile(child) for child in node.children])
        if isinstance(node, Near):
            left = self.compile(node.left)
            return NearMatcher(left, self.compile(node.right), node.distance, node.ordered)
        if isinstance(node, Not):  # only reachable as a whole query, which parse() refuses
            raise ValueError("NOT outside AND")
        required: list[Matcher] = []
        excluded: list[tuple[Matcher, str]] = []
        order: list[int] = []
        for child in node.children:
            if isinstance(child, Not):
                excluded.append((self.compile(child.child), _negated_text(child.child)))
                order.append(-len(excluded))
            else:
                order.append(len(required))
                required.append(self.compile(child))
        return AndMatcher(required, excluded, order)


def _negated_text(node: Node) -> str:
    text = to_query(node)
    return text if isinstance(node, Term | Lang | Site) else f"({text})"


__all__ = ["And", "Compiler", "Context", "Matcher", "Outcome"]
