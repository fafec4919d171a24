"""One document analysed once for every topic: tokens, positions, the presearch haystack.

Positions are token numbers: title tokens are 0..T-1 and body tokens start at
``BODY_BASE``, so nothing NEAR or in a phrase spans the two fields.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from functools import cached_property
from urllib.parse import urlsplit

from monitor.model import Document, Field
from monitor.text import COMPOUNDING_LANGUAGES, AnalysedText, fold_keep_case, language_code, stemmer_for
from monitor.topics.snippet import sentence_spans

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
    def haystack(self) -> str:
        """Folded tokens between single spaces: " w1 w2 ... " (title, a gap, then body)."""
        return f" {' '.join(self.title_norm)} \n {' '.join(self.body_norm)} "

    @cached_property
    def index(self) -> dict[str, list[int]]:
        """Folded word -> its positions, ascending."""
        positions: defaultdict[str, list[int]] = defaultdict(list)
        for position, word in enumerate(self.title_norm):
            positions[word].append(position)
        for position, word in enumerate(self.body_norm, BODY_BASE):
            positions[word].append(position)
        return dict(positions)

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
    def sorted_words(self) -> list[str]:
        return sorted(self.index)

    def scan(self, kind: str, needle: str) -> list[int]:
        """Positions of words that start with (kind "prefix") or contain ("infix") ``needle``."""
        key = (kind, needle)
        found = self._scans.get(key)
        if found is not None:
            return found
        words: list[str] = []
        if kind == "prefix":
            # One C-level substring test rules most needles out before any Python loop.
            if " " + needle in self.haystack:
                ordered = self.sorted_words
                at = bisect_left(ordered, needle)
                while at < len(ordered) and ordered[at].startswith(needle):
                    words.append(ordered[at])
                    at += 1
        elif needle in self.haystack:
            words = [w for w in self.index if needle in w]
        found = sorted(p for w in words for p in self.index[w])
        self._scans[key] = found
        return found

    @cached_property
    def body_sentences(self) -> list[tuple[int, int]]:
        return sentence_spans(self.doc.text)

    def char_span(self, start: int, end: int) -> tuple[Field, int, int]:
        """Field and character offsets in the original text of tokens ``start..end``."""
        if start >= BODY_BASE:
            return ("body", *self._body.span(start - BODY_BASE, end - BODY_BASE))
        return ("title", *self._title.span(start, end))
