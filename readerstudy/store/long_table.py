"""The long table: the contract between the study store and the analysis (and the ``reads_long.csv`` export)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, overload

from sqlalchemy import select

from readerstudy.store.csv_safety import restore_columns, write_safe_csv
from readerstudy.store.engine import StudyDB, using_db
from readerstudy.store.models import Assignment, BlindingAnswer, Case, Read, Study, UnblindingKey

if TYPE_CHECKING:
    import pandas as pd

LONG_TABLE_COLUMNS = [
    "reader_id",
    "case_id",
    "site",
    "criterion",
    "ai_side",
    "choice",
    "preference_vs_ai",
    "likert_ai",
    "likert_original",
    "error_flags",
    "clinically_significant",
    "reason",
    "shown_at",
    "submitted_at",
    "version",
    "normal_abnormal",
    "blinding_guess_ai_side",
    # extras, after the contract columns
    "order_index",
    "error_flags_ai",
    "error_flags_original",
    "clinically_significant_ai",
    "clinically_significant_original",
]
# Numbers, booleans and timestamps: written as they are in reads_long.csv (a formula cannot hide in them).
LONG_TABLE_TYPED_COLUMNS = (
    "preference_vs_ai",
    "likert_ai",
    "likert_original",
    "clinically_significant",
    "shown_at",
    "submitted_at",
    "version",
    "order_index",
    "clinically_significant_ai",
    "clinically_significant_original",
)
# Text: neutralised against spreadsheet formula injection in every CSV export (see csv_safety). Free text typed by
# people (reason; reader, case, site, criterion names and normal_abnormal from the protocol and case file) and
# fixed-vocabulary text (ai_side, choice, error flags, blinding guess), which never starts with a trigger anyway.
LONG_TABLE_TEXT_COLUMNS = tuple(c for c in LONG_TABLE_COLUMNS if c not in LONG_TABLE_TYPED_COLUMNS)


def _frame(session: Any, statement: Any) -> pd.DataFrame:
    import pandas as pd

    result = session.execute(statement)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def load_long_table(db_url: str | Path | StudyDB) -> pd.DataFrame:
    """One row per reader x case x criterion, from the latest submitted version of each read.

    Columns (exact names; the analysis and ``reads_long.csv`` rely on them):

    - ``reader_id`` (str), ``case_id`` (str), ``site`` (str), ``criterion`` (str)
    - ``ai_side``: "A" (left) or "B" (right): where this reader saw the AI report for this case
    - ``choice``: "A", "B" or "equal" as the reader answered (A = left report better)
    - ``preference_vs_ai`` (int): 1 AI better, 0 equal, -1 AI worse
    - ``likert_ai``, ``likert_original`` (nullable Int64, 1..5 by default): per-report Likert when given
    - ``error_flags``: JSON string ``{"ai": [...], "original": [...]}`` of ReXVal categories ("false finding",
      "missed finding", "wrong location", "wrong severity", "comparison issues"); per-source copies as
      ``error_flags_ai`` / ``error_flags_original`` (";"-joined strings, "" when none)
    - ``clinically_significant`` (bool): the reader ticked "clinically significant" for either report; per-source
      ticks in ``clinically_significant_ai`` / ``clinically_significant_original``
    - ``reason`` (str, may be ""), ``shown_at`` (datetime64, UTC, NaT if unknown), ``submitted_at`` (datetime64, UTC)
    - ``version`` (int >= 1; > 1 means the read was revised; earlier versions are kept in the database)
    - ``normal_abnormal`` (str or None, from the case file when given)
    - ``blinding_guess_ai_side``: latest blinding-check answer "A", "B", "unsure", or None when not answered
    - ``order_index`` (int): position of the case in this reader's reading order (0-based)

    Likert, flags and reason are per case, so they repeat on each criterion row of the same case.
    """
    import pandas as pd

    with using_db(db_url) as study_db, study_db.reading() as session:
        reads = _frame(session, select(*Read.__table__.columns))
        assignments = _frame(
            session,
            select(Assignment.reader_id, Assignment.case_idx, Assignment.order_index, Assignment.left_slot),
        )
        key = _frame(session, select(UnblindingKey.case_idx, UnblindingKey.ai_slot))
        cases = _frame(session, select(Case.case_idx, Case.case_id, Case.site, Case.normal_abnormal))
        blinding = _frame(session, select(*BlindingAnswer.__table__.columns).order_by(BlindingAnswer.id))
    if reads.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in LONG_TABLE_COLUMNS})
    latest = reads.groupby(["reader_id", "case_idx"])["version"].transform("max")
    table = reads[reads["version"] == latest]
    table = table.merge(assignments, on=["reader_id", "case_idx"], how="left", validate="many_to_one")
    table = table.merge(key, on="case_idx", how="left").merge(cases, on="case_idx", how="left")
    if blinding.empty:
        table["blinding_guess_ai_side"] = None
    else:
        last_guess = blinding.drop_duplicates(["reader_id", "case_idx"], keep="last")
        last_guess = last_guess[["reader_id", "case_idx", "guess"]].rename(
            columns={"guess": "blinding_guess_ai_side"}
        )
        table = table.merge(last_guess, on=["reader_id", "case_idx"], how="left")
        table["blinding_guess_ai_side"] = table["blinding_guess_ai_side"].astype(object)
        table.loc[table["blinding_guess_ai_side"].isna(), "blinding_guess_ai_side"] = None

    ai_left = table["left_slot"] == table["ai_slot"]
    table["ai_side"] = ai_left.map({True: "A", False: "B"})
    table["preference_vs_ai"] = 0
    table.loc[table["choice"] == table["ai_side"], "preference_vs_ai"] = 1
    table.loc[(table["choice"] != "equal") & (table["choice"] != table["ai_side"]), "preference_vs_ai"] = -1
    table["likert_ai"] = table["likert_a"].where(ai_left, table["likert_b"]).astype("Int64")
    table["likert_original"] = table["likert_b"].where(ai_left, table["likert_a"]).astype("Int64")
    flags_ai = table["error_flags_a"].where(ai_left, table["error_flags_b"]).map(json.loads)
    flags_original = table["error_flags_b"].where(ai_left, table["error_flags_a"]).map(json.loads)
    table["error_flags"] = [
        json.dumps({"ai": a, "original": o}) for a, o in zip(flags_ai, flags_original, strict=True)
    ]
    table["error_flags_ai"] = flags_ai.map(";".join)
    table["error_flags_original"] = flags_original.map(";".join)
    table["clinically_significant_ai"] = (
        table["significant_a"].where(ai_left, table["significant_b"]).astype(bool)
    )
    table["clinically_significant_original"] = (
        table["significant_b"].where(ai_left, table["significant_a"]).astype(bool)
    )
    table["clinically_significant"] = (
        table["clinically_significant_ai"] | table["clinically_significant_original"]
    )
    table["shown_at"] = pd.to_datetime(table["shown_at"])
    table["submitted_at"] = pd.to_datetime(table["submitted_at"])
    table["normal_abnormal"] = (
        table["normal_abnormal"].astype(object).where(table["normal_abnormal"].notna(), None)
    )
    table = table.sort_values(["reader_id", "order_index", "criterion"], kind="stable")
    return table[LONG_TABLE_COLUMNS].reset_index(drop=True)


def csv_text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of a reads table to neutralise: all but the typed ones (extra columns unless numeric/bool/time)."""
    from pandas.api import types

    def typed(column: str) -> bool:
        dtype = frame[column].dtype
        return (
            types.is_numeric_dtype(dtype)
            or types.is_bool_dtype(dtype)
            or types.is_datetime64_any_dtype(dtype)
        )

    return [
        c
        for c in frame.columns
        if c in LONG_TABLE_TEXT_COLUMNS or (c not in LONG_TABLE_TYPED_COLUMNS and not typed(c))
    ]


