"""One contract, three stores: the in-memory fake keeps every promise the SQL store keeps.

Each test runs on ``MemoryStore``, on SQLite and on PostgreSQL through the ``Store``
interface alone, so a test of what lies above the store can use the fake and mean the
real thing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, new_database
from synthetic import new_article

from monitor.article import text_identity
from monitor.model import Document, Routes, TopicMatch
from monitor.polling import PollOutcome
from monitor.store.interface import (
    LEASE,
    Backlog,
    Delivery,
    HeldLeases,
    NewArticle,
    OperatorWatch,
    PollRecord,
    SiteBoilerplate,
    Store,
    StoredArticle,
)
from monitor.store.memory import MemoryStore
from monitor.store.records import Filters, Requeued, TopicActivity
from monitor.store.sql import SqlStore
from monitor.stories import Assignment, Candidate, StoryFeatures
from monitor.stories.stage import AssignStory
from monitor.text import detect_language

SEEDS = ROOT / "seeds"
NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
ASSIGN_STORY = AssignStory()
CHANNELS = ("webhook:x", "email")
EVERY_CHANNEL = Routes(default=CHANNELS)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Wanted:
    url: str
    name: str
    interval: timedelta | None = None


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = request.param
    opened: Store = MemoryStore() if kind == "memory" else SqlStore.open(new_database(kind, request, tmp_path))
    opened.sync_feeds(
        [Wanted("https://kompas.example/feed", "kompas"), Wanted("https://heise.example/feed", "heise")], NOW
    )
    yield opened
    opened.close()


def seed(prefix: str) -> Document:
    text = next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if any(c.isalpha() for c in line)]
    title, body = lines[0], "\n".join(lines[1:])
    return Document(title=title, text=body, language=detect_language(f"{title}\n{body}"))


def article(store: Store, doc: Document, url: str, *, feed: str = "kompas", guid: str | None = None) -> NewArticle:
    feed_id = next(state.id for state in store.claim_due_feeds("reader", NOW, names=[feed]))
    store.release_leases("reader")
    return new_article(doc, url, feed_id=feed_id, guid=guid, published_at=NOW, text_hash=text_identity(doc.text))


def store_one(
    store: Store, new: NewArticle, *topics: str, routes: Routes = EVERY_CHANNEL, now: datetime = NOW
) -> object:
    """Store ``new`` as matching ``topics``."""
    if topics:
        matches = [TopicMatch(topic, 0.5, ("bytedance",), snippet="<mark>ByteDance</mark>") for topic in topics]
        new = replace(new, analysed=replace(new.analysed, matches=matches))
    (outcome,) = store.store_articles([new], routes, ASSIGN_STORY, now)
    return outcome


def test_an_item_is_stored_once_by_guid_link_or_text(store: Store) -> None:
    first = store_one(store, article(store, seed("000"), "https://kompas.example/a/1"))
    assert isinstance(first, StoredArticle) and first.new_story
    same_guid = article(store, seed("001"), "https://kompas.example/other", guid="https://kompas.example/a/1")
    tracked_link = article(store, seed("001"), "https://kompas.example/a/1?utm_source=rss", feed="heise")
    same_text = article(store, seed("000"), "https://mirror.example/copy", feed="heise")
    assert [store_one(store, new) for new in (same_guid, tracked_link, same_text)] == [None, None, None]


def test_the_three_language_story_is_one_story_with_one_alert_per_topic_and_channel(store: Store) -> None:
    stored = [
        store_one(store, article(store, seed("000"), "https://kompas.example/intern"), "ByteDance AI"),
        store_one(store, article(store, seed("002"), "https://heise.example/intern", feed="heise"), "ByteDance AI"),
        store_one(store, article(store, seed("003"), "https://lemonde.example/stagiaire"), "ByteDance AI", "Doubao"),
        store_one(store, article(store, seed("001"), "https://kompas.example/openai"), "ByteDance AI"),
    ]
    assert all(isinstance(s, StoredArticle) for s in stored)
    intern, heise, french, other = (s for s in stored if isinstance(s, StoredArticle))
    assert intern.story_id == heise.story_id == french.story_id != other.story_id
    assert not heise.new_story and heise.signal.startswith(("same event", "near-copy"))
    # One alert per (topic, story, channel): the story's first ByteDance AI match alerts, the others don't.
    assert [s.alerts for s in (intern, heise, french, other)] == [2, 0, 2, 2]


@dataclass
class NeverJoins:
    """A story decision that starts a story for every article, after noting the candidates offered."""

    offered: list[list[int]] = field(default_factory=list)
    window: timedelta = ASSIGN_STORY.window

    def keys(self, features: StoryFeatures) -> list[str]:
        return ASSIGN_STORY.keys(features)

    def __call__(self, features: StoryFeatures, candidates: Sequence[Candidate]) -> Assignment:
        self.offered.append([candidate.article_id for candidate in candidates])
        return Assignment(None, 0.0, "new story")


def test_the_story_decision_handed_in_chooses_among_the_candidates_the_store_finds(store: Store) -> None:
    never = NeverJoins()
    stored = [
        store.store_articles([article(store, seed(prefix), url, feed=feed)], EVERY_CHANNEL, never, NOW)[0]
        for prefix, url, feed in (
            ("000", "https://kompas.example/intern", "kompas"),
            ("002", "https://heise.example/intern", "heise"),  # the same event: one story under AssignStory
        )
    ]
    assert all(isinstance(s, StoredArticle) for s in stored)
    intern, heise = (s for s in stored if isinstance(s, StoredArticle))
    assert intern.new_story and heise.new_story and intern.story_id != heise.story_id
    assert never.offered == [[], [intern.article_id]]


def test_due_alerts_are_leased_loaded_retried_and_given_up(store: Store) -> None:
    store_one(store, article(store, seed("000"), "https://kompas.example/intern"), "Doubao")
    store_one(store, article(store, seed("002"), "https://heise.example/intern", feed="heise"), "Doubao")
    ids = store.claim_due_alerts("one", NOW, channels=["email"])
    assert len(ids) == 1
    assert store.claim_due_alerts("two", NOW, channels=["email"]) == []  # leased to "one"
    (due,) = store.load_alerts(ids)
    assert due.channel == "email" and due.attempts == 0
    assert due.content.topic == "Doubao" and due.content.snippet == "<mark>ByteDance</mark>"
    assert [o.feed for o in due.content.outlets] == ["kompas", "heise"]  # the story as known at send time
    assert due.content.idempotency_key.startswith("monitor-doubao-")

    store.record_deliveries([Delivery(ids[0], NOW, "receiver down", NOW + 10 * MINUTE)])
    assert store.claim_due_alerts("two", NOW + MINUTE, channels=["email"]) == []  # not before its retry time
    assert store.claim_due_alerts("two", NOW + 10 * MINUTE, channels=["email"]) == ids
    store.record_deliveries([Delivery(ids[0], NOW, "still down")])  # given up
    assert store.claim_due_alerts("two", NOW + 100 * MINUTE, channels=["email"]) == []  # never again
    assert len(store.claim_due_alerts("three", NOW, other_than=["email"])) == 1  # the webhook's alert
    (loaded,) = store.load_alerts(ids)
    assert loaded.attempts == 2
    assert store.load_alerts([999]) == []  # no such alert: nothing to send


def test_the_outcomes_of_many_sends_are_recorded_at_once_and_a_given_up_alert_tells_the_operator(
    store: Store,
) -> None:
    for n, url in enumerate(("https://kompas.example/intern", "https://kompas.example/openai")):
        store_one(store, article(store, seed(("000", "001")[n]), url), "Doubao")
    ids = sorted(store.claim_due_alerts("one", NOW))
    assert len(ids) == 4
    delivered, retried, abandoned, unknown = ids[0], ids[1], ids[2], 999
    store.record_deliveries(
        [
            Delivery(delivered, NOW),
            Delivery(retried, NOW, "HTTP 503", NOW + MINUTE),
            Delivery(abandoned, NOW, "HTTP 410"),
            Delivery(unknown, NOW),
        ],
        operator="email",
    )
    store.release_leases("one")
    due = store.load_alerts(store.claim_due_alerts("two", datetime.now(UTC) + timedelta(days=1)))
    assert sorted((d.id, d.attempts) for d in due if d.kind == "match") == [(retried, 1), (ids[3], 0)]
    (notice,) = [d for d in due if d.kind == "operator"]  # delivered and given up: gone; the operator told
    assert notice.channel == "email" and "HTTP 410" in (notice.payload or "")


def test_feeds_are_claimed_once_until_polled_or_their_lease_expires(store: Store) -> None:
    claimed = store.claim_due_feeds("one", NOW)
    assert sorted(f.name for f in claimed) == ["heise", "kompas"]
    assert store.claim_due_feeds("two", NOW) == []
    assert store.lease_owners() == {"one"}
    kompas = next(f for f in claimed if f.name == "kompas")
    store.record_polls(
        [PollRecord(kompas.id, NOW, PollOutcome.OK, None, NOW + 30 * MINUTE, 30 * MINUTE, etag='"v1"', body_hash="h")]
    )
    # heise's lease runs out; kompas is not due before its next check.
    assert [f.name for f in store.claim_due_feeds("two", NOW + 2 * MINUTE)] == ["heise"]
    (again,) = store.claim_due_feeds("two", NOW + 31 * MINUTE, names=["kompas"])
    assert (again.name, again.etag, again.body_hash, again.error_count) == ("kompas", '"v1"', "h", 0)
    store.record_polls([PollRecord(again.id, NOW, PollOutcome.ERROR, "HTTP 500", NOW + 40 * MINUTE, 9 * MINUTE)])
    (failing,) = store.claim_due_feeds("two", NOW + 41 * MINUTE, names=["kompas"])
    assert (failing.etag, failing.error_count, failing.failing_since) == (
        '"v1"',
        1,
        NOW,
    )  # a failure keeps the validators


def test_leases_are_renewed_and_released_but_what_is_kept(store: Store) -> None:
    claimed = store.claim_due_feeds("one", NOW, lease=MINUTE)
    held = HeldLeases(feeds={claimed[0].id})
    store.renew_leases("one", held, NOW + 10 * MINUTE)
    assert [f.id for f in store.claim_due_feeds("two", NOW + 2 * MINUTE)] == [claimed[1].id]
    store.release_leases("two")
    store.release_leases("one", keep=held)
    # Two gave its feed back; one kept the feed whose lease it renewed.
    assert [f.id for f in store.claim_due_feeds("three", NOW + 3 * MINUTE)] == [claimed[1].id]
    assert store.claim_due_feeds("four", NOW + 3 * MINUTE, names=[]) == []
    assert store.lease_owners() == {"one", "three"}


def test_new_entries_are_the_unseen_guids_and_links_another_feed_brought(store: Store) -> None:
    store_one(store, article(store, seed("000"), "https://kompas.example/a/1"))
    kompas, heise = (next(f.id for f in store.claim_due_feeds("r", NOW, names=[n])) for n in ("kompas", "heise"))
    entries = [("https://kompas.example/a/1", "https://kompas.example/a/1"), ("g2", "https://kompas.example/a/2")]
    assert store.new_entries(kompas, entries) == ({"g2"}, set())
    from_heise = [("h1", "https://kompas.example/a/1?utm_medium=feed"), ("h2", "https://heise.example/x")]
    assert store.new_entries(heise, from_heise) == ({"h1", "h2"}, {"https://kompas.example/a/1?utm_medium=feed"})


def test_feeds_follow_the_config_and_hand_added_ones_stay(store: Store) -> None:
    assert store.add_feed("https://found.example/rss", "kompas", NOW, discovered=True) == "kompas-2"
    assert store.add_feed("https://found.example/rss", "again", NOW) is None  # polled already
    store.sync_feeds([Wanted("https://heise.example/feed", "heise-online")], NOW)
    assert store.active_feeds() == [
        ("heise-online", "https://heise.example/feed"),
        ("kompas-2", "https://found.example/rss"),
    ]
    (found,) = store.claim_due_feeds("r", NOW, names=["kompas-2"])
    assert not found.trusted  # a page announced it: fetched under fetch.allow_networks


def test_a_page_text_served_for_many_links_of_a_site_is_the_sites(store: Store) -> None:
    wall = seed("001")
    outcomes = []
    for n in range(4):
        new = article(store, replace(seed(f"00{n}"), text=wall.text), f"https://kompas.example/p/{n}")
        outcomes.append(store_one(store, replace(new, analysed=replace(new.analysed, page_hash="wall"))))
    first, second, *rest = outcomes
    assert isinstance(first, StoredArticle) and isinstance(second, StoredArticle)  # two copies of one text
    assert all(isinstance(o, SiteBoilerplate) for o in rest)


def test_a_changed_topic_is_backfilled_once(store: Store) -> None:
    assert store.changed_topics({"Doubao": "doubao"}, NOW) == ["Doubao"]
    assert store.changed_topics({"Doubao": "doubao", "Ban": "ban"}, NOW) == ["Ban"]
    stored = store_one(store, article(store, seed("000"), "https://kompas.example/intern"))
    assert isinstance(stored, StoredArticle)
    ((article_id, story_id, document),) = store.stored_documents(NOW - MINUTE)
    assert (article_id, story_id, document.language) == (stored.article_id, stored.story_id, "id")
    found = [TopicMatch("Ban", 0.4, ("ban",))]
    assert store.store_backfill(article_id, story_id, found, Routes(default=("email",)), NOW) == ("email",)
    assert store.store_backfill(article_id, story_id, found, Routes(default=("email",)), NOW) == ()  # matched already
    assert list(store.stored_documents(NOW + MINUTE)) == []


# --- the other kinds of outbox row: story updates, operator alerts, digests --------------------


def kinds_queued(store: Store) -> list[str]:
    due = store.load_alerts(store.claim_due_alerts("reader", NOW + timedelta(days=100), limit=1000))
    store.release_leases("reader")
    return sorted(d.kind for d in due)


def test_an_alerted_story_queues_one_update_per_change(store: Store) -> None:
    store.add_feed("https://tempo.example/feed", "tempo", NOW)
    original = seed("000")

    def put(doc: Document, url: str, feed: str, *topics: str) -> StoredArticle:
        matches = [TopicMatch(t, 0.5, ("bytedance",), snippet="<mark>ByteDance</mark>") for t in topics]
        new = article(store, doc, url, feed=feed)
        new = replace(new, analysed=replace(new.analysed, matches=matches))
        (outcome,) = store.store_articles(
            [new], Routes(default=("email",)), ASSIGN_STORY, NOW, updates={"ByteDance AI"}
        )
        assert isinstance(outcome, StoredArticle)
        return outcome

    def copy(n: int) -> Document:
        furniture = f"Beranda | Tekno | Edisi {n}\nBaca juga: berita pilihan nomor {n}\n"
        return replace(original, text=f"{furniture}{original.text}\nIkuti kami {n}")

    first = put(original, "https://kompas.example/1", "kompas", "ByteDance AI", "Doubao")
    second = put(copy(2), "https://heise.example/2", "heise")
    third = put(copy(3), "https://tempo.example/3", "tempo")
    german = put(seed("002"), "https://heise.example/4", "heise")
    assert first.story_id == second.story_id == third.story_id == german.story_id
    # Two outlets: nothing; three: one update; German: one more (heise is no new outlet). Doubao has no updates.
    assert [s.alerts for s in (first, second, third, german)] == [2, 0, 1, 1]
    assert kinds_queued(store) == ["match", "match", "update", "update"]


def test_a_failing_feed_tells_the_operator_once_per_change_of_state(store: Store) -> None:
    (kompas,) = store.claim_due_feeds("reader", NOW, names=["kompas"])
    watch = OperatorWatch("email", timedelta(hours=24))

    def poll(hours: int, error: str | None, since_hours: int | None) -> PollRecord:
        at = NOW + timedelta(hours=hours)
        since = NOW + timedelta(hours=since_hours) if since_hours is not None else None
        outcome = PollOutcome.ERROR if error else PollOutcome.OK
        return PollRecord(kompas.id, at, outcome, error, at + MINUTE, MINUTE, feed="kompas", failing_since=since)

    for record in (poll(0, "HTTP 503", None), poll(25, "HTTP 503", 0), poll(26, "HTTP 503", 0), poll(27, None, 0)):
        store.record_polls([record], watch)
        store.record_polls([record], watch)  # recorded twice (another worker): told once
    store.record_polls([poll(30, "HTTP 503", None), poll(31, None, 30)], watch)  # too short to tell
    assert kinds_queued(store) == ["operator", "operator"]


def test_a_digest_is_queued_once_per_period_and_lists_the_stories_first_matched_in_its_window(store: Store) -> None:
    put = [store_one(store, article(store, seed(n), f"https://kompas.example/{n}"), "Doubao") for n in ("001", "004")]
    assert all(isinstance(p, StoredArticle) for p in put)
    entries = store.digest_entries(["Doubao", "TikTok ban"], NOW - MINUTE, NOW + MINUTE)
    assert sorted(e.story_id for e in entries) == sorted(p.story_id for p in put if isinstance(p, StoredArticle))
    assert {e.topic for e in entries} == {"Doubao"} and all(e.outlets and e.title for e in entries)
    assert store.digest_entries(["Doubao"], NOW + MINUTE, NOW + 2 * MINUTE) == []  # matched before the window
    assert not store.digest_queued("morning", NOW)
    assert store.queue_digest("morning", NOW, '{"n": 1}', "email", NOW) is not None
    assert store.queue_digest("morning", NOW, '{"n": 2}', "email", NOW) is None  # the period's digest exists
    assert store.digest_queued("morning", NOW) and store.last_digest("morning") == '{"n": 1}'
    assert store.last_digest("evening") is None


def test_each_topic_queues_alerts_on_its_routed_channels_only(store: Store) -> None:
    routes = Routes(default=CHANNELS, by_topic={"Doubao": ("product",), "TikTok ban": ()})
    stored = store_one(
        store,
        article(store, seed("000"), "https://kompas.example/intern"),
        "ByteDance AI",
        "Doubao",
        "TikTok ban",
        routes=routes,
    )
    assert isinstance(stored, StoredArticle) and stored.alerts == 3  # 2 default channels + 1 routed, 0 for []
    assert len(store.claim_due_alerts("one", NOW, channels=["product"])) == 1
    assert len(store.claim_due_alerts("one", NOW, channels=list(CHANNELS))) == 2
    assert store.claim_due_alerts("one", NOW) == []


def test_failed_alerts_are_queued_again_only_when_failed(store: Store) -> None:
    store_one(store, article(store, seed("000"), "https://kompas.example/intern"), "Doubao")
    email, hook = sorted(store.claim_due_alerts("one", NOW))
    store.record_deliveries([Delivery(email, NOW, "down"), Delivery(hook, NOW)])
    outcome = store.requeue_failed([email, hook, 999], NOW + MINUTE)
    assert outcome.queued == (email,) and outcome.not_failed == ((hook, "delivered"),) and outcome.missing == (999,)
    assert store.claim_due_alerts("two", NOW + MINUTE) == [email]
    assert store.requeue_failed(None, NOW).queued == ()  # nothing failed any more


def test_the_next_feed_due_is_the_earliest_check_or_lease_end(store: Store) -> None:
    assert store.next_feed_due() == NOW  # both feeds are due from the start
    claimed = store.claim_due_feeds("one", NOW, names=[])
    assert store.next_feed_due() == NOW + timedelta(seconds=60)  # leased: not due before the lease ends
    store.record_polls(
        [PollRecord(f.id, NOW, PollOutcome.OK, None, NOW + (2 + i) * MINUTE, MINUTE) for i, f in enumerate(claimed)]
    )
    assert store.next_feed_due() == NOW + 2 * MINUTE


def test_the_backlog_is_the_oldest_undelivered_alert_and_the_unclaimed_due_feeds(store: Store) -> None:
    assert store.backlog(NOW) == Backlog(timedelta(0), 2)  # both feeds due since they were added
    stored = store_one(store, article(store, seed("000"), "https://kompas.example/intern"), "Doubao")
    assert isinstance(stored, StoredArticle) and stored.queued_on == CHANNELS
    store.claim_due_feeds("worker", NOW, names=["heise"])
    assert store.backlog(NOW + MINUTE) == Backlog(MINUTE, 1)  # heise is held; kompas is due and free
    store.record_deliveries([Delivery(i, NOW + MINUTE) for i in store.claim_due_alerts("worker", NOW + MINUTE)])
    assert store.backlog(NOW + MINUTE).oldest_pending_alert == timedelta(0)


# --- the query side: what `monitor matches/stories/articles/feeds/alerts/search` and the API show ----


def three_articles(store: Store) -> tuple[StoredArticle, StoredArticle, StoredArticle]:
    """A story told in Indonesian (kompas) then German (heise), and another story a minute later."""
    put = (
        store_one(store, article(store, seed("000"), "https://kompas.example/intern"), "ByteDance AI"),
        store_one(
            store,
            article(store, seed("002"), "https://heise.example/i", feed="heise"),
            "ByteDance AI",
            now=NOW + MINUTE,
        ),
        store_one(store, article(store, seed("001"), "https://kompas.example/openai"), "Doubao", now=NOW + 2 * MINUTE),
    )
    intern, german, other = (p for p in put if isinstance(p, StoredArticle))
    assert intern.story_id == german.story_id != other.story_id
    return intern, german, other


def test_matches_are_listed_newest_first_filtered_and_paged(store: Store) -> None:
    intern, german, other = three_articles(store)
    everything = store.matches(Filters())
    assert [(m.article_id, m.topic) for m in everything] == [
        (other.article_id, "Doubao"),
        (german.article_id, "ByteDance AI"),
        (intern.article_id, "ByteDance AI"),
    ]
    first = store.matches(Filters(), limit=2)
    assert first + store.matches(Filters(), after=first[-1].id) == everything
    assert store.matches(Filters(), after=everything[-1].id) == []
    assert [m.article_id for m in store.matches(Filters(topic="Doubao"))] == [other.article_id]
    assert [m.article_id for m in store.matches(Filters(lang="de"))] == [german.article_id]
    assert [m.article_id for m in store.matches(Filters(feed="heise"))] == [german.article_id]
    assert len(store.matches(Filters(since=NOW + MINUTE))) == 2
    assert [m.article_id for m in store.matches(Filters(until=NOW + MINUTE))] == [intern.article_id]
    shown = everything[0].to_json()
    assert shown == {
        "id": everything[0].id,
        "topic": "Doubao",
        "article_id": other.article_id,
        "url": "https://kompas.example/openai",
        "title": seed("001").title,
        "language": "id",
        "published_at": "2024-10-22T08:00:00Z",
        "story_id": other.story_id,
        "score": 0.5,
        "terms": ["bytedance"],
        "snippet": "<mark>ByteDance</mark>",
        "snippet_text": "ByteDance",
        "highlights": [[0, 9]],
        "matched_at": "2024-10-22T08:02:00Z",
        "backfill": False,
    }


def test_stories_show_every_outlet_and_language_and_why_each_joined(store: Store) -> None:
    intern, german, other = three_articles(store)
    assert [s.id for s in store.stories(Filters())] == [other.story_id, intern.story_id]
    story = store.story(intern.story_id)
    assert story is not None and story == store.stories(Filters(lang="de"))[0]
    shown = story.to_json()
    assert (shown["title"], shown["language"], shown["first_seen"]) == (seed("000").title, "id", "2024-10-22T08:00:00Z")
    assert (shown["topics"], shown["languages"]) == (["ByteDance AI"], ["de", "id"])
    assert [(a["id"], a["feed"], a["language"]) for a in shown["articles"]] == [
        (intern.article_id, "kompas", "id"),
        (german.article_id, "heise", "de"),
    ]
    first, joined = shown["articles"]
    assert (first["signal"], first["similarity"]) == ("first article", 1.0)
    assert joined["signal"] == german.signal and 0 < joined["similarity"] <= 1
    assert store.story(other.story_id + intern.story_id + 1000) is None
    assert [s.id for s in store.stories(Filters(until=NOW + MINUTE))] == [intern.story_id]
    assert [s.id for s in store.stories(Filters(since=NOW + 2 * MINUTE))] == [other.story_id]  # still growing then
    assert [s.id for s in store.stories(Filters(topic="Doubao"))] == [other.story_id]
    assert [s.id for s in store.stories(Filters(), after=other.story_id)] == [intern.story_id]
    (entry,) = store.story_entries(topic="ByteDance AI")
    assert (entry.story_id, entry.topics, entry.updated) == (intern.story_id, ("ByteDance AI",), NOW + MINUTE)
    assert [o.feed for o in entry.outlets] == ["kompas", "heise"] and entry.snippet == "<mark>ByteDance</mark>"
    assert [e.story_id for e in store.story_entries()] == [other.story_id, intern.story_id]


def test_articles_are_listed_with_or_without_their_text(store: Store) -> None:
    intern, german, other = three_articles(store)
    listed = store.articles(Filters(), with_text=False)
    assert [a.id for a in listed] == [other.article_id, german.article_id, intern.article_id]
    assert "text" not in listed[0].to_json()
    one = store.article(german.article_id)
    assert one is not None and one.text == seed("002").text
    assert one.to_json() == {
        "id": german.article_id,
        "url": "https://heise.example/i",
        "canonical_url": "https://heise.example/i",
        "title": seed("002").title,
        "language": "de",
        "published_at": "2024-10-22T08:00:00Z",
        "feed": "heise",
        "story_id": intern.story_id,
        "text_source": "page",
        "text": seed("002").text,
    }
    assert [a.id for a in store.articles(Filters(topic="Doubao"))] == [other.article_id]
    assert [a.id for a in store.articles(Filters(feed="heise", lang="de"))] == [german.article_id]
    assert [a.id for a in store.articles(Filters(), after=german.article_id)] == [intern.article_id]
    assert store.article(other.article_id + 1000) is None


def test_feeds_show_how_their_last_poll_went(store: Store) -> None:
    assert [f.name for f in store.feeds()] == ["heise", "kompas"]
    assert [f.name for f in store.feeds(after="heise")] == ["kompas"]
    (kompas,) = store.claim_due_feeds("reader", NOW, names=["kompas"])
    http_503 = PollRecord(
        kompas.id, NOW, PollOutcome.HTTP_ERROR, "HTTP 503", NOW + 10 * MINUTE, 10 * MINUTE, http_status=503
    )
    store.record_polls([http_503])
    (failing,) = store.feeds(failing=True)
    assert failing.to_json() == {
        "name": "kompas",
        "url": "https://kompas.example/feed",
        "last_status": "HTTP 503",
        "last_error": "HTTP 503",
        "last_warning": None,
        "error_count": 1,
        "last_checked_at": "2024-10-22T08:00:00Z",
        "next_check_at": "2024-10-22T08:10:00Z",
        "interval": 600,
        "failing_since": "2024-10-22T08:00:00Z",
    }


def test_alerts_are_listed_and_a_failed_one_is_queued_again_by_hand(store: Store) -> None:
    intern, _, _ = three_articles(store)
    assert [(a.topic, a.kind, a.status) for a in store.alerts(topic="Doubao")] == [("Doubao", "match", "pending")] * 2
    activity = store.topic_activity()
    assert activity["Doubao"] == TopicActivity(1, 1, NOW + 2 * MINUTE)
    assert activity["ByteDance AI"] == TopicActivity(2, 1, NOW + MINUTE)
    (email,) = store.claim_due_alerts("sender", NOW, channels=["email"])  # the story queued first
    store.record_deliveries([Delivery(email, NOW, "receiver down")])
    (failed,) = store.alerts(status="failed")
    assert (failed.id, failed.last_error, failed.attempts) == (email, "receiver down", 1)
    assert store.retry_failed_alert(email, NOW) == "failed"
    assert store.retry_failed_alert(email, NOW) == "pending"  # only a failed alert changes
    assert store.retry_failed_alert(email + 1000, NOW) is None
    queued = store.alert(email)
    assert queued is not None and queued.status == "pending"
    store.record_deliveries([Delivery(email, NOW, "down again")])
    assert store.requeue_failed([email, email + 1000], NOW) == Requeued((email,), (), (email + 1000,))
    assert store.requeue_failed([email], NOW) == Requeued((), ((email, "pending"),), ())
    store.record_deliveries([Delivery(email, NOW + 3 * MINUTE)])
    delivered = store.alert(email)
    assert delivered is not None and delivered.to_json()["delivered_at"] == "2024-10-22T08:03:00Z"
    assert (delivered.topic, delivered.story_id) == ("ByteDance AI", intern.story_id)
    newest = store.alerts(limit=1)
    assert store.alerts(after=newest[0].id)[0].id < newest[0].id
    assert len(store.alerts(since=NOW + 2 * MINUTE)) == 2 and len(store.alerts(until=NOW + MINUTE)) == 2


def test_search_finds_articles_in_the_sql_stores_and_the_memory_store_says_it_cannot(store: Store) -> None:
    intern, german, _ = three_articles(store)
    if isinstance(store, MemoryStore):
        with pytest.raises(NotImplementedError, match="MemoryStore cannot search"):
            store.search("Praktikanten")
        return
    page = store.search("Praktikanten OR Magang")
    assert [a.id for a in page.items] == [german.article_id, intern.article_id]


def test_the_next_feed_falls_due_at_its_check_or_when_its_lease_ends(store: Store) -> None:
    assert store.next_feed_due() == NOW  # both feeds are due from the start
    store.claim_due_feeds("one", NOW)  # both leased: not due before their leases end
    assert store.next_feed_due() == NOW + LEASE
    (kompas,) = store.claim_due_feeds("two", NOW + 2 * LEASE, names=["kompas"])
    store.record_polls([PollRecord(kompas.id, NOW, PollOutcome.OK, None, NOW + 10 * LEASE, 10 * LEASE)])
    assert store.next_feed_due() == NOW + LEASE  # heise's lease, then kompas's next check
