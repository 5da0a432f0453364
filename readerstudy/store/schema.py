"""Which version of the study schema a database was built with.

* Version 1 (before issue 12): the audit chain records only the reads of each submit (``read_ids``); cases,
  assignments, the unblinding key, blinding answers and the lock state are not recorded, the ``cases`` table has no
  append-only triggers and the ``studies`` row no lock guard. Its build row (audit row 1) has no ``records``.
* Version 2: every covered row is recorded by an audit row (:mod:`readerstudy.store.chain`); the build row has
  ``records``. A version-1 database becomes version 2 through ``cxrbench study migrate`` (:mod:`.migrate`), which
  appends one ``migrate`` audit row.

The version is read from the chain itself rather than from a marker, so databases built before any marker existed
are recognised too.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Connection, select

from readerstudy.store.models import AuditEntry

CURRENT_SCHEMA_VERSION = 2
MIGRATE_ACTION = "migrate"
_FIRST_ROW = select(AuditEntry.action, AuditEntry.detail_json).order_by(AuditEntry.seq).limit(1)
_MIGRATE_ROW = select(AuditEntry.seq).where(AuditEntry.action == MIGRATE_ACTION).limit(1)


class OldSchemaError(ValueError):
    """The database was built by an older cxrbench and must be migrated before use."""

    def __init__(self, db_label: str, version: int) -> None:
        super().__init__(
            f"{db_label} was built by an older cxrbench (study schema {version}, whose audit chain does not cover "
            f"cases, assignments, the unblinding key or the lock state); migrate it first with: "
            f"cxrbench study migrate --db {db_label}"
        )
        self.version = version


def built_version(connection: Connection) -> int:
    """Schema version the database was *built* with (1 or 2), from its build row; 2 for an empty chain."""
    first = connection.execute(_FIRST_ROW).first()
    if first is None or first.action != "build":
        return CURRENT_SCHEMA_VERSION
    try:
        detail = json.loads(first.detail_json)
    except ValueError:
        return CURRENT_SCHEMA_VERSION  # a damaged row: verification reports it
    return CURRENT_SCHEMA_VERSION if isinstance(detail, dict) and "records" in detail else 1


def schema_version(connection: Connection) -> int:
    """Version the database is at now: a version-1 build with a ``migrate`` row is at version 2."""
    version = built_version(connection)
    if version < CURRENT_SCHEMA_VERSION and connection.execute(_MIGRATE_ROW).first() is not None:
        return CURRENT_SCHEMA_VERSION
    return version


def db_label(url: str) -> str:
    """The file path of an SQLite URL (what the user typed, roughly), the URL otherwise."""
    return str(Path(url.removeprefix("sqlite:///"))) if url.startswith("sqlite:///") else url
