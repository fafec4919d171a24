"""What a document must contain for a query to have any chance (Lucene Monitor's
"presearcher" idea), so one cheap pass finds the few topics worth evaluating.

A query's needs are a conjunction of clauses, each a set of alternatives any one of
which suffices: a word needs its literal (in the title for ``title:``), a phrase each
pair of neighbouring words, AND and NEAR every clause of their required parts, OR one
clause of each branch merged (a few such merges), NOT nothing, ``lang:`` and ``site:``
the document's language or host. A topic is evaluated only when every clause holds; its
rarest clause is the trigger that puts it on the short list the others are checked for.
A query with no clause at all is evaluated for every document.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from itertools import chain, pairwise, repeat
from typing import NamedTuple, TypeVar

import ahocorasick

from monitor.text import is_nospace_token, stemmer_for
from monitor.topics.document import DocIndex
from monitor.topics.evaluate import (
    AndMatcher,
    Compiler,
    Matcher,
    NearMatcher,
    OrMatcher,
    PredicateMatcher,
    TermMatcher,
    is_stemmable,
)
from monitor.topics.nodes import Lang, Term, Word

# The commonest words of news text in the four languages the monitor is tuned for
# (folded): a clause made of them says little, so it is a poor trigger.
_COMMON_BY_LANGUAGE = (
    "the of and to in a is that for on it with as was he be by at from his an are have has this not but"
    " or they which had were their been its will would who more one all new said also after than about"
    " there when up out into over year years other first two can could",
    "ada adalah akan atau bahwa banyak belum bisa dalam dan dari dengan di dia hal hanya harus ini itu"
    " jika juga kami kata ke kepada karena kita lain lebih masih mereka oleh pada para saat sangat satu"
    " sebagai secara sejak sudah tahun telah tersebut tidak untuk yang baru",
    "der die das und in zu den von mit ist des sich im dem nicht ein eine als auch es an er auf fur dass"
    " so wie aus bei nach werden wird um am sind noch oder vor zur zum uber einem einen einer eines sie"
    " hat haben wurde wurden kann mehr nur jahr jahre sein seine ihre",
    "le la les de des du un une et en est que qui dans pour pas par sur au aux avec ce ces il elle ils"
    " plus ne se sa son ses leur leurs mais ou ont ete etre fait selon comme cette tout tous nous vous"
    " deux ans apres aussi entre sans sous",
)
COMMON_WORDS = frozenset(word for words in _COMMON_BY_LANGUAGE for word in words.split())
_Key = TypeVar("_Key")
TITLE_BASE = 1 << 40  # a literal's id plus this: the literal occurs in the title
OR_OPTIONS = 3  # clauses kept per OR
LANG_COST = 0.5  # a language holds for a good share of the documents
SITE_COST = 0.2
REMEMBERED_WORDS = 200_000  # per table of what a word fires; then it starts afresh


class Requirement(NamedTuple):  # a tuple: hashed in C, thousands of times per build
    """A term's literal: present when its gate literal was found, or (stemmed topics) when a
    word of the document has the stem of ``stem_word``."""

    literal: int  # id of the surface literal (whole word, prefix or phrase)
    infix: int | None  # id of the in-compound literal, which subsumes the surface one
    stem_word: str | None  # folded word whose stem also counts (stemmed topics only)
    in_title: bool = False  # the literal must be in the title (title: terms)

    @property
    def gate(self) -> int:
        """The literal whose presence the term needs (see ``TermMatcher.positions``),
        numbered from ``TITLE_BASE`` when it must be in the title."""
        gate = self.literal if self.infix is None else self.infix
        return gate + TITLE_BASE if self.in_title else gate


class Predicate(NamedTuple):
    """The document's language (kind "lang") or one of its host's domains ("site")."""

    kind: str
    value: str


Need = Requirement | Predicate
Clause = frozenset[Need]  # holds when any one of its needs does


def _word_cost(word: Word) -> float:
    return _cost_of(word.norm, word.prefix, word.raw[:1].isupper())


@lru_cache(maxsize=65_536)
def _cost_of(norm: str, prefix: bool, capitalised: bool) -> float:
    """Guess of how often a word occurs, with no corpus to count: common words are frequent,
    short words common, and a word the query capitalises is usually a name, rarer than a
    word of the same length (Lucene Monitor also weighs terms by length)."""
    if norm in COMMON_WORDS and not prefix:
        return 1.0
    weight = 2.5 if is_nospace_token(norm[:1]) else 1.0
    if capitalised:
        weight *= 1.5
    letters = weight * len(norm) * (0.5 if prefix else 1.0)
    return min(1.0, 1.0 / max(letters, 1.0) ** 2)


class Presearch:
    """Works out the clauses of one compiled query."""

    def __init__(self, stem: bool, compiler: Compiler) -> None:
        self.stem = stem
        self.compiler = compiler  # interns the literals of phrase words
        self.costs: dict[Requirement, float] = {}

    def plan(self, matcher: Matcher) -> tuple[Clause, list[Clause]] | None:
        """The trigger clause and the other clauses to check; None when nothing is needed."""
        found = self.clauses(matcher)
        if not found:
            return None
        trigger = self.cheapest(found)
        return trigger, [clause for clause in found if clause != trigger]

    def cost(self, clause: Clause) -> float:
        """Rough chance that a document satisfies ``clause``."""
        if len(clause) == 1:
            (need,) = clause
            if isinstance(need, Requirement):
                return self.costs[need]
        total = 0.0
        for need in clause:
            if isinstance(need, Predicate):
                total += LANG_COST if need.kind == "lang" else SITE_COST
            else:
                total += self.costs[need]
        return min(1.0, total)

    def cheapest(self, clauses: list[Clause]) -> Clause:
        return min(clauses, key=lambda clause: (self.cost(clause), len(clause)))

    def clauses(self, matcher: Matcher) -> list[Clause]:
        """Clauses every matching document satisfies (empty: nothing is known to be needed)."""
        if isinstance(matcher, TermMatcher):
            return self._term_clauses(matcher)
        if isinstance(matcher, PredicateMatcher):
            node = matcher.node
            if isinstance(node, Lang):
                return [frozenset(Predicate("lang", code) for code in node.codes)]
            return [frozenset(Predicate("site", domain) for domain in node.domains)]
        if isinstance(matcher, OrMatcher):
            # Whichever branch matches satisfies all its clauses, so one clause of each
            # branch, merged, is a clause of the OR; a few such merges keep it selective.
            merged: list[Clause] = [frozenset()]
            single: list[Clause] = []  # branches of one clause, merged at once (the usual case)
            for child in matcher.children:
                found = self.clauses(child)
                if not found:
                    return []
                if len(found) == 1 and len(merged) == 1:
                    single.append(found[0])
                    continue
                if single:
                    merged = [merged[0].union(*single)]
                    single = []
                options = sorted(found, key=self.cost)[:OR_OPTIONS]
                merged = [clause | option for clause in merged for option in options]
                merged = sorted(set(merged), key=self.cost)[:OR_OPTIONS]
            return [merged[0].union(*single)] if single else merged
        if isinstance(matcher, AndMatcher):
            parts = matcher.required
        elif isinstance(matcher, NearMatcher):
            parts = [matcher.left, matcher.right]
        else:
            return []
        return list(dict.fromkeys(clause for part in parts for clause in self.clauses(part)))

    def _term_clauses(self, matcher: TermMatcher) -> list[Clause]:
        """A word needs its literal; a phrase needs each pair of neighbouring words and each
        prefix (so no long phrase is searched for: the evaluation checks the rest)."""
        term = matcher.term
        words = term.words
        if len(words) == 1:
            stem_word = words[0].norm if self.stem and is_stemmable(term, words[0]) else None
            requirement = Requirement(matcher.literal, matcher.infix, stem_word, term.field == "title")
            return [self._need(requirement, _word_cost(words[0]))]
        clauses: list[Clause] = []
        for index, word in enumerate(words):
            if word.prefix:
                clauses.append(self._need(self._requirement(term, (word,)), _word_cost(word)))
                continue
            following = words[index + 1] if index + 1 < len(words) else None
            if following is not None and not following.prefix:
                cost = min(_word_cost(word), _word_cost(following)) / 2
                clauses.append(self._need(self._requirement(term, (word, following)), cost))
            elif index == 0 or words[index - 1].prefix:  # in no pair
                clauses.append(self._need(self._requirement(term, (word,)), _word_cost(word)))
        return clauses

    def _requirement(self, term: Term, words: tuple[Word, ...]) -> Requirement:
        """One word (whole, or a prefix) or two neighbouring whole words of a phrase."""
        text = " " + " ".join(word.norm for word in words) + ("" if words[-1].prefix else " ")
        stemmable = [word.norm for word in words if self.stem and is_stemmable(term, word)]
        stem_word = max(stemmable, key=len) if stemmable else None
        return Requirement(self.compiler.literal_id(text), None, stem_word, term.field == "title")

    def _need(self, requirement: Requirement, cost: float) -> Clause:
        self.costs[requirement] = min(cost, self.costs.get(requirement, 1.0))
        return frozenset([requirement])


class LiteralFinder:
    """Finds which literals of one or two words occur in a document: whole words,
    prefixes and (in compounding languages) in-compound needles word by word, pairs of
    neighbouring words by one set intersection with the document's word pairs. Longer
    phrases are not searched for: a phrase needs each of its pairs.

    What one word fires never depends on the document, so it is worked out once (a
    dictionary probe and an automaton pass over the word) and remembered: the words of
    news recur, so most documents cost a few C-level set operations."""

    def __init__(self, literals: dict[str, int]) -> None:
        words: dict[str, int] = {}
        self._pairs: dict[tuple[str, str], int] = {}
        infixes: dict[str, int] = {}
        prefixes: dict[str, int] = {}
        for text, literal in literals.items():
            if not text.startswith(" "):
                infixes[text] = literal
            elif " " in text[1:-1]:
                pair = text[1:-1].split(" ")
                if text.endswith(" ") and len(pair) == 2:
                    self._pairs[pair[0], pair[1]] = literal
            elif text.endswith(" "):
                words[text[1:-1]] = literal
            else:
                prefixes[text] = literal
        self.searched = frozenset(chain(words.values(), self._pairs.values(), infixes.values(), prefixes.values()))

        # A whole word or a prefix also holds the in-compound literal of the same needle:
        # outside compounding languages that literal is seen exactly when one of them is.
        def with_infix(needle: str, literal: int) -> tuple[int, ...]:
            infix = infixes.get(needle)
            return (literal,) if infix is None else (literal, infix)

        self._words = {word: with_infix(word, literal) for word, literal in words.items()}
        self._prefixes = _automaton(
            _with_shorter({text: with_infix(text[1:], literal) for text, literal in prefixes.items()})
        )
        in_words: dict[str, tuple[int, ...]] = {text: (literal,) for text, literal in (prefixes | infixes).items()}
        self._in_words = _automaton(in_words)
        self._fires: list[dict[str, tuple[int, ...]]] = [{}, {}]  # per word: [elsewhere, compounding]

    def __getstate__(self) -> dict[str, object]:
        """The remembered words are this process's own: a copy starts without them."""
        state = {name: getattr(self, name) for name in _FINDER_STATE}
        state["_fires"] = [{}, {}]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def find(self, doc: DocIndex) -> set[int]:
        """Ids of the literals ``doc`` contains (in-compound ones: as gates, see
        ``Requirement``), and those its title contains, numbered from ``TITLE_BASE``."""
        fired = self._find((doc.title_norm, doc.body_norm), doc.compounding)
        if doc.title_norm:
            fired.update(TITLE_BASE + literal for literal in self._find((doc.title_norm,), doc.compounding))
        return fired

    def _find(self, fields: tuple[list[str], ...], compounding: bool) -> set[int]:
        distinct = set(chain.from_iterable(fields))
        fires = self._fires_of(distinct, compounding)
        fired: set[int] = set().union(*map(fires.__getitem__, distinct))
        if self._pairs:
            pairs = chain.from_iterable(map(pairwise, fields))  # keys() & probes each, no set built
            fired.update(map(self._pairs.__getitem__, self._pairs.keys() & pairs))
        return fired

    def _fires_of(self, distinct: set[str], compounding: bool) -> dict[str, tuple[int, ...]]:
        """The table word -> literals it fires, holding every word of ``distinct``."""
        fires = self._fires[compounding]
        missing = list(distinct.difference(fires))
        if not missing:
            return fires
        if len(fires) + len(missing) > REMEMBERED_WORDS:
            # A new table rather than clear(): a match running in another thread keeps its own.
            fires = self._fires[compounding] = {}
            missing = list(distinct)
        found = dict(zip(missing, map(self._words.get, missing, repeat(())), strict=True))
        automaton = self._in_words if compounding else self._prefixes
        if automaton is not None:
            # One pass over " w1 w2 ... "; no pattern holds a space but at its start, so each
            # match ends inside one word: ``owner`` names the word of each character. Outside
            # compounding languages every pattern is the start of a word and holds the literals
            # of the shorter ones, so the longest match of each word tells them all.
            text = f" {' '.join(missing)}"
            owner = list(chain.from_iterable(repeat(word, len(word) + 1) for word in missing))
            for end, literals in automaton.iter(text) if compounding else automaton.iter_long(text):
                found[owner[end]] += literals
        fires.update(found)
        return fires


