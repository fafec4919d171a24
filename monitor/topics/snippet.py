"""The snippet shown with a match: one to three sentences around the best hits.

Rules: the window of one to three body sentences holding the most distinct matched
terms (then the fewest sentences, the most hits, the earliest) is chosen; the following
sentence, else the preceding one, is added while it stays under ``TARGET_CHARS``. A window
longer than ``MAX_CHARS`` is cut at spaces around its first hit, with an ellipsis. With no body
hit the title is the snippet. Text is HTML-escaped; hits are wrapped in <mark>.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Sequence
from operator import itemgetter

from monitor.model import Hit

TARGET_CHARS = 240
MAX_CHARS = 400
MAX_SENTENCES = 3

# A sentence ends at a run of spaces after . ! ? (and closing quotes or brackets), or at a
# run of spaces holding a line break; the run is the gap between two sentences.
_AFTER_STOP = re.compile(r"[.!?…。！？]([\"'»”’)\]]*\s+)")


def _gaps(text: str) -> list[tuple[int, int]]:
    """Start and end of each gap between sentences, in order. (One regex with both rules
    would test every character twice; the stops and line breaks are found apart.)"""
    gaps = {match.end(): match.start(1) for match in _AFTER_STOP.finditer(text)}
    newline = text.find("\n")
    while newline >= 0:
        start, end = newline, newline + 1
        while start > 0 and text[start - 1].isspace():
            start -= 1
        while end < len(text) and text[end].isspace():
            end += 1
        gaps.setdefault(end, start)  # after a stop, the gap starts with the closing quotes
        newline = text.find("\n", end)
    return sorted((start, end) for end, start in gaps.items())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Start and end of each sentence of ``text`` (surrounding spaces trimmed)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for gap_start, gap_end in _gaps(text):
        spans.append((start, gap_start))
        start = gap_end
    spans.append((start, len(text)))
    trimmed: list[tuple[int, int]] = []
    for raw_begin, raw_end in spans:
        begin, end = raw_begin, raw_end
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if end > begin:
            trimmed.append((begin, end))
    return trimmed


def sentence_starts(sentences: list[tuple[int, int]]) -> list[int]:
    return list(map(itemgetter(0), sentences))


def _choose(
    text: str, hits: Sequence[Hit], sentences: list[tuple[int, int]], starts: list[int]
) -> tuple[int, int, bool, bool]:
    """Start and end of the snippet, and whether each end cuts through a sentence."""
    if not sentences:
        return 0, len(text), False, False
    found: dict[int, list[str]] = {}  # sentence -> the terms of its hits (only sentences with hits)
    for hit in hits:
        at = bisect_right(starts, hit.start) - 1
        if at >= 0 and hit.end <= sentences[at][1]:
            found.setdefault(at, []).append(hit.term)
    # The best window of one to three sentences: most distinct terms, then fewest
    # sentences, then most hits, then earliest (no two windows rank the same).
    best: tuple[int, int, int, int] | None = None
    first = last = 0
    for begin in sorted(found) or [0]:
        more = found.get(begin, [])
        terms = set(more)
        count = len(more)
        rank = (len(terms), 0, count, -begin)
        if best is None or rank > best:
            best, first, last = rank, begin, begin
        window_start = sentences[begin][0]
        for end in range(begin + 1, min(begin + MAX_SENTENCES, len(sentences))):
            if sentences[end][1] - window_start > MAX_CHARS:
                break  # longer windows from here only grow
            added = found.get(end)
            if added is None:
                continue  # a sentence without hits ranks below the window without it
            terms.update(added)
            count += len(added)
            rank = (len(terms), begin - end, count, -begin)
            if rank > best:
                best, first, last = rank, begin, end
    # Widen a short window with its neighbours for context, the following one first.
    while last - first + 1 < MAX_SENTENCES:
        if last + 1 < len(sentences) and sentences[last + 1][1] - sentences[first][0] <= TARGET_CHARS:
            last += 1
        elif first > 0 and sentences[last][1] - sentences[first - 1][0] <= TARGET_CHARS:
            first -= 1
        else:
            break
    start, end = sentences[first][0], sentences[last][1]
    if end - start <= MAX_CHARS:
        return start, end, False, False
    inside = [hit for hit in hits if start <= hit.start < end]
    anchor = inside[0].start if inside else start
    cut_start = max(start, anchor - MAX_CHARS // 3)
    cut_end = min(end, cut_start + MAX_CHARS)
    # Cut at spaces so no word is shown in part.
    if cut_start > start:
        space = text.find(" ", cut_start, anchor)
        cut_start = space + 1 if space >= 0 else cut_start
    if cut_end < end:
        space = text.rfind(" ", cut_start, cut_end)
        cut_end = space if space > anchor else cut_end
    return cut_start, cut_end, cut_start > start, cut_end < end


def _render(text: str, start: int, end: int, hits: Sequence[Hit]) -> str:
    marks = sorted((hit.start, hit.end) for hit in hits if start <= hit.start and hit.end <= end)
    parts: list[str] = []
    cursor = start
    for hit_start, hit_end in marks:
        if hit_start < cursor:  # overlapping hits: the earlier mark already covers it
            continue
        parts.append(html.escape(html.unescape(text[cursor:hit_start])))
        parts.append(f"<mark>{html.escape(html.unescape(text[hit_start:hit_end]))}</mark>")
        cursor = hit_end
    parts.append(html.escape(html.unescape(text[cursor:end])))
    return " ".join("".join(parts).split())


_MARKED = re.compile(r"<mark>(.*?)</mark>", re.S)


def unmarked(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """A snippet as plain text and the [start, end) offsets of its hits in that text:
    for terminals (styled there, not tagged) and for programs that place highlights themselves."""
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    cursor = length = 0
    for match in _MARKED.finditer(snippet):
        before = html.unescape(snippet[cursor : match.start()])
        hit = html.unescape(match.group(1))
        text += [before, hit]
        length += len(before)
        spans.append((length, length + len(hit)))
        length += len(hit)
        cursor = match.end()
    text.append(html.unescape(snippet[cursor:]))
    return "".join(text), spans


def snippet_offsets(snippet: str) -> dict[str, str | list[list[int]]]:
    """The JSON keys beside a snippet: ``snippet_text``, and ``highlights``, each hit's
    [start, end) in it (docs/cli.md)."""
    text, spans = unmarked(snippet)
    return {"snippet_text": text, "highlights": [list(span) for span in spans]}


def make_snippet(
    title: str,
    text: str,
    hits: Sequence[Hit],
    sentences: list[tuple[int, int]] | None = None,
    starts: list[int] | None = None,
) -> str:
    """The highlighted snippet for ``hits`` (offsets into ``title`` / ``text``);
    ``sentences`` are ``sentence_spans(text)`` and ``starts`` their starts when the
    caller has them already (a document matching several topics splits once)."""
    body_hits = [hit for hit in hits if hit.field == "body"]
    if body_hits:
        if sentences is None:
            sentences = sentence_spans(text)
        if starts is None:
            starts = sentence_starts(sentences)
        start, end, cut_before, cut_after = _choose(text, body_hits, sentences, starts)
        snippet = _render(text, start, end, body_hits)
        return ("…" if cut_before else "") + snippet + ("…" if cut_after else "")
    title_hits = [hit for hit in hits if hit.field == "title"]
    return _render(title, 0, len(title), title_hits)
