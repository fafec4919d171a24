"""Text normalisation, word splitting and language identification (pure).

Stable API used by other stages: ``normalize``, ``words``, ``detect_language``.
"""

from __future__ import annotations

import html
import re
import unicodedata

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_APOSTROPHES = dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc\u2032\uff07`\u00b4"), "'")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize(text: str) -> str:
    """Casefold, fold accents, unify dashes and apostrophes, decode entities, collapse spaces."""
    text = html.unescape(text).translate(_DASHES).translate(_APOSTROPHES)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", unicodedata.normalize("NFC", folded)).strip()


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (runs of letters and digits)."""
    return _WORD.findall(normalize(text))


_MIN_LETTERS_FOR_DETECTION = 40


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``; the declared language when the text is too short to tell."""
    import py3langid

    declared_code = declared.split("-")[0].strip().lower()[:2] if declared else None
    if sum(c.isalpha() for c in text) < _MIN_LETTERS_FOR_DETECTION:
        return declared_code or None
    code, _ = py3langid.classify(text)
    return str(code)
