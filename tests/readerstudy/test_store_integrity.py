from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from readerstudy.store.audit import verify_audit_chain
from readerstudy.store.engine import StudyDB, trigger_statements
from readerstudy.store.models import APPEND_ONLY_TABLES
from readerstudy.store.reader_api import ReadAnswers, mark_shown, submit_blinding, submit_read


def _with_reads(db: StudyDB) -> StudyDB:
    for order in range(3):
        submit_read(db, "r1", order, ReadAnswers({"diagnostic clarity": "A"}), mark_shown(db, "r1", order))
    submit_blinding(db, "r1", {0: "A", 1: "unsure"})
    return db


def test_sqlite_runs_in_wal_with_full_sync(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET rowid = rowid", "DELETE FROM {table}"])
def test_append_only_tables_refuse_changes(
    make_study: Callable[..., StudyDB], table: str, statement: str
) -> None:
    db = _with_reads(make_study())
    with db.engine.connect() as connection:
        count = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
    with pytest.raises(DBAPIError, match="append-only"), db.write_engine.begin() as connection:
        connection.exec_driver_sql(statement.format(table=table))
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == count


def _raw_sqlite(db: StudyDB) -> sqlite3.Connection:
    db.dispose()
    return sqlite3.connect(Path(db.url.removeprefix("sqlite:///")), isolation_level=None)


def test_chain_is_intact_after_normal_use(make_study: Callable[..., StudyDB]) -> None:
    assert verify_audit_chain(_with_reads(make_study())) == (True, None)


def test_chain_detects_edited_audit_row(make_study: Callable[..., StudyDB]) -> None:
    db = _with_reads(make_study())
    raw = _raw_sqlite(db)
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'r2' WHERE seq = 4")
    raw.close()
    assert verify_audit_chain(db) == (False, 4)


def test_chain_detects_deleted_audit_row(make_study: Callable[..., StudyDB]) -> None:
    db = _with_reads(make_study())
    raw = _raw_sqlite(db)
    raw.execute("DROP TRIGGER audit_log_no_delete")
    raw.execute("DELETE FROM audit_log WHERE seq = 3")
    raw.close()
    assert verify_audit_chain(db) == (False, 4)


def test_chain_detects_edited_read(make_study: Callable[..., StudyDB]) -> None:
    db = _with_reads(make_study())
    with db.engine.connect() as connection:
        submit_seq = connection.execute(
            text("SELECT min(seq) FROM audit_log WHERE action = 'submit'")
        ).scalar_one()
    raw = _raw_sqlite(db)
    raw.execute("DROP TRIGGER reads_no_update")
    raw.execute("UPDATE reads SET choice = 'B' WHERE id = 1")
    raw.close()
    assert verify_audit_chain(db) == (False, submit_seq)


def test_verify_accepts_a_url(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()
    assert verify_audit_chain(db.url) == (True, None)


def test_postgres_triggers_cover_every_append_only_table() -> None:
    statements = trigger_statements("postgresql")
    assert "RAISE EXCEPTION" in statements[0]
    for table in APPEND_ONLY_TABLES:
        assert any(f"BEFORE UPDATE OR DELETE ON {table} " in s for s in statements)
        assert any(f"BEFORE TRUNCATE ON {table} " in s for s in statements)
    with pytest.raises(ValueError):
        trigger_statements("mysql")
