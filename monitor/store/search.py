"""Full-text search over stored articles, in the topic query language (docs/search.md).

The full-text index narrows, the topic matcher decides: the query's narrowing
(monitor.topics.fulltext) picks candidate articles from the index, newest first, and the
same compiled matcher as ``monitor match`` evaluates each one. So every operator means
what it means in a topic, and the index only has to rule out articles, never to judge one.

The index holds the matcher's own words (monitor.text: casefolded, accents folded, one
token per character in Han, Kana, Hangul, Thai...), written by the article's writer:

- SQLite: ``article_fts``, a contentless FTS5 table with a title and a body column;
- PostgreSQL: ``article_search.words``, a ``tsvector`` of the article's distinct words
  (taken as they are, with the 'simple' meaning: no stemming, no stop words) under a GIN
  index;
- both: ``search_word``, the long words of compounding-language articles, where a term
  may match inside a word (German *TikTokverbot* for ``Verbot``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.errors import UsageError
from monitor.model import REJECTED, Document, TopicMatch
from monitor.store.db import Prepared, reading
from monitor.store.records import FoundArticle, SearchPage
from monitor.store.utc import UTCDateTime
from monitor.text import COMPOUNDING_LANGUAGES, is_nospace_token, language_code, words
from monitor.topics import TopicSet, TopicSpec, parse
from monitor.topics.evaluate import COMPOUND_MIN_LETTERS
from monitor.topics.fulltext import AllOf, Close, Compound, Need, Phrase, compounds, expand, narrowing, pairs

SEARCH_TOPIC = "query"  # the name a bad query's error carries, as in `monitor match --query`
SCAN_BOUND = 1000  # candidates the matcher examines per page at most: a query that narrows little stops there
MAX_LIMIT = 1000
COMPOUND_WORDS = 500  # stored words containing a term, at most, before it stops narrowing
LONGEST_WORD = 500  # characters of a word kept in the PostgreSQL index (a lexeme holds 2 kB)
FTS_TOKENIZER = "unicode61 remove_diacritics 2 categories 'L* M* N* P* S* C*'"  # split at spaces only
# SQLite's index (migration 0006): contentless, the folded words are not stored twice.
FTS_TABLE = f"CREATE VIRTUAL TABLE article_fts USING fts5(title, body, content='', tokenize=\"{FTS_TOKENIZER}\")"


@dataclass(frozen=True, slots=True)
class IndexedText:
    """What the index holds of one article: its folded words, and the long words of a
    compounding-language article, which a term may match inside."""

    title: tuple[str, ...]
    body: tuple[str, ...]
    compound_words: tuple[str, ...]


def indexed_text(title: str, text: str, language: str | None, text_source: str) -> IndexedText:
    """The words of an article as the matcher reads them (a rejected text is not the
    article's: only its title counts, as when it was matched)."""
    title_words = tuple(words(title))
    body_words = () if text_source.startswith(REJECTED) else tuple(words(text))
    compound_words: tuple[str, ...] = ()
    if language_code(language) in COMPOUNDING_LANGUAGES:
        compound_words = tuple(
            sorted(
                {
                    word
                    for word in (*title_words, *body_words)
                    if len(word) > COMPOUND_MIN_LETTERS and not is_nospace_token(word[:1])
                }
            )
        )
    return IndexedText(title_words, body_words, compound_words)


def write_index(connection: sa.Connection, article_id: int, indexed: IndexedText) -> None:
    """File one stored article in the full-text index (inside the writer's transaction)."""
    if connection.dialect.name == "sqlite":
        _FTS_INSERT(connection, {"id": article_id, "title": " ".join(indexed.title), "body": " ".join(indexed.body)})
    else:
        distinct = sorted({word[:LONGEST_WORD] for word in (*indexed.title, *indexed.body)})
        _TSVECTOR_INSERT(connection, {"id": article_id, "words": distinct})
    if indexed.compound_words:
        _WORD_INSERT[connection.dialect.name == "sqlite"](connection, {"words": json.dumps(indexed.compound_words)})


def index_stored_articles(connection: sa.Connection, most: int | None = None, batch: int = 2000) -> int:
    """Index the stored articles newer than the newest the index holds, oldest first, at
    most ``most`` of them (the migration's backfill, and the benchmark's after a bulk
    copy). Returns how many were indexed."""
    sqlite = connection.dialect.name == "sqlite"
    last = connection.execute(sa.text(_LAST_INDEXED[sqlite])).scalar() or 0
    done = 0
    while most is None or done < most:
        size = batch if most is None else min(batch, most - done)
        rows = connection.execute(_UNINDEXED, {"after": last, "batch": size}).all()
        if not rows:
            return done
        for row in rows:
            write_index(connection, row.id, indexed_text(row.title, row.text, row.language, row.text_source))
        last = rows[-1].id
        done += len(rows)
    return done


def search_articles(
    engine: Engine,
    query: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
    bound: int = SCAN_BOUND,
) -> SearchPage:
    """Stored articles (fetched in [since, until)) that ``query`` matches, newest first.

    Raises ``QueryError`` for a bad query, with the message of `monitor match --query`,
    and ``UsageError`` for a cursor this search did not give.
    """
    topics = TopicSet.compile([TopicSpec(SEARCH_TOPIC, query)])
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit {limit} is out of range; give 1 to {MAX_LIMIT}")
    before = _decode_cursor(cursor)
    need = narrowing(parse(query))
    items: list[FoundArticle] = []
    scanned = 0
    last_seen: int | None = None
    with reading(engine) as session:
        connection = session.connection()
        if need is not None:
            need = expand(need, compound_lookup(connection, compounds(need)))
        for row in _candidates(connection, need, since, until, before):
            if scanned >= bound:
                return SearchPage(tuple(items), _encode_cursor(last_seen), scanned, need is not None, True)
            scanned += 1
            last_seen = row.id
            found = topics.match(_document(row))
            if found:
                items.append(_found(row, found[0]))
                if len(items) == limit:
                    return SearchPage(tuple(items), _encode_cursor(row.id), scanned, need is not None, False)
    return SearchPage(tuple(items), None, scanned, need is not None, False)


# --- candidates ------------------------------------------------------------------------


def _candidates(
    connection: sa.Connection,
    need: Need | None,
    since: datetime | None,
    until: datetime | None,
    before: int | None,
) -> Iterator[Any]:
    """Candidate article rows, newest first, fetched a growing batch at a time."""
    low, high = _id_range(connection, since, until)
    if before is not None:
        high = before - 1 if high is None else min(high, before - 1)
    params: dict[str, Any] = {"low": low or 0, "high": _NO_LIMIT if high is None else high}
    if need is None:
        source, key, matching = "article AS a", "a.id", []
    elif connection.dialect.name == "sqlite":
        source = "article_fts JOIN article AS a ON a.id = article_fts.rowid"
        key, matching = "article_fts.rowid", ["article_fts MATCH :match"]
        params["match"] = fts5_query(need)
    else:
        source = "article_search AS s JOIN article AS a ON a.id = s.article_id"
        key, matching = "s.article_id", ["s.words @@ CAST(:match AS tsquery)"]
        params["match"] = tsquery(need)
    conditions = [*matching, f"{key} >= :low", f"{key} <= :high", *_window(since, until, params)]
    statement = _with_times(
        sa.text(
            f"SELECT {_COLUMNS} FROM {source} JOIN feed AS f ON f.id = a.feed_id "
            f"WHERE {' AND '.join(conditions)} ORDER BY {key} DESC LIMIT :batch"
        ),
        params,
    ).columns(**_COLUMN_TYPES)
    batch = 64
    while params["high"] >= params["low"]:
        params["batch"] = batch
        rows = connection.execute(statement, params).all()
        yield from rows
        if len(rows) < batch:
            return
        params["high"] = rows[-1].id - 1
        batch = min(batch * 4, 1024)


def _window(since: datetime | None, until: datetime | None, params: dict[str, Any]) -> list[str]:
    """Conditions on the fetch time, their parameters added to ``params``."""
    conditions = []
    if since is not None:
        conditions.append("a.fetched_at >= :since")
        params["since"] = since
    if until is not None:
        conditions.append("a.fetched_at < :until")
        params["until"] = until
    return conditions


def _with_times(statement: sa.TextClause, params: dict[str, Any]) -> sa.TextClause:
    """Times bound as the tables store them (naive UTC text on SQLite)."""
    return statement.bindparams(
        *(sa.bindparam(name, type_=UTCDateTime()) for name in ("since", "until") if name in params)
    )


def _id_range(
    connection: sa.Connection, since: datetime | None, until: datetime | None
) -> tuple[int | None, int | None]:
    """The lowest and highest article id fetched in [since, until): the candidates' id range,
    so the full-text hits older than a recent window are never read."""
    if since is None and until is None:
        return None, None
    params: dict[str, Any] = {}
    conditions = _window(since, until, params)
    statement = _with_times(
        sa.text(f"SELECT min(a.id) AS low, max(a.id) AS high FROM article AS a WHERE {' AND '.join(conditions)}"),
        params,
    )
    row = connection.execute(statement, params).one()
    return (1, 0) if row.low is None else (row.low, row.high)  # (1, 0): an empty window


def compound_lookup(connection: sa.Connection, needed: Sequence[str]) -> Any:
    """``containing(word)`` for ``expand``: the stored compound words holding each word."""
    found: dict[str, tuple[str, ...] | None] = {}
    for word in dict.fromkeys(needed):
        rows = connection.execute(
            _CONTAINING[connection.dialect.name == "sqlite"], {"word": word, "cap": COMPOUND_WORDS + 1}
        ).scalars()
        longer = tuple(rows)
        found[word] = None if len(longer) > COMPOUND_WORDS else longer
    return found.__getitem__


def fts5_query(need: Need) -> str:
    """``need`` in SQLite FTS5's query syntax."""
    if isinstance(need, Phrase):
        return _column(need.field, _fts5_phrase(need))
    if isinstance(need, Close):
        groups = [f"NEAR({_fts5_phrase(a)} {_fts5_phrase(b)}, {need.distance})" for a, b in pairs(need)]
        return _column(need.field, groups[0] if len(groups) == 1 else "(" + " OR ".join(groups) + ")")
    if isinstance(need, Compound):
        raise ValueError("expand() the compounds first")
    operator = " AND " if isinstance(need, AllOf) else " OR "
    return "(" + operator.join(fts5_query(part) for part in need.parts) + ")"


def _fts5_phrase(phrase: Phrase) -> str:
    text = '"' + " ".join(phrase.words).replace('"', '""') + '"'
    return text + " *" if phrase.prefix else text


def _column(field: str | None, expression: str) -> str:
    return f"{field} : {expression}" if field else expression


def tsquery(need: Need) -> str:
    """``need`` as a PostgreSQL tsquery over the distinct words (no positions: a phrase or
    NEAR needs its words, the matcher checks their order and distance)."""
    if isinstance(need, Phrase):
        lexemes = [_lexeme(word) for word in need.words]
        if need.prefix:
            lexemes[-1] += ":*"
        return lexemes[0] if len(lexemes) == 1 else "(" + " & ".join(lexemes) + ")"
    if isinstance(need, Close):
        left = " | ".join(tsquery(phrase) for phrase in need.left)
        right = " | ".join(tsquery(phrase) for phrase in need.right)
        return f"({left}) & ({right})"
    if isinstance(need, Compound):
        raise ValueError("expand() the compounds first")
    operator = " & " if isinstance(need, AllOf) else " | "
    return "(" + operator.join(tsquery(part) for part in need.parts) + ")"


def _lexeme(word: str) -> str:
    return "'" + word[:LONGEST_WORD].replace("\\", "\\\\").replace("'", "''") + "'"


# --- rows ------------------------------------------------------------------------------


def _document(row: Any) -> Document:
    # A rejected text (a consent wall...) is matched by nobody: the title alone, as when it arrived.
    text = "" if row.text_source.startswith(REJECTED) else row.text
    return Document(title=row.title, text=text, language=row.language, url=row.url, text_source=row.text_source)


def _found(row: Any, match: TopicMatch) -> FoundArticle:
    return FoundArticle(
        id=row.id,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        language=row.language,
        published_at=row.published_at,
        feed=row.feed,
        story_id=row.story_id,
        text_source=row.text_source,
        text=row.text,
        score=match.score,
        terms=match.terms,
        snippet=match.snippet,
    )


CURSOR_PREFIX = "a"


def _encode_cursor(article_id: int | None) -> str | None:
    return None if article_id is None else f"{CURSOR_PREFIX}{article_id}"


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    digits = cursor[len(CURSOR_PREFIX) :]
    if not cursor.startswith(CURSOR_PREFIX) or not digits.isascii() or not digits.isdigit():
        raise UsageError(f"cursor {cursor!r} is not one a search gave; start again without it")
    return int(digits)


# --- statements ------------------------------------------------------------------------

_NO_LIMIT = 2**62
_COLUMN_TYPES = {"published_at": UTCDateTime()}
_COLUMNS = (
    "a.id, a.url, a.canonical_url, a.title, a.text, a.language, a.published_at, a.story_id, "
    "a.text_source, f.name AS feed"
)
# The writes of every stored article: compiled once (see Prepared).
_FTS_INSERT = Prepared(sa.text("INSERT INTO article_fts (rowid, title, body) VALUES (:id, :title, :body)"))
_TSVECTOR_INSERT = Prepared(
    sa.text("INSERT INTO article_search (article_id, words) VALUES (:id, array_to_tsvector(CAST(:words AS text[])))")
)
_WORD_INSERT = {
    True: Prepared(sa.text("INSERT OR IGNORE INTO search_word (word) SELECT value FROM json_each(:words)")),
    False: Prepared(
        sa.text(
            "INSERT INTO search_word (word) SELECT json_array_elements_text(CAST(:words AS json)) "
            "ON CONFLICT DO NOTHING"
        )
    ),
}
_CONTAINING = {
    True: sa.text("SELECT word FROM search_word WHERE instr(word, :word) > 0 LIMIT :cap"),
    False: sa.text("SELECT word FROM search_word WHERE strpos(word, :word) > 0 LIMIT :cap"),
}
_LAST_INDEXED = {  # ORDER BY ... LIMIT 1: an FTS5 table reads its newest rowid, max() would scan it
    True: "SELECT rowid FROM article_fts ORDER BY rowid DESC LIMIT 1",
    False: "SELECT max(article_id) FROM article_search",
}
_UNINDEXED = sa.text(
    "SELECT id, title, text, language, text_source FROM article WHERE id > :after ORDER BY id LIMIT :batch"
)
