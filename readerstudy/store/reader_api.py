"""What reader pages may do: log in, see their next case (sources hidden), submit, revise, answer the blinding check.

This module never touches the unblinding key: a case is shown as texts in slots placed left ("A") and right ("B")
by the reader's stored assignment.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, func, insert, select
from sqlalchemy.exc import NoResultFound

from readerstudy.store.audit import (
    AUDIT_HEAD_HASH,
    AUDIT_HEAD_SEQ,
    append_audit,
    lock_audit_chain,
    read_digest,
    utc_now,
)
from readerstudy.store.engine import StudyDB
from readerstudy.store.logins import (  # noqa: F401 - the login API is re-exported for the pages
    MAX_USER_ID_CHARS,
    Account,
    LoginThrottledError,
    authenticate,
    check_credentials,
    flush_login_failures,
    login_throttle,
)
from readerstudy.store.models import Assignment, BlindingAnswer, Case, Read, Reader, Study, table_of

REXVAL_ERROR_FLAGS = (
    "false finding",
    "missed finding",
    "wrong location",
    "wrong severity",
    "comparison issues",
)
CHOICES = ("A", "equal", "B")
BLINDING_GUESSES = ("A", "B", "unsure")
MAX_REASON_CHARS = 2000


class StudyLockedError(RuntimeError):
    pass


@dataclass(frozen=True)
class StudyInfo:
    name: str
    criteria: list[str]
    likert_min: int
    likert_max: int
    locked: bool


@dataclass
class ReadAnswers:
    """One submission: a choice per criterion plus optional per-report ratings ("a" = left, "b" = right)."""

    choices: dict[str, str]
    likert_a: int | None = None
    likert_b: int | None = None
    flags_a: list[str] = field(default_factory=list)
    flags_b: list[str] = field(default_factory=list)
    significant_a: bool = False
    significant_b: bool = False
    reason: str = ""


@dataclass(frozen=True)
class CaseView:
    order_index: int
    n_total: int
    text_a: str
    text_b: str
    image_path: str | None
    latest: ReadAnswers | None
    latest_version: int


# Statements built once: building a select() costs more than running it on SQLite. Executed on Core connections
# (not ORM sessions), whose per-statement overhead is a fraction of the ORM's.
_READER: BindParameter[str] = bindparam("reader_id")
_CASE: BindParameter[int] = bindparam("case_idx")
_ASSIGNMENTS_OF_READER = select(Assignment.order_index, Assignment.case_idx, Assignment.left_slot).where(
    Assignment.reader_id == _READER
)
_CASE_TEXTS = select(Case.text_x, Case.text_y, Case.image_path).where(Case.case_idx == _CASE)
_READS_OF_CASE = select(Read.__table__).where(Read.reader_id == _READER, Read.case_idx == _CASE)
_LAST_SAVED = (
    select(Assignment.order_index, Read.version, Read.submitted_at)
    .join(Assignment, (Assignment.reader_id == Read.reader_id) & (Assignment.case_idx == Read.case_idx))
    .where(Read.reader_id == _READER)
    .order_by(Read.id.desc())
    .limit(1)
)
_CASES_READ = select(func.count(func.distinct(Read.case_idx))).where(Read.reader_id == _READER)
_NEXT_UNREAD = select(func.min(Assignment.order_index)).where(
    Assignment.reader_id == _READER,
    Assignment.case_idx.not_in(select(Read.case_idx).where(Read.reader_id == _READER)),
)
# Everything a submit must read under the write lock, in one statement: lock flag, latest version, chain head.
_SUBMIT_STATE = select(
    select(Study.locked).scalar_subquery(),
    select(func.max(Read.version)).where(Read.reader_id == _READER, Read.case_idx == _CASE).scalar_subquery(),
    AUDIT_HEAD_SEQ,
    AUDIT_HEAD_HASH,
)
_INSERT_READ = insert(table_of(Read))
_INSERT_READS = _INSERT_READ.returning(Read.id, sort_by_parameter_order=True)


def log_event(db: StudyDB, actor: str, action: str, detail: dict[str, Any] | None = None) -> None:
    with db.write_transaction() as connection:
        append_audit(connection, actor, action, detail)


def authenticate_sso(db: StudyDB, email: str | None) -> Account | None:
    """Map an identity verified by the OIDC provider (Streamlit's `st.user.email`) to a study account; audited."""
    if not email:
        return None
    with db.reading() as session:
        protocol = json.loads(session.scalars(select(Study)).one().protocol_json)
        account_id = (protocol.get("oidc_emails") or {}).get(email.strip().lower())
        reader = session.get(Reader, account_id) if account_id else None
    log_event(
        db, (account_id or email.strip())[:100], "login_sso" if reader is not None else "login_sso_unknown"
    )
    return Account(reader.reader_id, reader.role) if reader is not None else None


def study_info(db: StudyDB) -> StudyInfo:
    with db.reading() as session:
        study = session.scalars(select(Study)).one()
    protocol = json.loads(study.protocol_json)
    scale = protocol.get("scale", {})
    return StudyInfo(
        name=study.name,
        criteria=list(protocol["criteria"]),
        likert_min=int(scale.get("likert_min", 1)),
        likert_max=int(scale.get("likert_max", 5)),
        locked=bool(study.locked),
    )


def _assignments(db: StudyDB, reader_id: str) -> dict[int, tuple[int, str]]:
    """A reader's ``order_index -> (case_idx, left_slot)``: drawn once at build and never changed, so cached."""
    key = ("assignments", reader_id)
    cached = db.fixed.get(key)
    if cached is None:
        with db.engine.connect() as connection:
            rows = connection.execute(_ASSIGNMENTS_OF_READER, {"reader_id": reader_id}).all()
        cached = {order: (case_idx, left_slot) for order, case_idx, left_slot in rows}
        if cached:  # an unknown reader id is not cached
            db.fixed[key] = cached
    return cached


def _assignment(db: StudyDB, reader_id: str, order_index: int) -> tuple[int, str]:
    try:
        return _assignments(db, reader_id)[order_index]
    except KeyError:
        raise NoResultFound(f"no case {order_index} assigned to reader {reader_id!r}") from None


def progress(db: StudyDB, reader_id: str) -> tuple[int, int]:
    """(cases with at least one submitted read, cases assigned)."""
    total = len(_assignments(db, reader_id))
    with db.engine.connect() as connection:
        done = connection.execute(_CASES_READ, {"reader_id": reader_id}).scalar()
    return int(done or 0), total


def last_saved(db: StudyDB, reader_id: str) -> tuple[int, int, datetime] | None:
    """(order index, version, submitted at) of the reader's most recent stored submission, or None."""
    with db.engine.connect() as connection:
        row = connection.execute(_LAST_SAVED, {"reader_id": reader_id}).first()
    return (int(row[0]), int(row[1]), row[2]) if row is not None else None


def next_unread(db: StudyDB, reader_id: str) -> int | None:
    """Order index of the first assigned case without a read, or None when all are read."""
    with db.engine.connect() as connection:
        return connection.execute(_NEXT_UNREAD, {"reader_id": reader_id}).scalar()


def _latest_answers(reads: Sequence[Any]) -> tuple[ReadAnswers | None, int]:
    if not reads:
        return None, 0
    version = max(r.version for r in reads)
    rows = [r for r in reads if r.version == version]
    first = rows[0]
    answers = ReadAnswers(
        choices={r.criterion: r.choice for r in rows},
        likert_a=first.likert_a,
        likert_b=first.likert_b,
        flags_a=json.loads(first.error_flags_a),
        flags_b=json.loads(first.error_flags_b),
        significant_a=bool(first.significant_a),
        significant_b=bool(first.significant_b),
        reason=first.reason,
    )
    return answers, version


def load_case(db: StudyDB, reader_id: str, order_index: int) -> CaseView:
    case_idx, left_slot = _assignment(db, reader_id, order_index)
    params = {"reader_id": reader_id, "case_idx": case_idx}
    with db.engine.connect() as connection:  # one transaction: texts and reads from the same snapshot
        text_x, text_y, image_path = connection.execute(_CASE_TEXTS, params).one()
        reads = connection.execute(_READS_OF_CASE, params).all()
    left, right = (text_x, text_y) if left_slot == "x" else (text_y, text_x)
    latest, version = _latest_answers(reads)
    return CaseView(order_index, len(_assignments(db, reader_id)), left, right, image_path, latest, version)


def mark_shown(db: StudyDB, reader_id: str, order_index: int) -> datetime:
    """Audit that a case was displayed; returns the time to pass back as ``shown_at`` on submit."""
    shown_at = utc_now()
    log_event(db, reader_id, "case_shown", {"order_index": order_index, "at": shown_at.isoformat()})
    return shown_at


def _validate(answers: ReadAnswers, criteria: list[str], info: StudyInfo) -> None:
    if set(answers.choices) != set(criteria):
        raise ValueError(f"a choice is needed for each criterion {criteria}, got {sorted(answers.choices)}")
    bad = {c: v for c, v in answers.choices.items() if v not in CHOICES}
    if bad:
        raise ValueError(f"choices must be one of {CHOICES}: {bad}")
    for likert in (answers.likert_a, answers.likert_b):
        if likert is not None and not info.likert_min <= likert <= info.likert_max:
            raise ValueError(f"Likert score {likert} outside {info.likert_min}..{info.likert_max}")
    unknown = (set(answers.flags_a) | set(answers.flags_b)) - set(REXVAL_ERROR_FLAGS)
    if unknown:
        raise ValueError(f"unknown error flags {sorted(unknown)}; allowed: {REXVAL_ERROR_FLAGS}")
    if len(answers.reason) > MAX_REASON_CHARS:
        raise ValueError(
            f"the reason has {len(answers.reason)} characters; at most {MAX_REASON_CHARS} are kept"
        )


def _fixed_study_info(db: StudyDB) -> StudyInfo:
    """Criteria and scale never change after build, so submits need not re-read them."""
    if "study_info" not in db.fixed:
        db.fixed["study_info"] = study_info(db)
    return db.fixed["study_info"]


def _read_rows(
    reader_id: str,
    case_idx: int,
    criteria: list[str],
    answers: ReadAnswers,
    shown_at: datetime | None,
    version: int,
) -> list[dict[str, Any]]:
    submitted_at = utc_now()
    shared = {
        "reader_id": reader_id,
        "case_idx": case_idx,
        "likert_a": answers.likert_a,
        "likert_b": answers.likert_b,
        "error_flags_a": json.dumps(sorted(answers.flags_a)),
        "error_flags_b": json.dumps(sorted(answers.flags_b)),
        "significant_a": bool(answers.significant_a),
        "significant_b": bool(answers.significant_b),
        "reason": answers.reason.strip(),
        "shown_at": shown_at,
        "submitted_at": submitted_at,
        "version": version,
    }
    return [{**shared, "criterion": c, "choice": answers.choices[c]} for c in criteria]


def _insert_reads(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert the rows in one statement and set each row's ``id``."""
    if len(rows) == 1:  # the common single-criterion case: no RETURNING/sentinel machinery needed
        primary_key = connection.execute(_INSERT_READ, rows[0]).inserted_primary_key
        assert primary_key is not None  # always set after a single-row INSERT without RETURNING
        rows[0]["id"] = primary_key[0]
        return
    for row, (read_id,) in zip(rows, connection.execute(_INSERT_READS, rows), strict=True):
        row["id"] = read_id


def submit_read(
    db: StudyDB,
    reader_id: str,
    order_index: int,
    answers: ReadAnswers,
    shown_at: datetime | None,
    based_on_version: int | None = None,
) -> int:
    """Store one submission (a new version if the case was read before) and commit; returns the version.

    ``order_index`` is the case the form was made for (checked against the reader's assignment: NoResultFound
    otherwise); ``based_on_version`` is the version the reader saw when the form was shown. A submit is never
    refused for being stale: when another window stored a version in between, this one is stored on top and the
    audit row records both numbers (the caller compares the returned version with ``based_on_version + 1``).

    One write transaction (BEGIN IMMEDIATE on SQLite) holding 4 statements: read lock flag, latest version and
    audit-chain head; insert the reads; insert the audit row; commit (fsync).
    """
    info = _fixed_study_info(db)
    _validate(answers, info.criteria, info)
    case_idx, _ = _assignment(db, reader_id, order_index)
    with db.write_transaction() as connection:
        lock_audit_chain(connection)
        locked, previous, head_seq, head_hash = connection.execute(
            _SUBMIT_STATE, {"reader_id": reader_id, "case_idx": case_idx}
        ).one()
        if locked:
            raise StudyLockedError("the study is locked: no more reads are accepted")
        version = int(previous or 0) + 1
        rows = _read_rows(reader_id, case_idx, info.criteria, answers, shown_at, version)
        _insert_reads(connection, rows)
        detail = {
            "order_index": order_index,
            "case_idx": case_idx,
            "version": version,
            **({"based_on_version": based_on_version} if based_on_version is not None else {}),
            "read_ids": [r["id"] for r in rows],
            "reads_sha256": read_digest(rows),
        }
        append_audit(
            connection, reader_id, "submit" if version == 1 else "revise", detail, head=(head_seq, head_hash)
        )
    return version


def submit_blinding(db: StudyDB, reader_id: str, guesses: dict[int, str]) -> int:
    """Store blinding-check guesses keyed by order index ("A", "B" or "unsure"); returns how many were stored."""
    bad = {k: v for k, v in guesses.items() if v not in BLINDING_GUESSES}
    if bad:
        raise ValueError(f"blinding guesses must be one of {BLINDING_GUESSES}: {bad}")
    with db.writing() as session:
        if session.scalars(select(Study.locked)).one():
            raise StudyLockedError("the study is locked: no more answers are accepted")
        by_order = dict(
            session.execute(
                select(Assignment.order_index, Assignment.case_idx).where(Assignment.reader_id == reader_id)
            ).all()
        )
        now = utc_now()
        for order_index, guess in guesses.items():
            session.add(
                BlindingAnswer(
                    reader_id=reader_id, case_idx=by_order[order_index], guess=guess, submitted_at=now
                )
            )
        append_audit(session, reader_id, "blinding_check", {"n_answers": len(guesses)})
        session.commit()
    return len(guesses)


def blinding_answered(db: StudyDB, reader_id: str) -> bool:
    with db.reading() as session:
        count = session.scalar(select(func.count()).where(BlindingAnswer.reader_id == reader_id))
    return bool(count)


def case_texts(db: StudyDB, reader_id: str) -> list[tuple[int, str, str]]:
    """(order index, Report A text, Report B text) of all of a reader's cases, in reading order."""
    with db.reading() as session:
        rows = session.execute(
            select(Assignment.order_index, Assignment.left_slot, Case.text_x, Case.text_y)
            .join(Case, Case.case_idx == Assignment.case_idx)
            .where(Assignment.reader_id == reader_id)
            .order_by(Assignment.order_index)
        ).all()
    return [(order, x, y) if left == "x" else (order, y, x) for order, left, x, y in rows]
