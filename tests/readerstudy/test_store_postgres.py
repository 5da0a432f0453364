"""The same store on PostgreSQL: triggers refuse UPDATE/DELETE/TRUNCATE, the chain verifies, the long table loads.

Starts a throw-away server with the local PostgreSQL binaries (initdb/pg_ctl) on a Unix socket; skipped when the
binaries or the psycopg driver are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from readerstudy.store.audit import verify_audit_chain
from readerstudy.store.engine import open_db
from readerstudy.store.long_table import load_long_table
from readerstudy.store.models import APPEND_ONLY_TABLES
from readerstudy.store.reader_api import ReadAnswers, mark_shown, submit_blinding, submit_read
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

pytest.importorskip("psycopg", reason="no PostgreSQL driver (pip install 'psycopg[binary]')")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("initdb") and shutil.which("pg_ctl")), reason="PostgreSQL server binaries not found"
    ),
]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL")
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = Path("/tmp") / f"cxrpg-{os.getpid()}"  # short path: Unix socket names are limited to ~100 bytes
    data, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(socket_dir, "postgres")
    run = lambda cmd: subprocess.run(_as_server_user(cmd), check=True, capture_output=True, timeout=60)  # noqa: E731
    try:
        run(["initdb", "-D", str(data), "-U", "study", "--auth=trust", "-E", "UTF8"])
        options = f"-k {socket_dir} -c listen_addresses='' -c fsync=off"
        run(["pg_ctl", "-D", str(data), "-o", options, "-w", "-l", str(base / "log"), "start"])
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://study@/postgres?host={socket_dir}"
    finally:
        subprocess.run(
            _as_server_user(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_store(postgres_url: str) -> None:
    records = [
        CaseRecord(
            "pg",
            i + 1,
            {"case_id": f"p{i}", "site": "s", "original_report": "Clear.", "ai_report": f"Ok {i}."},
        )
        for i in range(3)
    ]
    protocol = protocol_from_dict({"seed": 5, "readers": [{"id": "r1", "password": "pw"}]})
    build_from_records(records, protocol, postgres_url)
    db = open_db(postgres_url)
    for order in range(2):
        submit_read(db, "r1", order, ReadAnswers({"diagnostic clarity": "B"}), mark_shown(db, "r1", order))
    submit_read(db, "r1", 0, ReadAnswers({"diagnostic clarity": "equal"}), None)
    submit_blinding(db, "r1", {0: "A"})
    assert verify_audit_chain(db) == (True, None)
    table = load_long_table(db)
    assert table.order_index.tolist() == [0, 1] and table.version.tolist() == [2, 1]
    assert table.choice.tolist() == ["equal", "B"]
    for table_name in APPEND_ONLY_TABLES:
        for statement in (f"UPDATE {table_name} SET {_any_column(table_name)}", f"DELETE FROM {table_name}"):
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
                connection.exec_driver_sql(statement)
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {table_name} CASCADE")
    assert len(load_long_table(db)) == 2
    db.dispose()


def _any_column(table_name: str) -> str:
    columns = {"audit_log": "actor", "unblinding_key": "ai_slot", "assignments": "left_slot", "cases": "site"}
    column = columns.get(table_name, "reader_id")
    return f"{column} = {column}"
