"""The reader's page: one case at a time, Report A / Report B, preference per criterion, submit, revise, resume.

Widget keys are neutral (``c_{order}_left_likert`` ...): Streamlit renders keys into CSS classes, so they must not
name a source.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from readerstudy.app.common import report_markdown
from readerstudy.store.engine import StudyDB
from readerstudy.store.reader_api import (
    REXVAL_ERROR_FLAGS,
    Account,
    CaseView,
    ReadAnswers,
    StudyInfo,
    StudyLockedError,
    blinding_answered,
    case_texts,
    load_case,
    mark_shown,
    next_unread,
    progress,
    study_info,
    submit_blinding,
    submit_read,
)

PREFERENCE_LABELS = {"A": "A better", "equal": "Equal", "B": "B better"}
GUESS_LABELS = {"A": "Report A", "B": "Report B", "unsure": "Not sure"}
_SIDES = (("left", "A", "a"), ("right", "B", "b"))


def _answers_form(info: StudyInfo, case: CaseView) -> ReadAnswers | None:
    """Render the form; returns the answers when submitted and complete."""
    order, previous = case.order_index, case.latest
    with st.form(f"f_{order}"):
        choices: dict[str, str | None] = {}
        for k, criterion in enumerate(info.criteria):
            options = list(PREFERENCE_LABELS)
            default = options.index(previous.choices[criterion]) if previous else None
            choices[criterion] = st.radio(
                f"{criterion.capitalize()}: which report is better?",
                options,
                index=default,
                format_func=PREFERENCE_LABELS.__getitem__,
                horizontal=True,
                key=f"c_{order}_{k}_pref",
            )
        likert_range = list(range(info.likert_min, info.likert_max + 1))
        values: dict[str, object] = {}
        for column, (side, label, attr) in zip(st.columns(2), _SIDES, strict=True):
            with column:
                st.markdown(f"**Report {label}**")
                old_likert = getattr(previous, f"likert_{attr}") if previous else None
                values[f"likert_{attr}"] = st.radio(
                    f"Overall quality of report {label} (optional, {info.likert_min} = poor)",
                    likert_range,
                    index=likert_range.index(old_likert) if old_likert in likert_range else None,
                    horizontal=True,
                    key=f"c_{order}_{side}_likert",
                )
                values[f"flags_{attr}"] = st.multiselect(
                    f"Errors in report {label}",
                    list(REXVAL_ERROR_FLAGS),
                    default=getattr(previous, f"flags_{attr}") if previous else [],
                    key=f"c_{order}_{side}_flags",
                )
                values[f"significant_{attr}"] = st.checkbox(
                    f"An error in report {label} is clinically significant",
                    value=getattr(previous, f"significant_{attr}") if previous else False,
                    key=f"c_{order}_{side}_sig",
                )
        reason = st.text_area(
            "Reason (optional)", value=previous.reason if previous else "", key=f"c_{order}_reason"
        )
        if not st.form_submit_button("Submit and go to the next case"):
            return None
    missing = [c for c, v in choices.items() if v is None]
    if missing:
        st.error(f"Please choose a preference for: {', '.join(missing)}.")
        return None
    return ReadAnswers(
        choices={c: str(v) for c, v in choices.items()},
        reason=reason,
        **values,  # type: ignore[arg-type]
    )


def _render_case(db: StudyDB, account: Account, info: StudyInfo, order: int) -> None:
    case = load_case(db, account.reader_id, order)
    shown_key = f"shown_{order}"
    if shown_key not in st.session_state:
        st.session_state[shown_key] = mark_shown(db, account.reader_id, order)
    st.subheader(f"Case {order + 1} of {case.n_total}")
    if case.latest is not None:
        st.info(
            f"You are revising this case (answered {case.latest_version}x); a new version will be stored."
        )
    if case.image_path and Path(case.image_path).exists():
        st.image(case.image_path, width=512)
    for column, (_, label, attr) in zip(st.columns(2), _SIDES, strict=True):
        with column, st.container(border=True):
            st.markdown(f"#### Report {label}")
            st.markdown(report_markdown(getattr(case, f"text_{attr}")))
    answers = _answers_form(info, case)
    if answers is not None:
        try:
            submit_read(db, account.reader_id, order, answers, st.session_state.get(shown_key))
        except StudyLockedError as exc:
            st.error(str(exc))
            return
        st.session_state.pop("view_idx", None)
        st.session_state.pop(shown_key, None)
        st.rerun()
    left, right = st.columns(2)
    if order > 0 and left.button("Previous case (revise)", key="nav_prev"):
        st.session_state["view_idx"] = order - 1
        st.rerun()
    if st.session_state.get("view_idx") is not None and right.button("Back to my next case", key="nav_next"):
        st.session_state.pop("view_idx", None)
        st.rerun()


def _render_blinding_check(db: StudyDB, account: Account) -> None:
    st.success("You have read all cases. Thank you!")
    if blinding_answered(db, account.reader_id):
        st.write("Your blinding-check answers are stored. You may still revise a case with 'Previous case'.")
        return
    st.write(
        "Optional last step: for each case, which report do you think was written by the AI system? "
        "Leave a case blank to skip it."
    )
    with st.form("blind"):
        guesses: dict[int, str | None] = {}
        for order, text_a, text_b in case_texts(db, account.reader_id):
            with st.expander(f"Case {order + 1}"):
                columns = st.columns(2)
                columns[0].markdown(report_markdown(text_a))
                columns[1].markdown(report_markdown(text_b))
            guesses[order] = st.radio(
                f"Case {order + 1}",
                list(GUESS_LABELS),
                index=None,
                format_func=GUESS_LABELS.__getitem__,
                horizontal=True,
                key=f"g_{order}",
            )
        if st.form_submit_button("Submit these answers"):
            answered = {order: g for order, g in guesses.items() if g is not None}
            submit_blinding(db, account.reader_id, answered)
            st.rerun()


def render_reader(db: StudyDB, account: Account) -> None:
    info = study_info(db)
    done, total = progress(db, account.reader_id)
    st.progress(done / total if total else 0.0, text=f"{done} of {total} cases read")
    if info.locked:
        st.info("The study is locked: reading is closed. Thank you for taking part.")
        return
    view = st.session_state.get("view_idx")
    order = view if view is not None else next_unread(db, account.reader_id)
    if order is None:
        _render_blinding_check(db, account)
        if total and st.button("Previous case (revise)", key="nav_prev"):
            st.session_state["view_idx"] = total - 1
            st.rerun()
        return
    _render_case(db, account, info, order)
