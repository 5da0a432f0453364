"""Streamlit AppTest flows: login (cookie-bound, throttled), read, submit, revise, two windows, resume, coordinator.

AppTest has no browser, so the tests play its part: they trade the login ticket for the session cookie the way
``/session/start`` does (:meth:`SessionStore.redeem_ticket`) and present the cookie through ``request_cookies``.
"""

from __future__ import annotations

import io
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from readerstudy.app import sessions
from readerstudy.store.engine import StudyDB
from readerstudy.store.logins import LoginThrottledError, authenticate, check_credentials, login_throttle
from readerstudy.store.long_table import load_long_table
from readerstudy.store.models import AuditEntry
from readerstudy.store.reader_api import MAX_REASON_CHARS, ReadAnswers, load_case, submit_read

APP = Path(__file__).resolve().parents[2] / "readerstudy" / "app" / "main.py"
SOURCE_WORDS = re.compile(r"(?i)(\bai\b|(^|_)ai(_|$)|original|generated|gpt|model)")
SUBMIT = "Submit and go to the next case"


@pytest.fixture
def cookie_jar(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The cookies the app sees on its connection, and the tickets it hands out (under key ``tickets``)."""
    jar: dict[str, str] = {}
    monkeypatch.setattr(sessions, "request_cookies", lambda: jar)
    return jar


def session(db: StudyDB, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CXRBENCH_STUDY_DB", db.url)
    return AppTest.from_file(str(APP), default_timeout=60).run()


def click(at: AppTest, label: str) -> AppTest:
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return matches[0].click().run()


def fill_login(at: AppTest, user: str, password: str) -> AppTest:
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    return click(at, "Log in")


def login(at: AppTest, user: str, password: str, jar: dict[str, str], monkeypatch) -> AppTest:
    """Log in and do what the browser does with the ticket: fetch the cookie, reconnect with it."""
    issued: list[str] = []
    original = sessions.STORE.issue_ticket
    monkeypatch.setattr(
        sessions.STORE, "issue_ticket", lambda cookie: issued.append(original(cookie)) or issued[-1]
    )
    fill_login(at, user, password)
    monkeypatch.setattr(sessions.STORE, "issue_ticket", original)
    assert len(issued) == 1, [e.value for e in at.error]
    cookie = sessions.STORE.redeem_ticket(issued[0])
    assert cookie is not None and sessions.STORE.redeem_ticket(issued[0]) is None  # one use only
    jar[sessions.COOKIE_NAME] = cookie
    return at.run()


def case_heading(at: AppTest) -> str:
    return at.subheader[0].value


def audit_rows(db: StudyDB) -> list[tuple[str, dict]]:
    with db.reading() as s:
        rows = s.execute(select(AuditEntry.action, AuditEntry.detail_json).order_by(AuditEntry.seq)).all()
    return [(action, json.loads(detail) if detail else {}) for action, detail in rows]


def audit_actions(db: StudyDB) -> list[str]:
    return [action for action, _ in audit_rows(db)]


def test_wrong_password_is_refused_and_counted(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    db = make_study()
    at = fill_login(session(db, monkeypatch), "r1", "wrong")
    assert at.error and "wrong password" in at.error[0].value
    assert "account_id" not in at.session_state and not at.radio
    failures = [detail for action, detail in audit_rows(db) if action == "login_failures"]
    assert failures == [{"failed": 1, "refused_backoff": 0, "by_user_id": {"r1": 1}, "other_user_ids": 0}]
    assert "login_failed" not in audit_actions(db)


def test_password_alone_does_not_log_the_session_in(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    """The Streamlit session that typed the right password is logged in only once its connection has the cookie."""
    db = make_study()
    at = fill_login(session(db, monkeypatch), "coord", accounts["coord"])
    assert "Logged in" in at.info[0].value and not at.dataframe and not at.radio
    at.run()  # e.g. someone who resumed this Streamlit session by its id: no cookie, no coordinator page
    assert not at.dataframe and at.text_input(key="login_user") is not None
    cookie_jar[sessions.COOKIE_NAME] = "forged." + "A" * 43
    assert not at.run().dataframe
    login(at, "coord", accounts["coord"], cookie_jar, monkeypatch)
    assert at.dataframe  # the coordinator's progress table
    cookie_jar.clear()  # the cookie is checked on every run, not only at login
    assert not at.run().dataframe and "account_id" not in at.session_state


def test_login_backoff_per_user_id_and_bounded_audit(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    db = make_study()
    at = session(db, monkeypatch)
    for _ in range(5):
        assert "wrong password" in fill_login(at, "coord", "guess").error[0].value
    at = fill_login(at, "coord", accounts["coord"])  # the right password, but backing off: refused unchecked
    assert "Too many failed attempts" in at.error[0].value and not at.dataframe
    with pytest.raises(LoginThrottledError):
        authenticate(db, "coord", accounts["coord"])
    assert authenticate(db, "r1", accounts["r1"]) is not None  # other user ids are not blocked
    rows = audit_rows(db)
    assert [a for a, _ in rows].count("login_failures") == 1  # 5 failures + 2 refusals in one minute: one row
    assert ("login", {}) in rows
    throttle = login_throttle(
        db
    )  # 5 failures: the next attempt waits 1 s after the last (doubling from there)
    throttle.clock = lambda: time.monotonic() + 0.5
    assert throttle.retry_after("coord", "") > 0
    throttle.clock = lambda: time.monotonic() + 1.5
    assert throttle.retry_after("coord", "") == 0
    assert authenticate(db, "coord", accounts["coord"]) is not None
    assert ("login", {"failed_attempts_before": 5}) in audit_rows(db)


def test_throttle_per_client_and_memory_bound() -> None:
    from readerstudy.store.passwords import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(free_per_user=5, free_per_client=3, max_keys=10, clock=lambda: now[0])
    for k in range(3):
        throttle.record_failure(f"user{k}", "10.0.0.1")  # a client spraying different user ids
    assert throttle.retry_after("someone-else", "10.0.0.1") == 1.0
    assert throttle.retry_after("someone-else", "10.0.0.2") == 0
    for k in range(100):
        throttle.record_failure(f"spray{k}", "")
    assert len(throttle._failures) <= 10
    tally = throttle.drain(60.0)
    assert tally is not None and tally.failed == 103 and throttle.drain(60.0) is None


def test_unknown_user_ids_take_as_long_as_known_ones(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()

    def median_ms(user: str) -> float:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            assert check_credentials(db, user, "not-the-password") is None
            times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)

    check_credentials(db, "warm-up", "x")
    known, unknown = median_ms("r1"), median_ms("no-such-reader")
    assert 0.6 < unknown / known < 1.6, (known, unknown)  # before: 0.9 ms vs 40 ms


def test_session_ends_after_inactivity(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    db = make_study()
    at = login(session(db, monkeypatch), "r1", accounts["r1"], cookie_jar, monkeypatch)
    assert case_heading(at) == "Case 1 of 4"
    clock = sessions.STORE.clock
    monkeypatch.setattr(sessions.STORE, "clock", lambda: clock() + sessions.STORE.idle_s + 1)
    at.radio(key="c_0_0_pref").set_value("A")
    click(at, SUBMIT)  # a submit after the session ended is refused, and the page says so
    assert not at.radio and "inactivity" in at.warning[0].value
    assert "case 1 were NOT saved" in at.error[0].value and not _reads(db, "r1")
    monkeypatch.setattr(sessions.STORE, "clock", clock)
    assert not at.run().radio  # an expired cookie stays expired


def test_read_submit_revise_resume_and_blinding_check(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    db = make_study()
    at = login(session(db, monkeypatch), "r1", accounts["r1"], cookie_jar, monkeypatch)
    assert case_heading(at) == "Case 1 of 4"
    click(at, SUBMIT)  # nothing chosen
    assert "Please choose" in at.error[0].value and case_heading(at) == "Case 1 of 4"

    at.radio(key="c_0_0_pref").set_value("A")
    at.radio(key="c_0_left_likert").set_value(4)
    at.multiselect(key="c_0_right_flags").set_value(["wrong severity"])
    at.checkbox(key="c_0_right_sig").check()
    at.text_area(key="c_0_reason").input("clearer")
    click(at, SUBMIT)
    assert case_heading(at) == "Case 2 of 4" and at.success[0].value == "Saved case 1 (version 1)."
    stored = load_case(db, "r1", 0).latest
    assert stored == ReadAnswers(
        {"diagnostic clarity": "A"}, 4, None, [], ["wrong severity"], False, True, "clearer"
    )

    click(at, "Previous case (revise)")  # revise: answers pre-filled, a new version is stored
    assert case_heading(at) == "Case 1 of 4" and "revising" in at.info[0].value
    assert at.radio(key="c_0_0_pref").value == "A" and at.radio(key="c_0_left_likert").value == 4
    at.radio(key="c_0_0_pref").set_value("equal")
    click(at, SUBMIT)
    assert case_heading(at) == "Case 2 of 4" and "revision of case 1 (version 2)" in at.success[0].value
    assert load_case(db, "r1", 0).latest_version == 2
    assert load_case(db, "r1", 0).latest.choices == {"diagnostic clarity": "equal"}

    resumed = session(db, monkeypatch)  # e.g. a reload: a new Streamlit session, the same cookie
    assert case_heading(resumed) == "Case 2 of 4"
    assert any("Last saved: case 1 (version 2)" in c.value for c in resumed.caption)
    for order in (1, 2, 3):
        resumed.radio(key=f"c_{order}_0_pref").set_value("B")
        click(resumed, SUBMIT)
    assert any("read all cases" in s.value for s in resumed.success)
    resumed.radio(key="g_0").set_value("A")
    resumed.radio(key="g_2").set_value("unsure")
    click(resumed, "Submit these answers")
    table = load_long_table(db)
    assert len(table) == 4 and table.choice.tolist() == ["equal", "B", "B", "B"]
    assert table.blinding_guess_ai_side.tolist() == ["A", None, "unsure", None]
    assert table.version.tolist() == [2, 1, 1, 1]
    actions = audit_actions(db)
    assert actions.count("submit") == 4 and actions.count("revise") == 1 and "blinding_check" in actions


def test_two_windows_answering_the_same_case_keep_both_answers(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    """Before: the second window's submit was silently dropped (its form was no longer rendered)."""
    db = make_study()
    first = login(session(db, monkeypatch), "r1", accounts["r1"], cookie_jar, monkeypatch)
    second = session(db, monkeypatch)  # another tab of the same browser
    assert case_heading(first) == case_heading(second) == "Case 1 of 4"
    first.radio(key="c_0_0_pref").set_value("A")
    click(first, SUBMIT)
    second.radio(key="c_0_0_pref").set_value("B")
    click(second, SUBMIT)
    assert "already been answered in another window" in second.warning[0].value
    assert "version 2" in second.warning[0].value and case_heading(second) == "Case 2 of 4"
    reads = [(r.version, r.choice) for r in _reads(db, "r1")]
    assert reads == [(1, "A"), (2, "B")]
    revise = [d for a, d in audit_rows(db) if a == "revise"]
    assert revise[0]["based_on_version"] == 0 and revise[0]["version"] == 2


def _reads(db: StudyDB, reader_id: str) -> list:
    from readerstudy.store.models import Read

    with db.reading() as s:
        return list(s.scalars(select(Read).where(Read.reader_id == reader_id).order_by(Read.id)))


def test_reason_length_is_limited(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()
    with pytest.raises(ValueError, match="at most 2000"):
        submit_read(
            db, "r1", 0, ReadAnswers({"diagnostic clarity": "A"}, reason="x" * (MAX_REASON_CHARS + 1)), None
        )
    assert submit_read(
        db, "r1", 0, ReadAnswers({"diagnostic clarity": "A"}, reason="x" * MAX_REASON_CHARS), None
    )


def test_pause_logs_out_and_resume_continues(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    db = make_study()
    submit_read(db, "r2", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    at = login(session(db, monkeypatch), "r2", accounts["r2"], cookie_jar, monkeypatch)
    assert case_heading(at) == "Case 2 of 4"
    click(at, "Pause and log out")  # the browser would now drop the cookie; here it keeps presenting it
    assert not at.run().radio and at.text_input(key="login_user") is not None  # revoked on the server
    assert "logout" in audit_actions(db)
    assert case_heading(login(at, "r2", accounts["r2"], cookie_jar, monkeypatch)) == "Case 2 of 4"


def test_reader_page_keys_and_labels_name_no_source(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    at = login(session(make_study(), monkeypatch), "r1", accounts["r1"], cookie_jar, monkeypatch)
    widgets = [*at.radio, *at.multiselect, *at.checkbox, *at.text_area, *at.button]
    assert widgets
    for widget in widgets:
        assert not SOURCE_WORDS.search(str(widget.key)), widget.key
        assert not SOURCE_WORDS.search(widget.label), widget.label
    assert not [b for b in at.button if b.key and b.key.startswith("co_")]  # no coordinator controls


def test_coordinator_lock_unblind_export(
    make_study: Callable[..., StudyDB], monkeypatch, accounts, cookie_jar
) -> None:
    db = make_study()
    submit_read(db, "r1", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    at = login(session(db, monkeypatch), "coord", accounts["coord"], cookie_jar, monkeypatch)
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

    cookie_jar.clear()  # the reader uses another browser
    reader = login(session(db, monkeypatch), "r2", accounts["r2"], cookie_jar, monkeypatch)
    assert "locked" in reader.info[0].value and not reader.radio


def test_single_sign_on_ends_in_the_same_cookie_login(tmp_path: Path, monkeypatch, cookie_jar) -> None:
    """An identity verified by the OIDC provider (st.user) gets the same one-time ticket -> cookie login."""
    from readerstudy.store.engine import open_db
    from readerstudy.study.build import CaseRecord, build_from_records
    from readerstudy.study.protocol import protocol_from_dict

    protocol = protocol_from_dict({"seed": 7, "readers": [{"id": "r2", "email": "Reader.Two@Example.org"}]})
    cases = [
        CaseRecord("c.csv", i + 2, {"case_id": f"c{i}", "site": "s", "original_report": "FINDINGS: Clear lungs.",
                                    "ai_report": "FINDINGS: Lungs are clear."})
        for i in range(2)
    ]  # fmt: skip
    build_from_records(cases, protocol, tmp_path / "sso.db")
    db = open_db(tmp_path / "sso.db")
    monkeypatch.setenv("CXRBENCH_STUDY_DB", db.url)
    issued: list[str] = []
    original = sessions.STORE.issue_ticket
    monkeypatch.setattr(sessions.STORE, "issue_ticket", lambda c: issued.append(original(c)) or issued[-1])
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
    at.user = {"is_logged_in": True, "email": "reader.two@example.org"}
    at.run()
    assert len(issued) == 1 and not at.radio  # not logged in until the browser has the cookie
    cookie_jar[sessions.COOKIE_NAME] = sessions.STORE.redeem_ticket(issued[0])
    assert case_heading(at.run()) == "Case 1 of 2"
    at.user = {"is_logged_in": True, "email": "stranger@example.org"}
    cookie_jar.clear()
    assert "not enrolled" in at.run().error[0].value and not at.radio
