"""Databases of the previous study schema (built before issue 12's chain): refused with one sentence, migrated by
``cxrbench study migrate`` with an audited row, verified from then on, and ``study verify`` says what it cannot vouch
for. The fixtures in ``data/`` are SQL dumps of databases written by the reader-study code of commit c05e86f.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from readerstudy.cli import study_app
from readerstudy.store.audit import append_audit
from readerstudy.store.chain import fetch_rows, record_of
from readerstudy.store.coordinator_api import lock_study
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.long_table import load_long_table
from readerstudy.store.migrate import MigrationRefusedError, migrate_db
from readerstudy.store.reader_api import ReadAnswers, mark_shown, submit_read
from readerstudy.store.schema import OldSchemaError
from readerstudy.store.verify import verify_chain

DATA = Path(__file__).resolve().parent / "data"
APP = Path(__file__).resolve().parents[2] / "readerstudy" / "app" / "main.py"
runner = CliRunner()


def old_db(tmp_path: Path, kind: str = "unlocked", name: str = "old.db") -> Path:
    path = tmp_path / name
    connection = sqlite3.connect(path)
    connection.executescript((DATA / f"study_schema1_{kind}.sql").read_text())
    connection.close()
    return path


def sql(path: Path, script: str) -> None:
    """Change the file behind the application's back (as whoever can write it could)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(script)
    connection.close()


def dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_old_database_is_refused_with_the_migrate_command(tmp_path: Path) -> None:
    path = old_db(tmp_path)
    with pytest.raises(OldSchemaError) as caught:
        open_db(path)
    sentence = str(caught.value)
    assert str(path) in sentence and f"cxrbench study migrate --db {path}" in sentence
    for command in (["verify"], ["analyze", "--out", str(tmp_path / "out")], ["serve", "--port", "1"]):
        result = runner.invoke(study_app, [*command, "--db", str(path)])
        assert result.exit_code == 2, (command, result.output)
        assert result.output.strip() == f"error: {sentence}"  # one line, no traceback
    assert not (tmp_path / "out").exists()


def test_app_page_says_how_to_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = old_db(tmp_path)
    monkeypatch.setenv("CXRBENCH_STUDY_DB", f"sqlite:///{path}")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [str(OldSchemaError(str(path), 1))]
    assert not at.text_input  # no login form on an unmigrated database


def test_migration_records_every_row_and_verify_says_what_it_covers(tmp_path: Path) -> None:
    path = old_db(tmp_path)
    result = runner.invoke(study_app, ["migrate", "--db", str(path)])
    assert result.exit_code == 0, result.output
    # 13 rows in the old chain (build, 6 x case_shown + submit): the migrate row is row 14; what it records is
    # every row of the fixture's covered tables except the 6 reads, which their submit rows recorded.
    assert "at audit row 14 (recorded 8 assignments, 4 cases, 1 studies, 4 unblinding_key)" in result.output
    db = open_db(path)  # accepted now
    report = verify_chain(db)
    assert report.intact and report.built_schema == 1 and report.migrated_at.startswith("14:")
    assert "migrated at audit row 14" in report.coverage_note
    with db.reading() as session:
        migrate_row = json.loads(
            session.execute(text("SELECT detail_json FROM audit_log WHERE seq = 14")).scalar_one()
        )
        for table in ("assignments", "cases", "studies", "unblinding_key"):
            assert migrate_row["records"][table] == record_of(table, fetch_rows(session, table))
    verified = runner.invoke(study_app, ["verify", "--db", str(path)])
    assert verified.exit_code == 0 and "note: this database was built with study schema 1" in verified.output
    again = runner.invoke(study_app, ["migrate", "--db", str(path)])
    assert again.exit_code == 0 and "already at study schema 2: nothing to do" in again.output
    assert verify_chain(db).n_audit_rows == 14  # nothing appended by the second run

    # reading goes on, the study locks and analyses; analysis.json carries the coverage note
    shown = mark_shown(db, "r1", 3)
    assert submit_read(db, "r1", 3, ReadAnswers({"diagnostic clarity": "A"}), shown) == 1
    head = lock_study(db, "boss")
    db.dispose()
    assert runner.invoke(study_app, ["verify", "--db", str(path), "--head", head]).exit_code == 0
    out = tmp_path / "analysis"
    analysed = runner.invoke(study_app, ["analyze", "--db", str(path), "--out", str(out)])
    assert analysed.exit_code == 0, analysed.output
    chain = json.loads((out / "analysis.json").read_text())["audit_chain"]
    assert chain["intact"] and chain["migrated_at"].startswith("14:") and chain["coverage_note"]
    assert len(load_long_table(path)) == 7  # the 6 old reads and the new one


