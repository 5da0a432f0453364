"""Streamlit AppTest flows: login, read, submit, revise, resume in a new session, blinding check, coordinator."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from readerstudy.store.engine import StudyDB
from readerstudy.store.long_table import load_long_table
from readerstudy.store.models import AuditEntry
from readerstudy.store.reader_api import ReadAnswers, load_case, submit_read

APP = Path(__file__).resolve().parents[2] / "readerstudy" / "app" / "main.py"
SOURCE_WORDS = re.compile(r"(?i)(\bai\b|(^|_)ai(_|$)|original|generated|gpt|model)")


def session(db: StudyDB, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CXRBENCH_STUDY_DB", db.url)
    return AppTest.from_file(str(APP), default_timeout=60).run()


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return matches[0].click().run()


def login(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    return click(at, "Log in")


def case_heading(at: AppTest) -> str:
    return at.subheader[0].value


def audit_actions(db: StudyDB) -> list[str]:
    with db.reading() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_wrong_password_is_refused_and_audited(
    make_study: Callable[..., StudyDB], monkeypatch, accounts
) -> None:
    db = make_study()
    at = login(session(db, monkeypatch), "r1", "wrong")
    assert at.error and "wrong password" in at.error[0].value
    assert "account" not in at.session_state and not at.radio
    assert audit_actions(db)[-1] == "login_failed"


def test_read_submit_revise_resume_and_blinding_check(
    make_study: Callable[..., StudyDB], monkeypatch, accounts
) -> None:
    db = make_study()
    at = login(session(db, monkeypatch), "r1", accounts["r1"])
    assert case_heading(at) == "Case 1 of 4"
    click(at, "Submit and go to the next case")  # nothing chosen
    assert "Please choose" in at.error[0].value and case_heading(at) == "Case 1 of 4"

    at.radio(key="c_0_0_pref").set_value("A")
    at.radio(key="c_0_left_likert").set_value(4)
    at.multiselect(key="c_0_right_flags").set_value(["wrong severity"])
    at.checkbox(key="c_0_right_sig").check()
    at.text_area(key="c_0_reason").input("clearer")
    click(at, "Submit and go to the next case")
    assert case_heading(at) == "Case 2 of 4"
    stored = load_case(db, "r1", 0).latest
    assert stored == ReadAnswers(
        {"diagnostic clarity": "A"}, 4, None, [], ["wrong severity"], False, True, "clearer"
    )

    click(at, "Previous case (revise)")  # revise: answers pre-filled, a new version is stored
    assert case_heading(at) == "Case 1 of 4" and "revising" in at.info[0].value
    assert at.radio(key="c_0_0_pref").value == "A" and at.radio(key="c_0_left_likert").value == 4
    at.radio(key="c_0_0_pref").set_value("equal")
    click(at, "Submit and go to the next case")
    assert case_heading(at) == "Case 2 of 4"
    assert load_case(db, "r1", 0).latest_version == 2
    assert load_case(db, "r1", 0).latest.choices == {"diagnostic clarity": "equal"}

    resumed = login(session(db, monkeypatch), "r1", accounts["r1"])  # e.g. after a server restart
    assert case_heading(resumed) == "Case 2 of 4"
    for order in (1, 2, 3):
        resumed.radio(key=f"c_{order}_0_pref").set_value("B")
        click(resumed, "Submit and go to the next case")
    assert "read all cases" in resumed.success[0].value
    resumed.radio(key="g_0").set_value("A")
    resumed.radio(key="g_2").set_value("unsure")
    click(resumed, "Submit these answers")
    table = load_long_table(db)
    assert len(table) == 4 and table.choice.tolist() == ["equal", "B", "B", "B"]
    assert table.blinding_guess_ai_side.tolist() == ["A", None, "unsure", None]
    assert table.version.tolist() == [2, 1, 1, 1]
    actions = audit_actions(db)
    assert actions.count("submit") == 4 and actions.count("revise") == 1 and "blinding_check" in actions


def test_pause_logs_out_and_resume_continues(
    make_study: Callable[..., StudyDB], monkeypatch, accounts
) -> None:
    db = make_study()
    submit_read(db, "r2", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    at = login(session(db, monkeypatch), "r2", accounts["r2"])
    assert case_heading(at) == "Case 2 of 4"
    at = click(at, "Pause and log out")
    assert "account" not in at.session_state and at.text_input(key="login_user") is not None
    assert case_heading(login(at, "r2", accounts["r2"])) == "Case 2 of 4"


def test_reader_page_keys_and_labels_name_no_source(
    make_study: Callable[..., StudyDB], monkeypatch, accounts
) -> None:
    at = login(session(make_study(), monkeypatch), "r1", accounts["r1"])
    widgets = [*at.radio, *at.multiselect, *at.checkbox, *at.text_area, *at.button]
    assert widgets
    for widget in widgets:
        assert not SOURCE_WORDS.search(str(widget.key)), widget.key
        assert not SOURCE_WORDS.search(widget.label), widget.label
    assert not [b for b in at.button if b.key and b.key.startswith("co_")]  # no coordinator controls


def test_coordinator_lock_unblind_export(make_study: Callable[..., StudyDB], monkeypatch, accounts) -> None:
    db = make_study()
    submit_read(db, "r1", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    at = login(session(db, monkeypatch), "coord", accounts["coord"])
    progress = at.dataframe[0].value
    assert progress.set_index("reader_id").loc["r1", "cases_read"] == 1
    assert "Audit chain intact" in at.success[0].value
    assert at.button(key="co_lock").disabled
    at.checkbox(key="co_lock_confirm").check().run()
    click(at, "Lock study")
    assert "locked" in at.info[0].value and "lock" in audit_actions(db)

    click(at, "Unblind (show the key)")
    key = at.session_state["unblind_table"]
    assert len(key) == 8 and set(key.ai_side) <= {"A", "B"}
    click(at, "Prepare reads export (CSV)")
    exported = pd.read_csv(io.StringIO(at.session_state["export_csv"]))
    expected = load_long_table(db)
    assert exported[["reader_id", "case_id", "choice", "preference_vs_ai"]].equals(
        expected[["reader_id", "case_id", "choice", "preference_vs_ai"]]
    )
    assert {"unblind", "export"} <= set(audit_actions(db))

    reader = login(session(db, monkeypatch), "r2", accounts["r2"])
    assert "locked" in reader.info[0].value and not reader.radio
