"""Coordinator actions: progress, lock, unblind (only after lock), export. Every action is audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, func, select, update

from readerstudy.store.audit import AUDIT_HEAD_HASH, AUDIT_HEAD_SEQ, append_audit, utc_now, verify_audit_chain
from readerstudy.store.chain import note_written
from readerstudy.store.engine import StudyDB
from readerstudy.store.long_table import load_long_table, long_table_csv
from readerstudy.store.models import Assignment, Case, Read, Reader, Study, UnblindingKey

if TYPE_CHECKING:
    import pandas as pd


class StudyNotLockedError(RuntimeError):
    pass


def progress_table(db: StudyDB) -> pd.DataFrame:
    """Per reader: cases read, cases assigned, reads revised, last submission time."""
    import pandas as pd

    with db.reading() as session:
        readers = list(session.scalars(select(Reader.reader_id).where(Reader.role == "reader")))
        assigned = dict(
            session.execute(select(Assignment.reader_id, func.count()).group_by(Assignment.reader_id)).all()
        )
        read = dict(
            session.execute(
                select(Read.reader_id, func.count(func.distinct(Read.case_idx))).group_by(Read.reader_id)
            ).all()
        )
        revised = dict(
            session.execute(
                select(Read.reader_id, func.count(func.distinct(Read.case_idx)))
                .where(Read.version > 1)
                .group_by(Read.reader_id)
            ).all()
        )
        last = dict(
            session.execute(
                select(Read.reader_id, func.max(Read.submitted_at)).group_by(Read.reader_id)
            ).all()
        )
    return pd.DataFrame(
        {
            "reader_id": readers,
            "cases_read": [int(read.get(r, 0)) for r in readers],
            "cases_assigned": [int(assigned.get(r, 0)) for r in readers],
            "cases_revised": [int(revised.get(r, 0)) for r in readers],
            "last_submit_utc": [last.get(r) for r in readers],
        }
    )


def is_locked(db: StudyDB) -> bool:
    with db.reading() as session:
        return bool(session.scalars(select(Study.locked)).one())


def lock_study(db: StudyDB, actor: str) -> str:
    """Stop accepting reads; returns the chain head ``SEQ:HASH`` to record outside the database.

    Irreversible (a trigger refuses unlocking, and the lock row's snapshot of the study row is chained); locking a
    locked study changes nothing.
    """
    with db.writing() as session:
        lock = update(Study).where(Study.locked.is_(False)).values(locked=True, locked_at=utc_now())
        # Session.execute is typed as returning Result; for an UPDATE it returns a CursorResult (with rowcount).
        changed = cast(CursorResult[Any], session.execute(lock)).rowcount
        if changed:
            note_written(session, "studies")
            append_audit(session, actor, "lock")
        head_seq, head = session.execute(select(AUDIT_HEAD_SEQ, AUDIT_HEAD_HASH)).one()
        session.commit()
    return f"{head_seq}:{head}"


def unblinding_table(db: StudyDB, actor: str) -> pd.DataFrame:
    """Per reader and case, where the AI report was shown. Refused until the study is locked."""
    import pandas as pd

    if not is_locked(db):
        raise StudyNotLockedError("lock the study before unblinding")
    with db.writing() as session:
        result = session.execute(
            select(
                Assignment.reader_id,
                Assignment.order_index,
                Case.case_id,
                Case.site,
                Assignment.left_slot,
                UnblindingKey.ai_slot,
            )
            .join(Case, Case.case_idx == Assignment.case_idx)
            .join(UnblindingKey, UnblindingKey.case_idx == Assignment.case_idx)
            .order_by(Assignment.reader_id, Assignment.order_index)
        )
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        append_audit(session, actor, "unblind", {"rows": len(frame)})
        session.commit()
    frame["ai_side"] = (frame["left_slot"] == frame["ai_slot"]).map({True: "A", False: "B"})
    return frame[["reader_id", "order_index", "case_id", "site", "ai_side"]]


def export_reads_csv(db: StudyDB, actor: str) -> str:
    """The long table as spreadsheet-safe CSV text (unblinded, so only after lock; see ``long_table_csv``)."""
    if not is_locked(db):
        raise StudyNotLockedError("lock the study before exporting unblinded reads")
    table = load_long_table(db)
    with db.writing() as session:
        append_audit(session, actor, "export", {"rows": len(table)})
        session.commit()
    return long_table_csv(table)


def audit_status(db: StudyDB) -> tuple[bool, int | None]:
    return verify_audit_chain(db)
