"""The presearch narrows the topics to evaluate without ever losing a match."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.model import Document
from monitor.topics import TopicSet, TopicSpec, parse

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
