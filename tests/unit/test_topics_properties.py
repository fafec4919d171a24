"""Properties of the query language and the normaliser, over generated inputs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.model import Document
from monitor.text import normalize, words
from monitor.topics import TopicSet, TopicSpec, parse
from monitor.topics.nodes import to_query

# A small vocabulary so generated queries and documents share words often.
VOCAB = [
    "TikTok", "ByteDance", "ban", "banana", "larangan", "Verbot", "Sabotagevorwürfe",
    "interdiction", "AI", "ai", "KI", "IA", "j'ai", "豆包", "字节跳动", "Doubao", "café",
    "CAFÉ", "straße", "KI-Modell", "said",
]  # fmt: skip
QUERY_ATOMS = [
    "TikTok", "ban", "AI", "ai", "KI", "IA", "larang*", "Verbot", "Sabotage", "豆包",
    '"KI-Modell"', '"ban banana"', "!Doubao", "café", "title:TikTok", "body:ban",
    "lang:de", "lang:(fr OR id)", "site:example.com", "interdi*",
]  # fmt: skip

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.text(max_size=80))
def test_parse_never_crashes_on_arbitrary_text(query: str) -> None:
    try:
        parse(query)
    except QueryError as error:
        assert str(error) and "\n" not in str(error)


QUERY_ALPHABET = st.sampled_from(
    ['"', "(", ")", "*", "!", ":", " ", "AND ", " OR ", "NOT ", "NEAR/3 ", "ONEAR/2 ", "title:",
     "lang:", "site:", "-", "a", "KI", "豆", "é", "/", "“", "„"]
)  # fmt: skip


@SETTINGS
@given(st.lists(QUERY_ALPHABET, max_size=25).map("".join))
def test_parse_never_crashes_on_query_like_text(query: str) -> None:
    try:
        node = parse(query)
    except QueryError as error:
        assert str(error).strip() and "\n" not in str(error)
        return
    # What parses prints back as a query that parses to the same tree.
    assert parse(to_query(node)) == node


@SETTINGS
@given(st.text(max_size=200))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@SETTINGS
@given(st.text(max_size=200))
@example("0㊀")  # a circled ideograph folds to a Han character: a word of its own
def test_words_are_normalised_and_stable(text: str) -> None:
    found = words(text)
    assert all(word and " " not in word for word in found)
    assert words(" ".join(found)) == found


def _queries() -> st.SearchStrategy[str]:
    atom = st.sampled_from(QUERY_ATOMS)

    def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(children, children).map(lambda p: f"({p[0]} AND {p[1]})"),
            st.tuples(children, children).map(lambda p: f"({p[0]} OR {p[1]})"),
            st.tuples(children, children).map(lambda p: f"({p[0]} NOT {p[1]})"),
        )

    positional = st.recursive(
        atom.filter(lambda a: ":" not in a or a.startswith(("title", "body"))),
        lambda children: (
            st.tuples(children, st.integers(1, 4), children).map(lambda p: f"({p[0]} NEAR/{p[1]} {p[2]})")
            | st.tuples(children, children).map(lambda p: f"({p[0]} OR {p[1]})")
        ),
        max_leaves=4,
    )
    return st.recursive(atom | positional, combine, max_leaves=6)


def _documents() -> st.SearchStrategy[Document]:
    text = st.lists(st.sampled_from([*VOCAB, ".", ",", " "]), max_size=30).map(" ".join)
    return st.builds(
        Document,
        title=text,
        text=text,
        language=st.sampled_from([None, "de", "fr", "id", "en"]),
        url=st.sampled_from(["", "https://news.example.com/a", "https://heise.de/b"]),
    )


def _matches(query: str, doc: Document, stem: bool) -> bool | None:
    try:
        topics = TopicSet.compile([TopicSpec("t", query, stem)])
    except QueryError:
        return None
    found = topics.match(doc)
    assert found == topics.match_naive(doc)  # the presearch never loses a match
    return bool(found)


@SETTINGS
@given(_queries(), _documents(), st.booleans())
def test_a_query_or_itself_matches_the_same_documents(query: str, doc: Document, stem: bool) -> None:
    alone = _matches(query, doc, stem)
    if alone is None:
        return
    assert _matches(f"{query} OR ({query})", doc, stem) is alone


@SETTINGS
@given(st.lists(_queries(), min_size=1, max_size=8), _documents())
def test_a_topic_matches_the_same_alone_and_among_others(queries: list[str], doc: Document) -> None:
    specs = []
    for index, query in enumerate(queries):
        try:
            parse(query)
        except QueryError:
            continue
        specs.append(TopicSpec(f"topic {index}", query))
    together = {m.topic: m for m in TopicSet.compile(specs).match(doc)}
    for spec in specs:
        alone = TopicSet.compile([spec]).match(doc)
        assert (alone[0] if alone else None) == together.get(spec.name)


def _pasted(query: str, choices: list[int]) -> str:
    """``query`` as a word processor might render it: full-width parentheses and
    typographic quotes, a different kind at each place."""
    opening = ["“", "„", "«", "»", "＂", '"']
    closing = ["”", "“", "»", "«", "＂", '"']
    out: list[str] = []
    quote = 0
    for index, char in enumerate(query):
        pick = choices[index % len(choices)]
        if char in "()" and pick % 2:
            out.append("（" if char == "(" else "）")
        elif char == '"':
            out.append((closing if quote % 2 else opening)[pick % len(opening)])
            quote += 1
        else:
            out.append(char)
    return "".join(out)


@SETTINGS
@given(_queries(), st.lists(st.integers(0, 11), min_size=1, max_size=8))
def test_pasted_punctuation_reads_as_its_ascii_form(query: str, choices: list[int]) -> None:
    pasted = _pasted(query, choices)
    try:
        expected: object = parse(query)
    except QueryError as error:
        expected = str(error)  # the same message, at the same column
    try:
        found: object = parse(pasted)
    except QueryError as error:
        found = str(error)
    assert found == expected


@SETTINGS
@given(_queries(), st.sampled_from("[]{}\\"), st.integers(0, 200))
def test_brackets_and_backslashes_outside_quotes_are_refused_at_their_column(query: str, char: str, where: int) -> None:
    # Inserted between two terms or before a term (never inside quotes), it is refused.
    starts = [0] + [i + 1 for i, c in enumerate(query) if c == " " and query[:i].count('"') % 2 == 0]
    at = starts[where % len(starts)]
    with pytest.raises(QueryError) as caught:
        parse(query[:at] + char + query[at:])
    assert str(caught.value).startswith(f'column {at + 1}: "{char}" has no meaning here')
