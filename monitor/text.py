"""Text normalisation, word splitting, stemming and language identification (pure).

Stable API used by other stages: ``normalize``, ``words``, ``detect_language``.
The topic matcher also uses the token-level helpers (``tokenize``, ``token_spans``,
``fold``, ``fold_keep_case``, ``stemmer_for``), which keep offsets into the original
text so hits can be highlighted where the reader sees them.

Word rules, the same for queries and documents:

- a word is a run of letters, digits and combining marks; dashes, apostrophes,
  underscores and other punctuation separate words ("d'IA" -> "d", "IA");
- scripts written without spaces (Han, Kana, Hangul, Thai, Lao, Khmer, Myanmar) give
  one token per character, so a query word in those scripts becomes a phrase of
  characters and matches wherever those characters are contiguous (豆包, 字节跳动).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from itertools import accumulate, compress, repeat
from operator import add

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"  # all read as "-"
_APOSTROPHES = "\u2018\u2019\u201b\u02bc\u2032\uff07`\u00b4"  # all read as "'"
# (One str.replace per character present, not str.translate: translate looks every
# character of the text up in a dict, 0.2 ms for 4 kB of prose.)
_UNIFIED = (*((dash, "-") for dash in _DASHES), *((apostrophe, "'") for apostrophe in _APOSTROPHES))

# Scripts written without spaces between words: one token per character.
_NOSPACE = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u3005\u3006"  # ideographic iteration marks
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uffdc"  # half-width Katakana and Hangul
    "\U00020000-\U0003134f"  # CJK extensions B-H
)
# Combining marks that belong inside a word (Python's \w leaves them out).
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0900-\u0963\u0966-\u0dff"  # Indic scripts (letters, digits, vowel signs), not dandas
    "\u1ab0-\u1aff\u1dc0-\u1dff\u200c\u200d\u20d0-\u20ff\ufe20-\ufe2f"
)


# The three patterns below are compiled when first used: `re` builds their character
# classes code point by code point, tens of thousands of them (9 ms of CPU at every start),
# and ASCII text (a configuration's topics, as a rule) never needs them.


@cache
def _token() -> re.Pattern[str]:
    """A word, or one character of a script written without spaces.

    U+02BC (modifier apostrophe) is a letter to Unicode but an apostrophe to readers.
    (Runs of each class inside the group: the same tokens, but a much faster scan.)
    """
    return re.compile(f"[{_NOSPACE}]|(?:[^\\W_\u02bc{_NOSPACE}]+|[{_MARKS}]+)+")


@cache
def _token_char() -> re.Pattern[str]:
    return re.compile(f"[{_NOSPACE}]|[^\\W_\u02bc{_NOSPACE}]|[{_MARKS}]")


@cache
def _nospace_char() -> re.Pattern[str]:
    return re.compile(f"[{_NOSPACE}]")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# Every ASCII byte that is not a letter or digit separates words.
_ASCII_SEPARATORS = bytes.maketrans(
    bytes(b for b in range(128) if not chr(b).isalnum()),
    b" " * sum(not chr(b).isalnum() for b in range(128)),
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

# Languages that glue nouns into compounds: a long term may match inside a word there.
COMPOUNDING_LANGUAGES = frozenset({"de", "nl", "sv", "da", "no", "nb", "nn"})

_SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "eo": "esperanto", "es": "spanish", "et": "estonian",
    "eu": "basque", "fa": "persian", "fi": "finnish", "fr": "french", "ga": "irish",
    "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "ms": "indonesian", "nb": "norwegian", "ne": "nepali",
    "nl": "dutch", "nn": "norwegian", "no": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip


def decode_entities(text: str) -> tuple[str, tuple[list[int], list[int]] | None]:
    """``text`` with HTML entities decoded, and a map back to original offsets.

    The map is None when nothing was decoded (offsets are unchanged); otherwise it is
    two lists giving, for each decoded character, its start and end in ``text``.
    """
    if "&" not in text or not _ENTITY.search(text):
        return text, None
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    last = 0
    for match in _ENTITY.finditer(text):
        plain = text[last : match.start()]
        parts.append(plain)
        starts.extend(range(last, match.start()))
        ends.extend(range(last + 1, match.start() + 1))
        decoded = html.unescape(match.group())
        parts.append(decoded)
        starts.extend([match.start()] * len(decoded))
        ends.extend([match.end()] * len(decoded))
        last = match.end()
    parts.append(text[last:])
    starts.extend(range(last, len(text)))
    ends.extend(range(last + 1, len(text) + 1))
    return "".join(parts), (starts, ends)


def _keeps_marks(char: str) -> bool:
    """Kana voicing marks and the like change the letter, they are not accents."""
    return _nospace_char().match(char) is not None


def _strip_accents(text: str) -> str:
    """NFKD, drop combining marks (accents) except after no-space scripts, NFC."""
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():
        return decomposed
    foreign = set(_NON_ASCII.findall(decomposed))  # a regex skips the ASCII at C speed
    if not any(map(_nospace_char().match, foreign)):  # the common case: every mark goes, at C speed
        for mark in filter(unicodedata.combining, foreign):
            decomposed = decomposed.replace(mark, "")
        return unicodedata.normalize("NFC", decomposed)
    kept: list[str] = []
    keep_marks = False
    for char in decomposed:
        if unicodedata.combining(char):
            if keep_marks:
                kept.append(char)
            continue
        keep_marks = _keeps_marks(char)
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _unify_punctuation(text: str) -> str:
    for char, plain in _UNIFIED:
        if char in text:
            text = text.replace(char, plain)
    return text


def _normalize_once(text: str) -> str:
    text, _ = decode_entities(text)
    return " ".join(_strip_accents(_unify_punctuation(text).casefold()).split())  # split() cuts at re's \s


def _is_fixed_point(folded: str) -> bool:
    """Whether another ``_normalize_once`` pass would leave ``folded``, its output, as is.

    The output has collapsed spaces and is accent-folded NFC, which a second pass keeps.
    A second pass only changes what one step produced for an earlier step to handle: an
    "&" that may open an entity (decoded, or NFKD of "＆"), a dash or apostrophe form
    (NFKD of "︱", casefold of "ŉ") or a capital letter (NFKD of "ℌ").
    """
    return "&" not in folded and not any(char in folded for char, _ in _UNIFIED) and folded.casefold() == folded


def normalize(text: str) -> str:
    """Casefold, fold accents, unify dashes and apostrophes, decode entities, collapse spaces.

    Idempotent: decoding an entity or casefolding can expose another one ("&amp;amp;"),
    so the steps repeat until the text stops changing.
    """
    for _ in range(8):
        folded = _normalize_once(text)
        if folded == text:
            break
        text = folded
        if _is_fixed_point(text):
            break
    return text


_FOLD_CACHE: dict[str, str] = {}
_FOLD_CACHE_LIMIT = 200_000


def _fold_word(token: str) -> str:
    # Compatibility forms can expand into punctuation ("¼" -> "1⁄4") or into letters that
    # casefold again ("𝕊" -> "S"), so keep word characters and repeat until stable.
    folded = token
    for _ in range(4):
        again = "".join(_token().findall(_strip_accents(folded.casefold())))
        if again == folded:
            break
        folded = again
    if len(token) == 1 and _nospace_char().match(token) and len(folded) != 1:
        return token  # one character stays one token (Thai SARA AM would split in two)
    if len(token) > 1 and _nospace_char().search(folded):
        # A compatibility form of a script written without spaces inside a word ("0㊀"
        # would fold to "0一", which reads as two words): one token stays one word.
        return token.casefold()
    return folded or token


def fold(token: str) -> str:
    """The matching form of one token: casefolded, accents folded, compatibility forms unified."""
    cached = _FOLD_CACHE.get(token)
    if cached is not None:
        return cached
    folded = token.lower() if token.isascii() else _fold_word(token)
    if len(_FOLD_CACHE) >= _FOLD_CACHE_LIMIT:
        _FOLD_CACHE.clear()
    _FOLD_CACHE[token] = folded
    return folded


def fold_all(tokens: Sequence[str]) -> list[str]:
    """``[fold(token) for token in tokens]``, with one cache look-up per distinct token."""
    cache = _FOLD_CACHE
    try:
        return list(map(cache.__getitem__, tokens))  # the usual case: every token met before
    except KeyError:
        pass
    missing = set(tokens).difference(cache)
    if len(cache) + len(missing) > _FOLD_CACHE_LIMIT:
        cache.clear()
        missing = set(tokens)
    for token in missing:
        cache[token] = token.lower() if token.isascii() else _fold_word(token)
    return list(map(cache.__getitem__, tokens))


def fold_keep_case(token: str) -> str:
    """Like ``fold`` but keeping letter case: the form case-sensitive terms compare."""
    if token.isascii():
        return token
    return "".join(_token().findall(_strip_accents(token)))


# What each character met outside ASCII is to the word splitter (a few thousand at most).
_CHAR_KINDS: dict[str, str] = {}
_CHAR_KINDS_LIMIT = 20_000


def _char_kind(char: str) -> str:
    kind = "nospace" if _nospace_char().match(char) else "word" if _token_char().match(char) else "separator"
    if len(_CHAR_KINDS) >= _CHAR_KINDS_LIMIT:
        _CHAR_KINDS.clear()
    _CHAR_KINDS[char] = kind
    return kind


def _word_text(text: str) -> str | None:
    """``text`` with every character that is not part of a word replaced by a space (so
    offsets are kept), or None for text in a script written without spaces."""
    if not text.isascii():
        foreign = set(_NON_ASCII.findall(text))  # a regex skips the ASCII at C speed
        found = [_CHAR_KINDS.get(char) or _char_kind(char) for char in foreign]
        if "nospace" in found:
            return None
        separators = [char for char, kind in zip(foreign, found, strict=True) if kind == "separator"]
        if len(separators) > 32:
            return None
        for char in separators:
            text = text.replace(char, " ")
    # Only ASCII bytes change, so the decoded text has the same characters at the same places.
    return text.encode().translate(_ASCII_SEPARATORS).decode()


def _runs(word_text: str) -> list[tuple[int, int]]:
    """Start and end of each run of non-spaces, with C-level iterators only: a piece of
    ``split(" ")`` starts one past the end of the piece before it."""
    pieces = word_text.split(" ")
    offsets = accumulate(map(add, map(len, pieces), repeat(1)), initial=0)
    starts = list(compress(offsets, pieces))
    words = filter(None, pieces)
    return list(zip(starts, map(add, starts, map(len, words)), strict=True))


def _split_words(text: str) -> list[str]:
    """``_token().findall(text)``, several times faster for text without no-space scripts.
    (No word character is a space to ``str.split``, so it cuts where the regex would.)"""
    word_text = _word_text(text)
    return _token().findall(text) if word_text is None else word_text.split()


def tokenize(text: str) -> list[str]:
    """The words of ``text`` as written (entities decoded), in order; see the module rules."""
    decoded, _ = decode_entities(text)
    return _split_words(decoded)


def token_spans(text: str) -> list[tuple[int, int]]:
    """Start and end offset in ``text`` of each token ``tokenize(text)`` returns."""
    decoded, offsets = decode_entities(text)
    word_text = _word_text(decoded)
    spans = list(map(re.Match.span, _token().finditer(decoded))) if word_text is None else _runs(word_text)
    if offsets is None:
        return spans
    starts, ends = offsets
    return [(starts[start], ends[end - 1]) for start, end in spans]


class AnalysedText:
    """A text split into words once, for the matcher: the words as written, their
    ``fold`` forms, and on demand where a run of words is in the original text (offsets
    are worked out on the first ``span`` call: most texts match no topic)."""

    __slots__ = ("_decoded", "_offsets", "_starts", "_word_text", "folded", "tokens")

    def __init__(self, text: str) -> None:
        decoded, offsets = decode_entities(text)
        word_text = _word_text(decoded)
        self.tokens: list[str] = _token().findall(decoded) if word_text is None else word_text.split()
        if word_text is not None and word_text.isascii():
            # Every word is ASCII, whose fold is its lower case: one C call for the text.
            self.folded: list[str] = word_text.lower().split()
        else:
            self.folded = fold_all(self.tokens)
        self._decoded = decoded
        self._offsets = offsets
        self._word_text = word_text
        self._starts: list[int] | None = None

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Start offset of word ``first`` and end offset of word ``last`` in the text."""
        starts = self._starts
        if starts is None:
            word_text = self._word_text
            if word_text is None:
                starts = list(map(re.Match.start, _token().finditer(self._decoded)))
            else:
                pieces = word_text.split(" ")  # a piece starts one past the end of the one before
                starts = list(compress(accumulate(map(add, map(len, pieces), repeat(1)), initial=0), pieces))
            self._starts = starts
        start, end = starts[first], starts[last] + len(self.tokens[last])
        if self._offsets is None:
            return start, end
        decoded_starts, decoded_ends = self._offsets
        return decoded_starts[start], decoded_ends[end - 1]


