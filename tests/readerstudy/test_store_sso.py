"""Single sign-on (OIDC through Streamlit's st.login): enrolled e-mails map to accounts, nothing else gets in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from readerstudy.store.engine import open_db
from readerstudy.store.models import AuditEntry
from readerstudy.store.reader_api import authenticate, authenticate_sso
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict


def test_sso_accounts(tmp_path: Path) -> None:
    protocol = protocol_from_dict(
        {
            "seed": 7,
            "readers": [{"id": "r1", "password": "pw"}, {"id": "r2", "email": "Reader.Two@Example.org"}],
            "coordinators": [{"id": "coord", "email": "lead@example.org"}],
        }
    )
    cases = [
        CaseRecord("cases.csv", i + 2, {"case_id": f"c{i}", "site": "s", "original_report": "FINDINGS: Clear lungs.",
                                        "ai_report": "FINDINGS: Lungs are clear."})
        for i in range(2)
    ]  # fmt: skip
    build_from_records(cases, protocol, tmp_path / "study.db")
    db = open_db(tmp_path / "study.db")
    account = authenticate_sso(db, "reader.two@example.org ")
    assert account is not None and (account.reader_id, account.role) == ("r2", "reader")
    coord = authenticate_sso(db, "LEAD@example.org")
    assert coord is not None and coord.role == "coordinator"
    assert authenticate_sso(db, "stranger@example.org") is None
    assert authenticate_sso(db, None) is None
    assert (
        authenticate(db, "r2", "") is None and authenticate(db, "r2", "!sso-only") is None
    )  # no password login
    assert authenticate(db, "r1", "pw") is not None
    with db.reading() as session:
        events = [e.action for e in session.scalars(select(AuditEntry))]
    assert events.count("login_sso") == 2 and "login_sso_unknown" in events


def test_account_needs_a_credential() -> None:
    with pytest.raises(ValueError, match="'email'"):
        protocol_from_dict({"seed": 1, "readers": [{"id": "r1"}]})
