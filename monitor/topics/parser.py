"""Topic query text -> tree (``nodes``), with one-line errors that name the column.

Grammar, loosest first (NOT binds tightest)::

    query   := and ("OR" and)*
    and     := near (["AND"] near)*            # a bare juxtaposition is an AND
    near    := unary (("NEAR/n" | "ONEAR/n") unary)*
    unary   := "NOT" unary | primary
    primary := "(" query ")" | term | phrase | "title:" primary | "body:" primary
             | "lang:" code | "lang:(" code ("OR" code)* ")" | "site:" domain | "site:(" ... ")"
    term    := ["!"] word-characters ["*"]      phrase := ["!"] '"' words '"'
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import NamedTuple

from monitor.errors import QueryError
from monitor.model import Field
from monitor.text import fold, fold_keep_case, tokenize
from monitor.topics.nodes import And, Lang, Near, Node, Not, Or, Site, Term, Word, to_query

MAX_QUERY_LENGTH = 10_000
MAX_DEPTH = 100
MAX_DISTANCE = 1_000
MIN_PREFIX_LENGTH = 2

# What analysts paste from word processors and CJK input methods, read as its ASCII
# meaning before lexing (one character for one, so columns stay true).
_PASTED = str.maketrans(
    {
        "\uff08": "(",  # （ full-width parentheses
        "\uff09": ")",  # ）
        "\u201c": '"',  # “ typographic quotes
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
        "\u00ab": '"',  # « guillemets
        "\u00bb": '"',  # »
        "\uff02": '"',  # ＂ full-width quote
    }
)
_QUOTES = '"'
_SPECIAL = "()" + _QUOTES
# Characters other query languages give a meaning this one does not have: refused
# rather than silently dropped as punctuation (outside quotes).
_MEANINGLESS = {
    "[": '"[" has no meaning here; group with ( )',
    "]": '"]" has no meaning here; group with ( )',
    "{": '"{" has no meaning here; group with ( )',
    "}": '"}" has no meaning here; group with ( )',
    "\\": '"\\" has no meaning here (there are no escapes); put the term in quotes instead',
}
_FIELDS = ("title", "body", "lang", "site")
_NEAR = re.compile(r"(O?NEAR)/([0-9]+)\Z")
_NEAR_ANY_DIGITS = re.compile(r"(O?NEAR)/(\d+)\Z")  # also ١٢, ５: digits of other scripts
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):")
_LANG_CODE = re.compile(r"[a-z]{2,3}\Z")
_DOMAIN = re.compile(r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\Z")
_OPERATORS = "AND, OR, NOT, NEAR/n, ONEAR/n"
_BARE = re.compile(f"[^\\s{re.escape(_SPECIAL)}]*")  # a bare term runs to a space, ( ) or quote
_SPACES = re.compile(r"\s+")
# Spaces, then a parenthesis or a word of letters and digits that ends at a space, a
# parenthesis or the end: the lexemes most queries are made of (anything else, such as
# fields, wildcards, phrases and NEAR/n, takes the general path below).
_PLAIN = re.compile(r"\s*(?:([()])|([^\W_]+)(?=[\s()]|\Z))")


class _Token(NamedTuple):  # a tuple: built ten times faster than a frozen dataclass
    kind: str  # "(", ")", AND, OR, NOT, NEAR, TERM, PHRASE, FIELD, END
    text: str
    column: int  # 1-based
    marked: bool = False  # ! before a term or phrase
    distance: int = 0
    ordered: bool = False


def _fail(column: int, message: str) -> QueryError:
    return QueryError(f"column {column}: {message}")


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    length = len(query)
    while i < length:
        plain = _PLAIN.match(query, i)
        if plain is not None and plain.group(2) not in ("NEAR", "ONEAR"):  # the common lexemes, in one step
            paren, word = plain.groups()
            if paren:
                tokens.append(_Token(paren, paren, plain.start(1) + 1))
            else:
                kind = word if word in ("AND", "OR", "NOT") else "TERM"
                tokens.append(_Token(kind, word, plain.start(2) + 1))
            i = plain.end()
            continue
        char = query[i]
        column = i + 1
        if char.isspace():
            spaces = _SPACES.match(query, i)
            i = spaces.end() if spaces else i + 1
        elif char in "()":
            tokens.append(_Token(char, char, column))
            i += 1
        elif char in _QUOTES:
            i = _lex_phrase(query, i, marked=False, tokens=tokens)
        elif char == "!":
            following = query[i + 1] if i + 1 < length else ""
            if following in _QUOTES and following:
                i = _lex_phrase(query, i + 1, marked=True, tokens=tokens, column=column)
            elif following and not following.isspace() and following not in "()":
                i = _lex_bare(query, i + 1, marked=True, tokens=tokens, column=column)
            else:
                raise _fail(column, "expected a term or phrase right after the ! marker")
        else:
            i = _lex_bare(query, i, marked=False, tokens=tokens, column=column)
    tokens.append(_Token("END", "", length + 1))
    return tokens


def _lex_phrase(query: str, start: int, *, marked: bool, tokens: list[_Token], column: int = 0) -> int:
    end = start + 1
    while end < len(query) and query[end] not in _QUOTES:
        end += 1
    if end >= len(query):
        raise _fail(start + 1, 'unterminated phrase: expected a closing "')
    tokens.append(_Token("PHRASE", query[start + 1 : end], column or start + 1, marked=marked))
    return end + 1


def _lex_bare(query: str, start: int, *, marked: bool, tokens: list[_Token], column: int) -> int:
    bare = _BARE.match(query, start)
    end = bare.end() if bare else start
    text = query[start:end]
    for offset, char in enumerate(text):
        if char in _MEANINGLESS:
            raise _fail(start + offset + 1, _MEANINGLESS[char])
    field = _FIELD_PREFIX.match(text)
    if field and not marked:
        name = field.group(1)
        if name.lower() not in _FIELDS:
            raise _fail(
                column,
                f'unknown field "{name}:"; the fields are title:, body:, lang: and site: '
                f'(put the term in quotes to search for "{text}" as written)',
            )
        tokens.append(_Token("FIELD", name.lower(), column))
        after = start + field.end()
        if after >= len(query) or query[after].isspace() or query[after] == ")":
            raise _fail(after + 1, f"expected a value right after {name.lower()}:")
        return after
    if not marked:
        if text in ("AND", "OR", "NOT"):
            tokens.append(_Token(text, text, column))
            return end
        near = _NEAR.match(text)
        if near:
            distance = int(near.group(2))
            if distance == 0:
                # NEAR/n allows n words between; zero is a phrase, and one written as such is clearer.
                raise _fail(
                    column + len(near.group(1)) + 1,
                    f'{near.group(1)}/0 is not a distance: write adjacent words as a phrase, "a b" (or "a b" OR "b a")',
                )
            if distance > MAX_DISTANCE:
                raise _fail(column, f"{near.group(1)} distance must be 1 to {MAX_DISTANCE}")
            ordered = near.group(1) == "ONEAR"
            tokens.append(_Token("NEAR", text, column, distance=distance, ordered=ordered))
            return end
        foreign = _NEAR_ANY_DIGITS.match(text)
        if foreign:
            raise _fail(
                column + len(foreign.group(1)) + 1,
                f"write the {foreign.group(1)} distance with the digits 0-9, not {foreign.group(2)}",
            )
        if text.startswith(("NEAR", "ONEAR")) and (text in ("NEAR", "ONEAR") or "/" in text):
            operator = text.split("/")[0]
            raise _fail(column, f"expected a number after {operator}/ (e.g. {operator}/5)")
    tokens.append(_Token("TERM", text, column, marked=marked))
    return end


# Pieces already parsed, without and with the ! marker.
_WORDS_CACHE: tuple[dict[str, tuple[Word, ...]], dict[str, tuple[Word, ...]]] = ({}, {})
_WORDS_CACHE_LIMIT = 100_000


def _words(piece: str, column: int, *, marked: bool) -> tuple[Word, ...]:
    """The words of one whitespace-free piece of a term or phrase; * ends the last one.
    (Thousands of topics repeat the same words: those parsed once are reused.)"""
    cache = _WORDS_CACHE[marked]
    found = cache.get(piece)
    if found is None:
        found = _parse_words(piece, column, marked=marked)  # errors name this column
        if len(cache) >= _WORDS_CACHE_LIMIT:
            cache.clear()
        cache[piece] = found
    return found


def _parse_words(piece: str, column: int, *, marked: bool) -> tuple[Word, ...]:
    prefix = piece.endswith("*")
    body = piece.rstrip("*") if prefix else piece
    if "*" in body:
        raise _fail(column, f'"{piece}": * is only allowed at the end of a term')
    if piece.startswith(("-", "+")) and len(piece) > 1 and piece[1] not in "-+":
        if piece[0] == "-":
            raise _fail(column, f'"{piece}": write NOT {piece[1:]} to exclude a term')
        raise _fail(column, f'"{piece}": every term is required already; drop the "+"')
    # A word of ASCII letters and digits is one token, its own case-kept fold.
    raws = [body] if body.isascii() and body.isalnum() else tokenize(body)
    if not raws:
        if prefix:
            raise _fail(column, f"a wildcard needs at least {MIN_PREFIX_LENGTH} letters before *")
        raise _fail(
            column,
            f'"{piece}" is not a term (no letters or digits); the operators are {_OPERATORS}',
        )
    words: list[Word] = []
    for index, raw in enumerate(raws):
        is_prefix = prefix and index == len(raws) - 1
        if is_prefix and len(fold(raw)) < MIN_PREFIX_LENGTH:
            raise _fail(column, f"a wildcard needs at least {MIN_PREFIX_LENGTH} letters before *")
        case_sensitive = marked or (2 <= len(raw) <= 3 and raw.isupper() and raw.isalpha())
        words.append(Word(raw, fold(raw), is_prefix, case_sensitive, fold_keep_case(raw)))
    return tuple(words)


def _term(token: _Token) -> Term:
    if token.kind == "PHRASE":
        pieces = token.text.split()
        if not pieces:
            raise _fail(token.column, "empty phrase: put words between the quotes")
        words = tuple(w for piece in pieces for w in _words(piece, token.column, marked=token.marked))
        source = " ".join(pieces)
        return Term(words, source, quoted=True, marked=token.marked, column=token.column)
    return Term(
        _words(token.text, token.column, marked=token.marked), token.text, marked=token.marked, column=token.column
    )


def _describe(token: _Token) -> str:
    if token.kind == "END":
        return "the end of the query"
    if token.kind == "PHRASE":
        return f'"{token.text}"'
    if token.kind == "FIELD":
        return f"{token.text}:"
    return token.text if token.kind != "TERM" else f'"{token.text}"'


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _lex(query)
        self.position = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def starts_operand(self) -> bool:
        return self.tokens[self.position].kind in ("(", "TERM", "PHRASE", "FIELD", "NOT")

    def expect_operand(self, after: str) -> None:
        if not self.starts_operand():
            token = self.peek()
            found = "" if token.kind == "END" else f", found {_describe(token)}"
            raise _fail(token.column, f'expected a term or "(" after {after}{found}')

    def query(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(self.peek().column, f"the query nests deeper than {MAX_DEPTH} levels")
        first = self.tokens[self.position]
        children = [self.conjunction()]
        while self.tokens[self.position].kind == "OR":
            self.take()
            self.expect_operand("OR")
            children.append(self.conjunction())
        self.depth -= 1
        return children[0] if len(children) == 1 else Or(_flatten(Or, children), first.column)

    def conjunction(self) -> Node:
        first = self.tokens[self.position]
        children = [self.proximity()]
        while True:
            if self.tokens[self.position].kind == "AND":
                self.take()
                self.expect_operand("AND")
            elif not self.starts_operand():
                break
            children.append(self.proximity())
        return children[0] if len(children) == 1 else And(_flatten(And, children), first.column)

    def proximity(self) -> Node:
        left = self.unary()
        while self.tokens[self.position].kind == "NEAR":
            operator = self.take()
            self.expect_operand(operator.text)
            right = self.unary()
            _check_positional(left, operator)
            _check_positional(right, operator)
            left = Near(left, right, operator.distance, operator.ordered, operator.column)
        return left

    def unary(self) -> Node:
        token = self.tokens[self.position]
        if token.kind == "NOT":
            self.take()
            self.expect_operand("NOT")
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _fail(token.column, f"the query nests deeper than {MAX_DEPTH} levels")
            child = self.unary()
            self.depth -= 1
            return Not(child, token.column)
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "(":
            inner = self.query()
            closing = self.tokens[self.position]
            if closing.kind != ")":
                raise _fail(
                    closing.column,
                    f'expected ")" to close the "(" at column {token.column}, found {_describe(closing)}',
                )
            self.take()
            return inner
        if token.kind in ("TERM", "PHRASE"):
            return _term(token)
        if token.kind == "FIELD":
            return self.field(token)
        found = _describe(token)
        if token.kind == ")":
            raise _fail(token.column, 'expected a term or "(", found ")" without a matching "("')
        raise _fail(token.column, f'expected a term or "(", found {found}')

    def field(self, token: _Token) -> Node:
        if token.text in ("lang", "site"):
            values = self.field_values(token)
            if token.text == "lang":
                return Lang(tuple(_language(v, c) for v, c in values), token.column)
            return Site(tuple(_domain(v, c) for v, c in values), token.column)
        value = self.peek()
        if value.kind not in ("TERM", "PHRASE", "(", "FIELD"):
            raise _fail(value.column, f'expected a term, phrase or "(" after {token.text}:')
        field: Field = "title" if token.text == "title" else "body"
        return _restrict(self.primary(), field, token.column)

    def field_values(self, token: _Token) -> list[tuple[str, int]]:
        """``lang:de`` or ``lang:(de OR fr)``: the values and their columns."""
        name = token.text
        first = self.take()
        if first.kind == "TERM" and not first.marked:
            return [(first.text, first.column)]
        if first.kind != "(":
            example = "de" if name == "lang" else "example.com"
            raise _fail(first.column, f"expected a value such as {name}:{example}")
        values: list[tuple[str, int]] = []
        while True:
            value = self.take()
            if value.kind != "TERM" or value.marked:
                raise _fail(value.column, f"expected a value in {name}:( ... OR ... )")
            values.append((value.text, value.column))
            separator = self.take()
            if separator.kind == ")":
                return values
            if separator.kind != "OR":
                raise _fail(
                    separator.column,
                    f'expected OR or ")" in {name}:( ... ), found {_describe(separator)}',
                )


def _language(value: str, column: int) -> str:
    code = value.lower()
    if not _LANG_CODE.match(code):
        raise _fail(column, f'"{value}" is not a language code; write e.g. lang:de or lang:id')
    return code


def _domain(value: str, column: int) -> str:
    domain = value.lower().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    if not ascii_domain or not _DOMAIN.match(ascii_domain):
        raise _fail(column, f'"{value}" is not a domain; write e.g. site:example.com')
    return ascii_domain


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            flat.extend(child.children)
        else:
            flat.append(child)
    return tuple(flat)


def _restrict(node: Node, field: Field, column: int) -> Node:
    """Apply title:/body: to every term below ``node``."""
    if isinstance(node, Term):
        if node.field is not None and node.field != field:
            raise _fail(column, f"{node.field}: cannot be used inside {field}:( ... )")
        return replace(node, field=field)
    if isinstance(node, Lang | Site):
        kind = "lang:" if isinstance(node, Lang) else "site:"
        raise _fail(node.column, f"{kind} cannot be used inside {field}:( ... )")
    if isinstance(node, Not):
        return replace(node, child=_restrict(node.child, field, column))
    if isinstance(node, Near):
        left = _restrict(node.left, field, column)
        return replace(node, left=left, right=_restrict(node.right, field, column))
    return replace(node, children=tuple(_restrict(c, field, column) for c in node.children))


def _is_positional(node: Node) -> bool:
    """Terms, phrases, and OR / NEAR groups of them have positions in the text."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Or):
        return all(_is_positional(child) for child in node.children)
    return False


