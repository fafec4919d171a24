"""Alembic environment: runs on the engine the monitor hands it (see store.db.upgrade)."""

from alembic import context
from sqlmodel import SQLModel

import monitor.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":  # one migrating process at a time
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7403110)")
        context.run_migrations()
    connection.commit()
