"""The parsed form of a topic query: a small immutable tree, printable back as query text."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field

from monitor.model import Field


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a term or phrase, in the forms the matcher compares."""

    raw: str  # as written in the query (one token, without a trailing *)
    norm: str  # folded: casefolded, accents folded
    prefix: bool  # written with a trailing *: matches any word starting with ``norm``
    case_sensitive: bool
    case_form: str  # accents folded, case kept: what a case-sensitive word compares


@dataclass(frozen=True, slots=True)
class Term:
    """A bare term (one or more words, e.g. KI-Modell) or a "quoted phrase"."""

    words: tuple[Word, ...]
    source: str  # as written, without quotes or the ! marker
    quoted: bool = False
    marked: bool = False  # written with the ! case-sensitive marker
    field: Field | None = None  # title: or body: restriction
    column: int = _field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    column: int = _field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    column: int = _field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    column: int = _field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Near:
    """``left NEAR/distance right``; ``ordered`` for ONEAR (left must come first)."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False
    column: int = _field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Lang:
    codes: tuple[str, ...]
    column: int = _field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Site:
    domains: tuple[str, ...]
    column: int = _field(default=0, compare=False)


Node = Term | And | Or | Not | Near | Lang | Site

# Binding strength, loosest first; a child that binds looser than its parent needs ( ).
_OR, _AND, _NEAR, _NOT, _ATOM = range(5)


def _strength(node: Node) -> int:
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    if isinstance(node, Near):
        return _NEAR
    if isinstance(node, Not):
        return _NOT
    return _ATOM


def _wrap(node: Node, minimum: int) -> str:
    text = to_query(node)
    return f"({text})" if _strength(node) < minimum else text


def term_text(term: Term) -> str:
    """The term as a query would write it: marker, field, quotes."""
    body = f'"{term.source}"' if term.quoted else term.source
    marker = "!" if term.marked else ""
    prefix = f"{term.field}:" if term.field else ""
    return f"{prefix}{marker}{body}"


def to_query(node: Node) -> str:
    """The node as canonical query text (explicit AND, minimal parentheses)."""
    if isinstance(node, Term):
        return term_text(node)
    if isinstance(node, Or):
        return " OR ".join(_wrap(child, _AND) for child in node.children)
    if isinstance(node, And):
        return " AND ".join(_wrap(child, _NEAR) for child in node.children)
    if isinstance(node, Near):
        operator = "ONEAR" if node.ordered else "NEAR"
        left = _wrap(node.left, _NEAR)
        right = _wrap(node.right, _NOT)
        return f"{left} {operator}/{node.distance} {right}"
    if isinstance(node, Not):
        return f"NOT {_wrap(node.child, _NOT)}"
    if isinstance(node, Lang):
        codes = node.codes
        return f"lang:{codes[0]}" if len(codes) == 1 else f"lang:({' OR '.join(codes)})"
    domains = node.domains
    return f"site:{domains[0]}" if len(domains) == 1 else f"site:({' OR '.join(domains)})"


def _describe_term(term: Term) -> str:
    kind = "PHRASE" if len(term.words) > 1 or term.quoted else "TERM"
    notes: list[str] = []
    if term.field:
        notes.append(f"in {term.field}")
    if any(word.case_sensitive for word in term.words):
        notes.append("case-sensitive")
    if any(word.prefix for word in term.words):
        notes.append("prefix")
    words = " ".join(word.norm + ("*" if word.prefix else "") for word in term.words)
    suffix = f"  [{', '.join(notes)}]" if notes else ""
    return f"{kind} {term_text(term)} -> {words}{suffix}"


def explain_tree(node: Node, indent: int = 0) -> list[str]:
    """One line per node, children indented by two spaces."""
    pad = "  " * indent
    if isinstance(node, Term):
        return [pad + _describe_term(node)]
    if isinstance(node, Lang | Site):
        return [pad + to_query(node)]
    if isinstance(node, Not):
        return [pad + "NOT", *explain_tree(node.child, indent + 1)]
    if isinstance(node, Near):
        operator = "ONEAR" if node.ordered else "NEAR"
        head = f"{pad}{operator}/{node.distance}"
        return [head, *explain_tree(node.left, indent + 1), *explain_tree(node.right, indent + 1)]
    head = pad + ("AND" if isinstance(node, And) else "OR")
    lines = [head]
    for child in node.children:
        lines.extend(explain_tree(child, indent + 1))
    return lines
