"""``cxrbench study migrate``: bring a study database built with schema 1 to schema 2 (:mod:`.schema`).

In one write transaction: check the old chain as far as schema 1 can be checked (hash links, each row's hash, the
reads each submit row recorded; every read must be recorded, since schema 1 recorded each read at its submit), add
the append-only triggers schema 1 lacked (``cases``) and the lock guard of ``studies``, then append one ``migrate``
audit row that records every covered row the old chain did not (cases, assignments, unblinding key, blinding
answers, the study row). From that row on the database is verified like one built with schema 2; what those rows
were before it cannot be checked, which ``cxrbench study verify`` states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text

from bench.errors import FailedError
from readerstudy.store.audit import AUDIT_HEAD_HASH, AUDIT_HEAD_SEQ, append_audit, lock_audit_chain
from readerstudy.store.chain import record_of
from readerstudy.store.engine import open_db, trigger_statements
from readerstudy.store.schema import CURRENT_SCHEMA_VERSION, MIGRATE_ACTION, db_label, schema_version
from readerstudy.store.verify import ChainProblem, format_head, unrecorded_rows


class MigrationRefusedError(FailedError):
    """The old chain does not verify: migrating would bless tampered rows."""


@dataclass(frozen=True)
class MigrationResult:
    from_version: int
    to_version: int
    migrate_seq: int | None  # None: nothing to do
    head: str  # "SEQ:HASH" after the migration: keep it outside the database
    recorded: dict[str, int] = field(default_factory=dict)  # table -> rows the migrate row records


def migrate_db(db: str | Path, actor: str = "cli") -> MigrationResult:
    """Migrate a schema-1 study database in place (a current one is left alone); see the module docstring.

    Raises :class:`MigrationRefusedError` when the old chain is broken, ValueError / FileNotFoundError when ``db``
    is not a study database.
    """
    study_db = open_db(db, check_schema=False)
    label = db_label(study_db.url)
    try:
        with study_db.writing() as session:
            connection = session.connection()  # BEGIN IMMEDIATE: nobody writes between the check and the row
            lock_audit_chain(connection)
            version = schema_version(connection)
            if version >= CURRENT_SCHEMA_VERSION:
                head = format_head(*connection.execute(select(AUDIT_HEAD_SEQ, AUDIT_HEAD_HASH)).one())
                return MigrationResult(version, version, None, head)
            try:
                missing = unrecorded_rows(connection)
            except ChainProblem as exc:
                raise MigrationRefusedError(
                    f"{label}: not migrated, its audit chain is broken: {exc}"
                ) from None
            if "reads" in missing:
                first = missing["reads"][0]["id"]
                raise MigrationRefusedError(
                    f"{label}: not migrated, reads id={first} ({len(missing['reads'])} in all) are not recorded by "
                    "the audit chain, which recorded every read at its submit: they were added behind its back"
                )
            for statement in trigger_statements(study_db.dialect):
                connection.execute(text(statement))
            records = {table: record_of(table, rows) for table, rows in sorted(missing.items())}
            detail = {"from_version": version, "to_version": CURRENT_SCHEMA_VERSION, "records": records}
            seq = append_audit(session, actor, MIGRATE_ACTION, detail)
            head = format_head(*connection.execute(select(AUDIT_HEAD_SEQ, AUDIT_HEAD_HASH)).one())
            session.commit()
    finally:
        study_db.dispose()
    return MigrationResult(
        version,
        CURRENT_SCHEMA_VERSION,
        seq,
        head,
        {table: len(record["ids"]) for table, record in records.items()},
    )
