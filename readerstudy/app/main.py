"""Reader-study app: ``streamlit run readerstudy/app/server.py -- --db STUDY_DB`` (``cxrbench study serve``).

The database is the truth: every submit is committed before the page moves on, each window keeps the case it shows
until that case is submitted, and a reload, a new tab or a server restart resumes at the reader's first unread
case. Who is logged in comes from this connection's HttpOnly session cookie on every run (see ``sessions.py``),
never from session state alone.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # `streamlit run` puts only this file's folder on sys.path
    sys.path.insert(0, _REPO_ROOT)

import streamlit as st  # noqa: E402

from readerstudy.app.common import current_db, forget_session_state  # noqa: E402
from readerstudy.app.coordinator_page import render_coordinator  # noqa: E402
from readerstudy.app.login_page import current_login, log_out, render_login, sso_configured  # noqa: E402
from readerstudy.app.reader_page import render_reader, unsaved_submit  # noqa: E402
from readerstudy.store.logins import flush_login_failures  # noqa: E402

st.set_page_config(page_title="Reader study", layout="wide", initial_sidebar_state="collapsed")
db = current_db()
flush_login_failures(db)
login = current_login(db)
account = login.account
if account is not None and st.session_state.get("account_id") != account.reader_id:
    forget_session_state()  # state left on this Streamlit session by another login is not this account's
    st.session_state["account_id"] = account.reader_id
if account is None:
    unsaved = unsaved_submit() if "account_id" in st.session_state else None
    if "account_id" in st.session_state:
        forget_session_state()  # logged out, expired, or a connection without the cookie: show none of it
    if login.expired and sso_configured() and st.user.is_logged_in:
        st.logout()
    render_login(db, expired=login.expired, unsaved_case=unsaved)
    st.stop()

on_logout = partial(log_out, db, account, login.nonce)  # bound now: `account` is known not None here
if account.role == "coordinator":
    render_coordinator(db, account, on_logout=on_logout)
else:
    render_reader(db, account, on_logout=on_logout)
