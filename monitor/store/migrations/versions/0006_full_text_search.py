"""Full-text search: the articles' folded words in an index, for `monitor search`

SQLite: ``article_fts``, a contentless FTS5 table (title and body columns) tokenized at
spaces only, since it is handed the matcher's own folded words. PostgreSQL:
``article_search``, a ``tsvector`` of each article's distinct words under a GIN index.
Both: ``search_word``, the long words of compounding-language articles (a term may match
inside them). Every stored article is indexed here; the writer indexes the new ones.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.store.search import FTS_TABLE, index_stored_articles

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_word",
        sa.Column("word", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("word"),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(FTS_TABLE)
    else:
        op.execute(
            "CREATE TABLE article_search ("
            "article_id INTEGER PRIMARY KEY REFERENCES article (id) ON DELETE CASCADE, words TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_article_search_words ON article_search USING GIN (words)")
    index_stored_articles(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE article_fts")
    else:
        op.execute("DROP TABLE article_search")
    op.drop_table("search_word")
