"""The database engine, sessions and migrations (Alembic is the only way the schema changes)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The execution option that marks a session's transactions as reads (SQLite: a deferred BEGIN, which takes no
# write lock); every other transaction begins as a write.
READS_ONLY = "rapid_review_reads_only"


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys on) or PostgreSQL (psycopg 3, pre-ping). Bound values are
    never put in error messages (``hide_parameters``): those travel into logs and the engine's history."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Connections kept for 20 requests at once (the pool's default 5 opened one per request beyond them, with
        # its pragmas, under load); each holds its own page cache, so not one per thread (anyio runs 40).
        engine = create_engine(url, hide_parameters=True, pool_size=20, max_overflow=20,
                               connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below opens transactions
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # A transaction that may write takes the write lock at the start, so one that reads then writes waits
            # its turn instead of failing with "database is locked" when another writer got in between. A read
            # (a session opened with ``read_session``) begins deferred: it takes no lock and never waits (WAL).
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READS_ONLY) else "BEGIN IMMEDIATE")

        return engine
    # Bounded waits: a database host that vanishes fails the attempt (which Temporal retries) instead
    # of hanging it; keepalives notice a connection cut without a reset.
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={
        "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
        "keepalives_count": 3, "options": "-c statement_timeout=60000"})


@lru_cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process."""
    return make_engine(url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error: nothing half-written."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def writers_lock_path(engine: Engine) -> Path | None:
    """The lock file beside a SQLite database that its batch writers take in turn (``one_writer_at_a_time``);
    None for PostgreSQL (or SQLite in memory), whose writers wait on row locks and are woken when they are free."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    return Path(f"{database}.writers") if database and database != ":memory:" else None


@contextmanager
def one_writer_at_a_time(lock_path: Path | None) -> Iterator[None]:
    """Held around a write transaction that other processes' writers of the same kind wait for: the kernel wakes
    the next one as soon as this one has committed. SQLite's own wait for its write lock retries after sleeps of
    1, 2, 5, 10, 15 ms and more, so two API processes' read-audit batches lost up to 9 ms each (p90) to it."""
    if lock_path is None:
        yield
        return
    with open(lock_path, "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_session(engine: Engine) -> Session:
    """A session whose transactions only read: on SQLite they take no write lock, so reads never queue behind
    writers or each other. To write through it, call ``begin_write`` first."""
    return Session(engine, expire_on_commit=False, execution_options={READS_ONLY: True})


def reads_only(session: Session) -> bool:
    """The session only reads (``read_session``): its transactions begin as reads unless ``begin_write`` says."""
    return bool(session.execution_options.get(READS_ONLY))


def reading_now(session: Session) -> bool:
    """The session's open transaction began as a read (``read_session`` or ``begin_read``)."""
    return session.get_transaction() is not None and bool(session.connection().get_execution_options().get(
        READS_ONLY, reads_only(session)))


def begin_read(session: Session) -> None:
    """End the session's transaction and begin the next as a read, whatever the session's kind: a request that
    writes may read first without taking SQLite's write lock (and queueing behind the worker's steps for it). To
    write after it, call ``begin_write``."""
    session.commit()
    session.connection(execution_options={READS_ONLY: True})


def begin_write(session: Session) -> None:
    """Before writing through a ``read_session``, or after ``begin_read``: end the read and begin the next
    transaction as a write (a deferred SQLite transaction that has read cannot take the write lock once another
    writer committed, so it would fail with "database is locked"). Whatever the read found must be re-checked by the
    write's own WHERE. A write already begun, or one a writing session would begin anyway, is left as it is."""
    writes_next = session.get_transaction() is None and not reads_only(session)
    if writes_next or (session.get_transaction() is not None and not reading_now(session)):
        return
    session.commit()
    session.connection(execution_options={READS_ONLY: False})


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def add_unless_present(session: Session, row: SQLModel, *unique: str) -> bool:
    """Insert ``row`` unless a row with the same ``unique`` columns exists (a retried step writes nothing twice), in
    one statement: no query first. The session's pending rows are flushed before it, so they count as present; the
    row itself is not added to the session. True if it was inserted."""
    session.flush()
    table = type(row).__table__
    values = {column.key: value for column in table.columns
              if (value := getattr(row, column.key)) is not None or not column.primary_key}
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # RETURNING, not the row count: PostgreSQL's driver does not report 0 for a row the conflict skipped.
    statement = insert(table).values(values).on_conflict_do_nothing(index_elements=unique)
    return session.connection().execute(statement.returning(table.c[unique[0]])).first() is not None