_FINDER_STATE = ("_pairs", "searched", "_words", "_prefixes", "_in_words")


def _with_shorter(prefixes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Each prefix pattern's literals, and those of every pattern it starts with."""
    closed: dict[str, tuple[int, ...]] = {}
    for text in sorted(prefixes, key=len):
        literals = prefixes[text]
        for end in range(len(text) - 1, 1, -1):  # the longest shorter pattern holds the rest
            shorter = closed.get(text[:end])
            if shorter is not None:
                literals += shorter
                break
        closed[text] = literals
    return closed


def _automaton(patterns: dict[str, tuple[int, ...]]) -> ahocorasick.Automaton | None:
    if not patterns:
        return None
    automaton = ahocorasick.Automaton()
    for text, literal in patterns.items():
        automaton.add_word(text, literal)
    automaton.make_automaton()
    return automaton


class NeedIndex:
    """Numbers the needs of all topics and tells which ones a document satisfies. A plain
    requirement is numbered by its gate literal, so the literals found are needs already."""

    def __init__(self) -> None:
        self._ids: dict[Need, int] = {}
        self._stem_by_gate: dict[int, list[int]] = {}
        self._stem_words: list[tuple[int, str]] = []
        self._by_predicate: dict[tuple[str, str], list[int]] = {}
        self._stem_tables: dict[str, dict[str, list[int]]] = {}
        self._sites = False

    def id_of(self, need: Need) -> int:
        if isinstance(need, Requirement) and need.stem_word is None:
            return need.gate
        found = self._ids.get(need)
        if found is None:
            found = self._ids[need] = -1 - len(self._ids)  # literal ids are >= 0
            if isinstance(need, Requirement):
                assert need.stem_word is not None
                self._stem_by_gate.setdefault(need.gate, []).append(found)
                self._stem_words.append((found, need.stem_word))
            else:
                self._by_predicate.setdefault((need.kind, need.value), []).append(found)
                self._sites = self._sites or need.kind == "site"
        return found

    def present(self, doc: DocIndex, fired: set[int]) -> set[int]:
        """The needs ``doc`` satisfies, given the literals it contains: ``fired`` itself,
        grown (the needs it gains have negative ids, unlike the literals)."""
        if not self._ids:
            return fired
        present = fired
        if self._stem_words:
            present.update(_flatten(self._stem_by_gate, fired))
            if doc.language and doc.stems is not None:
                present.update(_flatten(self._stem_table(doc.language), doc.stems.values()))
        if self._by_predicate:
            facts = [("lang", doc.language or "")]
            if self._sites:
                facts.extend(("site", host) for host in doc.hosts)
            present.update(_flatten(self._by_predicate, facts))
        return present

    def _stem_table(self, language: str) -> dict[str, list[int]]:
        """Stem (in ``language``) of each stemmed requirement's word -> its needs."""
        table = self._stem_tables.get(language)
        if table is None:
            stemmer = stemmer_for(language)
            assert stemmer is not None
            stems = stemmer([word for _, word in self._stem_words])
            table = {}
            for (need, _), stem in zip(self._stem_words, stems, strict=True):
                table.setdefault(stem, []).append(need)
            self._stem_tables[language] = table
        return table


def _flatten(table: dict[_Key, list[int]], keys: Iterable[_Key]) -> chain[int]:
    """Every value listed under any of ``keys`` (one C-level pass, no Python loop)."""
    return chain.from_iterable(map(table.__getitem__, table.keys() & set(keys)))
