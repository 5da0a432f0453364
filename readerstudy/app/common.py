"""Shared helpers of the Streamlit pages."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable

import streamlit as st

from readerstudy.store.engine import StudyDB, open_db

DB_ENV_VAR = "CXRBENCH_STUDY_DB"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$])")


def db_url_from_args(argv: list[str]) -> str | None:
    """``streamlit run main.py -- --db URL`` puts ``--db URL`` in sys.argv; the env var is the fallback."""
    for index, arg in enumerate(argv):
        if arg == "--db" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--db="):
            return arg.split("=", 1)[1]
    return os.environ.get(DB_ENV_VAR)


@st.cache_resource(show_spinner=False)
def cached_db(url: str) -> StudyDB:
    return open_db(url)


def current_db() -> StudyDB:
    url = db_url_from_args(sys.argv[1:])
    if not url:
        st.error(f"No study database: set {DB_ENV_VAR} or run `streamlit run main.py -- --db STUDY_DB`.")
        st.stop()
    try:
        return cached_db(url)
    except (ValueError, FileNotFoundError) as exc:
        st.error(str(exc))  # e.g. a database of an older schema: the sentence says how to migrate it
        st.stop()


def report_markdown(text: str) -> str:
    """Report text shown literally (markdown characters escaped), one paragraph per section."""
    return "\n\n".join(_MARKDOWN_SPECIAL.sub(r"\\\1", part) for part in text.split("\n\n"))


def forget_session_state() -> None:
    """Drop everything a previous login left in this Streamlit session."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def account_bar(reader_id: str, on_logout: Callable[[], None]) -> None:
    """'Logged in as ...' and the logout button, side by side (call inside a narrow column)."""
    who, button = st.columns([1, 1], vertical_alignment="center")
    who.caption(f"Logged in as **{reader_id}**")
    if button.button("Pause and log out", key="nav_logout", width="stretch"):
        on_logout()


# No ">" in here: st.html sanitises the <style> text and a child combinator would void its whole rule.
CSS = """
.block-container { padding: 3rem 1.5rem 0.5rem 1.5rem !important; max-width: none !important; }
[data-testid="stHeader"] { height: 2.5rem; min-height: 2.5rem; }
h3 { padding: 0 !important; }
[data-testid="stVerticalBlock"] { gap: 0.45rem; }
.st-key-report_a, .st-key-report_b {
    max-height: max(140px, calc(100vh - 470px - var(--cxr-extra-criteria, 0px))); overflow-y: auto;
}
.st-key-report_a p, .st-key-report_b p { margin-bottom: 0.4rem; }
"""
