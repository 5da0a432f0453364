"""Reader study analysis: `analyze_reads` builds the results dict, `analyze` also writes the report and exports."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from readerstudy.analysis import agreement as agr
from readerstudy.analysis.bias import blinding_check, position_bias
from readerstudy.analysis.data import (
    case_attribute,
    complete_cases,
    primary_criterion,
    reader_case_matrix,
    validate_long_table,
)
from readerstudy.analysis.exports import MRMCAOV_TEXT_COLUMNS, imrmc_text, mrmcaov_table
from readerstudy.analysis.methods import TIE_NOTE, methods_text
from readerstudy.analysis.mrmc import (
    endpoint_summary,
    mean_endpoint_inference,
    non_inferiority,
    single_reader_interval,
    to_jsonable,
)

CATEGORIES = [-1.0, 0.0, 1.0]
DEFAULT_N_BOOT = 2000


def _shares(y: np.ndarray) -> dict[str, float | None]:
    v = y[~np.isnan(y)]
    if v.size == 0:
        return {"better": None, "equal": None, "worse": None}
    return {
        "better": float(np.mean(v == 1)),
        "equal": float(np.mean(v == 0)),
        "worse": float(np.mean(v == -1)),
    }


def _subgroup(y: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """Net preference / equal-or-better with FRRC and RRRC CIs on a column subset (no bootstrap)."""
    out: dict[str, Any] = {"n_cases": int(y.shape[1]), **_shares(y)}
    for name, scores in (("net_preference", y), ("equal_or_better", (y >= 0).astype(float))):
        out[name] = endpoint_summary(scores, n_boot, seed)
    return out


def _per_reader(y: np.ndarray, readers: list[str]) -> dict[str, Any]:
    out = {}
    for j, reader in enumerate(readers):
        row = y[j]
        out[reader] = {
            "n_cases": int(np.sum(~np.isnan(row))),
            **_shares(row),
            "net_preference": single_reader_interval(row),
            "equal_or_better": single_reader_interval(
                np.where(np.isnan(row), np.nan, (row >= 0).astype(float))
            ),
        }
    return out


def _likert_block(df: pd.DataFrame, readers: list[str], cases: list[str], n_boot: int, seed: int) -> dict:
    ai = reader_case_matrix(df, "likert_ai", readers, cases).to_numpy(float)
    orig = reader_case_matrix(df, "likert_original", readers, cases).to_numpy(float)
    if np.isnan(ai).all() and np.isnan(orig).all():
        return {"available": False}
    diff = ai - orig
    complete = ~np.isnan(diff).any(axis=0)
    return {
        "available": True,
        "mean_ai": float(np.nanmean(ai)) if not np.isnan(ai).all() else None,
        "mean_original": float(np.nanmean(orig)) if not np.isnan(orig).all() else None,
        "difference_ai_minus_original": endpoint_summary(diff[:, complete], n_boot, seed)
        if complete.any()
        else None,
        "n_cases_complete": int(complete.sum()),
    }


def _truthy(value: Any) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return False
    return str(value).strip().lower() in {"true", "1", "yes", "y", "t"}


def _error_flags(df: pd.DataFrame) -> dict[str, Any]:
    flags = df["error_flags"].fillna("").astype(str)
    exploded = flags.str.split(";").explode().str.strip()
    exploded = exploded[exploded != ""]
    significant = df["clinically_significant"].map(_truthy)
    return {
        "n_reads": int(len(df)),
        "reads_with_any_flag": int((flags.str.strip() != "").sum()),
        "counts": {str(k): int(v) for k, v in exploded.value_counts().items()},
        "clinically_significant": int(significant.sum()),
    }


def _by_case_group(
    y: np.ndarray, groups: pd.Series, cases: list[str], n_boot: int, seed: int
) -> dict[str, Any]:
    labels = groups.reindex(cases)
    out = {}
    for value in sorted(labels.dropna().unique()):
        mask = (labels == value).to_numpy()
        out[str(value)] = _subgroup(y[:, mask], n_boot, seed)
    return out


def bootstrap_seed(value: Any) -> int:
    """The protocol seed as a numpy seed: an integer as is, any other text (protocols allow any) hashed to 32 bits."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return int.from_bytes(hashlib.sha256(f"analysis:{value}".encode()).digest()[:4], "big")


