"""Verify the audit chain and that it accounts for every covered data row, optionally against an external head.

Checks, in this order (the first failure is reported, in one sentence naming the row):

1. the audit rows: consecutive ``seq`` from 1, each ``prev_hash`` equal to the previous row's hash, each ``row_hash``
   recomputed from the row's content; no audit row after the ``lock`` row records data rows;
2. the data: every row an audit row recorded still exists with the recorded content (append-only tables: each row
   recorded exactly once; ``studies``: the latest snapshot equals the table), and no covered row is unrecorded;
3. with ``expected_head`` (``SEQ:HASH`` or ``HASH``, kept outside the database, e.g. printed at lock time): that row
   is still in the chain. Without it, whoever can write the file can recompute a whole new chain; the head is what
   makes a rewritten or truncated chain detectable.

A database built with study schema 1 (:mod:`readerstudy.store.schema`) recorded only its reads; its one ``migrate``
row records every other row as it was at migration, so rows written before that row are covered from then on only
(:attr:`ChainReport.coverage_note` says so).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from readerstudy.store.chain import (
    COVERED_TABLES,
    GENESIS_HASH,
    SNAPSHOT_TABLES,
    RecordedGroup,
    audit_row_hash,
    fetch_rows,
    group_digest,
    key_column,
    recorded_groups,
    row_digest,
)
from readerstudy.store.engine import StudyDB, using_db
from readerstudy.store.models import AuditEntry
from readerstudy.store.schema import MIGRATE_ACTION

_LAST_ROW = select(AuditEntry.seq, AuditEntry.row_hash).order_by(AuditEntry.seq.desc()).limit(1)
_FIRST_LOCK = (
    select(AuditEntry.seq, AuditEntry.row_hash)
    .where(AuditEntry.action == "lock")
    .order_by(AuditEntry.seq)
    .limit(1)
)
_HEAD = re.compile(r"^(?:(\d+):)?([0-9a-f]{64})$")


class ChainProblem(Exception):
    """The first thing found broken; ``seq`` is the audit row concerned, when there is one."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    problem: str | None  # one sentence naming the first broken row or table
    first_bad_seq: int | None
    n_audit_rows: int
    # As stored (verified only when intact): "SEQ:HASH" of the last audit row ("0:000..." when empty) and of the
    # lock row, when the study was locked.
    head: str
    head_at_lock: str | None
    expected_head: str | None  # the external head checked against, if any
    built_schema: int = 2  # 1: built before every row was recorded (see readerstudy.store.schema)
    migrated_at: str | None = None  # "SEQ:TS" of the migrate row of a schema-1 database
    coverage_note: str | None = None  # what a migrated chain cannot vouch for

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_head(seq: int, row_hash: str) -> str:
    return f"{seq}:{row_hash}"


def parse_head(text: str) -> tuple[int | None, str]:
    """``SEQ:HASH`` or a bare 64-hex ``HASH`` -> (seq or None, hash); ValueError otherwise."""
    match = _HEAD.match(text.strip().lower())
    if not match:
        raise ValueError(f"head {text!r} is not SEQ:HASH or a 64-character hex SHA-256")
    return (int(match.group(1)) if match.group(1) else None), match.group(2)


@dataclass
class _Walk:
    """What the pass over the audit rows collected."""

    n_rows: int = 0
    last_hash: str = GENESIS_HASH
    lock: tuple[int, str] | None = None
    groups: list[RecordedGroup] = field(default_factory=list)
    snapshots: dict[str, RecordedGroup] = field(default_factory=dict)
    recorded_by: dict[str, dict[Any, int]] = field(default_factory=lambda: {t: {} for t in COVERED_TABLES})
    hashes: dict[str, int] = field(default_factory=dict)  # row_hash -> seq
    built_schema: int = 2
    migrated: tuple[int, str] | None = None  # (seq, ts) of the migrate row


def _audit_rows(connection: Connection) -> Iterator[Any]:
    table = AuditEntry.__table__
    yield from connection.execute(select(table).order_by(table.c.seq))


