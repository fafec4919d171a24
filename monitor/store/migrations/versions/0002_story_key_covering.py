"""story_key: the whole row is the primary key (key, seen_at, article_id)

Finding story candidates reads "the articles filed under this key since then". With
the old layout (a table keyed (key, article_id) plus an index on (key, seen_at)) every
row found in the index cost a second lookup in the table, and filing an article wrote
each key into three B-trees. Now the lookup is one range scan of the primary key, and
on SQLite the table is WITHOUT ROWID, so the rows are stored once, in that order.
``story_id`` is dropped: the lookup joins ``article`` for it anyway.

Rows without ``seen_at`` (never written by the monitor) cannot be in a primary key and
are dropped. Hand-written; works on SQLite (table rebuilt) and PostgreSQL (in place).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_table(
            "story_key_new",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("article_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["article_id"], ["article.id"]),
            sa.PrimaryKeyConstraint("key", "seen_at", "article_id"),
            sqlite_with_rowid=False,
        )
        # Read in storage order and sorted once (NOT INDEXED: walking the old index would
        # cost a random table lookup per row), so the new B-tree is written by appending.
        op.execute(
            "INSERT INTO story_key_new (key, seen_at, article_id) "
            "SELECT key, seen_at, article_id FROM story_key NOT INDEXED WHERE seen_at IS NOT NULL "
            "ORDER BY key, seen_at, article_id"
        )
        # The old rows live on in the new table: no need to overwrite them with zeros
        # (SQLite builds with SECURE_DELETE would write the whole old table again).
        secure_delete = op.get_bind().exec_driver_sql("PRAGMA secure_delete").scalar()
        op.execute("PRAGMA secure_delete = 0")
        op.drop_table("story_key")  # its index goes with it
        op.execute(f"PRAGMA secure_delete = {int(secure_delete or 0)}")
        op.rename_table("story_key_new", "story_key")
        return
    op.drop_index("ix_story_key_key_seen", table_name="story_key")
    op.execute("DELETE FROM story_key WHERE seen_at IS NULL")
    op.drop_constraint("story_key_pkey", "story_key", type_="primary")
    op.drop_column("story_key", "story_id")  # and its foreign key
    op.alter_column("story_key", "seen_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_primary_key("story_key_pkey", "story_key", ["key", "seen_at", "article_id"])


def downgrade() -> None:
    story_of_article = "(SELECT story_id FROM article WHERE article.id = story_key.article_id)"
    if op.get_bind().dialect.name == "sqlite":
        op.create_table(
            "story_key_old",
            sa.Column("key", sa.String(), nullable=False),
            sa.Column("article_id", sa.Integer(), nullable=False),
            sa.Column("story_id", sa.Integer(), nullable=False),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(["article_id"], ["article.id"]),
            sa.ForeignKeyConstraint(["story_id"], ["story.id"]),
            sa.PrimaryKeyConstraint("key", "article_id"),
        )
        op.execute(
            "INSERT INTO story_key_old (key, article_id, story_id, seen_at) "
            f"SELECT key, article_id, {story_of_article}, seen_at FROM story_key "
            f"WHERE {story_of_article} IS NOT NULL"
        )
        op.drop_table("story_key")
        op.rename_table("story_key_old", "story_key")
    else:
        op.drop_constraint("story_key_pkey", "story_key", type_="primary")
        op.add_column("story_key", sa.Column("story_id", sa.Integer(), nullable=True))
        op.execute(f"UPDATE story_key SET story_id = {story_of_article}")
        op.execute("DELETE FROM story_key WHERE story_id IS NULL")
        op.alter_column("story_key", "story_id", existing_type=sa.Integer(), nullable=False)
        op.alter_column("story_key", "seen_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        op.create_foreign_key("story_key_story_id_fkey", "story_key", "story", ["story_id"], ["id"])
        op.create_primary_key("story_key_pkey", "story_key", ["key", "article_id"])
    op.create_index("ix_story_key_key_seen", "story_key", ["key", "seen_at"], unique=False)
