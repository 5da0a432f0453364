"""Reader-study app: ``streamlit run readerstudy/app/main.py -- --db STUDY_DB`` (or env CXRBENCH_STUDY_DB).

The database is the truth: every submit is committed before the page moves on, and a reload, a new tab or a server
restart resumes at the reader's first unread case.
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # `streamlit run` puts only this file's folder on sys.path
    sys.path.insert(0, _REPO_ROOT)

import streamlit as st  # noqa: E402

from readerstudy.app.common import current_db  # noqa: E402
from readerstudy.app.coordinator_page import render_coordinator  # noqa: E402
from readerstudy.app.reader_page import render_reader  # noqa: E402
from readerstudy.store.reader_api import authenticate, authenticate_sso, log_event, study_info  # noqa: E402

st.set_page_config(page_title="Reader study", layout="wide")
db = current_db()


def _sso_configured() -> bool:
    """True when `.streamlit/secrets.toml` has an [auth] section (Streamlit's OIDC login, `st.login`)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _sso_login() -> None:
    if not st.user.is_logged_in:
        if st.button("Log in with single sign-on", key="login_sso"):
            st.login()
        return
    account = authenticate_sso(db, st.user.get("email"))
    if account is None:
        st.error("This single sign-on identity is not enrolled in the study. Ask the coordinator.")
        return
    st.session_state["account"] = account
    st.rerun()


def _login() -> None:
    st.title(study_info(db).name)
    if _sso_configured():
        _sso_login()
    with st.form("login"):
        user = st.text_input("User id", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        if st.form_submit_button("Log in"):
            account = authenticate(db, user, password)
            if account is None:
                st.error("Unknown user id or wrong password.")
            else:
                st.session_state["account"] = account
                st.rerun()


account = st.session_state.get("account")
if account is None:
    _login()
    st.stop()

with st.sidebar:
    st.write(f"Logged in as **{account.reader_id}**")
    if st.button("Pause and log out", key="nav_logout"):
        log_event(db, account.reader_id, "logout")
        st.session_state.clear()
        if _sso_configured() and st.user.is_logged_in:
            st.logout()
        st.rerun()

if account.role == "coordinator":
    render_coordinator(db, account)
else:
    render_reader(db, account)
