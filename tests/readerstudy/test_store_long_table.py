from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pandas as pd
import pytest
from sqlalchemy import func, select

from readerstudy.store.coordinator_api import (
    StudyNotLockedError,
    export_reads_csv,
    lock_study,
    unblinding_table,
)
from readerstudy.store.engine import StudyDB
from readerstudy.store.long_table import LONG_TABLE_COLUMNS, load_long_table, load_protocol
from readerstudy.store.models import Read
from readerstudy.store.reader_api import (
    ReadAnswers,
    StudyLockedError,
    load_case,
    mark_shown,
    next_unread,
    progress,
    submit_blinding,
    submit_read,
)

CRITERIA = ["clarity", "completeness"]


def ai_side_seen_by(db: StudyDB, reader: str, order: int) -> str:
    """Independent of the key: the test AI texts (conftest) contain the word 'generated'."""
    case = load_case(db, reader, order)
    assert ("generated" in case.text_a) != ("generated" in case.text_b)
    return "A" if "generated" in case.text_a else "B"


def test_long_table_contract_and_values(make_study: Callable[..., StudyDB]) -> None:
    db = make_study(criteria=CRITERIA)
    first = ReadAnswers(
        {"clarity": "A", "completeness": "equal"}, 5, 2, ["missed finding"], [], False, True, "x"
    )
    submit_read(db, "r1", 0, first, mark_shown(db, "r1", 0))
    revised = ReadAnswers(
        {"clarity": "B", "completeness": "A"}, 4, None, [], ["wrong location"], False, True, "y"
    )
    assert submit_read(db, "r1", 0, revised, mark_shown(db, "r1", 0)) == 2
    submit_read(db, "r1", 1, ReadAnswers({"clarity": "equal", "completeness": "B"}), None)
    submit_read(db, "r2", 0, ReadAnswers({"clarity": "A", "completeness": "A"}), mark_shown(db, "r2", 0))
    submit_blinding(db, "r1", {0: "B"})
    submit_blinding(db, "r1", {0: "A", 1: "unsure"})

    table = load_long_table(db.url)
    assert list(table.columns) == LONG_TABLE_COLUMNS
    assert len(table) == 3 * len(CRITERIA)  # latest versions only
    expected = []
    for reader, order, answers, version in [("r1", 0, revised, 2), ("r1", 1, None, 1), ("r2", 0, None, 1)]:
        side = ai_side_seen_by(db, reader, order)
        case = load_case(db, reader, order)
        answers = answers or case.latest
        for criterion in CRITERIA:
            choice = answers.choices[criterion]
            expected.append(
                {
                    "reader_id": reader,
                    "order_index": order,
                    "criterion": criterion,
                    "ai_side": side,
                    "choice": choice,
                    "preference_vs_ai": 0 if choice == "equal" else (1 if choice == side else -1),
                    "version": version,
                }
            )
    got = table[["reader_id", "order_index", "criterion", "ai_side", "choice", "preference_vs_ai", "version"]]
    pd.testing.assert_frame_equal(got, pd.DataFrame(expected), check_dtype=False)

    row = table[(table.reader_id == "r1") & (table.order_index == 0)].iloc[0]
    ai_is_left = row.ai_side == "A"
    likert_left, likert_right = (
        (row.likert_ai, row.likert_original)
        if ai_is_left
        else (
            row.likert_original,
            row.likert_ai,
        )
    )
    assert likert_left == 4 and pd.isna(likert_right)  # the revision gave likert_a=4 (left), likert_b=None
    flags = json.loads(row.error_flags)
    assert flags == (
        {"ai": [], "original": ["wrong location"]}
        if ai_is_left
        else {"ai": ["wrong location"], "original": []}
    )
    assert row.clinically_significant and row.clinically_significant_original == ai_is_left
    assert row.reason == "y" and row.blinding_guess_ai_side == "A"
    assert (
        table[(table.reader_id == "r1") & (table.order_index == 1)].blinding_guess_ai_side.iloc[0] == "unsure"
    )
    assert table[table.reader_id == "r2"].blinding_guess_ai_side.isna().all()
    assert set(table.site) <= {"site-0", "site-1"} and set(table.normal_abnormal) <= {"normal", "abnormal"}
    assert (table.submitted_at >= table.shown_at.fillna(table.submitted_at)).all()
    with db.reading() as session:  # the first version is kept
        assert session.scalar(select(func.count()).select_from(Read)) == 4 * len(CRITERIA)


def test_empty_table_has_the_columns(make_study: Callable[..., StudyDB]) -> None:
    table = load_long_table(make_study())
    assert table.empty and list(table.columns) == LONG_TABLE_COLUMNS


def test_resume_progress_and_validation(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()
    assert next_unread(db, "r1") == 0 and progress(db, "r1") == (0, 4)
    submit_read(db, "r1", 0, ReadAnswers({"diagnostic clarity": "B"}), None)
    submit_read(db, "r1", 2, ReadAnswers({"diagnostic clarity": "B"}), None)
    assert next_unread(db, "r1") == 1 and progress(db, "r1") == (2, 4)
    with pytest.raises(ValueError, match="criterion"):
        submit_read(db, "r1", 1, ReadAnswers({}), None)
    with pytest.raises(ValueError, match="Likert"):
        submit_read(db, "r1", 1, ReadAnswers({"diagnostic clarity": "A"}, likert_a=6), None)
    with pytest.raises(ValueError, match="error flags"):
        submit_read(db, "r1", 1, ReadAnswers({"diagnostic clarity": "A"}, flags_b=["typo"]), None)


def test_lock_stops_reads_and_gates_unblinding(make_study: Callable[..., StudyDB]) -> None:
    db = make_study()
    submit_read(db, "r1", 0, ReadAnswers({"diagnostic clarity": "A"}), None)
    with pytest.raises(StudyNotLockedError):
        unblinding_table(db, "coord")
    with pytest.raises(StudyNotLockedError):
        export_reads_csv(db, "coord")
    lock_study(db, "coord")
    assert load_protocol(db)["locked"]
    with pytest.raises(StudyLockedError):
        submit_read(db, "r1", 1, ReadAnswers({"diagnostic clarity": "A"}), None)
    key = unblinding_table(db, "coord")
    assert len(key) == 8
    for row in key.itertuples():
        assert row.ai_side == ai_side_seen_by(db, row.reader_id, row.order_index)
    exported = pd.read_csv(__import__("io").StringIO(export_reads_csv(db, "coord")))
    assert list(exported.columns) == LONG_TABLE_COLUMNS and len(exported) == 1


def test_concurrent_submits_lose_nothing(make_study: Callable[..., StudyDB]) -> None:
    """Small version of benchmarks/bench_readerstudy_load.py: both readers submit every case from 4 threads."""
    db = make_study(n_cases=6)
    errors: list[BaseException] = []

    def worker(reader: str, orders: range) -> None:
        try:
            for order in orders:
                submit_read(db, reader, order, ReadAnswers({"diagnostic clarity": "equal"}), None)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(r, range(k, 6, 2))) for r in ("r1", "r2") for k in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    table = load_long_table(db)
    assert len(table) == 12 and not table.duplicated(["reader_id", "case_id", "criterion"]).any()
    assert (table.version == 1).all()
    from readerstudy.store.audit import verify_audit_chain

    assert verify_audit_chain(db) == (True, None)
