"""Shared helpers of the Streamlit pages."""

from __future__ import annotations

import os
import re
import sys

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
    return cached_db(url)


def report_markdown(text: str) -> str:
    """Report text shown literally (markdown characters escaped), one paragraph per section."""
    return "\n\n".join(_MARKDOWN_SPECIAL.sub(r"\\\1", part) for part in text.split("\n\n"))
