"""The presearch narrows the topics to evaluate without ever losing a match."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.model import Document
from monitor.topics import TopicSet, TopicSpec, parse, presearch

WORDS = ["TikTok", "ban", "larangan", "Verbot", "Sabotagevorwürfe", "KI", "ki", "Modell", "of", "the"]
ATOMS = [
    "TikTok", "ban", "larang*", "Verbot", "Sabotage", "!KI", "Modell", '"TikTok ban"',
    '"ban of the"', '"KI-Modell"', '"larang* ban"', "title:TikTok", "title:(ban OR Verbot)",
    'title:"TikTok ban"', "lang:de", "site:example.com",
]  # fmt: skip
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _query() -> st.SearchStrategy[str]:
    atom = st.sampled_from(ATOMS)
    return st.recursive(
        atom,
        lambda children: st.one_of(
            st.tuples(children, children).map(lambda p: f"({p[0]} AND {p[1]})"),
            st.tuples(children, children).map(lambda p: f"({p[0]} OR {p[1]})"),
            st.tuples(children, children).map(lambda p: f"({p[0]} NOT {p[1]})"),
        ),
        max_leaves=5,
    )


def _document() -> st.SearchStrategy[Document]:
    text = st.lists(st.sampled_from([*WORDS, "-", "."]), max_size=20).map(" ".join)
    return st.builds(
        Document,
        title=text,
        text=text,
        language=st.sampled_from([None, "de", "id", "en"]),
        url=st.sampled_from(["", "https://example.com/a"]),
    )


@SETTINGS
@given(st.lists(_query(), min_size=1, max_size=6), _document(), st.booleans())
def test_a_set_of_topics_matches_what_evaluating_each_finds(queries: list[str], doc: Document, stem: bool) -> None:
    specs = []
    for index, query in enumerate(queries):
        try:
            parse(query)
        except QueryError:
            continue
        specs.append(TopicSpec(f"t{index}", query, stem))
    topics = TopicSet.compile(specs)
    assert topics.match(doc) == topics.match_naive(doc)


def test_a_topic_is_a_candidate_only_when_all_it_needs_occurs() -> None:
    topics = TopicSet.compile(
        [
            TopicSpec("both", "TikTok AND Verbot"),
            TopicSpec("phrase", '"TikTok ban"'),
            TopicSpec("title", "title:TikTok OR (TikTok AND Verbot AND Sabotage)"),
        ]
    )
    body_only = Document("Nachrichten", "TikTok droht ein ban, sagt die Regierung.", "de")
    assert topics.candidates(body_only) == []
    in_title = Document("TikTok ban", "Die Regierung prüft ein Verbot.", "de")
    assert topics.candidates(in_title) == ["both", "phrase", "title"]


SEED_TOPICS = [
    TopicSpec("bytedance", '(ByteDance OR "Byte Dance" OR 字节跳动) AND (AI OR KI OR model* OR chatbot)'),
    TopicSpec("doubao", "Doubao OR 豆包"),
    TopicSpec("ban", "TikTok NEAR/5 (ban OR larang* OR Verbot OR interdiction)", stem=True),
    TopicSpec("sabotage", "Sabotage AND NOT title:Sport", stem=True),
    TopicSpec("german", "lang:de AND (Regierung OR Verbot)"),
]
SEED_DOCUMENTS = [
    Document("TikTok-Verbot droht", "Die Regierung prüft ein TikTok-Verbot wegen Sabotagevorwürfe.", "de"),
    Document("Larangan TikTok", "Pemerintah menyiapkan larangan TikTok dan model AI baru dari ByteDance.", "id"),
    Document(
        "豆包 и ByteDance", "ByteDance a lancé Doubao, un chatbot; l'interdiction de TikTok reste possible.", "fr"
    ),
]


def test_a_pickled_topic_set_matches_the_same() -> None:
    """Worker processes get the compiled set by pickle, once each."""
    topics = TopicSet.compile(SEED_TOPICS)
    before = [topics.match(doc) for doc in SEED_DOCUMENTS]
    assert any(before), "the documents must match something for the test to mean anything"
    copy = pickle.loads(pickle.dumps(topics))
    assert [copy.match(doc) for doc in SEED_DOCUMENTS] == before
    assert [copy.match_naive(doc) for doc in SEED_DOCUMENTS] == before


def test_matching_agrees_with_the_naive_loop_when_the_remembered_words_overflow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The table of what each word fires starts afresh when full; nothing is lost."""
    monkeypatch.setattr(presearch, "REMEMBERED_WORDS", 5)
    topics = TopicSet.compile(SEED_TOPICS)
    for _ in range(2):  # the second round finds the words remembered (or forgotten again)
        for doc in SEED_DOCUMENTS:
            assert topics.match(doc) == topics.match_naive(doc)


