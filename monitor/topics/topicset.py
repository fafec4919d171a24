"""Many topics compiled together: one automaton pass per document, then only the
candidate topics are evaluated, so the cost follows the text and its hits, not the
number of topics."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

from monitor.errors import QueryError
from monitor.model import Document, Hit, TopicMatch
from monitor.topics.document import DocIndex
from monitor.topics.evaluate import Compiler, Context, Matcher, Outcome, TermMatcher
from monitor.topics.parser import parse
from monitor.topics.presearch import Clause, LiteralFinder, NeedIndex, Presearch
from monitor.topics.snippet import make_snippet

LARGE_BUILD = 500  # topics from which pausing the cyclic collector pays for its final collection
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
    sources: tuple[str, ...]  # each term as written, in query order


class TopicSet:
    """Compiled topics; ``match`` a document against all of them at once."""

    def __init__(
        self,
        topics: list[_Topic],
        queries: list[str],
        literals: dict[str, int],
        plans: list[tuple[Clause, list[Clause]] | None],
    ) -> None:
        self._topics: list[_Topic | None] = list(topics)
        self.names: tuple[str, ...] = tuple(topic.name for topic in topics)
        self._queries = tuple(queries)
        self._stems = tuple(topic.stem for topic in topics)
        self._literals = literals
        self._finder = LiteralFinder(literals)
        # A term whose literal is looked for and absent is skipped at once.
        self._searched = self._finder.searched
        self._needs = NeedIndex()
        triggers: dict[int, list[int]] = {}
        self._checks: list[tuple[frozenset[int], ...]] = []
        always: list[int] = []
        for index, plan in enumerate(plans):
            if plan is None:
                always.append(index)
                self._checks.append(())
                continue
            trigger, others = plan
            for need in trigger:
                triggers.setdefault(self._needs.id_of(need), []).append(index)
            self._checks.append(tuple(frozenset(map(self._needs.id_of, clause)) for clause in others))
        self._triggers = triggers
        self._always = tuple(always)

    @classmethod
    def compile(cls, specs: Sequence[TopicSpec]) -> TopicSet:
        """Parse and compile every topic; a bad one raises ``QueryError`` naming it."""
        if len(specs) < LARGE_BUILD:
            return cls._compile(specs)
        with _cyclic_gc_paused():
            return cls._compile(specs)

    @classmethod
    def _compile(cls, specs: Sequence[TopicSpec]) -> TopicSet:
        seen: set[str] = set()
        for spec in specs:
            if not spec.name.strip():
                raise QueryError("a topic has an empty name; give every topic a name")
            if spec.name in seen:
                raise QueryError(f'topic "{spec.name}" is defined twice; names must be unique')
            seen.add(spec.name)
        literals: dict[str, int] = {}
        topics: list[_Topic] = []
        queries: list[str] = []
        plans: list[tuple[Clause, list[Clause]] | None] = []
        for spec in sorted(specs, key=lambda s: s.name):
            try:
                node = parse(spec.query)
            except QueryError as error:
                raise QueryError(f'topic "{spec.name}": {error}') from None
            compiler = Compiler(literals)
            matcher = compiler.compile(node)
            plans.append(Presearch(spec.stem, compiler).plan(matcher))
            topics.append(_Topic(spec.name, spec.stem, matcher, _sources(compiler.terms)))
            queries.append(spec.query)
        return cls(topics, queries, literals, plans)

    def __getstate__(self) -> dict[str, object]:
        """A pickled set leaves the compiled queries out (most of its objects: loading them
        took 1.6 s of the 1.9 s a 10,000-topic set needed): a copy compiles each topic again
        the first time the presearch picks it, from its query and this set's literal ids."""
        state = dict(self.__dict__)
        state["_topics"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._topics = [None] * len(self.names)

    def _topic(self, index: int) -> _Topic:
        topic = self._topics[index]
        if topic is None:
            topic = self._topics[index] = self._recompile(index)
        return topic

    def _recompile(self, index: int) -> _Topic:
        # The build interned every literal of the query, so the ids the compiler finds are
        # those the presearch tables hold, and the table does not grow.
        known = len(self._literals)
        compiler = Compiler(self._literals)
        matcher = compiler.compile(parse(self._queries[index]))
        assert len(self._literals) == known, "a recompiled query brought a new literal"
        return _Topic(self.names[index], self._stems[index], matcher, _sources(compiler.terms))

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
        fired = self._finder.find(index)
        present = self._needs.present(index, fired)  # fired itself, with the other needs added
        checks = self._checks
        triggers = self._triggers
        triggered = set(chain.from_iterable(map(triggers.__getitem__, triggers.keys() & present)))
        absent = present.isdisjoint  # a clause holds unless the document has none of its needs
        candidates = [topic for topic in triggered if not any(map(absent, checks[topic]))]
        candidates.extend(self._always)
        candidates.sort()
        return candidates, fired

    def match_naive(self, doc: Document) -> list[TopicMatch]:
        """Evaluate every topic, without the presearch: the reference ``match`` must agree
        with, and the baseline of the benchmark."""
        return self._evaluate(DocIndex(doc), range(len(self.names)), None)

    def _evaluate(self, index: DocIndex, candidates: Sequence[int], fired: set[int] | None) -> list[TopicMatch]:
        matches: list[TopicMatch] = []
        contexts = (Context(index, False, fired, self._searched), Context(index, True, fired, self._searched))
        for topic_index in candidates:
            topic = self._topics[topic_index] or self._topic(topic_index)
            outcome = topic.matcher.evaluate(contexts[topic.stem])
            if outcome is not None:
                matches.append(_topic_match(topic, outcome, index))
        return matches


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A build allocates hundreds of thousands of objects that all stay alive; the cyclic
    collector would scan them again and again as they age (a third of the build time).
    One collection at the end files them as old at once, instead of during matching."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()


_BY_PLACE = itemgetter(1, 2, 0)  # a hit's first and last token, then its term


def _sources(terms: list[TermMatcher]) -> tuple[str, ...]:
    return tuple(term.term.source for term in terms)


def _topic_match(topic: _Topic, outcome: Outcome, index: DocIndex) -> TopicMatch:
    refs = sorted(set(outcome.hits), key=_BY_PLACE)[:MAX_HITS]
    sources = topic.sources
    hits = [Hit(sources[ref[0]], *span) for ref, span in zip(refs, index.char_spans(refs), strict=True)]
    terms = tuple(dict.fromkeys(sources[order] for order in sorted({ref[0] for ref in refs})))
    score = round(min(1.0, max(0.0, outcome.score)), 4)
    snippet = make_snippet(index.doc.title, index.doc.text, hits, index.body_sentences, index.body_sentence_starts)
    return TopicMatch(topic.name, score, terms, tuple(hits), outcome.clause, snippet)
