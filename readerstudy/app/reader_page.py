"""The reader's page: image beside Report A / Report B, preference per criterion, submit, revise, resume.

Each window keeps the case it shows (``st.session_state["order"]``) until that case is submitted: the form that was
submitted is the form rendered on the next run, so its answers always reach the database, even when another
window of the same reader answered the case in between (then they are stored as a new version, and the page
says so). Widget keys are neutral (``c_{order}_left_likert`` ...): Streamlit renders keys into CSS classes, so they
must not name a source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import streamlit as st
from sqlalchemy.exc import NoResultFound

from readerstudy.app.common import CSS, account_bar, report_markdown
from readerstudy.app.components import image_viewer, keyboard_shortcuts, page_style
from readerstudy.store.engine import StudyDB
from readerstudy.store.reader_api import (
    MAX_REASON_CHARS,
    REXVAL_ERROR_FLAGS,
    Account,
    CaseView,
    ReadAnswers,
    StudyInfo,
    StudyLockedError,
    blinding_answered,
    case_texts,
    last_saved,
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
SUBMIT_LABEL = "Submit and go to the next case"
SHORTCUT_HINT = "Keys: **1** A better · **2** Equal · **3** B better · **Enter** submit"
SHORTCUT_HINT_SEVERAL = " (1/2/3 answer the first criterion still open)"
ORDER_KEY = "order"
SAVED_KEY = "last_submit"
IMAGE_HEIGHT = "max(300px, calc(100vh - 215px))"  # CSS length: the image fills the window's height
# The image column is as wide as a portrait chest film of this shape needs to fill IMAGE_HEIGHT (35 x 43 cm, the
# largest chest format, https://radiopaedia.org/articles/cassette), up to 45% of the window; the form takes the
# rest. A fixed column ratio left a portrait image width-bound at about 65% of the height at 1920x1080.
IMAGE_ASPECT = 35 / 43
LAYOUT_CSS = f"""
[data-testid="stColumn"]:has(.st-key-image_pane) {{
    flex: 0 0 clamp(280px, calc({IMAGE_HEIGHT} * {IMAGE_ASPECT:.4f}), 45vw) !important;
}}
[data-testid="stColumn"]:has(.st-key-reports) {{ flex: 1 1 0 !important; min-width: 0; }}
"""
_SIDES = (("left", "A", "a"), ("right", "B", "b"))


@dataclass(frozen=True)
class Shown:
    """What this window showed when it first displayed a case: the form's defaults and its base version."""

    at: datetime
    version: int
    answers: ReadAnswers | None


@dataclass(frozen=True)
class SubmitOutcome:
    order: int
    version: int
    based_on: int

    @property
    def overtaken(self) -> bool:
        """Another window stored a version of this case after this window showed it."""
        return self.version != self.based_on + 1


def _side_inputs(info: StudyInfo, order: int, previous: ReadAnswers | None, side: str, attr: str) -> dict:
    likert_range = list(range(info.likert_min, info.likert_max + 1))
    old_likert = getattr(previous, f"likert_{attr}") if previous else None
    label = attr.upper()
    return {
        f"likert_{attr}": st.radio(
            f"Overall quality of report {label} (optional, {info.likert_min} = poor)",
            likert_range,
            index=likert_range.index(old_likert) if old_likert in likert_range else None,
            horizontal=True,
            key=f"c_{order}_{side}_likert",
        ),
        f"flags_{attr}": st.multiselect(
            f"Errors in report {label}",
            list(REXVAL_ERROR_FLAGS),
            default=getattr(previous, f"flags_{attr}") if previous else [],
            key=f"c_{order}_{side}_flags",
        ),
        f"significant_{attr}": st.checkbox(
            f"An error in report {label} is clinically significant",
            value=getattr(previous, f"significant_{attr}") if previous else False,
            key=f"c_{order}_{side}_sig",
        ),
    }