def _check_positional(node: Node, operator: _Token) -> None:
    if _is_positional(node):
        return
    found = {Not: "NOT", And: "an AND group", Lang: "lang:", Site: "site:", Or: "an OR group"}
    what = found.get(type(node), "something else")
    if isinstance(node, Or):
        what = "an OR group with NOT, AND, lang: or site: inside"
    raise _fail(
        operator.column,
        f"{operator.text} needs a term, phrase or (… OR …) group on each side, found {what}",
    )


def _has_requirement(node: Node) -> bool:
    """Whether ``node`` requires something to be present (not only absent)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_requirement(child) for child in node.children)
    if isinstance(node, Or):
        return all(_has_requirement(child) for child in node.children)
    return True


def _check_satisfiable(node: Node) -> None:
    """Refuse queries that can never match, or that match everything but a few words."""
    if isinstance(node, Not):
        raise _fail(
            node.column,
            "the query has only NOT clauses, so it requires nothing; add a term it must contain",
        )
    if isinstance(node, Or):
        for child in node.children:
            if isinstance(child, Not) or not _has_requirement(child):
                raise _fail(
                    child.column,
                    "NOT cannot be an OR branch on its own; write (a OR b) AND NOT c",
                )
            _check_satisfiable(child)
    elif isinstance(node, And):
        positives = [c for c in node.children if not isinstance(c, Not)]
        if not positives:
            raise _fail(
                node.column,
                "the query has only NOT clauses, so it requires nothing; add a term it must contain",
            )
        excluded = {to_query(c.child) for c in node.children if isinstance(c, Not)}
        for child in positives:
            if excluded and to_query(child) in excluded:
                raise _fail(
                    node.column,
                    f"the query can never match: it requires {to_query(child)} and NOT {to_query(child)}",
                )
            _check_satisfiable(child)
        languages = [set(c.codes) for c in positives if isinstance(c, Lang)]
        if languages and not set.intersection(*languages):
            shown = " and ".join(to_query(c) for c in positives if isinstance(c, Lang))
            raise _fail(node.column, f"the query can never match: {shown} exclude each other")
        for child in node.children:
            if isinstance(child, Not):
                _check_negation(child.child)
    elif isinstance(node, Near):
        _check_satisfiable(node.left)
        _check_satisfiable(node.right)


def _check_negation(node: Node) -> None:
    """What follows NOT must itself be well-formed (NOT NOT x is refused as confusing)."""
    if isinstance(node, Not):
        raise _fail(node.column, "NOT NOT cancels out; write the term without NOT")
    if isinstance(node, Or | And):
        for child in node.children:
            if isinstance(child, Not) and isinstance(node, Or):
                raise _fail(child.column, "NOT cannot be an OR branch on its own")
            if isinstance(node, And) and not isinstance(child, Not):
                _check_satisfiable(child)
        if isinstance(node, And):
            _check_satisfiable(node)


def parse(query: str) -> Node:
    """Parse topic query text into a tree; raises ``QueryError`` naming the column."""
    if not query.strip():
        raise QueryError("the query is empty; write at least one term")
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    parser = _Parser(query.translate(_PASTED))
    node = parser.query()
    leftover = parser.peek()
    if leftover.kind != "END":
        if leftover.kind == ")":
            raise _fail(leftover.column, 'unexpected ")" without a matching "("')
        raise _fail(leftover.column, f"unexpected {_describe(leftover)}")
    _check_satisfiable(node)
    return node
