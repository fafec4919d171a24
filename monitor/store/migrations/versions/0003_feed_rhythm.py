"""feed.rhythm: the feed's recent entry dates and its own hints, as JSON

Kept on the feed so that a poll answered 304 reschedules without reading the feed's
articles back, and so that the feed's <ttl> and sy:updatePeriod still count on the
polls where the feed is not parsed. Empty for existing feeds until their next change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("feed", sa.Column("rhythm", sa.String(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35): a batch rebuild of "feed" would trip the foreign
    # keys of the articles that point at it.
    op.drop_column("feed", "rhythm")
