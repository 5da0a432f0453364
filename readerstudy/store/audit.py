"""Append-only audit log with a SHA-256 hash chain, and the check that the chain (and the reads it covers) is intact.

Each row hashes the previous row's hash plus its own content. Submit rows also carry a digest of the read rows they
created, so editing a read (possible only after dropping the triggers) breaks verification too. Like any hash chain,
it proves integrity only relative to a head hash recorded outside the database (see :func:`head_hash`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from readerstudy.store.engine import StudyDB, using_db
from readerstudy.store.models import AuditEntry, Read

GENESIS_HASH = "0" * 64


def utc_now() -> datetime:
    """Naive UTC timestamp (what the DateTime columns store)."""
    return datetime.now(UTC).replace(tzinfo=None)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _row_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, detail_json: str) -> str:
    content = canonical_json({"seq": seq, "ts": ts, "actor": actor, "action": action, "detail": detail_json})
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


READ_DIGEST_FIELDS = (
    "id",
    "reader_id",
    "case_idx",
    "criterion",
    "choice",
    "likert_a",
    "likert_b",
    "error_flags_a",
    "error_flags_b",
    "significant_a",
    "significant_b",
    "reason",
    "shown_at",
    "submitted_at",
    "version",
)


def _digest_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def read_digest(reads: list[Mapping[str, Any]]) -> str:
    """SHA-256 over the stored content of read rows (mappings of column name to value), ordered by id."""
    rows = [
        [bool(r[f]) if f.startswith("significant") else _digest_value(r[f]) for f in READ_DIGEST_FIELDS]
        for r in sorted(reads, key=lambda read: read["id"])
    ]
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()


_AUDIT_INSERT = insert(AuditEntry.__table__)
# The chain head as scalar subqueries, so a writer can read it in the same statement as its other state.
# seq is the primary key: ORDER BY seq DESC LIMIT 1 is an index lookup, not a scan.
AUDIT_HEAD_SEQ = select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1).scalar_subquery()
AUDIT_HEAD_HASH = select(AuditEntry.row_hash).order_by(AuditEntry.seq.desc()).limit(1).scalar_subquery()
_AUDIT_HEAD = select(AUDIT_HEAD_SEQ, AUDIT_HEAD_HASH)


def lock_audit_chain(connection: Session | Connection) -> None:
    """Serialise chain writers before the head is read. SQLite's BEGIN IMMEDIATE already holds the write lock."""
    dialect = connection.dialect if isinstance(connection, Connection) else connection.get_bind().dialect
    if dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))


def append_audit(
    connection: Session | Connection,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
    head: tuple[int | None, str | None] | None = None,
) -> int:
    """Add one chained audit row inside the caller's write transaction (the caller commits); returns its seq.

    ``head`` is ``(seq, row_hash)`` of the latest row (``(None, None)`` when empty) when the caller already read it
    in this transaction after :func:`lock_audit_chain`; otherwise the lock is taken and the head read here.
    """
    if head is None:
        lock_audit_chain(connection)
        head = tuple(connection.execute(_AUDIT_HEAD).one())  # type: ignore[assignment]
    last_seq, last_hash = head  # type: ignore[misc]
    seq = 1 if last_seq is None else last_seq + 1
    prev_hash = GENESIS_HASH if last_hash is None else last_hash
    ts = utc_now().isoformat()
    detail_json = canonical_json(detail or {})
    row_hash = _row_hash(prev_hash, seq, ts, actor, action, detail_json)
    connection.execute(
        _AUDIT_INSERT,
        {
            "seq": seq,
            "ts": ts,
            "actor": actor,
            "action": action,
            "detail_json": detail_json,
            "prev_hash": prev_hash,
            "row_hash": row_hash,
        },
    )
    return seq


def verify_audit_chain(db: StudyDB | str | Path) -> tuple[bool, int | None]:
    """Recompute the chain; returns ``(True, None)`` or ``(False, seq of the first bad audit row)``.

    A row is bad when its sequence number skips, its ``prev_hash`` is not the previous row's hash, its own hash does
    not match its content, or (for submit rows) the read rows it names no longer match their recorded digest.
    """
    with using_db(db) as study_db, study_db.reading() as session:
        expected_prev, expected_seq = GENESIS_HASH, 1
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            recomputed = _row_hash(
                entry.prev_hash, entry.seq, entry.ts, entry.actor, entry.action, entry.detail_json
            )
            if entry.seq != expected_seq or entry.prev_hash != expected_prev or recomputed != entry.row_hash:
                return False, entry.seq
            detail = json.loads(entry.detail_json)
            if "read_ids" in detail:
                reads = (
                    session.execute(select(Read.__table__).where(Read.id.in_(detail["read_ids"])))
                    .mappings()
                    .all()
                )
                if (
                    len(reads) != len(detail["read_ids"])
                    or read_digest(list(reads)) != detail["reads_sha256"]
                ):
                    return False, entry.seq
            expected_prev, expected_seq = entry.row_hash, entry.seq + 1
    return True, None


def head_hash(db: StudyDB) -> str:
    """Hash of the latest audit row: record it outside the database to anchor the chain."""
    with db.reading() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return GENESIS_HASH if last is None else last.row_hash