def is_nospace_token(token: str) -> bool:
    """True for a one-character token of a script written without spaces (Han, Kana, ...)."""
    # ASCII first: the Unicode class compiles in milliseconds, and no ASCII letter is in it
    return len(token) == 1 and not token.isascii() and _nospace_char().match(token) is not None


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (one per character in Han, Kana, Hangul, Thai...)."""
    decoded, _ = decode_entities(text)
    word_text = _word_text(decoded)
    if word_text is None:
        return fold_all(_token().findall(decoded))
    if word_text.isascii():  # every word is ASCII, whose fold is its lower case
        return word_text.lower().split()
    return fold_all(word_text.split())


def language_code(language: str | None) -> str | None:
    """The primary ISO 639 subtag of a language tag ("de-AT" -> "de"), or None."""
    if not language:
        return None
    code = language.replace("_", "-").split("-")[0].strip().lower()
    return code or None


@lru_cache(maxsize=64)
def stemmer_for(language: str | None) -> Callable[[Sequence[str]], list[str]] | None:
    """A Snowball stemmer over folded words for ``language``, or None if there is none."""
    code = language_code(language)
    algorithm = _SNOWBALL.get(code or "")
    if algorithm is None:
        return None
    import Stemmer

    if algorithm not in Stemmer.algorithms():
        return None
    stemmer = Stemmer.Stemmer(algorithm)

    def stem_words(folded_words: Sequence[str]) -> list[str]:
        return list(stemmer.stemWords(list(folded_words)))

    return stem_words


_MIN_LETTERS_FOR_DETECTION = 40
_DETECTION_SAMPLE = 500


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``; the declared language when the text is too short to tell."""
    import py3langid

    declared_code = declared.split("-")[0].strip().lower()[:2] if declared else None
    sample = text[:_DETECTION_SAMPLE]
    if sum(map(str.isalpha, sample)) < _MIN_LETTERS_FOR_DETECTION:
        return declared_code or None
    # The model's cost grows with the text and, beside extraction, with cold caches (its
    # tables are 70 MB): the first 500 characters, some 80 words, tell as well. On the
    # 530 news texts of benchmarks and corpora, 300 to 1,000 gave the same answers.
    code, _ = py3langid.classify(sample)
    return str(code)
