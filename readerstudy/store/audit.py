"""Append-only audit log with a SHA-256 hash chain.

Each row hashes the previous row's hash plus its own content, and its detail records the covered data rows written
in the same transaction (:mod:`readerstudy.store.chain`), so editing, inserting or deleting a read, an assignment,
the unblinding key, a case or the lock state breaks verification (:mod:`readerstudy.store.verify`). Like any hash
chain, it proves integrity only relative to a head recorded outside the database (see :func:`head_hash`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from readerstudy.store.chain import (  # noqa: F401  (GENESIS_HASH, audit_row_hash: re-exported)
    GENESIS_HASH,
    audit_row_hash,
    canonical_json,
    group_digest,
    row_fields,
    take_records,
)
from readerstudy.store.engine import StudyDB
from readerstudy.store.models import AuditEntry, table_of


def utc_now() -> datetime:
    """Naive UTC timestamp (what the DateTime columns store)."""
    return datetime.now(UTC).replace(tzinfo=None)


READ_DIGEST_FIELDS = row_fields("reads")


def read_digest(reads: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 over the stored content of read rows (mappings of every column to its value), ordered by id."""
    return group_digest("reads", reads)


_AUDIT_INSERT = insert(table_of(AuditEntry))
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
    in this transaction after :func:`lock_audit_chain`; otherwise the lock is taken and the head read here. On an ORM
    session, the covered rows it wrote since its last audit row are recorded in ``detail["records"]``.
    """
    if isinstance(connection, Session):
        records = take_records(connection)
        if records:
            detail = {**(detail or {}), "records": records}
    if head is None:
        lock_audit_chain(connection)
        head = tuple(connection.execute(_AUDIT_HEAD).one())
    last_seq, last_hash = head
    seq = 1 if last_seq is None else last_seq + 1
    prev_hash = GENESIS_HASH if last_hash is None else last_hash
    ts = utc_now().isoformat()
    detail_json = canonical_json(detail or {})
    row_hash = audit_row_hash(prev_hash, seq, ts, actor, action, detail_json)
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
    """``(True, None)``, or ``(False, seq of the first bad audit row)`` (None when the problem is an unrecorded row).

    Kept for callers that need only the verdict; :func:`readerstudy.store.verify.verify_chain` says what is broken.
    """
    from readerstudy.store.verify import verify_chain

    report = verify_chain(db)
    return report.intact, report.first_bad_seq


def head_hash(db: StudyDB) -> str:
    """Hash of the latest audit row: record it outside the database to anchor the chain."""
    with db.reading() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return GENESIS_HASH if last is None else last.row_hash
