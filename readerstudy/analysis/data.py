"""Shape the long reads table (one row per reader x case x criterion) into reader x case matrices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("reader_id", "case_id", "site", "criterion", "ai_side", "choice", "preference_vs_ai")
OPTIONAL_COLUMNS = (
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
)
DEFAULT_CRITERION = "diagnostic clarity"


def validate_long_table(long_df: pd.DataFrame) -> pd.DataFrame:
    """Check the input contract and return a copy with one row per reader x case x criterion.

    Missing optional columns are added as empty. Should several versions of one read slip through, the
    highest `version` (then the latest `submitted_at`) is kept: revisions never overwrite, the latest counts.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in long_df.columns]
    if missing:
        raise ValueError(f"reads table lacks required columns: {missing}")
    df = long_df.copy()
    for col in OPTIONAL_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA
    df["reader_id"] = df["reader_id"].astype(str)
    df["case_id"] = df["case_id"].astype(str)
    df["site"] = df["site"].astype(str)
    df["criterion"] = df["criterion"].astype(str)
    pref = pd.to_numeric(df["preference_vs_ai"], errors="coerce")
    if pref.isna().any() or not pref.isin([-1, 0, 1]).all():
        raise ValueError("preference_vs_ai must be -1, 0 or 1 on every row")
    df["preference_vs_ai"] = pref.astype(int)
    sort_cols = [c for c in ("version", "submitted_at") if df[c].notna().any()]
    if sort_cols:
        df = df.sort_values(sort_cols, kind="stable", na_position="first")
    df = df.drop_duplicates(["reader_id", "case_id", "criterion"], keep="last")
    return df.sort_values(["criterion", "reader_id", "case_id"], kind="stable").reset_index(drop=True)


def primary_criterion(long_df: pd.DataFrame, protocol: Mapping[str, Any] | None) -> str:
    """The pre-registered primary criterion.

    Order: protocol `primary_criterion`; else the first of protocol `criteria` (strings or mappings with
    `name`/`id`); else "diagnostic clarity" when present; else the most frequent criterion in the data.
    """
    present = list(dict.fromkeys(long_df["criterion"].astype(str)))
    protocol = protocol or {}
    candidates: list[str] = []
    if protocol.get("primary_criterion"):
        candidates.append(str(protocol["primary_criterion"]))
    for item in protocol.get("criteria") or []:
        if isinstance(item, Mapping):
            item = item.get("name") or item.get("id")
        if item:
            candidates.append(str(item))
            break
    candidates.append(DEFAULT_CRITERION)
    for cand in candidates:
        if cand in present:
            return cand
    if not present:
        raise ValueError("reads table is empty")
    return str(long_df["criterion"].astype(str).value_counts().index[0])


def reader_case_matrix(
    df: pd.DataFrame, column: str, readers: list[str] | None = None, cases: list[str] | None = None
) -> pd.DataFrame:
    """Pivot one criterion's reads into a float reader x case matrix (NaN where a reader did not read)."""
    values = pd.to_numeric(df[column], errors="coerce").astype(float)
    mat = pd.DataFrame({"r": df["reader_id"], "c": df["case_id"], "v": values}).pivot(
        index="r", columns="c", values="v"
    )
    if readers is not None:
        mat = mat.reindex(index=readers)
    if cases is not None:
        mat = mat.reindex(columns=cases)
    return mat


def complete_cases(matrix: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Keep the cases read by every reader (the fully crossed part); return it and the dropped case ids."""
    keep = matrix.notna().all(axis=0)
    return matrix.loc[:, keep], [str(c) for c in matrix.columns[~keep]]


def case_attribute(df: pd.DataFrame, column: str) -> pd.Series:
    """One value per case: the most frequent non-null value of `column` across its reads (NaN if none)."""

    def mode(values: pd.Series) -> Any:
        values = values.dropna()
        return values.astype(str).value_counts().index[0] if len(values) else np.nan

    return df.groupby("case_id")[column].agg(mode)
