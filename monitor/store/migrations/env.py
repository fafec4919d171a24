"""Alembic environment: runs on the engine the monitor hands it (see store.db.upgrade)."""

from alembic import context
from sqlmodel import SQLModel

from monitor.store.tables import described  # (the import registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_name=described,  # the full-text index is the migration's, not a model's
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs need batch mode
        # Alembic commits after each migration on SQLite, as if its DDL could not roll
        # back; it can, once pysqlite no longer manages transactions (store.db). One
        # transaction for the whole upgrade, so a process waiting for the write lock finds
        # the schema empty or current, never between two migrations to run again.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":  # one migrating process at a time
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7403110)")
        context.run_migrations()
    connection.commit()
