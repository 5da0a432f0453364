"""Coordinator page (role-protected by the login): progress, audit check, lock, unblind after lock, export.

Tables are shown spreadsheet-safe: ``cxrbench study serve`` hides Streamlit's own "Download as CSV" and copy
controls (``client.disableDataExport``), and the text cells are neutralised as in the study's CSV files
(:mod:`readerstudy.store.csv_safety`) in case the app is served without that option, so a case id or site
beginning with ``=`` reaches no spreadsheet as a formula either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import streamlit as st

from readerstudy.app.common import account_bar
from readerstudy.store.coordinator_api import (
    export_reads_csv,
    is_locked,
    lock_study,
    progress_table,
    unblinding_table,
)
from readerstudy.store.csv_safety import neutralise_columns
from readerstudy.store.engine import StudyDB
from readerstudy.store.reader_api import Account, study_info
from readerstudy.store.verify import verify_chain

if TYPE_CHECKING:
    import pandas as pd


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text column neutralised; numbers, booleans and timestamps as they are."""
    from pandas.api import types

    typed = (types.is_numeric_dtype, types.is_bool_dtype, types.is_datetime64_any_dtype)
    return neutralise_columns(frame, [c for c in frame.columns if not any(t(frame[c].dtype) for t in typed)])


def render_coordinator(db: StudyDB, account: Account, on_logout: Callable[[], None]) -> None:
    account_bar(account.reader_id, on_logout)
    st.title(f"{study_info(db).name}: coordinator")
    st.subheader("Progress")
    st.dataframe(spreadsheet_safe(progress_table(db)), hide_index=True, key="co_progress")
    chain = verify_chain(db)
    if chain.intact:
        st.success(f"Audit chain intact. Head hash (record it elsewhere): `{chain.head}`")
        if chain.coverage_note:
            st.caption(f"Note: {chain.coverage_note}.")
    else:
        st.error(f"Audit chain broken: {chain.problem}")

    st.subheader("Lock, unblind, export")
    if not is_locked(db):
        st.write("Locking stops all reading. Unblinding and export are possible only after locking.")
        confirm = st.checkbox("Reading is finished; lock the study", key="co_lock_confirm")
        if st.button("Lock study", key="co_lock", disabled=not confirm):
            lock_study(db, account.reader_id)
            st.rerun()
        return
    st.info("The study is locked.")
    if st.button("Unblind (show the key)", key="co_unblind"):
        st.session_state["unblind_table"] = unblinding_table(db, account.reader_id)
    if "unblind_table" in st.session_state:
        st.dataframe(spreadsheet_safe(st.session_state["unblind_table"]), hide_index=True, key="co_key_table")
    if st.button("Prepare reads export (CSV)", key="co_export"):
        st.session_state["export_csv"] = export_reads_csv(db, account.reader_id)
    if "export_csv" in st.session_state:
        st.download_button(
            "Download reads_long.csv",
            st.session_state["export_csv"],
            file_name="reads_long.csv",
            mime="text/csv",
            key="co_download",
        )
