from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from readerstudy.store.audit import append_audit, read_digest, verify_audit_chain
from readerstudy.store.chain import COVERED_TABLES, record_of, row_fields
from readerstudy.store.coordinator_api import lock_study
from readerstudy.store.engine import StudyDB, trigger_statements
from readerstudy.store.models import APPEND_ONLY_TABLES
from readerstudy.store.reader_api import ReadAnswers, mark_shown, submit_blinding, submit_read
from readerstudy.store.verify import verify_chain


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


def _raw_run(db: StudyDB, *statements: str) -> None:
    raw = _raw_sqlite(db)
    for statement in statements:
        raw.execute(statement)
    raw.close()


def test_build_and_blinding_rows_are_recorded_in_the_chain(make_study: Callable[..., StudyDB]) -> None:
    """Every covered row is named by exactly one audit row (hand count: 4 cases, 2 readers x 4 assignments)."""
    db = _with_reads(make_study())
    with db.engine.connect() as connection:
        details = {
            action: json.loads(detail)
            for action, detail in connection.execute(text("SELECT action, detail_json FROM audit_log"))
            if action in ("build", "blinding_check")
        }
        n_rows = {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COVERED_TABLES
        }
    build = details["build"]["records"]
    assert {t: len(r["ids"]) for t, r in build.items()} == {
        "studies": 1,
        "cases": 4,
        "unblinding_key": 4,
        "assignments": 8,
    }
    assert details["blinding_check"]["records"]["blinding_answers"]["ids"] == [1, 2]
    assert n_rows == {
        "studies": 1,
        "cases": 4,
        "unblinding_key": 4,
        "assignments": 8,
        "reads": 3,
        "blinding_answers": 2,
    }
    rows = [{c: v for c, v in zip(row_fields("cases"), (1, "c", "s", "x", "y", None, None), strict=True)}]
    assert (
        record_of("cases", rows)["sha256"]
        == hashlib.sha256(
            json.dumps([[1, "c", "s", "x", "y", None, None]], separators=(",", ":")).encode()
        ).hexdigest()
    )


@pytest.mark.parametrize(
    ("statements", "problem"),
    [
        (
            ["DROP TRIGGER cases_no_update", "UPDATE cases SET site = 'site-9' WHERE case_idx = 2"],
            "cases case_idx=2 differs from what audit row 1 (build) recorded",
        ),
        (
            [
                "DROP TRIGGER blinding_answers_no_update",
                "UPDATE blinding_answers SET guess = 'B' WHERE id = 2",
            ],
            "blinding_answers id=2 differs from what audit row",
        ),
        (
            ["DROP TRIGGER studies_lock_only", "UPDATE studies SET locked = 1"],
            "studies id=1 differs from what audit row 1 (build) recorded",
        ),
        (
            ["DROP TRIGGER unblinding_key_no_delete", "DELETE FROM unblinding_key WHERE case_idx = 4"],
            "unblinding_key case_idx=4 recorded by audit row 1 (build) is missing",
        ),
    ],
)
def test_chain_covers_cases_blinding_answers_and_lock_state(
    make_study: Callable[..., StudyDB], statements: list[str], problem: str
) -> None:
    db = _with_reads(make_study())
    _raw_run(db, *statements)
    report = verify_chain(db)
    assert not report.intact and report.problem is not None and report.problem.startswith(problem), (
        report.problem
    )


def test_forged_audit_row_recording_data_after_lock_is_refused(make_study: Callable[..., StudyDB]) -> None:
    """A self-consistent row appended after the lock that records new reads still breaks verification."""
    db = _with_reads(make_study())
    lock_study(db, "coord")
    with db.write_transaction() as connection:
        append_audit(connection, "r1", "submit", {"read_ids": [], "reads_sha256": read_digest([])})
    report = verify_chain(db)
    assert report.problem is not None and "after the study was locked" in report.problem


def test_row_recorded_twice_is_refused(make_study: Callable[..., StudyDB]) -> None:
    db = _with_reads(make_study())
    with db.engine.connect() as connection:
        first = json.loads(
            connection.execute(text("SELECT detail_json FROM audit_log WHERE action = 'submit'")).first()[0]
        )
    with db.write_transaction() as connection:
        append_audit(connection, "r1", "revise", first)
    report = verify_chain(db)
    assert report.problem is not None and re.match(
        r"reads id=1 is recorded twice \(audit rows \d+ and \d+\)", report.problem
    )


def test_study_row_accepts_only_locking(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()
    for statement in ("UPDATE studies SET name = 'other'", "UPDATE studies SET locked_at = '2025-01-01'"):
        with (
            pytest.raises(DBAPIError, match="locked study stays locked"),
            db.write_engine.begin() as connection,
        ):
            connection.exec_driver_sql(statement)
    head = lock_study(db, "coord")
    assert head == verify_chain(db).head and verify_chain(db).head_at_lock == head
    assert lock_study(db, "coord") == head  # locking again appends nothing
    for statement in ("UPDATE studies SET locked = 0", "DELETE FROM studies"):
        with (
            pytest.raises(DBAPIError, match="locked study stays locked"),
            db.write_engine.begin() as connection,
        ):
            connection.exec_driver_sql(statement)
    assert verify_chain(db).intact


def test_postgres_study_guard() -> None:
    statements = "\n".join(trigger_statements("postgresql"))
    assert "CREATE TRIGGER studies_lock_only BEFORE UPDATE OR DELETE ON studies" in statements
    assert "CREATE TRIGGER studies_no_truncate BEFORE TRUNCATE ON studies" in statements
    assert "NOT OLD.locked AND NEW.locked AND" in statements
    assert "NEW.protocol_json IS NOT DISTINCT FROM OLD.protocol_json" in statements
