"""Tampering with a study database file as an attacker would (the sqlite3 shell, triggers dropped first), end to end.

Each attack must be caught by ``cxrbench study verify`` and make ``cxrbench study analyze`` refuse (exit 1, one line
naming the first broken row) unless ``--allow-broken-chain`` is given, which analysis.json then records. Attacks that
leave a self-consistent chain (tail truncated, chain recomputed) are caught only against a head kept outside the
database (``verify --head``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from readerstudy.cli import study_app
from readerstudy.store.coordinator_api import lock_study
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.long_table import load_long_table
from readerstudy.store.models import Assignment, UnblindingKey
from readerstudy.store.reader_api import ReadAnswers, mark_shown, submit_blinding, submit_read
from readerstudy.store.verify import verify_chain
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

runner = CliRunner()
N_CASES = 8  # two readers: 16 reads (under the blinding audit's minimum, so the build runs no classifier)


def _ai_side(db: StudyDB, reader: str, order: int) -> str:
    with db.reading() as session:
        left, ai = session.execute(
            select(Assignment.left_slot, UnblindingKey.ai_slot)
            .join(UnblindingKey, UnblindingKey.case_idx == Assignment.case_idx)
            .where(Assignment.reader_id == reader, Assignment.order_index == order)
        ).one()
    return "A" if left == ai else "B"


def _read_all(db: StudyDB, readers: tuple[str, ...] = ("r1", "r2")) -> None:
    """Every reader prefers the AI report on 6 cases of 8 and rates 2 equal: net preference 0.75."""
    for reader in readers:
        for order in range(N_CASES):
            choice = "equal" if order % 4 == 3 else _ai_side(db, reader, order)
            answers = ReadAnswers({"diagnostic clarity": choice}, likert_a=3, likert_b=4, reason="fine")
            submit_read(db, reader, order, answers, mark_shown(db, reader, order))


def _path(db: StudyDB) -> Path:
    return Path(db.url.removeprefix("sqlite:///"))


@pytest.fixture
def locked_study(make_study: Callable[..., StudyDB]) -> tuple[Path, str]:
    """A finished study: 16 reads, blinding answers, locked; returns its file and the head printed at lock."""
    db = make_study(n_cases=N_CASES)
    _read_all(db)
    for reader in ("r1", "r2"):
        submit_blinding(db, reader, {0: "A", 1: "unsure"})
    head = lock_study(db, "coord")
    db.dispose()
    return _path(db), head


def attack(path: Path, sql: str) -> subprocess.CompletedProcess[str]:
    """Run SQL on the file with the sqlite3 shell (foreign keys off, no application code involved)."""
    shell = shutil.which("sqlite3")
    if shell is not None:
        return subprocess.run(
            [shell, "-bail", str(path)], input=sql, capture_output=True, text=True, timeout=60, check=False
        )
    connection = sqlite3.connect(path, isolation_level=None)  # same library as the shell
    try:
        connection.executescript(sql)
    except sqlite3.DatabaseError as exc:
        return subprocess.CompletedProcess(["sqlite3"], 1, "", str(exc))
    finally:
        connection.close()
    return subprocess.CompletedProcess(["sqlite3"], 0, "", "")


def _net_preference(path: Path) -> float:
    table = load_long_table(path)
    return float(table["preference_vs_ai"].mean())


INSERT_40_READS = """
WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 39)
INSERT INTO reads (reader_id, case_idx, criterion, choice, likert_a, likert_b, error_flags_a, error_flags_b,
                   significant_a, significant_b, reason, shown_at, submitted_at, version)
SELECT 'x' || (n / 8 + 1), n % 8 + 1, 'diagnostic clarity', 'A', 4, 2, '[]', '[]', 0, 0, 'fine',
       '2025-03-01 10:00:00.000000', '2025-03-01 10:01:30.000000', 1 FROM k;
