"""Engine set-up and schema migrations, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, StatementError

from monitor.errors import DatabaseError, StorageError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.sql.compiler import SQLCompiler
    from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"


# A few megabytes free: below that a full disk is still full, however small one probe write is
# (SQLite reuses its write-ahead log, so a tiny write succeeds where storing an article fails).
FREE_BYTES_TO_RESUME = 4 * 1024 * 1024


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


def upsert(dialect: str, table: sa.TableClause) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` that takes ``ON CONFLICT`` clauses, in ``dialect``'s SQL.

    The dialect's module is imported when first needed: a process on SQLite never loads
    PostgreSQL's (20 ms of CPU at every start), nor the other way round.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may itself wait for a lock
    # Takes effect in a new database only (before its first table): retention can then give
    # the space it frees back to the disk in small steps (monitor.store.retention).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
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
    from sqlmodel import Session  # the ORM: loaded by the first statement that needs it (a quiet poll has none)

    writer = engine.execution_options(monitor_write=True)
    with _storage_errors(engine), Session(writer, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def writing(engine: Engine) -> Iterator[sa.Connection]:
    """``transaction`` on a bare connection, for hot paths that send Core statements only."""
    with _storage_errors(engine), engine.execution_options(monitor_write=True).begin() as connection:
        yield connection


class Prepared:
    """A hot Core statement compiled once per dialect and sent with ``exec_driver_sql``.

    ``connection.execute`` looks the statement up in the compiled cache, builds its
    parameters and runs each through its type on every call: about 38 us a statement on
    SQLite, against 11 us this way, and the article path sends a dozen per article.
    Errors are SQLAlchemy's as with ``execute`` (IntegrityError, deadlocks...). Every call
    must give the same parameter names (an INSERT is compiled for the columns given), and a
    statement needing Python-side column defaults is refused: nothing here computes them.
    """

    def __init__(self, statement: sa.ClauseElement) -> None:
        self._statement = statement
        self._plans: dict[str, _Plan] = {}

    def __call__(self, connection: sa.Connection, params: dict[str, Any]) -> sa.CursorResult[*tuple[Any, ...]]:
        plan = self._plans.get(connection.dialect.name)
        if plan is None:
            plan = self._plans[connection.dialect.name] = _Plan.of(self._statement, connection.dialect, params)
        return connection.exec_driver_sql(plan.sql, plan.arguments(params))


class _Plan:
    def __init__(
        self, sql: str, names: list[str], positional: bool, fixed: dict[str, Any], processors: dict[str, Any]
    ) -> None:
        self.sql, self._names, self._positional, self._fixed, self._processors = (
            sql,
            names,
            positional,
            fixed,
            processors,
        )

    @classmethod
    def of(cls, statement: sa.ClauseElement, dialect: sa.Dialect, params: dict[str, Any]) -> _Plan:
        compiled = cast("SQLCompiler", statement.compile(dialect=dialect, column_keys=list(params)))
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
            raise TypeError(f"Prepared cannot compute the Python-side defaults of {statement}")
        positional = compiled.positiontup is not None
        rendered = compiled.bind_names  # each parameter's name in the SQL (an anonymous one's is made here)
        names = list(compiled.positiontup) if compiled.positiontup is not None else list(set(rendered.values()))
        fixed = {name: value for name, value in (compiled.construct_params(params) or {}).items() if name not in params}
        processors = {}
        for bind, name in rendered.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        return cls(compiled.string, names, positional, fixed, processors)

    def arguments(self, params: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = {**self._fixed, **params}
        for name, process in self._processors.items():  # once, though the SQL may repeat it (the candidate lookup)
            values[name] = process(values[name])
        if self._positional:
            return tuple(values[name] for name in self._names)
        return {name: values[name] for name in self._names}


class Savepoint:
    """A savepoint inside the connection's transaction, begun at once; ``commit`` releases it,
    ``rollback`` undoes what was sent since. Plain statements: ``begin_nested`` cost about
    as much CPU as inserting the article's row."""

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection
        connection.exec_driver_sql("SAVEPOINT one_item")

    def commit(self) -> None:
        self._connection.exec_driver_sql("RELEASE SAVEPOINT one_item")

    def rollback(self) -> None:
        self._connection.exec_driver_sql("ROLLBACK TO SAVEPOINT one_item")
        self._connection.exec_driver_sql("RELEASE SAVEPOINT one_item")


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only session that takes no write lock."""
    from sqlmodel import Session

    with _storage_errors(engine), Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def reading_connection(engine: Engine) -> Iterator[sa.Connection]:
    """``reading`` on a bare connection, for Core statements."""
    with _storage_errors(engine), engine.connect() as connection, connection.begin():
        yield connection


@contextmanager
def _storage_errors(engine: Engine) -> Iterator[None]:
    """A database that cannot be used now (full, read-only, gone) becomes one StorageError."""
    try:
        yield
    except StatementError as exc:
        if (translated := as_storage_error(engine, exc)) is None:
            raise
        raise translated from exc


def as_storage_error(engine: Engine, exc: BaseException) -> StorageError | None:
    """``exc`` as a StorageError when it says the database cannot be used; None for anything else.

    Operational errors are the database's state (disk full, read-only file, server gone,
    lock waited out), not a bug in a statement; integrity errors and the like stay what they are.
    """
    if isinstance(exc, StorageError):
        return exc
    read_only = getattr(getattr(exc, "orig", None), "sqlstate", None) == _PG_READ_ONLY_TRANSACTION
    if isinstance(exc, OperationalError) or read_only:
        return StorageError(_unusable(engine, exc).args[0])
    return None


_PG_READ_ONLY_TRANSACTION = "25006"  # a standby, or default_transaction_read_only: raised as an InternalError
_PG_CONFLICTS = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def lost_a_conflict(exc: BaseException) -> bool:
    """PostgreSQL made this statement the victim of a deadlock (or a serialization conflict)
    with another transaction: the same work, tried again, goes through."""
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc  # as _storage_errors translated it
    return getattr(getattr(cause, "orig", None), "sqlstate", None) in _PG_CONFLICTS


def can_write_again(engine: Engine) -> bool:
    """Whether a database that failed to write has room again: for a SQLite file, free space on its disk.

    The caller still makes a real write after this; this check only keeps a full disk,
    where small writes succeed, from looking recovered.
    """
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return True
    try:
        return shutil.disk_usage(Path(engine.url.database).resolve().parent).free >= FREE_BYTES_TO_RESUME
    except OSError:
        return False


def serialised(within: Session | sa.Connection, chore: int) -> None:
    """Within the current transaction (``within``: its session or connection), wait until no
    other process runs ``chore``.

    PostgreSQL: a transaction-scoped advisory lock. SQLite needs none: its writers
    already hold the database's one write lock from their first statement (BEGIN IMMEDIATE).
    """
    dialect = within.dialect if isinstance(within, sa.Connection) else within.get_bind().dialect
    if dialect.name == "postgresql":
        within.execute(sa.text("SELECT pg_advisory_xact_lock(:chore)"), {"chore": chore})


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    # As a writer: on SQLite the migration holds the write lock from its first statement, so
    # two processes starting at once queue up and the second finds the schema current.
    config.attributes["engine"] = engine.execution_options(monitor_write=True)
    return config


def head_revision() -> str:
    """The newest migration: they are numbered, ``NNNN_what.py`` with revision "NNNN".

    Read from the file names, so that finding the schema current (every command does)
    costs no import of Alembic and its migrations; tests/test_startup.py checks that
    Alembic agrees.
    """
    return max(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return False
        found = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    return found == [head_revision()]


def open_database(url: str) -> Engine:
    """An engine on ``url`` with the schema brought up to date."""
    engine = create_engine(url)
    upgrade(engine)
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create the schema or bring it to the newest migration (or to ``revision``)."""
    try:
        if revision != "head" or not schema_is_current(engine):
            from alembic import command

            command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise _unusable(engine, exc) from None


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision``: undoes an upgrade (data it dropped stays dropped)."""
    from alembic import command

    try:
        command.downgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise _unusable(engine, exc) from None


def backup(engine: Engine, path: Path) -> int:
    """Copy a SQLite database to ``path`` while it is in use (SQLite's online backup API,
    a few hundred pages per step, so writers wait milliseconds, not the whole copy);
    returns the pages copied. The copy is written beside ``path`` and renamed into place."""
    import sqlite3

    if engine.dialect.name != "sqlite":
        raise DatabaseError(
            f"monitor db backup copies SQLite databases; for {engine.dialect.name} use its own tool: "
            "pg_dump -Fc -d <database URL without +psycopg> -f monitor.dump"
        )
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    source = engine.raw_connection()
    try:
        target = sqlite3.connect(partial)
        try:
            with target:
                source.driver_connection.backup(target, pages=256, sleep=0.005)  # type: ignore[union-attr]
            pages = int(target.execute("PRAGMA page_count").fetchone()[0])
        finally:
            target.close()
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"backup to {path} failed: {exc}") from None
    finally:
        source.close()
    partial.replace(path)
    return pages


def _unusable(engine: Engine, exc: BaseException) -> DatabaseError:
    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    url = engine.url.render_as_string(hide_password=True)
    if not can_write_again(engine):  # SQLite says "disk I/O error" when it cannot even create its -shm file
        return DatabaseError(f"database {url}: {reason}; the disk it is on is full: free some space")
    return DatabaseError(f"database {url}: {reason}; check that it is reachable and writable (and its disk not full)")


class StorageHealth:
    """Whether the database takes writes, as state: a failure is told once when it starts
    and once when it ends, however many writes fail in between."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.error: StorageError | None = None
        self.notify = notify  # the daemon's status line; None: the caller reports self.error itself

    @property
    def failing(self) -> bool:
        return self.error is not None

    def failed(self, error: StorageError) -> None:
        if self.error is None and self.notify is not None:
            self.notify(f"storage failing: {error}; polling paused, nothing is fetched until it can write again")
        self.error = error

    def recovered(self) -> None:
        if self.error is not None and self.notify is not None:
            self.notify("storage writable again: polling resumed")
        self.error = None