@SETTINGS
@given(st.lists(st.sampled_from(SEED_DOCUMENTS), min_size=1, max_size=6))
def test_the_same_documents_match_the_same_in_any_order(documents: list[Document]) -> None:
    """Words remembered from earlier documents never change what a later one matches."""
    topics = TopicSet.compile(SEED_TOPICS)
    fresh = TopicSet.compile(SEED_TOPICS)
    for doc in documents:
        assert topics.match(doc) == fresh.match_naive(doc)


def test_a_copy_of_a_copy_in_use_matches_the_same() -> None:
    """A pickled set compiles each topic again on first use; a copy taken half-way through
    (some topics compiled again, some not) is as good as the original."""
    topics = TopicSet.compile(SEED_TOPICS)
    copy = pickle.loads(pickle.dumps(topics))
    assert copy.match(SEED_DOCUMENTS[0]) == topics.match(SEED_DOCUMENTS[0])
    second = pickle.loads(pickle.dumps(copy))
    assert second.names == topics.names
    for doc in SEED_DOCUMENTS:
        assert second.match(doc) == topics.match(doc)
        assert second.candidates(doc) == topics.candidates(doc)


_LETTERS = st.text(alphabet="abé", min_size=1, max_size=4)


def _fold(word: str) -> str:
    return word.replace("é", "e")


@SETTINGS
@given(st.lists(st.tuples(_LETTERS, st.booleans(), _LETTERS), min_size=1, max_size=30), _LETTERS)
def test_a_wildcard_marks_every_word_that_starts_with_it(parts: list[tuple[str, bool, str]], start: str) -> None:
    needle = (start + "ab")[:3]  # a wildcard needs two letters
    words = [f"{needle}{rest}" if with_needle else f"{head}{rest}" for head, with_needle, rest in parts]
    text = " ".join(words)
    matches = TopicSet.compile([TopicSpec("t", f"{needle}*")]).match(Document("", text, "en"))
    expected = [word for word in words if _fold(word).startswith(_fold(needle))]
    assert [text[hit.start : hit.end] for match in matches for hit in match.hits] == expected


@SETTINGS
@given(
    st.lists(st.tuples(_LETTERS, st.booleans(), _LETTERS), min_size=1, max_size=30),
    st.text(alphabet="abé", min_size=5, max_size=6),
)
def test_a_long_term_marks_every_compound_that_holds_it_in_german(
    parts: list[tuple[str, bool, str]], needle: str
) -> None:
    words = [f"{head}{needle if with_needle else ''}{tail}" for head, with_needle, tail in parts]
    text = " ".join(words)
    matches = TopicSet.compile([TopicSpec("t", needle)]).match(Document("", text, "de"))
    expected = [word for word in words if _fold(needle) in _fold(word)]
    assert [text[hit.start : hit.end] for match in matches for hit in match.hits] == expected


@SETTINGS
@given(
    st.lists(st.text(alphabet="abé", min_size=2, max_size=5), min_size=1, max_size=6, unique=True),
    st.lists(st.tuples(st.integers(0, 6), _LETTERS), min_size=1, max_size=30),
    st.sampled_from(["en", "de"]),
)
def test_wildcards_that_start_alike_each_find_their_words(
    prefixes: list[str], parts: list[tuple[int, str]], language: str
) -> None:
    """Wildcards such as ab*, abb* and abba* share their start; each still finds exactly
    the words it starts, whatever the longer ones find."""
    words = [prefixes[pick] + tail if pick < len(prefixes) else tail for pick, tail in parts]
    specs = [TopicSpec(f"t{index}", f"{prefix}*") for index, prefix in enumerate(prefixes)]
    doc = Document("", " ".join(words), language)
    expected = [
        spec.name
        for spec, prefix in zip(specs, prefixes, strict=True)
        if any(_fold(word).startswith(_fold(prefix)) for word in words)
    ]
    assert [match.topic for match in TopicSet.compile(specs).match(doc)] == expected