def test_migration_adds_the_triggers_of_the_current_schema(tmp_path: Path) -> None:
    unmigrated = old_db(tmp_path, name="unmigrated.db")
    sql(
        unmigrated, "UPDATE cases SET text_x = 'edited' WHERE case_idx = 1; UPDATE studies SET name = 'other'"
    )
    path = old_db(tmp_path)  # schema 1 let both through; after the migration both are refused
    migrate_db(path)
    for statement, message in (
        ("UPDATE cases SET text_x = 'edited' WHERE case_idx = 1", "cases is append-only"),
        ("UPDATE studies SET name = 'other'", "the settings are fixed"),
    ):
        with pytest.raises(sqlite3.DatabaseError, match=message):
            sql(path, statement)


def test_tampering_after_the_migration_is_caught(tmp_path: Path) -> None:
    path = old_db(tmp_path)
    migrate_db(path)
    sql(path, "DROP TRIGGER cases_no_update; UPDATE cases SET text_x = 'edited' WHERE case_idx = 2")
    report = verify_chain(open_db(path))
    assert (
        not report.intact
        and report.problem == "cases case_idx=2 differs from what audit row 14 (migrate) recorded"
    )


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        (
            "DROP TRIGGER reads_no_update; UPDATE reads SET choice = 'B' WHERE id = 2",
            "reads id=2 differs from what audit row 5 (submit) recorded",
        ),
        (
            "INSERT INTO reads (reader_id, case_idx, criterion, choice, error_flags_a, error_flags_b, significant_a, "
            "significant_b, reason, submitted_at, version) VALUES ('r1', 2, 'diagnostic clarity', 'A', '[]', '[]', "
            "0, 0, '', '2026-11-30 06:31:30', 1)",
            "reads id=7 (1 in all) are not recorded by the audit chain",
        ),
        (
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4",
            "audit_log row 5 follows row 3: rows are missing",
        ),
    ],
)
def test_a_tampered_old_database_is_not_migrated(tmp_path: Path, script: str, problem: str) -> None:
    path = old_db(tmp_path)
    sql(path, script)
    before = dump(path)
    with pytest.raises(MigrationRefusedError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        migrate_db(path)
    result = runner.invoke(study_app, ["migrate", "--db", str(path)])
    assert result.exit_code == 1 and result.output.startswith(f"error: {path}: not migrated")
    assert dump(path) == before  # nothing half-written
    with pytest.raises(OldSchemaError):
        open_db(path)


def test_locked_old_database_migrates_and_stays_locked(tmp_path: Path) -> None:
    path = old_db(tmp_path, "locked")
    result = migrate_db(path)
    assert result.migrate_seq == 15 and result.recorded["studies"] == 1  # after the lock row (14)
    db = open_db(path)
    assert verify_chain(db).intact
    with pytest.raises(sqlite3.DatabaseError, match="a locked study stays locked"):
        sql(path, "UPDATE studies SET locked = 0")
    analysed = runner.invoke(study_app, ["analyze", "--db", str(path), "--out", str(tmp_path / "out")])
    assert analysed.exit_code == 0, analysed.output


def test_migrate_rows_are_accepted_only_where_a_migration_happened(
    make_study: Callable[..., StudyDB],
) -> None:
    db = make_study()  # built with the current schema
    with db.writing() as session:
        records = {"cases": record_of("cases", fetch_rows(session, "cases"))}
        append_audit(session, "cli", "migrate", {"from_version": 1, "to_version": 2, "records": records})
        session.commit()
    report = verify_chain(db)
    assert not report.intact
    assert report.problem.endswith("is a migrate row in a chain that was not built with study schema 1")


def test_a_migrate_row_cannot_record_reads(tmp_path: Path) -> None:
    path = old_db(tmp_path)
    sql(
        path,
        "INSERT INTO reads (reader_id, case_idx, criterion, choice, error_flags_a, error_flags_b, significant_a, "
        "significant_b, reason, submitted_at, version) VALUES ('r1', 2, 'diagnostic clarity', 'A', '[]', '[]', 0, "
        "0, '', '2026-11-30 06:31:30', 1)",
    )
    db = open_db(path, check_schema=False)
    with db.writing() as session:  # a forged migration that blesses the inserted read
        records = {t: record_of(t, fetch_rows(session, t)) for t in ("assignments", "cases", "studies")}
        records["unblinding_key"] = record_of("unblinding_key", fetch_rows(session, "unblinding_key"))
        records["reads"] = record_of("reads", fetch_rows(session, "reads", [7]))
        append_audit(session, "cli", "migrate", {"from_version": 1, "to_version": 2, "records": records})
        session.commit()
    report = verify_chain(db)
    assert (
        not report.intact
        and report.problem == "audit_log row 14 (migrate) records reads: a migration never does"
    )
