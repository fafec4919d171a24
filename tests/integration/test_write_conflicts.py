"""Workers that store articles of the same stories at once on PostgreSQL: a deadlock costs
a retry, never an article.

Each worker's batch locks the story rows its articles join, in its own order; two
batches joining the same two stories in opposite orders deadlock, and PostgreSQL aborts
one of them. Here another connection plays the second worker, holding story B while the
store's batch holds story A and waits for B, then asking for A.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT, new_database
from synthetic import new_article

from monitor.article import text_identity
from monitor.model import Document, Routes
from monitor.store.db import create_engine
from monitor.store.interface import NewArticle, Stored, StoredArticle
from monitor.store.sql import SqlStore
from monitor.stories.stage import AssignStory
from monitor.text import detect_language

NOW = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
REPRINTED = "Artikel ini pertama kali terbit di Kompas dan dimuat ulang oleh redaksi kami dengan izin penerbitnya."


def seed(prefix: str, more: str = "") -> Document:
    text = next((ROOT / "seeds").glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if any(c.isalpha() for c in line)]
    return Document(title=lines[0], text="\n".join(lines[1:]) + more, language=detect_language(text))


def new(feed_id: int, doc: Document, url: str) -> NewArticle:
    return new_article(doc, url, feed_id=feed_id, published_at=NOW, text_hash=text_identity(doc.text))


def test_a_batch_that_loses_a_deadlock_is_stored_again(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = new_database("postgresql", request, tmp_path)
    store = SqlStore.open(url)

    class Wanted:
        def __init__(self, name: str) -> None:
            self.name, self.url, self.interval = name, f"https://{name}.example/feed", None

    store.sync_feeds([Wanted("kompas"), Wanted("heise")], NOW)
    feeds = {f.name: f.id for f in store.claim_due_feeds("t", NOW, names=[])}
    store.release_leases("t")
    kompas, heise = feeds["kompas"], feeds["heise"]

    def put(batch: list[NewArticle], at: datetime) -> list[Stored]:
        return store.store_articles(batch, Routes(), AssignStory(), at)

    first = [new(kompas, seed("000"), "https://kompas.example/a"), new(kompas, seed("001"), "https://kompas.example/b")]
    story_a, story_b = (o.story_id for o in put(first, NOW) if isinstance(o, StoredArticle))
    assert story_a != story_b

    other_worker = create_engine(url).connect()
    other = other_worker.begin()
    other_worker.execute(sa.text("UPDATE story SET last_seen = last_seen WHERE id = :id"), {"id": story_b})

    outcome: list[Stored] = []
    later = NOW + timedelta(minutes=1)
    joining = [  # the German telling joins story A; a syndicated copy of the second article joins B
        new(heise, seed("002"), "https://heise.example/a"),
        new(heise, seed("001", f"\n{REPRINTED}"), "https://heise.example/b"),
    ]
    batch = threading.Thread(target=lambda: outcome.extend(put(joining, later)))
    batch.start()
    waiting = sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    with create_engine(url).connect() as watch:
        deadline = time.monotonic() + 10
        while watch.execute(waiting).scalar_one() == 0:  # the batch holds A and waits for B
            assert time.monotonic() < deadline, "the batch never waited for story B"
            time.sleep(0.02)
    # The other worker now asks for A: a deadlock, and PostgreSQL aborts the batch (it waited first).
    other_worker.execute(sa.text("UPDATE story SET last_seen = last_seen WHERE id = :id"), {"id": story_a})
    other.commit()
    other_worker.close()
    batch.join(30)

    assert not batch.is_alive()
    assert [type(o).__name__ for o in outcome] == ["StoredArticle", "StoredArticle"], outcome
    assert [o.story_id for o in outcome if isinstance(o, StoredArticle)] == [story_a, story_b]
    store.close()
