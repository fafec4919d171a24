"""Many topics compiled together: one automaton pass per document, then only the
candidate topics are evaluated, so the cost follows the text and its hits, not the
number of topics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from monitor.errors import QueryError
from monitor.model import Document, Hit, TopicMatch
from monitor.text import stemmer_for
from monitor.topics.document import DocIndex
from monitor.topics.evaluate import Compiler, Context, Matcher, Outcome, TermMatcher
from monitor.topics.parser import parse
from monitor.topics.presearch import Requirement, requirements
from monitor.topics.snippet import make_snippet

MAX_HITS = 100  # per match; a long article naming a term 300 times keeps the first 100


@dataclass(frozen=True)
class TopicSpec:
    """A topic as configured: its name, its query, and whether words are stemmed."""

    name: str
    query: str
    stem: bool = False


@dataclass(frozen=True, slots=True)
class _Topic:
    name: str
    stem: bool
    matcher: Matcher
    terms: tuple[TermMatcher, ...]


class TopicSet:
    """Compiled topics; ``match`` a document against all of them at once."""

    def __init__(
        self,
        topics: list[_Topic],
        literals: dict[str, int],
        triggers: dict[int, tuple[int, ...]],
        compound_triggers: dict[int, tuple[int, ...]],
        always: tuple[int, ...],
        stem_requirements: list[tuple[int, str]],
    ) -> None:
        self._topics = topics
        self.names: tuple[str, ...] = tuple(topic.name for topic in topics)
        self._triggers = triggers
        self._trigger_ids = frozenset(triggers)
        self._compound_triggers = compound_triggers
        self._compound_trigger_ids = frozenset(compound_triggers)
        self._always = always
        self._stem_requirements = stem_requirements
        self._stem_tables: dict[str, dict[str, tuple[int, ...]]] = {}
        # Only the literals that make a topic a candidate go into the automaton: every
        # extra pattern would cost a Python step per occurrence in every document.
        self._searched = frozenset(triggers) | frozenset(compound_triggers)
        self._automaton: ahocorasick.Automaton | None = None
        if self._searched:
            automaton = ahocorasick.Automaton()
            for text, literal in literals.items():
                if literal in self._searched:
                    automaton.add_word(text, literal)
            automaton.make_automaton()
            self._automaton = automaton

    @classmethod
    def compile(cls, specs: Sequence[TopicSpec]) -> TopicSet:
        """Parse and compile every topic; a bad one raises ``QueryError`` naming it."""
        seen: set[str] = set()
        for spec in specs:
            if not spec.name.strip():
                raise QueryError("a topic has an empty name; give every topic a name")
            if spec.name in seen:
                raise QueryError(f'topic "{spec.name}" is defined twice; names must be unique')
            seen.add(spec.name)
        literals: dict[str, int] = {}
        topics: list[_Topic] = []
        triggers: dict[int, list[int]] = {}
        compound_triggers: dict[int, list[int]] = {}
        always: list[int] = []
        stem_requirements: list[tuple[int, str]] = []
        for index, spec in enumerate(sorted(specs, key=lambda s: s.name)):
            try:
                node = parse(spec.query)
            except QueryError as error:
                raise QueryError(f'topic "{spec.name}": {error}') from None
            compiler = Compiler(literals)
            matcher = compiler.compile(node)
            topics.append(_Topic(spec.name, spec.stem, matcher, tuple(compiler.terms)))
            found = requirements(matcher, spec.stem)
            if found is None:
                always.append(index)
                continue
            for requirement in _distinct(found[0]):
                triggers.setdefault(requirement.literal, []).append(index)
                if requirement.infix is not None:
                    compound_triggers.setdefault(requirement.infix, []).append(index)
                if requirement.stem_word:
                    stem_requirements.append((index, requirement.stem_word))
        return cls(
            topics,
            literals,
            {literal: tuple(ids) for literal, ids in triggers.items()},
            {literal: tuple(ids) for literal, ids in compound_triggers.items()},
            tuple(always),
            stem_requirements,
        )

    def match(self, doc: Document) -> list[TopicMatch]:
        """The topics ``doc`` matches, sorted by topic name."""
        index = DocIndex(doc)
        candidates, fired = self._presearch(index)
        return self._evaluate(index, candidates, fired)

    def candidates(self, doc: Document) -> list[str]:
        """Names of the topics the presearch picks for full evaluation (a superset of the
        matches): for tuning queries and for the benchmark."""
        candidates, _ = self._presearch(DocIndex(doc))
        return [self.names[i] for i in candidates]

    def _presearch(self, index: DocIndex) -> tuple[list[int], set[int]]:
        """Candidate topic numbers (ascending, so in name order) and the literals seen."""
        fired: set[int] = set()
        if self._automaton is not None:
            fired = {literal for _, literal in self._automaton.iter(index.haystack)}
        candidates = set(self._always)
        for literal in fired.intersection(self._trigger_ids):
            candidates.update(self._triggers[literal])
        if index.compounding:  # in-word literals count only where words are glued together
            for literal in fired.intersection(self._compound_trigger_ids):
                candidates.update(self._compound_triggers[literal])
        if self._stem_requirements and index.language and index.stems is not None:
            table = self._stem_table(index.language)
            for stem in set(index.stems.values()).intersection(table):
                candidates.update(table[stem])
        return sorted(candidates), fired

    def match_naive(self, doc: Document) -> list[TopicMatch]:
        """Evaluate every topic, without the presearch: the reference ``match`` must agree
        with, and the baseline of the benchmark."""
        return self._evaluate(DocIndex(doc), range(len(self._topics)), None)

    def _evaluate(self, index: DocIndex, candidates: Sequence[int], fired: set[int] | None) -> list[TopicMatch]:
        matches: list[TopicMatch] = []
        for topic_index in candidates:
            topic = self._topics[topic_index]
            context = Context(index, topic.stem, fired, self._searched)
            outcome = topic.matcher.evaluate(context)
            if outcome is not None:
                matches.append(_topic_match(topic, outcome, index))
        return matches

    def _stem_table(self, language: str) -> dict[str, tuple[int, ...]]:
        """Stem (in ``language``) of each stemmed topic's required words -> topics."""
        table = self._stem_tables.get(language)
        if table is None:
            stemmer = stemmer_for(language)
            assert stemmer is not None
            stems = stemmer([word for _, word in self._stem_requirements])
            grouped: dict[str, list[int]] = {}
            for (topic_index, _), stem in zip(self._stem_requirements, stems, strict=True):
                grouped.setdefault(stem, []).append(topic_index)
            table = {stem: tuple(sorted(set(ids))) for stem, ids in grouped.items()}
            self._stem_tables[language] = table
        return table


def _distinct(found: list[Requirement]) -> list[Requirement]:
    return list(dict.fromkeys(found))


def _topic_match(topic: _Topic, outcome: Outcome, index: DocIndex) -> TopicMatch:
    refs = sorted(set(outcome.hits), key=lambda ref: (ref[1], ref[2], ref[0]))[:MAX_HITS]
    hits = []
    for order, start, end in refs:
        field, char_start, char_end = index.char_span(start, end)
        hits.append(Hit(topic.terms[order].term.source, field, char_start, char_end))
    fired = sorted({order for order, _, _ in refs})
    terms = tuple(dict.fromkeys(topic.terms[order].term.source for order in fired))
    score = round(min(1.0, max(0.0, outcome.score)), 4)
    snippet = make_snippet(index.doc.title, index.doc.text, hits, index.body_sentences)
    return TopicMatch(topic.name, score, terms, tuple(hits), outcome.clause, snippet)
