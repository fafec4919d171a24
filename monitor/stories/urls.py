"""Level 1 of story clustering: is this the same item? Canonical URL and text hash."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url

from monitor.errors import ParseError
from monitor.text import words

from .lexicon import BOILERPLATE_PREFIXES

# Host prefixes that serve the same article as the bare host.
_HOST_VARIANTS = ("www.", "m.", "mobile.", "amp.")
# Query parameters courlan keeps but that only say where a reader came from.
_EXTRA_TRACKERS = re.compile(
    r"^(?:ref|ref_src|ref_url|referrer|src|cmpid|ito|at_[a-z]+|xtor|ocid|smid|"
    r"share|shared|via|amp|outputtype|output|s_cid|ns_[a-z]+|__twitter_impression)$"
)
# AMP renditions: /amp/ segments, a trailing /amp, and page.amp.html or page.amp.
_AMP_SEGMENT = re.compile(r"/amp(?=/|$)", re.IGNORECASE)
_AMP_SUFFIX = re.compile(r"\.amp(?=\.html?$|$)", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """The form under which two links to the same article compare equal.

    Lower-case scheme and host, ``http`` folded into ``https``, ``www.``/``m.``/``amp.``
    hosts and ``/amp`` paths folded into the plain page, default ports, fragments,
    trailing slashes and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``ref``…)
    removed, remaining query parameters sorted.
    """
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ParseError(f"Cannot canonicalise {raw[:200]!r}: it is not an http(s) URL.")
    try:
        cleaned = urlsplit(normalize_url(raw, strict=False))
    except ValueError as error:  # courlan raises on malformed ports and netlocs
        raise ParseError(f"Cannot canonicalise {raw[:200]!r}: {error}.") from error
    host = cleaned.hostname or ""
    for prefix in _HOST_VARIANTS:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    port = cleaned.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = _AMP_SUFFIX.sub("", _AMP_SEGMENT.sub("", cleaned.path))
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(
        sorted(
            (key, value)
            for key, value in parse_qsl(cleaned.query, keep_blank_values=True)
            if not _EXTRA_TRACKERS.match(key.lower())
        )
    )
    return urlunsplit(("https", netloc, path or "/", query, ""))


_MIN_WORDS_PER_LINE = 6
# A boilerplate prefix lies within this many words of the line's start.
_PREFIX_WORDS = 1 + max(prefix.count(" ") for prefix in BOILERPLATE_PREFIXES)


def article_lines(text: str) -> list[str]:
    """The lines of ``text`` that are article prose, not site furniture.

    Navigation, captions, share buttons and "read also" links are short or start with
    a known marker; dropping them makes the hash and the shingles boilerplate-insensitive.
    """
    kept = []
    for line in text.splitlines():
        first_words = line.split(maxsplit=_MIN_WORDS_PER_LINE)  # enough to count to the minimum
        if len(first_words) < _MIN_WORDS_PER_LINE:
            continue
        if " ".join(first_words[:_PREFIX_WORDS]).casefold().startswith(BOILERPLATE_PREFIXES):
            continue
        kept.append(line)
    return kept


def text_hash(text: str) -> str:
    """A hex digest that is equal for the same article text however it was re-fetched.

    Only article prose counts (see ``article_lines``), as normalised words, so case,
    accents, punctuation, whitespace and page furniture do not change it. A text
    without any word hashes to "" (nothing to compare: do not deduplicate on it).
    """
    lines = article_lines(text) or [text]
    content = " ".join(" ".join(words(line)) for line in lines)
    if not content:
        return ""
    return hashlib.blake2b(content.encode("utf-8"), digest_size=16).hexdigest()
