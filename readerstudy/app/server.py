"""ASGI entry of the reading app: ``streamlit run readerstudy/app/server.py -- --db STUDY_DB`` (what ``cxrbench
study serve`` runs). It serves ``main.py`` plus the session-cookie and case-image routes of :mod:`web`."""

from __future__ import annotations

import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # `streamlit run` puts only this file's folder on sys.path
    sys.path.insert(0, _REPO_ROOT)

import pandas  # noqa: E402, F401 - components v2 import it on first use: ~1.5 s in the first reader's first case
import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from readerstudy.app.web import HideScriptPath, routes  # noqa: E402

app = st.App("main.py", routes=routes(), middleware=[Middleware(HideScriptPath)])