@overload
def long_table_csv(table: pd.DataFrame, path: None = None) -> str: ...
@overload
def long_table_csv(table: pd.DataFrame, path: str | Path) -> None: ...
def long_table_csv(table: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """Write a reads table as spreadsheet-safe CSV to ``path`` (or return the text): text cells neutralised."""
    return write_safe_csv(table, csv_text_columns(table), path)


def read_long_table_csv(source: str | Path | IO[str]) -> pd.DataFrame:
    """Read back ``reads_long.csv`` as written by :func:`long_table_csv`: neutralised cells restored, types parsed."""
    import pandas as pd

    frame = pd.read_csv(source, dtype={c: object for c in LONG_TABLE_TEXT_COLUMNS})
    frame = restore_columns(frame, csv_text_columns(frame))
    for column in LONG_TABLE_TEXT_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    if "reason" in frame.columns:
        frame["reason"] = frame["reason"].map(lambda value: "" if value is None else value)
    for column in ("shown_at", "submitted_at"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    for column in ("likert_ai", "likert_original"):
        if column in frame.columns:
            frame[column] = frame[column].astype("Int64")
    return frame


def load_protocol(db_url: str | Path | StudyDB) -> dict[str, Any]:
    """The study protocol as built (criteria, scale, margin, seed, ...; passwords are never stored here)."""
    with using_db(db_url) as study_db, study_db.reading() as session:
        study = session.scalars(select(Study)).one()
    protocol = json.loads(study.protocol_json)
    protocol["locked"] = bool(study.locked)
    return protocol