def _render_form(info: StudyInfo, case: CaseView, previous: ReadAnswers | None) -> None:
    """Reports and the form side by side; a submit is processed by :func:`_take_submit` on the next run."""
    order = case.order_index
    with st.form(f"f_{order}", border=False):
        with st.container(key="reports"):
            for column, (side, label, attr) in zip(st.columns(2), _SIDES, strict=True):
                with column:
                    with st.container(border=True, key=f"report_{attr}"):  # scrolls: see common.CSS
                        st.markdown(f"**Report {label}**")
                        st.markdown(report_markdown(getattr(case, f"text_{attr}")))
                    _side_inputs(info, order, previous, side, attr)
        choice_column, reason_column, submit_column = st.columns([1.2, 1.2, 1], vertical_alignment="bottom")
        with choice_column:
            for k, criterion in enumerate(info.criteria):
                options = list(PREFERENCE_LABELS)
                st.radio(
                    f"{criterion.capitalize()}: which report is better?",
                    options,
                    index=options.index(previous.choices[criterion]) if previous else None,
                    format_func=PREFERENCE_LABELS.__getitem__,
                    horizontal=True,
                    key=f"c_{order}_{k}_pref",
                )
        reason_column.text_area(
            "Reason (optional)",
            value=previous.reason if previous else "",
            max_chars=MAX_REASON_CHARS,
            height=68,
            key=f"c_{order}_reason",
        )
        with submit_column:
            st.form_submit_button(SUBMIT_LABEL, type="primary", key=f"submit_{order}")
            st.caption(SHORTCUT_HINT + (SHORTCUT_HINT_SEVERAL if len(info.criteria) > 1 else ""))
    keyboard_shortcuts([f"c_{order}_{k}_pref" for k in range(len(info.criteria))], f"st-key-submit_{order}")


def _submitted_answers(info: StudyInfo, order: int) -> ReadAnswers | str:
    """The answers of the form of case ``order`` from the submitting run's widget state, or what is missing."""
    state = st.session_state
    choices = {c: state.get(f"c_{order}_{k}_pref") for k, c in enumerate(info.criteria)}
    missing = [c for c, v in choices.items() if v is None]
    if missing:
        return f"Please choose a preference for: {', '.join(missing)}."
    values = {
        f"{field}_{attr}": state.get(f"c_{order}_{side}_{key}")
        for side, _, attr in _SIDES
        for field, key in (("likert", "likert"), ("flags", "flags"), ("significant", "sig"))
    }
    return ReadAnswers(
        choices={c: str(v) for c, v in choices.items()},
        likert_a=values["likert_a"],
        likert_b=values["likert_b"],
        flags_a=list(values["flags_a"] or []),
        flags_b=list(values["flags_b"] or []),
        significant_a=bool(values["significant_a"]),
        significant_b=bool(values["significant_b"]),
        reason=str(state.get(f"c_{order}_reason") or "")[:MAX_REASON_CHARS],
    )


def unsaved_submit() -> int | None:
    """Case number (1-based) of a submit that arrived in this run but cannot be stored (no valid login)."""
    order = st.session_state.get(ORDER_KEY)
    return order + 1 if order is not None and st.session_state.get(f"submit_{order}") else None


def _take_submit(db: StudyDB, account: Account, info: StudyInfo) -> str | None:
    """Store a submit of this window's case before anything is drawn, then move the window on.

    The submit button's key names the case, so the answers go to the case the form was made for, and the next
    case is drawn in this same run (no second run per submit). Returns an error to show on the same case.
    """
    order = st.session_state.get(ORDER_KEY)
    if order is None or not st.session_state.get(f"submit_{order}"):
        return None
    shown = st.session_state.get(f"shown_{order}")
    answers = _submitted_answers(info, order)
    if isinstance(answers, str):
        return answers
    try:
        based_on = shown.version if shown else None
        version = submit_read(
            db, account.reader_id, order, answers, shown.at if shown else None, based_on_version=based_on
        )
    except (StudyLockedError, NoResultFound, ValueError) as exc:
        return f"Not saved: {exc}."
    st.session_state[SAVED_KEY] = SubmitOutcome(order, version, version - 1 if based_on is None else based_on)
    st.session_state.pop(f"shown_{order}", None)
    st.session_state[ORDER_KEY] = next_unread(db, account.reader_id)
    return None


