"""article.text_source and site_text: where an article's text came from, and the site fingerprint

``article.text_source`` is "page", "feed" or "rejected: <reason>" (a consent wall, a
captcha...: see monitor.not_article); the articles stored before it got their text
from the page or, when that failed, from the feed, and are all marked "page".
``site_text`` counts the links of each site that served the same page text, so a site's
interstitial is recognised from its third link on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite adds the column in place (ALTER TABLE ... ADD COLUMN with its default).
    with op.batch_alter_table("article") as batch:
        batch.add_column(sa.Column("text_source", sa.String(), nullable=False, server_default="page"))
    op.create_table(
        "site_text",
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("text_hash", sa.String(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("host", "text_hash"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("site_text")
    # Plain ALTER TABLE (SQLite >= 3.35): a batch rebuild of "article" would trip the foreign
    # keys of the matches and story keys that point at it.
    op.drop_column("article", "text_source")
