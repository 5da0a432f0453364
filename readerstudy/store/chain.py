"""What the audit chain records of the data tables, and the canonical form it records them in.

Every row that can change a result lives in a *covered* table (:data:`COVERED_TABLES`). Each covered row is recorded
by exactly one audit row: the audit row's ``detail`` carries, per table, the row keys, a SHA-256 over the canonical
serialisation of those rows (all their columns) and a short digest per row that only serves to name a changed row.
Because the audit row's own hash covers its detail, and each audit row's hash covers the previous one, editing,
inserting or deleting a covered row (or an audit row) breaks verification (:mod:`readerstudy.store.verify`).

``studies`` is the one table whose row legitimately changes (unlocked -> locked): it is recorded as a whole-table
snapshot, at build and again by the ``lock`` audit row, and the latest snapshot must equal the table.

Rows an ORM session inserts are picked up by a flush hook (:func:`track_writes`, installed by
:meth:`StudyDB.writing`) and recorded by the next audit row that session appends; the Core fast path of submits
records its reads itself (``read_ids`` / ``reads_sha256``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Connection, Table, event, select
from sqlalchemy.orm import Session

from readerstudy.store.models import Assignment, BlindingAnswer, Case, Read, Study, UnblindingKey, table_of

GENESIS_HASH = "0" * 64  # the previous hash of the first audit row


def audit_row_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, detail_json: str) -> str:
    """One audit row's hash: SHA-256 over the previous row's hash and this row's canonical content."""
    content = canonical_json({"seq": seq, "ts": ts, "actor": actor, "action": action, "detail": detail_json})
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


# Table name -> model. ``readers`` is left out on purpose: it holds credentials, which enter no result (the reads a
# reader submits are recorded themselves).
_COVERED_MODELS = (Study, Case, UnblindingKey, Assignment, Read, BlindingAnswer)
COVERED_TABLES: dict[str, Table] = {table_of(model).name: table_of(model) for model in _COVERED_MODELS}
SNAPSHOT_TABLES = frozenset({"studies"})  # the latest recorded snapshot must equal the whole table
_PENDING_KEY = "cxr_unrecorded_rows"
_IN_CHUNK = 500  # bound the number of SQL variables of one IN (...) list
_ROW_DIGEST_HEX = 16  # only locates a changed row; integrity rests on the full SHA-256 of the group


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@cache
def key_column(table: str) -> str:
    return COVERED_TABLES[table].primary_key.columns.values()[0].name


@cache
def row_fields(table: str) -> tuple[str, ...]:
    """Every column of a covered table, in model order: all of them are recorded."""
    return tuple(COVERED_TABLES[table].columns.keys())


@cache
def _boolean_fields(table: str) -> frozenset[str]:
    return frozenset(c.name for c in COVERED_TABLES[table].columns if isinstance(c.type, Boolean))


def canonical_row(table: str, row: Mapping[str, Any]) -> list[Any]:
    """A row as the JSON-ready list the digests are taken over (datetimes as ISO text, booleans as booleans)."""
    booleans = _boolean_fields(table)
    values = []
    for name in row_fields(table):
        value = row[name]
        if name in booleans and value is not None:
            value = bool(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        values.append(value)
    return values


def group_digest(table: str, rows: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 over the canonical rows ordered by key (for ``reads`` this is the historic ``reads_sha256``)."""
    key = key_column(table)
    ordered = [canonical_row(table, r) for r in sorted(rows, key=lambda row: row[key])]
    return hashlib.sha256(canonical_json(ordered).encode()).hexdigest()


def row_digest(table: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(canonical_row(table, row)).encode()).hexdigest()[:_ROW_DIGEST_HEX]


def record_of(table: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The entry an audit row's ``detail["records"][table]`` holds for these rows."""
    key = key_column(table)
    ordered = sorted(rows, key=lambda row: row[key])
    return {
        "ids": [r[key] for r in ordered],
        "sha256": group_digest(table, ordered),
        "rows": [row_digest(table, r) for r in ordered],
    }


@dataclass(frozen=True)
class RecordedGroup:
    """Rows of one table recorded by one audit row."""

    seq: int
    action: str
    table: str
    ids: list[Any]
    sha256: str
    row_digests: list[str] | None  # None for the submit rows' historic format


def recorded_groups(seq: int, action: str, detail: Mapping[str, Any]) -> list[RecordedGroup]:
    """The covered rows an audit row records; raises ValueError when its ``records`` are malformed."""
    if not isinstance(detail, Mapping):
        raise ValueError("its detail is not a JSON object")
    groups = []
    if "read_ids" in detail:  # written by the submit fast path
        groups.append(
            RecordedGroup(seq, action, "reads", list(detail["read_ids"]), str(detail["reads_sha256"]), None)
        )
    records = detail.get("records") or {}
    if not isinstance(records, Mapping):
        raise ValueError("its records are not a mapping")
    for table, record in records.items():
        if table not in COVERED_TABLES:
            raise ValueError(f"it records rows of an unknown table {table!r}")
        ids, digests = list(record["ids"]), record.get("rows")
        if digests is not None and len(digests) != len(ids):
            raise ValueError(f"its {table} record has {len(ids)} ids but {len(digests)} row digests")
        groups.append(RecordedGroup(seq, action, table, ids, str(record["sha256"]), digests))
    return groups


def fetch_rows(connection: Session | Connection, table: str, ids: Iterable[Any] | None = None) -> list[dict]:
    """Rows of a covered table as column -> value mappings (all rows when ``ids`` is None)."""
    table_obj = COVERED_TABLES[table]
    key = table_obj.c[key_column(table)]
    if ids is None:
        return [dict(r) for r in connection.execute(select(table_obj)).mappings()]
    wanted = sorted(set(ids))
    rows: list[dict] = []
    for start in range(0, len(wanted), _IN_CHUNK):
        statement = select(table_obj).where(key.in_(wanted[start : start + _IN_CHUNK]))
        rows += [dict(r) for r in connection.execute(statement).mappings()]
    return rows


def _on_flush(session: Session, _context: Any) -> None:
    pending: dict[str, set[Any]] = session.info.setdefault(_PENDING_KEY, {})
    for obj in list(session.new) + list(session.dirty):
        table = getattr(obj, "__tablename__", None)
        if table in COVERED_TABLES:
            pending.setdefault(table, set()).add(getattr(obj, key_column(table)))


def track_writes(session: Session) -> None:
    """Remember the covered rows this session inserts or changes until an audit row records them."""
    event.listen(session, "after_flush", _on_flush)


def note_written(session: Session, table: str, ids: Iterable[Any] = ()) -> None:
    """Mark rows changed by a Core statement run through the session (the flush hook does not see those)."""
    session.info.setdefault(_PENDING_KEY, {}).setdefault(table, set()).update(ids)


def take_records(session: Session) -> dict[str, Any]:
    """Records of the rows written in this session since its last audit row (and forget them)."""
    session.flush()
    pending: dict[str, set[Any]] = session.info.pop(_PENDING_KEY, {})
    records = {}
    for table in sorted(pending):
        ids = None if table in SNAPSHOT_TABLES else pending[table]
        rows = fetch_rows(session, table, ids)
        if rows:
            records[table] = record_of(table, rows)
    return records
