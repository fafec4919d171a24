"""The poll's statements (monitor.store.polls) name the columns they touch without the ORM's
models: each name and type must be the table's own (monitor.store.tables)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from monitor.store import polls, tables
from monitor.store.utc import UTCDateTime


@pytest.mark.parametrize("light", [polls.FEED, polls.ALERT, polls.TOPIC], ids=lambda t: t.name)
def test_each_column_the_poll_names_is_the_tables_with_its_type(light: sa.TableClause) -> None:
    table = SQLModel.metadata.tables[light.name]
    for column in light.columns:
        assert column.name in table.c, f"{light.name}.{column.name} is no column of the table"
        kind, declared = column.type, table.c[column.name].type
        told = f"{light.name}.{column.name}: {kind!r} in polls, {declared!r} in the table"
        assert values(kind) is values(declared), told


def values(kind: sa.types.TypeEngine[object]) -> type:
    """What a column holds; UTCDateTime its own kind, since it processes binds and results."""
    if isinstance(kind, UTCDateTime):
        return UTCDateTime
    if isinstance(kind, sa.TypeDecorator):  # SQLModel's AutoString: a String
        kind = kind.impl_instance
    return kind.python_type


def test_a_feed_of_the_config_is_inserted_as_the_model_would_have_written_it() -> None:
    now = datetime(2024, 10, 22, 8, 0, tzinfo=UTC)
    model = tables.Feed(name="f", url="https://example.org/feed", interval_override_s=300, next_check_at=now)
    written = {name: value for name, value in model.model_dump(exclude={"id"}).items() if value is not None}
    assert polls._new_feed("f", "https://example.org/feed", 300, now) == written
