"""feed.last_warning: what the last poll read anyway but the operator should see

A body labelled gzip that is not compressed, for example, is read as it is; the warning
is kept on the feed (``monitor feeds``) until a poll without one replaces it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed") as batch:  # SQLite: ALTER TABLE ... ADD COLUMN in place
        batch.add_column(sa.Column("last_warning", sa.String(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite >= 3.35): a batch rebuild of "feed" would trip the foreign keys pointing at it.
    op.drop_column("feed", "last_warning")
