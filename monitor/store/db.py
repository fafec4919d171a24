"""Engine set-up and schema migrations, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session

from monitor.errors import MonitorError

MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(MonitorError):
    """The database cannot be used; check `database` in the config."""


def create_engine(url: str) -> Engine:
    """An engine tuned for short write transactions on either backend."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"database: {url!r} is not an SQLAlchemy URL; write e.g. sqlite:///data/monitor.db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"database: cannot create the folder of {parsed.database} ({exc.strerror}); "
                    "choose a writable path in `database`"
                ) from None
        engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except Exception as exc:  # unknown driver, missing DBAPI
        raise DatabaseError(f"database: cannot use {parsed.render_as_string(hide_password=True)}: {exc}") from None


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may itself wait for a lock
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(connection: sa.Connection) -> None:
    # Writers take the lock up front, so two processes never deadlock upgrading a read lock.
    write = connection.get_execution_options().get("monitor_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One short write: commit on success, roll back on any error. No I/O inside."""
    writer = engine.execution_options(monitor_write=True)
    with Session(writer, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def writing(engine: Engine) -> Iterator[sa.Connection]:
    """``transaction`` on a bare connection, for hot paths that send Core statements only."""
    with engine.execution_options(monitor_write=True).begin() as connection:
        yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only session that takes no write lock."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    # As a writer: on SQLite the migration holds the write lock from its first statement, so
    # two processes starting at once queue up and the second finds the schema current.
    config.attributes["engine"] = engine.execution_options(monitor_write=True)
    return config


def schema_is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create the schema or bring it to the newest migration (or to ``revision``)."""
    try:
        if revision != "head" or not schema_is_current(engine):
            command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise _unusable(engine, exc) from None


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision``: undoes an upgrade (data it dropped stays dropped)."""
    try:
        command.downgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise _unusable(engine, exc) from None


def _unusable(engine: Engine, exc: OperationalError) -> DatabaseError:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    url = engine.url.render_as_string(hide_password=True)
    return DatabaseError(f"database {url}: {reason}; check that it is reachable and writable")
