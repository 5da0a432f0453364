"""Who is logged in, checked on every script run from this connection's own cookie; the login form.

A successful password check does not log the Streamlit session in: it hands the browser a one-time ticket that
``/session/start`` trades for the HttpOnly session cookie, and only a connection carrying that cookie is logged in.
"""

from __future__ import annotations

import math

import streamlit as st

from readerstudy.app import sessions
from readerstudy.app.components import navigate
from readerstudy.store.engine import StudyDB
from readerstudy.store.logins import MAX_USER_ID_CHARS, Account, LoginThrottledError, authenticate
from readerstudy.store.passwords import MAX_PASSWORD_CHARS
from readerstudy.store.reader_api import authenticate_sso, log_event, study_info


def sso_configured() -> bool:
    """True when `.streamlit/secrets.toml` has an [auth] section (Streamlit's OIDC login, `st.login`)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def current_login(db: StudyDB) -> sessions.SessionCheck:
    """The account of this connection's session cookie (touching its inactivity clock), if any."""
    return sessions.STORE.check(sessions.session_cookie(), db.url)


def _client_key() -> str:
    try:
        return st.context.ip_address or "local"
    except Exception:
        return "local"


def start_session(db: StudyDB, account: Account) -> None:
    """Send the browser to the route that sets the session cookie; stops this script run."""
    ticket = sessions.STORE.issue_ticket(sessions.STORE.issue_cookie(account, db.url))
    st.info("Logged in. Opening the study ...")
    navigate(f"/session/start?ticket={ticket}")
    st.stop()


def _sso_login(db: StudyDB) -> None:
    if not st.user.is_logged_in:
        if st.button("Log in with single sign-on", key="login_sso"):
            st.login()
        return
    email = st.user.get("email")  # the identity token's claims are typed loosely; the email claim is a string
    account = authenticate_sso(db, email if isinstance(email, str) else None)
    if account is None:
        st.error("This single sign-on identity is not enrolled in the study. Ask the coordinator.")
        return
    start_session(db, account)


def render_login(db: StudyDB, expired: bool, unsaved_case: int | None = None) -> None:
    st.title(study_info(db).name)
    if expired:
        st.warning(
            "Your session ended after a period of inactivity. Please log in again; your saved reads are kept."
        )
    if unsaved_case is not None:
        st.error(
            f"The answers you just submitted for case {unsaved_case} were NOT saved: you were no longer logged "
            "in. Log in and submit them again."
        )
    if sso_configured():
        _sso_login(db)
    with st.form("login"):
        user = st.text_input("User id", key="login_user", max_chars=MAX_USER_ID_CHARS)
        password = st.text_input(
            "Password", type="password", key="login_password", max_chars=MAX_PASSWORD_CHARS
        )
        if not st.form_submit_button("Log in"):
            return
    try:
        account = authenticate(db, user, password, client=_client_key())
    except LoginThrottledError as exc:
        st.error(f"Too many failed attempts. Try again in {math.ceil(exc.retry_after_s)} s.")
        return
    if account is None:
        st.error("Unknown user id or wrong password.")
        return
    start_session(db, account)


def log_out(db: StudyDB, account: Account, nonce: str | None) -> None:
    log_event(db, account.reader_id, "logout")
    sessions.STORE.revoke(nonce)
    st.session_state.clear()
    if sso_configured() and st.user.is_logged_in:
        st.logout()
    navigate("/session/end")
    st.stop()
