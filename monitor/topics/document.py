"""One document analysed once for every topic: tokens, positions, the presearch haystack.

Positions are token numbers: title tokens are 0..T-1 and body tokens start at
``BODY_BASE``, so nothing NEAR or in a phrase spans the two fields.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from urllib.parse import urlsplit

from monitor.model import Document, Field
from monitor.text import COMPOUNDING_LANGUAGES, AnalysedText, fold_keep_case, language_code, stemmer_for
from monitor.topics.snippet import sentence_spans, sentence_starts

BODY_BASE = 1 << 24


class DocIndex:
    """The analysed document. Costly views are computed on first use and cached."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._title = AnalysedText(doc.title)
        self._body = AnalysedText(doc.text)
        self.title_raw = self._title.tokens
        self.body_raw = self._body.tokens
        self.title_norm = self._title.folded
        self.body_norm = self._body.folded
        self.language = language_code(doc.language)
        self.compounding = self.language in COMPOUNDING_LANGUAGES
        self._scans: dict[tuple[str, str], list[int]] = {}

    @cached_property
    def index(self) -> dict[str, list[int]]:
        """Folded word -> its positions, ascending."""
        positions: dict[str, list[int]] = {}
        found = positions.get
        for first, words in ((0, self.title_norm), (BODY_BASE, self.body_norm)):
            for position, word in enumerate(words, first):
                known = found(word)
                if known is None:
                    positions[word] = [position]
                else:
                    known.append(position)
        return positions

    @cached_property
    def stems(self) -> dict[str, str] | None:
        """Folded word -> its stem in the document's language; None without a stemmer."""
        stem = stemmer_for(self.language)
        if stem is None:
            return None
        distinct = list(self.index)
        return dict(zip(distinct, stem(distinct), strict=True))

    @cached_property
    def stem_index(self) -> dict[str, list[int]]:
        """Stem -> positions of every word with that stem, ascending."""
        positions: defaultdict[str, list[int]] = defaultdict(list)
        for word, stem in (self.stems or {}).items():
            positions[stem].extend(self.index[word])
        return {stem: sorted(found) for stem, found in positions.items()}

    @cached_property
    def hosts(self) -> frozenset[str]:
        """The URL's host and its parent domains (www.heise.de, heise.de, de)."""
        try:
            host = urlsplit(self.doc.url).hostname or ""
        except ValueError:
            return frozenset()
        host = host.rstrip(".")
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                return frozenset()
        labels = host.split(".")
        return frozenset(".".join(labels[i:]) for i in range(len(labels)) if labels[i])

    def norm_at(self, position: int) -> str:
        if position >= BODY_BASE:
            return self.body_norm[position - BODY_BASE]
        return self.title_norm[position]

    def raw_at(self, position: int) -> str:
        if position >= BODY_BASE:
            return self.body_raw[position - BODY_BASE]
        return self.title_raw[position]

    def case_form_at(self, position: int) -> str:
        return fold_keep_case(self.raw_at(position))

    @cached_property
    def _distinct_text(self) -> str:
        """The distinct folded words between single spaces: " w1 w2 ... "."""
        return f" {' '.join(self.index)} "

    def scan(self, kind: str, needle: str) -> list[int]:
        """Positions of words that start with (kind "prefix") or contain ("infix") ``needle``."""
        key = (kind, needle)
        found = self._scans.get(key)
        if found is not None:
            return found
        # str.find over the distinct words, at C speed; a found needle is widened to its
        # word (no word holds a space), and the search goes on after that word.
        text = self._distinct_text
        probe = " " + needle if kind == "prefix" else needle
        words: list[str] = []
        at = text.find(probe, 1 if kind == "infix" else 0)
        while at >= 0:
            start = at + 1 if kind == "prefix" else text.rfind(" ", 0, at) + 1
            end = text.find(" ", at + len(probe))
            words.append(text[start:end])
            at = text.find(probe, end)
        index = self.index
        found = index[words[0]] if len(words) == 1 else sorted(p for w in words for p in index[w])
        self._scans[key] = found
        return found

    @cached_property
    def body_sentences(self) -> list[tuple[int, int]]:
        return sentence_spans(self.doc.text)

    @cached_property
    def body_sentence_starts(self) -> list[int]:
        return sentence_starts(self.body_sentences)

    def char_spans(self, refs: list[tuple[int, int, int]]) -> list[tuple[Field, int, int]]:
        """Field and character offsets in the original text of the tokens of each hit
        reference (term, first token, last token)."""
        title, body = self._title.span, self._body.span
        return [
            ("body", *body(start - BODY_BASE, end - BODY_BASE)) if start >= BODY_BASE else ("title", *title(start, end))
            for _, start, end in refs
        ]