"""

# name -> (SQL an attacker runs, the sentence that must name the first broken row)
ATTACKS = {
    "read changed after dropping the trigger": (
        "DROP TRIGGER reads_no_update; UPDATE reads SET choice = CASE choice WHEN 'A' THEN 'B' ELSE 'A' END "
        "WHERE id = 3;",
        r"reads id=3 differs from what audit row \d+ \(submit\) recorded",
    ),
    "audit row edited": (
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail_json = "
        "replace(detail_json, '\"version\":1', '\"version\":2') WHERE seq = 5;",
        r"audit_log row 5 \(submit\) was changed: its hash does not match",
    ),
    "read deleted": (
        "DROP TRIGGER reads_no_delete; DELETE FROM reads WHERE id = 5;",
        r"reads id=5 recorded by audit row \d+ \(submit\) is missing",
    ),
    "40 reads inserted": (
        INSERT_40_READS,
        r"reads id=17 is not recorded in the audit chain \(56 rows in the table, 16 recorded\)",
    ),
    "unblinding key flipped": (
        "DROP TRIGGER unblinding_key_no_update; "
        "UPDATE unblinding_key SET ai_slot = CASE ai_slot WHEN 'x' THEN 'y' ELSE 'x' END;",
        r"unblinding_key case_idx=1 differs from what audit row 1 \(build\) recorded",
    ),
    "study unlocked": (
        "DROP TRIGGER studies_lock_only; UPDATE studies SET locked = 0;",
        r"studies id=1 differs from what audit row \d+ \(lock\) recorded",
    ),
    "assignment sides swapped": (
        "DROP TRIGGER assignments_no_update; "
        "UPDATE assignments SET left_slot = CASE left_slot WHEN 'x' THEN 'y' ELSE 'x' END WHERE id = 2;",
        r"assignments id=2 differs from what audit row 1 \(build\) recorded",
    ),
    "blinding answer deleted": (
        "DROP TRIGGER blinding_answers_no_delete; DELETE FROM blinding_answers WHERE id = 4;",
        r"blinding_answers id=4 recorded by audit row \d+ \(blinding_check\) is missing",
    ),
}


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_is_caught_by_verify_and_analyze(
    locked_study: tuple[Path, str], tmp_path: Path, name: str
) -> None:
    path, head = locked_study
    sql, problem = ATTACKS[name]
    assert verify_chain(path).intact
    done = attack(path, sql)
    assert done.returncode == 0, done.stderr

    verified = runner.invoke(study_app, ["verify", "--db", str(path), "--head", head])
    assert verified.exit_code == 1 and re.search(problem, verified.output), verified.output
    refused = runner.invoke(study_app, ["analyze", "--db", str(path), "--out", str(tmp_path / "refused")])
    assert refused.exit_code == 1, refused.output
    assert len(refused.output.strip().splitlines()) == 1 and re.search(problem, refused.output), (
        refused.output
    )
    assert not (tmp_path / "refused" / "analysis.json").exists()

    out = str(tmp_path / "out")
    allowed = runner.invoke(
        study_app, ["analyze", "--db", str(path), "--out", out, "--allow-broken-chain", "--allow-unlocked"]
    )
    assert allowed.exit_code == 0, allowed.output
    chain = json.loads((tmp_path / "out" / "analysis.json").read_text())["audit_chain"]
    assert chain["intact"] is False and chain["allow_broken_chain"] is True
    assert re.search(problem, chain["problem"]) and chain["head_at_lock"] == head


def test_attacks_change_results_when_unchecked(locked_study: tuple[Path, str]) -> None:
    """Why the chain must cover these rows: each attack moves the analysed numbers (hand-computed)."""
    path, _ = locked_study
    assert _net_preference(path) == pytest.approx(0.75)  # 6 of 8 cases AI better, 2 equal, per reader
    flipped = path.with_name("flipped.db")
    shutil.copyfile(path, flipped)
    assert attack(flipped, ATTACKS["unblinding key flipped"][0]).returncode == 0
    assert _net_preference(flipped) == pytest.approx(-0.75)
    inserted = path.with_name("inserted.db")
    shutil.copyfile(path, inserted)
    assert attack(inserted, INSERT_40_READS).returncode == 0
    assert len(load_long_table(inserted)) == 16 + 40


def test_intact_study_analyses_and_records_the_chain(locked_study: tuple[Path, str], tmp_path: Path) -> None:
    path, head = locked_study
    verified = runner.invoke(study_app, ["verify", "--db", str(path), "--head", head])
    assert verified.exit_code == 0 and "contains the recorded head" in verified.output, verified.output
    result = runner.invoke(study_app, ["analyze", "--db", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    analysis = json.loads((tmp_path / "out" / "analysis.json").read_text())
    chain = analysis["audit_chain"]
    assert chain["intact"] is True and chain["problem"] is None and chain["allow_broken_chain"] is False
    assert (
        chain["head_at_lock"] == head and chain["head"] == head
    )  # nothing was appended between lock and analysis
    assert analysis["net_preference"]["value"] == pytest.approx(0.75)
    # the analysis itself is audited after the head was taken: the lock head stays in the chain and verifies
    assert runner.invoke(study_app, ["verify", "--db", str(path), "--head", head]).exit_code == 0
    assert verify_chain(path).head != head


def test_unlock_is_refused_by_the_trigger(locked_study: tuple[Path, str]) -> None:
    path, head = locked_study
    for sql in (
        "UPDATE studies SET locked = 0;",
        "UPDATE studies SET protocol_json = '{}';",
        "DELETE FROM studies;",
    ):
        done = attack(path, sql)
        assert done.returncode != 0 and "a locked study stays locked" in done.stderr, done.stderr
    assert runner.invoke(study_app, ["verify", "--db", str(path), "--head", head]).exit_code == 0


def test_truncated_tail_is_caught_only_with_the_external_head(make_study: Callable[..., StudyDB]) -> None:
    """Mid-study: the coordinator notes the head; the attacker deletes the last read and its audit row."""
    db = make_study(n_cases=N_CASES)
    _read_all(db)
    head = verify_chain(db).head
    n_rows = int(head.split(":")[0])
    db.dispose()
    path = _path(db)
    done = attack(
        path,
        "DROP TRIGGER reads_no_delete; DROP TRIGGER audit_log_no_delete; "
        f"DELETE FROM reads WHERE id = 16; DELETE FROM audit_log WHERE seq = {n_rows};",
    )
    assert done.returncode == 0, done.stderr
    plain = runner.invoke(study_app, ["verify", "--db", str(path)])
    assert plain.exit_code == 0, plain.output  # self-consistent: undetectable without a head
    with_head = runner.invoke(study_app, ["verify", "--db", str(path), "--head", head])
    assert with_head.exit_code == 1
    assert f"audit_log ends at row {n_rows - 1}, before the recorded head row {n_rows}" in with_head.output
    bare_hash = runner.invoke(study_app, ["verify", "--db", str(path), "--head", head.split(":")[1]])
    assert bare_hash.exit_code == 1 and "is not in audit_log" in bare_hash.output


def test_locked_study_rewritten_and_relocked_is_caught_with_the_lock_head(
    locked_study: tuple[Path, str],
) -> None:
    """The strongest attacker: unlock, drop the tail of the chain, revise reads through the app code, lock again.

    The new chain is self-consistent, so only the head printed at the original lock tells it apart.
    """
    path, head = locked_study
    lock_seq = int(head.split(":")[0])
    done = attack(
        path,
        "DROP TRIGGER audit_log_no_delete; DROP TRIGGER studies_lock_only; "
        f"DELETE FROM audit_log WHERE seq >= {lock_seq}; UPDATE studies SET locked = 0, locked_at = NULL;",
    )
    assert done.returncode == 0, done.stderr
    db = open_db(path)
    for order in range(N_CASES):  # r1 now finds the original report better everywhere
        worse = "B" if _ai_side(db, "r1", order) == "A" else "A"
        submit_read(db, "r1", order, ReadAnswers({"diagnostic clarity": worse}), None)
    new_head = lock_study(db, "coord")
    db.dispose()
    assert _net_preference(path) == pytest.approx((-1 + 0.75) / 2)
    assert runner.invoke(study_app, ["verify", "--db", str(path)]).exit_code == 0
    caught = runner.invoke(study_app, ["verify", "--db", str(path), "--head", head])
    assert caught.exit_code == 1 and f"audit_log row {lock_seq} is not the recorded head" in caught.output
    assert runner.invoke(study_app, ["verify", "--db", str(path), "--head", new_head]).exit_code == 0


def test_verify_usage_errors(locked_study: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = locked_study
    bad = runner.invoke(study_app, ["verify", "--db", str(path), "--head", "not-a-hash"])
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.output
    missing = runner.invoke(study_app, ["verify", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no study database" in missing.output


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on a Unix socket (as in test_store_postgres.py); skipped without binaries."""
    pytest.importorskip("psycopg", reason="no PostgreSQL driver")
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("PostgreSQL server binaries not found")
    as_root = os.geteuid() == 0
    if as_root and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")

    def server(command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if as_root else command

    base = Path("/tmp") / f"cxrpg-tamper-{os.getpid()}"
    data, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir(parents=True, exist_ok=True)
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(socket_dir, "postgres")
    try:
        for command in (
            ["initdb", "-D", str(data), "-U", "study", "--auth=trust", "-E", "UTF8"],
            ["pg_ctl", "-D", str(data), "-o", f"-k {socket_dir} -c listen_addresses='' -c fsync=off", "-w",
             "-l", str(base / "log"), "start"],
        ):  # fmt: skip
            subprocess.run(server(command), check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://study@/postgres?host={socket_dir}"
    finally:
        subprocess.run(server(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_postgres_attacks_are_caught(postgres_url: str) -> None:
    records = [
        CaseRecord(
            "pg",
            i + 1,
            {"case_id": f"p{i}", "site": "s", "original_report": "Clear.", "ai_report": f"Ok {i}."},
        )
        for i in range(3)
    ]
    build_from_records(
        records, protocol_from_dict({"seed": 5, "readers": [{"id": "r1", "password": "pw"}]}), postgres_url
    )
    db = open_db(postgres_url)
    for order in range(3):
        submit_read(db, "r1", order, ReadAnswers({"diagnostic clarity": "A"}), mark_shown(db, "r1", order))
    submit_blinding(db, "r1", {0: "A"})
    head = lock_study(db, "coord")
    assert verify_chain(db, expected_head=head).intact

    def run(*statements: str) -> None:
        with db.engine.begin() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)

    with pytest.raises(DBAPIError, match="a locked study stays locked"):
        run("UPDATE studies SET locked = false")
    flip = "UPDATE unblinding_key SET ai_slot = CASE ai_slot WHEN 'x' THEN 'y' ELSE 'x' END"
    run("DROP TRIGGER unblinding_key_append_only ON unblinding_key", flip)
    problem = verify_chain(db).problem or ""
    assert problem.startswith("unblinding_key case_idx=1 differs from what audit row 1 (build) recorded"), (
        problem
    )
    run(flip)  # flipped back: the recorded content again
    assert verify_chain(db, expected_head=head).intact
    run("DROP TRIGGER studies_lock_only ON studies", "UPDATE studies SET locked = false")
    problem = verify_chain(db).problem or ""
    assert re.match(r"studies id=1 differs from what audit row \d+ \(lock\) recorded", problem), problem
    run("UPDATE studies SET locked = true")
    run(
        "INSERT INTO reads (reader_id, case_idx, criterion, choice, likert_a, likert_b, error_flags_a, error_flags_b,"
        " significant_a, significant_b, reason, shown_at, submitted_at, version)"
        " VALUES ('r1', 1, 'diagnostic clarity', 'B', NULL, NULL, '[]', '[]', false, false, '', NULL, now(), 2)"
    )
    problem = verify_chain(db).problem or ""
    assert problem.startswith(
        "reads id=4 is not recorded in the audit chain (4 rows in the table, 3 recorded)"
    ), problem
    db.dispose()