def analyze_reads(
    long_df: pd.DataFrame,
    protocol: Mapping[str, Any] | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = None,
) -> dict[str, Any]:
    """All statistics of the study as a JSON-ready dict (no file I/O)."""
    protocol = dict(protocol or {})
    seed = bootstrap_seed(protocol.get("seed", 0) if seed is None else seed)
    raw_margin = float(protocol.get("margin", 0.0) or 0.0)
    margin = abs(raw_margin)
    df = validate_long_table(long_df)
    criterion = primary_criterion(df, protocol)
    primary = df[df["criterion"] == criterion]
    full = reader_case_matrix(primary, "preference_vs_ai")
    matrix, dropped = complete_cases(full)
    readers = [str(r) for r in matrix.index]
    cases = [str(c) for c in matrix.columns]
    y = matrix.to_numpy(float)
    notes: list[str] = []
    if dropped:
        notes.append(f"{len(dropped)} case(s) not read by every reader were left out of the crossed analysis")
    if raw_margin < 0:
        notes.append(f"protocol margin {raw_margin} read as its magnitude {margin}")

    net = endpoint_summary(y, n_boot, seed)
    eob = endpoint_summary((y >= 0).astype(float), n_boot, seed)
    shares = _shares(y)
    tie_rate = shares["equal"]
    eob["null_value_if_no_difference"] = None if tie_rate is None else 0.5 + tie_rate / 2
    eob["note"] = TIE_NOTE
    ni = non_inferiority(mean_endpoint_inference(y), margin) if y.size else {"non_inferior": None}
    net.update({"margin": margin, **{k: v for k, v in ni.items() if k != "margin"}})

    agreement = agr.agreement_block(y, readers, CATEGORIES)
    likert_ai = reader_case_matrix(primary, "likert_ai", readers, cases).to_numpy(float)
    likert_orig = reader_case_matrix(primary, "likert_original", readers, cases).to_numpy(float)
    agreement["kendall_w"] = {
        "preference_vs_ai": agr.kendall_w(y),
        "likert_ai": agr.kendall_w(likert_ai),
        "likert_original": agr.kendall_w(likert_orig),
        "package": agreement["kendall_w"]["package"],
        "weighting": agreement["kendall_w"]["weighting"],
    }
    agreement["icc_likert"] = {
        "likert_ai": agr.icc_likert(likert_ai, readers, cases),
        "likert_original": agr.icc_likert(likert_orig, readers, cases),
        "package": agr.package_label("pingouin"),
        "weighting": "ICC2 two-way random absolute agreement (single, k readers), ICC3 consistency",
    }

    sites = case_attribute(primary, "site")
    normal_abnormal = case_attribute(primary, "normal_abnormal")
    per_criterion = {}
    for crit, grp in df.groupby("criterion"):
        m, _ = complete_cases(reader_case_matrix(grp, "preference_vs_ai"))
        yc = m.to_numpy(float)
        per_criterion[str(crit)] = {
            **_shares(yc),
            "net_preference": endpoint_summary(yc, 0, seed),
            "equal_or_better": endpoint_summary((yc >= 0).astype(float), 0, seed),
        }

    result = {
        "criterion": criterion,
        "n_readers": len(readers),
        "n_cases": len(cases),
        "n_reads": int(np.sum(~np.isnan(y))),
        "cases_left_out": dropped,
        "equal_or_better": eob,
        "net_preference": net,
        "better": endpoint_summary((y == 1).astype(float), n_boot, seed),
        "equal": endpoint_summary((y == 0).astype(float), n_boot, seed),
        "worse": endpoint_summary((y == -1).astype(float), n_boot, seed),
        "per_reader": _per_reader(y, readers),
        "per_site": _by_case_group(y, sites, cases, 0, seed),
        "per_normal_abnormal": _by_case_group(y, normal_abnormal, cases, 0, seed),
        "per_criterion": per_criterion,
        "agreement": agreement,
        "likert": _likert_block(primary, readers, cases, n_boot, seed),
        "error_flags": _error_flags(primary),
        "position_bias": position_bias(df),
        "blinding_check": blinding_check(df),
        "blinding_audit": protocol.get("blinding_audit"),  # the build's text-classifier audit, as recorded
        "margin": margin,
        "non_inferior": ni.get("non_inferior"),
        "settings": {"n_boot": n_boot, "seed": seed, "ci_level": 0.95},
        "methods": methods_text(margin),
        "notes": notes,
    }
    return to_jsonable(result)


def analyze(
    long_df: pd.DataFrame,
    out_dir: str | Path,
    protocol: dict | None = None,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int | None = None,
    audit_chain: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Analyse the reads and write analysis.json, report.md, report.html, reads_long.csv, imrmc.csv,
    mrmcaov.csv into `out_dir`; return the analysis dict.

    ``audit_chain`` (the database's chain verification, head and whether a broken chain was allowed) is written
    into analysis.json as is. The CSVs are spreadsheet-safe: text cells that could run as formulas are neutralised
    (`readerstudy.store.long_table.read_long_table_csv` reads reads_long.csv back)."""
    from readerstudy.analysis.report import build_blocks, render_html, render_markdown
    from readerstudy.store.csv_safety import write_safe_csv
    from readerstudy.store.long_table import long_table_csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = analyze_reads(long_df, protocol, n_boot=n_boot, seed=seed)
    if audit_chain is not None:
        result["audit_chain"] = to_jsonable(dict(audit_chain))
    reads = validate_long_table(long_df)
    primary = reads[reads["criterion"] == result["criterion"]]
    primary = primary[primary["case_id"].isin(set(primary["case_id"]) - set(result["cases_left_out"]))]
    (out / "analysis.json").write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    long_table_csv(reads, out / "reads_long.csv")
    (out / "imrmc.csv").write_text(imrmc_text(primary), encoding="utf-8")
    write_safe_csv(mrmcaov_table(primary), MRMCAOV_TEXT_COLUMNS, out / "mrmcaov.csv")
    blocks = build_blocks(result)
    (out / "report.md").write_text(render_markdown(result, blocks), encoding="utf-8")
    (out / "report.html").write_text(render_html(result, blocks), encoding="utf-8")
    return result