def _walk_chain(connection: Connection, walk: _Walk) -> None:
    for row in _audit_rows(connection):
        expected_seq = walk.n_rows + 1
        if row.seq != expected_seq:
            raise ChainProblem(
                f"audit_log row {row.seq} follows row {walk.n_rows}: rows are missing", row.seq
            )
        if row.prev_hash != walk.last_hash:
            raise ChainProblem(f"audit_log row {row.seq} does not link to the previous row's hash", row.seq)
        if (
            audit_row_hash(row.prev_hash, row.seq, row.ts, row.actor, row.action, row.detail_json)
            != row.row_hash
        ):
            raise ChainProblem(
                f"audit_log row {row.seq} ({row.action}) was changed: its hash does not match", row.seq
            )
        try:
            detail = json.loads(row.detail_json)
            groups = recorded_groups(row.seq, row.action, detail)
        except (ValueError, KeyError, TypeError) as exc:
            raise ChainProblem(f"audit_log row {row.seq} has an unreadable detail: {exc}", row.seq) from None
        if row.seq == 1 and row.action == "build" and "records" not in detail:
            walk.built_schema = 1
        if row.action == MIGRATE_ACTION:
            _take_migration(walk, row, groups)
        elif groups and walk.lock is not None:
            raise ChainProblem(
                f"audit_log row {row.seq} ({row.action}) records {groups[0].table} rows after the study was "
                f"locked at row {walk.lock[0]}",
                row.seq,
            )
        for group in groups:
            _collect(walk, group)
        if row.action == "lock" and walk.lock is None:
            walk.lock = (row.seq, row.row_hash)
        walk.n_rows, walk.last_hash = row.seq, row.row_hash
        walk.hashes[row.row_hash] = row.seq


def _take_migration(walk: _Walk, row: Any, groups: list[RecordedGroup]) -> None:
    """A migrate row may record the rows of a schema-1 database, once, even after its lock, but never reads:
    schema 1 recorded every read at its submit, so a read only the migration would record was never submitted."""
    if walk.built_schema != 1:
        raise ChainProblem(
            f"audit_log row {row.seq} is a migrate row in a chain that was not built with study schema 1",
            row.seq,
        )
    if walk.migrated is not None:
        raise ChainProblem(
            f"audit_log row {row.seq} is a second migrate row (the first is row {walk.migrated[0]})", row.seq
        )
    if any(group.table == "reads" for group in groups):
        raise ChainProblem(
            f"audit_log row {row.seq} (migrate) records reads: a migration never does", row.seq
        )
    walk.migrated = (row.seq, row.ts)


def coverage_note(migrated: tuple[int, str]) -> str:
    seq, ts = migrated
    return (
        f"this database was built with study schema 1 and migrated at audit row {seq} ({ts} UTC): its cases, "
        "assignments, unblinding key, blinding answers and lock state are covered as they were at that row, so "
        "a change made to them before it cannot be detected; its reads are covered by their own submit rows"
    )


def _collect(walk: _Walk, group: RecordedGroup) -> None:
    if group.table in SNAPSHOT_TABLES:
        walk.snapshots[group.table] = group
        return
    recorded = walk.recorded_by[group.table]
    for row_id in group.ids:
        if row_id in recorded:
            raise ChainProblem(
                f"{group.table} {key_column(group.table)}={row_id} is recorded twice "
                f"(audit rows {recorded[row_id]} and {group.seq})",
                group.seq,
            )
        recorded[row_id] = group.seq
    walk.groups.append(group)


def _check_group(group: RecordedGroup, rows: dict[Any, dict]) -> None:
    key = key_column(group.table)
    where = f"audit row {group.seq} ({group.action})"
    for row_id in group.ids:
        if row_id not in rows:
            raise ChainProblem(f"{group.table} {key}={row_id} recorded by {where} is missing", group.seq)
    present = [rows[i] for i in group.ids]
    if group_digest(group.table, present) == group.sha256:
        return
    if group.row_digests is not None:
        for row_id, digest in zip(group.ids, group.row_digests, strict=True):
            if row_digest(group.table, rows[row_id]) != digest:
                raise ChainProblem(
                    f"{group.table} {key}={row_id} differs from what {where} recorded", group.seq
                )
    ids = ", ".join(map(str, group.ids))
    raise ChainProblem(f"{group.table} {key}={ids} differs from what {where} recorded", group.seq)


