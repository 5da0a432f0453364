"""Open a study database: SQLite (WAL, synchronous=FULL) by default, any SQLAlchemy URL otherwise.

Append-only tables get triggers that refuse UPDATE and DELETE, written for SQLite and PostgreSQL; the ``studies`` row
accepts one change only, unlocked -> locked (its settings are fixed and a locked study cannot be unlocked). Writes
go through :attr:`StudyDB.write_engine`, whose transactions start with ``BEGIN IMMEDIATE`` on SQLite so concurrent
writers queue on the database lock instead of failing half-way (the audit hash chain needs writers to be
serialised). Triggers are a first line only: whoever can write the file can drop them, which the audit chain
(:mod:`readerstudy.store.verify`) then reveals.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from readerstudy.store.chain import track_writes
from readerstudy.store.models import APPEND_ONLY_TABLES, Base, Study
from readerstudy.store.schema import CURRENT_SCHEMA_VERSION, OldSchemaError, db_label, schema_version

_WRITE_OPTION = "cxr_write"
_SQLITE_BUSY_TIMEOUT_MS = 30_000


def to_url(db: str | Path) -> str:
    """A plain path becomes an SQLite URL; anything with ``://`` is taken as an SQLAlchemy URL."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


class FairLock:
    """A FIFO lock: the releasing thread hands the lock to the longest waiter.

    ``threading.Lock`` lets a thread that just released it take it straight back (with 20 readers submitting back
    to back, some waited many turns: a long p95 tail); handing over in arrival order bounds each wait to one round.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            baton = threading.Lock()
            baton.acquire()
            self._waiters.append(baton)
        baton.acquire()  # released by the holder in release(): we now own the lock

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # ownership passes on; _held stays True
            else:
                self._held = False

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class StudyDB:
    url: str
    engine: Engine
    write_engine: Engine
    # Writers of one process queue on this lock first, in arrival order: a thread waiting here wakes as soon as the
    # previous commit is done, whereas SQLite's busy handler polls with growing sleeps (long latency tails).
    _write_lock: FairLock = field(default_factory=FairLock, compare=False, repr=False)
    # Facts fixed at build (criteria, scale), cached per open database.
    fixed: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def reading(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock (BEGIN IMMEDIATE on SQLite) from its first statement."""
        with self._write_lock, Session(self.write_engine, expire_on_commit=False) as session:
            track_writes(session)  # the next audit row it appends records the covered rows it wrote
            yield session

    @contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        """A Core connection in a write transaction (committed on normal exit): the fast path for submits."""
        with self._write_lock, self.write_engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_trigger_sql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


STUDY_GUARD_MESSAGE = "studies: the settings are fixed and a locked study stays locked"
# Every column but the lock state: an UPDATE may only turn an unlocked row into a locked one with these unchanged.
_STUDY_SETTINGS = [c.name for c in Study.__table__.columns if c.name not in ("locked", "locked_at")]


def _sqlite_study_guard_sql() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _STUDY_SETTINGS)
    return [
        "CREATE TRIGGER IF NOT EXISTS studies_lock_only BEFORE UPDATE ON studies "
        f"WHEN OLD.locked OR NOT NEW.locked OR {changed} "
        f"BEGIN SELECT RAISE(ABORT, '{STUDY_GUARD_MESSAGE}'); END",
        "CREATE TRIGGER IF NOT EXISTS studies_no_delete BEFORE DELETE ON studies "
        f"BEGIN SELECT RAISE(ABORT, '{STUDY_GUARD_MESSAGE}'); END",
    ]


def _postgres_study_guard_sql() -> list[str]:
    unchanged = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _STUDY_SETTINGS)
    function = f"""
CREATE OR REPLACE FUNCTION cxr_guard_study() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NOT OLD.locked AND NEW.locked AND {unchanged} THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '{STUDY_GUARD_MESSAGE}';
END
$$
"""
    return [
        function,
        "DROP TRIGGER IF EXISTS studies_lock_only ON studies",
        "CREATE TRIGGER studies_lock_only BEFORE UPDATE OR DELETE ON studies "
        "FOR EACH ROW EXECUTE FUNCTION cxr_guard_study()",
        "DROP TRIGGER IF EXISTS studies_no_truncate ON studies",
        "CREATE TRIGGER studies_no_truncate BEFORE TRUNCATE ON studies "
        "FOR EACH STATEMENT EXECUTE FUNCTION cxr_guard_study()",
    ]


POSTGRES_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION cxr_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME;
END
$$
"""


def _postgres_trigger_sql(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION cxr_refuse_change()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION cxr_refuse_change()",
    ]


def trigger_statements(dialect: str) -> list[str]:
    """DDL that makes the append-only tables refuse UPDATE/DELETE (and guards the study row) in a SQL dialect."""
    if dialect == "sqlite":
        return [
            sql for table in APPEND_ONLY_TABLES for sql in _sqlite_trigger_sql(table)
        ] + _sqlite_study_guard_sql()
    if dialect == "postgresql":
        return (
            [POSTGRES_REFUSE_FUNCTION]
            + [sql for table in APPEND_ONLY_TABLES for sql in _postgres_trigger_sql(table)]
            + _postgres_study_guard_sql()
        )
    raise ValueError(f"append-only triggers are written for sqlite and postgresql, not {dialect!r}")


def open_db(db: str | Path, create: bool = False, check_schema: bool = True) -> StudyDB:
    """Open (and with ``create=True`` create the schema and triggers of) a study database.

    An existing database built by an older schema raises :class:`OldSchemaError` (one sentence naming the file
    and the ``cxrbench study migrate`` command) unless ``check_schema=False`` (the migration itself).
    """
    url = to_url(db)
    if url.startswith("sqlite:///") and not create:
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            raise FileNotFoundError(f"no study database at {path}")
    connect_args = {"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine)
    study_db = StudyDB(url=url, engine=engine, write_engine=engine.execution_options(**{_WRITE_OPTION: True}))
    if create:
        Base.metadata.create_all(engine)
        with engine.begin() as connection:
            for statement in trigger_statements(engine.dialect.name):
                connection.execute(text(statement))  # text(): the driver's '%' placeholders get escaped
    elif "studies" not in inspect(engine).get_table_names():
        engine.dispose()
        raise ValueError(f"{url} is not a reader-study database (no 'studies' table)")
    elif check_schema:
        with engine.connect() as connection:
            version = schema_version(connection)
        if version < CURRENT_SCHEMA_VERSION:
            engine.dispose()
            raise OldSchemaError(db_label(url), version)
    return study_db


@contextmanager
def using_db(db: StudyDB | str | Path) -> Iterator[StudyDB]:
    """Use an open StudyDB as is, or open one from a path/URL and dispose of it afterwards."""
    if isinstance(db, StudyDB):
        yield db
        return
    study_db = open_db(db)
    try:
        yield study_db
    finally:
        study_db.dispose()
