"""Study storage: SQLAlchemy models, append-only reads and audit chain, the long table for the analysis."""

from readerstudy.store.audit import verify_audit_chain
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.long_table import LONG_TABLE_COLUMNS, load_long_table, load_protocol

__all__ = [
    "LONG_TABLE_COLUMNS",
    "StudyDB",
    "load_long_table",
    "load_protocol",
    "open_db",
    "verify_audit_chain",
]
