"""SQLAlchemy 2 models of one reader study (one study per database).

Source-neutral storage: each case keeps its two harmonised texts in slots ``x`` and ``y``; which slot holds the AI
report lives only in :class:`UnblindingKey`, which the reader pages never query. A reader's assignment stores which
slot is shown on the left ("A"), so reader pages can render a case without knowing the sources.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

APPEND_ONLY_TABLES = ("reads", "blinding_answers", "audit_log", "assignments", "unblinding_key", "cases")


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    seed: Mapped[str] = mapped_column(String(200))
    protocol_json: Mapped[str] = mapped_column(Text)  # protocol without passwords
    created_at: Mapped[datetime] = mapped_column(DateTime)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Reader(Base):
    __tablename__ = "readers"
    reader_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), default="reader")  # "reader" or "coordinator"
    password_hash: Mapped[str] = mapped_column(String(300))


class Case(Base):
    __tablename__ = "cases"
    case_idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), unique=True)
    site: Mapped[str] = mapped_column(String(200))
    text_x: Mapped[str] = mapped_column(Text)
    text_y: Mapped[str] = mapped_column(Text)
    image_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    normal_abnormal: Mapped[str | None] = mapped_column(String(50), nullable=True)


class UnblindingKey(Base):
    __tablename__ = "unblinding_key"
    case_idx: Mapped[int] = mapped_column(ForeignKey("cases.case_idx"), primary_key=True)
    ai_slot: Mapped[str] = mapped_column(String(1))  # "x" or "y"


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("reader_id", "case_idx"),
        UniqueConstraint("reader_id", "order_index"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reader_id: Mapped[str] = mapped_column(ForeignKey("readers.reader_id"), index=True)
    case_idx: Mapped[int] = mapped_column(ForeignKey("cases.case_idx"))
    order_index: Mapped[int] = mapped_column(Integer)
    left_slot: Mapped[str] = mapped_column(String(1))  # slot shown as "Report A"


class Read(Base):
    __tablename__ = "reads"
    __table_args__ = (UniqueConstraint("reader_id", "case_idx", "criterion", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reader_id: Mapped[str] = mapped_column(ForeignKey("readers.reader_id"), index=True)
    case_idx: Mapped[int] = mapped_column(ForeignKey("cases.case_idx"))
    criterion: Mapped[str] = mapped_column(String(200))
    choice: Mapped[str] = mapped_column(String(5))  # "A", "B" or "equal"
    likert_a: Mapped[int | None] = mapped_column(Integer, nullable=True)
    likert_b: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_flags_a: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of ReXVal categories
    error_flags_b: Mapped[str] = mapped_column(Text, default="[]")
    significant_a: Mapped[bool] = mapped_column(Boolean, default=False)
    significant_b: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    shown_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer)


class BlindingAnswer(Base):
    __tablename__ = "blinding_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reader_id: Mapped[str] = mapped_column(ForeignKey("readers.reader_id"), index=True)
    case_idx: Mapped[int] = mapped_column(ForeignKey("cases.case_idx"))
    guess: Mapped[str] = mapped_column(String(10))  # "A", "B" or "unsure": side the reader thinks is AI
    submitted_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))  # ISO-8601 UTC, hashed as stored
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    detail_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


def table_of(model: type[Base]) -> Table:
    """The Table a model is mapped to, for Core statements."""
    # SQLAlchemy types ``__table__`` as FromClause because a model may also be mapped to a subquery; every model
    # here declares ``__tablename__``, so declarative has made it a Table.
    return cast(Table, model.__table__)


__all__ = [
    "APPEND_ONLY_TABLES",
    "Assignment",
    "AuditEntry",
    "Base",
    "BlindingAnswer",
    "Case",
    "Read",
    "Reader",
    "Study",
    "UnblindingKey",
    "table_of",
]