def _recorded_rows(connection: Connection, walk: _Walk) -> dict[str, tuple[dict[Any, dict], set[Any]]]:
    """Per covered table: its rows by key and the keys the chain records; the recorded rows are checked here."""
    tables = {t: {r[key_column(t)]: r for r in fetch_rows(connection, t)} for t in COVERED_TABLES}
    checks = sorted([*walk.groups, *walk.snapshots.values()], key=lambda g: g.seq)
    for group in checks:
        _check_group(group, tables[group.table])
    result = {}
    for table, rows in tables.items():
        if table in SNAPSHOT_TABLES:
            recorded = set(walk.snapshots[table].ids) if table in walk.snapshots else set()
        else:
            recorded = set(walk.recorded_by[table])
        result[table] = (rows, recorded)
    return result


def _check_data(connection: Connection, walk: _Walk) -> None:
    for table, (rows, recorded) in _recorded_rows(connection, walk).items():
        unrecorded = sorted(set(rows) - recorded)
        if unrecorded:
            raise ChainProblem(
                f"{table} {key_column(table)}={unrecorded[0]} is not recorded in the audit chain "
                f"({len(rows)} rows in the table, {len(recorded)} recorded)"
            )


def unrecorded_rows(connection: Connection) -> dict[str, list[dict]]:
    """Walk the chain and check what it records; the covered rows it does not record, per table.

    For the migration of a schema-1 database (run inside its write transaction); raises :class:`ChainProblem`
    when the chain or a row it records is broken.
    """
    walk = _Walk()
    _walk_chain(connection, walk)
    return {
        table: [rows[k] for k in sorted(set(rows) - recorded)]
        for table, (rows, recorded) in _recorded_rows(connection, walk).items()
        if set(rows) - recorded
    }


def _check_head(walk: _Walk, expected: str) -> None:
    seq, wanted = parse_head(expected)
    if seq is None:
        if wanted not in walk.hashes:
            raise ChainProblem(
                f"the recorded head {wanted[:16]}... is not in audit_log (its last row is {walk.n_rows}): rows "
                "were removed from its tail or the chain was rewritten"
            )
        return
    if seq > walk.n_rows:
        raise ChainProblem(
            f"audit_log ends at row {walk.n_rows}, before the recorded head row {seq}: rows were removed from its tail",
            walk.n_rows + 1,
        )
    if walk.hashes.get(wanted) != seq:
        raise ChainProblem(f"audit_log row {seq} is not the recorded head: the chain was rewritten", seq)


def verify_chain(db: StudyDB | str | Path, expected_head: str | None = None) -> ChainReport:
    """Run all checks on one consistent snapshot of the database; never raises for a broken chain."""
    if expected_head is not None:
        parse_head(expected_head)  # a malformed head is a usage error, not a broken chain
    with using_db(db) as study_db, study_db.engine.connect() as connection:
        if study_db.dialect == "postgresql":  # one snapshot for the audit rows and the data tables
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            walk = _Walk()
            problem: ChainProblem | None = None
            try:
                _walk_chain(connection, walk)
                _check_data(connection, walk)
                if expected_head is not None:
                    _check_head(walk, expected_head)
            except ChainProblem as exc:
                problem = exc
            last = connection.execute(_LAST_ROW).first()
            lock = connection.execute(_FIRST_LOCK).first()
    return ChainReport(
        intact=problem is None,
        problem=None if problem is None else str(problem),
        first_bad_seq=None if problem is None else problem.seq,
        n_audit_rows=walk.n_rows,
        head=format_head(0, GENESIS_HASH) if last is None else format_head(*last),
        head_at_lock=None if lock is None else format_head(*lock),
        expected_head=expected_head,
        built_schema=walk.built_schema,
        migrated_at=None if walk.migrated is None else f"{walk.migrated[0]}:{walk.migrated[1]}",
        coverage_note=None if walk.migrated is None else coverage_note(walk.migrated),
    )
