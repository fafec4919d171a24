"""the outbox holds every kind of alert: digests, story updates, operator alerts

alert.key (unique) replaces the unique (topic, story_id, channel): each row's key names
what it is sent once for (a topic's story on a channel, one update of a story, one
period of a digest, one change of a feed's state). alert.kind says which; alert.payload
holds what a digest or an operator alert says, frozen when it was queued. Digests and
operator alerts have no story or match.

Existing rows get the key today's code gives a topic alert, so a story alerted before
the upgrade is not alerted again after it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:30:00
"""

from collections.abc import Sequence
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(*parts: object) -> str:  # repository.outbox_key as of this revision
    return "/".join(quote(str(part), safe="") for part in parts)


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("key", sa.String(), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(), server_default="match", nullable=False))
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, topic, story_id, channel FROM alert")).all()
    if rows:
        connection.execute(
            sa.text("UPDATE alert SET key = :key WHERE id = :id"),
            [{"id": row.id, "key": _key("alert", row.topic, row.story_id, row.channel)} for row in rows],
        )
    with op.batch_alter_table("alert") as batch:
        batch.alter_column("key", existing_type=sa.String(), nullable=False)
        batch.alter_column("story_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("match_id", existing_type=sa.Integer(), nullable=True)
        batch.drop_constraint("uq_alert_topic_story_channel", type_="unique")
        batch.create_unique_constraint("uq_alert_key", ["key"])
        batch.create_index("ix_alert_story", ["story_id"], unique=False)


def downgrade() -> None:
    # Only topic alerts fit the old table: the other kinds are dropped with their columns.
    op.execute("DELETE FROM alert WHERE kind <> 'match'")
    with op.batch_alter_table("alert") as batch:
        batch.drop_index("ix_alert_story")
        batch.drop_constraint("uq_alert_key", type_="unique")
        batch.create_unique_constraint("uq_alert_topic_story_channel", ["topic", "story_id", "channel"])
        batch.alter_column("match_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("story_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("payload")
        batch.drop_column("kind")
        batch.drop_column("key")
