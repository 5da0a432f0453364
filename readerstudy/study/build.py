"""Build a study database from a case file (CSV or JSONL) and a protocol: de-id gate, harmonisation, blinding audit,
randomisation."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BadInputError
from readerstudy.store.audit import append_audit, utc_now
from readerstudy.store.engine import open_db, to_url
from readerstudy.store.models import Assignment, Case, Reader, Study, UnblindingKey
from readerstudy.store.passwords import SSO_ONLY, hash_password, is_password_hash
from readerstudy.study.blinding_audit import BlindingAuditError, run_blinding_audit, seed_from
from readerstudy.study.deid import find_identifiers
from readerstudy.study.harmonise import harmonise_report
from readerstudy.study.protocol import Protocol, load_protocol_file
from readerstudy.study.randomise import ai_slot_for_case, draw_placements

REQUIRED_COLUMNS = ("case_id", "site", "original_report", "ai_report")
TEXT_COLUMNS = ("original_report", "ai_report")


@dataclass(frozen=True)
class CaseRecord:
    source: str  # file name
    row: int  # CSV: line number in the file; JSONL: line number
    values: dict[str, Any]


@dataclass(frozen=True)
class BlockedCase:
    source: str
    row: int
    case_id: str
    column: str
    rule: str
    match: str

    def describe(self) -> str:
        return f"{self.source}:{self.row} case {self.case_id!r} {self.column}: {self.rule} {self.match!r}"


@dataclass
class BuildResult:
    db_url: str
    n_cases: int
    reader_ids: list[str]
    blocked: list[BlockedCase] = field(default_factory=list)
    blinding_audit: dict[str, Any] = field(default_factory=dict)


class DeidGateError(BadInputError):
    def __init__(self, blocked: list[BlockedCase]) -> None:
        self.blocked = blocked
        lines = "\n".join(b.describe() for b in blocked)
        super().__init__(
            f"de-identification gate blocked {len({b.case_id for b in blocked})} case(s):\n{lines}"
        )


def read_case_file(path: str | Path) -> list[CaseRecord]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no case file at {path}")
    records: list[CaseRecord] = []
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                records.append(CaseRecord(path.name, line_no, json.loads(line)))
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                records.append(CaseRecord(path.name, reader.line_num, dict(row)))
    return records


def _validate(records: list[CaseRecord]) -> None:
    if not records:
        raise ValueError("the case file has no cases")
    seen: set[str] = set()
    for record in records:
        missing = [c for c in REQUIRED_COLUMNS if not str(record.values.get(c) or "").strip()]
        if missing:
            raise ValueError(f"{record.source}:{record.row}: missing or empty {missing}")
        case_id = str(record.values["case_id"])
        if case_id in seen:
            raise ValueError(f"{record.source}:{record.row}: duplicate case_id {case_id!r}")
        seen.add(case_id)


def deid_gate(records: list[CaseRecord], institutions: list[str]) -> list[BlockedCase]:
    return [
        BlockedCase(record.source, record.row, str(record.values["case_id"]), column, hit.rule, hit.match)
        for record in records
        for column in TEXT_COLUMNS
        for hit in find_identifiers(str(record.values[column]), institutions)
    ]


def _optional(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def build_from_records(
    records: list[CaseRecord], protocol: Protocol, db: str | Path, *, allow_distinguishable: bool = False
) -> BuildResult:
    """Create the study database. Refuses an existing database: assignments are drawn once and never redrawn.

    The blinding audit runs on the harmonised texts before anything is written; when it finds the sources
    distinguishable the build raises :class:`BlindingAuditError` unless ``allow_distinguishable`` (recorded).
    """
    _validate(records)
    blocked = deid_gate(records, protocol.institutions)
    if blocked and protocol.strict_deid:
        raise DeidGateError(blocked)
    blocked_ids = {b.case_id for b in blocked}
    kept = [r for r in records if str(r.values["case_id"]) not in blocked_ids]
    if not kept:
        raise DeidGateError(blocked) if blocked else ValueError("no cases")
    url = to_url(db)
    if url.startswith("sqlite:///") and Path(url.removeprefix("sqlite:///")).exists():
        raise FileExistsError(f"{db} already exists: a study is built once (delete it to start over)")
    texts = {
        str(r.values["case_id"]): (
            harmonise_report(str(r.values["ai_report"]), protocol.sections),
            harmonise_report(str(r.values["original_report"]), protocol.sections),
        )
        for r in kept
    }
    audit = run_blinding_audit(
        [ai for ai, _ in texts.values()],
        [original for _, original in texts.values()],
        seed=seed_from(protocol.seed),
    )
    if audit["status"] == "distinguishable":
        if not allow_distinguishable:
            raise BlindingAuditError(audit)
        audit["override"] = True
    study_db = open_db(url, create=True)
    with study_db.writing() as session:
        if session.query(Study).count():
            raise FileExistsError(f"{url} already holds a study")
        session.add(
            Study(
                id=1,
                name=protocol.name,
                seed=protocol.seed,
                protocol_json=json.dumps({**protocol.public_dict(), "blinding_audit": audit}),
                created_at=utc_now(),
                locked=False,
            )
        )
        for account in protocol.readers:
            stored = account.password_hash or ""
            if account.password:
                stored = hash_password(account.password)
            elif not stored and account.email:
                stored = SSO_ONLY  # no password can match: this account logs in through single sign-on only
            elif not is_password_hash(stored):
                raise ValueError(f"{account.account_id}: password_hash is not in scrypt$n$r$p$salt$hash form")
            session.add(Reader(reader_id=account.account_id, role=account.role, password_hash=stored))
        case_idx_by_id: dict[str, int] = {}
        ai_slot_by_id: dict[str, str] = {}
        for case_idx, record in enumerate(kept, start=1):
            values, case_id = record.values, str(record.values["case_id"])
            ai_text, original_text = texts[case_id]
            ai_slot = ai_slot_for_case(protocol.seed, case_id)
            text_x, text_y = (ai_text, original_text) if ai_slot == "x" else (original_text, ai_text)
            session.add(
                Case(
                    case_idx=case_idx,
                    case_id=case_id,
                    site=str(values["site"]),
                    text_x=text_x,
                    text_y=text_y,
                    image_path=_optional(values.get("image_path")),
                    normal_abnormal=_optional(values.get("normal_abnormal")),
                )
            )
            session.add(UnblindingKey(case_idx=case_idx, ai_slot=ai_slot))
            case_idx_by_id[case_id], ai_slot_by_id[case_id] = case_idx, ai_slot
        session.flush()
        for reader_id in protocol.reader_ids:
            for placement in draw_placements(protocol.seed, reader_id, list(case_idx_by_id)):
                ai_slot = ai_slot_by_id[placement.case_id]
                other = "y" if ai_slot == "x" else "x"
                session.add(
                    Assignment(
                        reader_id=reader_id,
                        case_idx=case_idx_by_id[placement.case_id],
                        order_index=placement.order_index,
                        left_slot=ai_slot if placement.ai_left else other,
                    )
                )
        cases_digest = hashlib.sha256(
            json.dumps([r.values for r in kept], sort_keys=True, default=str).encode()
        ).hexdigest()
        detail = {
            "n_cases": len(kept),
            "blocked_case_ids": sorted(blocked_ids),
            "readers": protocol.reader_ids,
            "cases_sha256": cases_digest,
            "blinding_audit": {k: audit.get(k) for k in ("status", "auc", "ci95", "override") if k in audit},
        }
        append_audit(session, "builder", "build", detail)
        session.commit()
    study_db.dispose()
    return BuildResult(url, len(kept), protocol.reader_ids, blocked, audit)


def build_study(
    cases_path: str | Path, protocol_path: str | Path, db: str | Path, *, allow_distinguishable: bool = False
) -> BuildResult:
    """``cxrbench study build``: read the case file and protocol, gate, harmonise, audit blinding, randomise, store."""
    return build_from_records(
        read_case_file(cases_path),
        load_protocol_file(protocol_path),
        db,
        allow_distinguishable=allow_distinguishable,
    )
