"""story_key: an index on seen_at, so that retention deletes old keys by time range

The keys are filed in time order, so each insert appends to the right end of this index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 05:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_story_key_seen_at", "story_key", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_story_key_seen_at", table_name="story_key")