def _saved_message(outcome: SubmitOutcome | None, db: StudyDB, reader_id: str) -> None:
    """What the database holds from this reader's last submit: shown again after a reconnect or restart."""
    if outcome is not None and outcome.overtaken:
        st.warning(
            f"Case {outcome.order + 1} had already been answered in another window or tab after you opened it "
            f"here. Your answers from this window were saved too, as version {outcome.version} (the latest "
            "version counts). Use 'Previous case' to review it."
        )
        return
    if outcome is not None:
        what = "your revision of " if outcome.version > 1 else ""
        st.success(f"Saved {what}case {outcome.order + 1} (version {outcome.version}).")
        return
    saved = last_saved(db, reader_id)
    if saved is not None:
        order, version, at = saved
        st.caption(f"Last saved: case {order + 1} (version {version}) at {at:%H:%M:%S} UTC.")


def _shown(db: StudyDB, account: Account, case: CaseView) -> Shown:
    key = f"shown_{case.order_index}"
    if key not in st.session_state:
        at = mark_shown(db, account.reader_id, case.order_index)
        st.session_state[key] = Shown(at, case.latest_version, case.latest)
    return st.session_state[key]


def _render_case(db: StudyDB, account: Account, info: StudyInfo, order: int, error: str | None) -> None:
    case = load_case(db, account.reader_id, order)
    shown = _shown(db, account, case)
    if case.latest_version > shown.version:
        st.warning(
            f"This case was answered in another window since you opened it here (now version "
            f"{case.latest_version}). If you submit, your answers are stored as a new version."
        )
    elif case.latest is not None:
        st.info(
            f"You are revising this case (answered {case.latest_version}x); a new version will be stored."
        )
    if error:
        st.error(error)
    image_column, form_column = st.columns([1, 2.3])
    with image_column, st.container(key="image_pane"):
        if case.image_path:
            next_src = f"/case-image/{order + 1}" if order + 1 < case.n_total else None
            image_viewer(f"/case-image/{order}", IMAGE_HEIGHT, key=f"viewer_{order}", next_src=next_src)
        else:
            st.caption("No image for this case.")
    with form_column:
        _render_form(info, case, shown.answers)
    left, right = st.columns(2)
    if order > 0 and left.button("Previous case (revise)", key="nav_prev"):
        st.session_state[ORDER_KEY] = order - 1
        st.rerun()
    if case.latest is not None and right.button("Back to my next case", key="nav_next"):
        st.session_state[ORDER_KEY] = next_unread(db, account.reader_id)
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


def render_reader(db: StudyDB, account: Account, on_logout: Callable[[], None]) -> None:
    info = study_info(db)
    # each criterion beyond the first takes a row of the form: the reports give up that height
    page_style(CSS + LAYOUT_CSS + f":root {{ --cxr-extra-criteria: {75 * (len(info.criteria) - 1)}px; }}")
    error = None if info.locked else _take_submit(db, account, info)
    done, total = progress(db, account.reader_id)
    if ORDER_KEY not in st.session_state:
        st.session_state[ORDER_KEY] = next_unread(db, account.reader_id)
    order = st.session_state[ORDER_KEY]
    heading, status, bar = st.columns([1, 2, 1.6], vertical_alignment="center")
    heading.subheader(f"Case {order + 1} of {total}" if order is not None and not info.locked else "Reading")
    with status:
        st.progress(done / total if total else 0.0, text=f"{done} of {total} cases read")
    with bar:
        account_bar(account.reader_id, on_logout)
    if info.locked:
        st.info("The study is locked: reading is closed. Thank you for taking part.")
        return
    _saved_message(st.session_state.get(SAVED_KEY), db, account.reader_id)
    if order is None:
        _render_blinding_check(db, account)
        if total and st.button("Previous case (revise)", key="nav_prev"):
            st.session_state[ORDER_KEY] = total - 1
            st.rerun()
        return
    _render_case(db, account, info, order, error)
