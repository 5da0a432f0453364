"""Exports for the standard MRMC tools: iMRMC (FDA/DIDSR) and MRMCaov (R).

How the paired preference maps to two "modalities"
--------------------------------------------------
Each reader x case read compares the AI report with the original report, giving preference_vs_ai p in
{+1 AI better, 0 equal, -1 AI worse}. It is split into one score per modality, the "win score":

    score(AI) = (1 + p) / 2    in {1, 0.5, 0}
    score(original) = (1 - p) / 2 = 1 - score(AI)

so the mean AI score is P(better) + P(equal)/2, and the AI - original difference of reader-averaged mean
scores is exactly the net preference P(better) - P(worse), the primary endpoint.

These tools analyse ROC AUCs, so every real case gets truth 1 ("signal-present") and three anchor cases
(`_anchor_normal_1..3`, truth 0, scored 0.5 by every reader in both modalities) are added. The empirical
AUC of a reader x modality is then the mean over real cases of [score > 0.5] + 0.5 [score = 0.5], i.e. the
mean win score, and the AUC difference between modalities equals the net preference; the anchors are
constant, so they add no variance (iMRMC's own binary example uses the same device, and iMRMC needs at
least 3 cases per truth state per reader and modality). In MRMCaov use e.g.
`mrmc(empirical_auc(truth, rating), test, reader, case, data = read.csv("mrmcaov.csv"))`.

iMRMC input format (iMRMC user manual, section 4.1; `InputFile.java`): free-text header rows (the first is
the study title; `NR:`, `N0:`, `N1:`, `NM:` give the design size), then the row `BEGIN DATA:`, then
comma-separated rows `readerID,caseID,modalityID,score` with no spaces; truth rows use readerID `truth`
and modalityID `truth` with score 0 or 1, one per case. Whitespace and commas in IDs are replaced by `_`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from readerstudy.store.csv_safety import neutralise_cell

AI_MODALITY = "AI"
ORIGINAL_MODALITY = "original"
N_ANCHOR_CASES = 3
MRMCAOV_TEXT_COLUMNS = ("reader", "test", "case")


def _safe_id(value: object) -> str:
    return re.sub(r"[\s,;]+", "_", str(value)) or "_"


def modality_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of win scores: reader, case, modality (AI / original), score; one criterion's reads."""
    pref = df["preference_vs_ai"].astype(float).to_numpy()
    base = pd.DataFrame({"reader": df["reader_id"].map(_safe_id), "case": df["case_id"].map(_safe_id)})
    ai = base.assign(modality=AI_MODALITY, score=(1 + pref) / 2)
    original = base.assign(modality=ORIGINAL_MODALITY, score=(1 - pref) / 2)
    return pd.concat([ai, original], ignore_index=True)


def _anchor_rows(readers: list[str]) -> pd.DataFrame:
    rows = [
        {"reader": r, "case": f"_anchor_normal_{k}", "modality": m, "score": 0.5}
        for k in range(1, N_ANCHOR_CASES + 1)
        for m in (AI_MODALITY, ORIGINAL_MODALITY)
        for r in readers
    ]
    return pd.DataFrame(rows)


def _fmt(x: float) -> str:
    return f"{x:g}"


def imrmc_text(df: pd.DataFrame, title: str = "cxrbench reader study (AI vs original report)") -> str:
    """The iMRMC input file (`.imrmc` / `.csv`) for one criterion's reads."""
    scores = modality_scores(df)
    readers = sorted(scores["reader"].unique())
    cases = sorted(scores["case"].unique())
    anchors = [f"_anchor_normal_{k}" for k in range(1, N_ANCHOR_CASES + 1)]
    lines = [
        _safe_id(title).replace("_", " "),
        "Paired preference as two modalities: score AI = (1 + p)/2 and original = (1 - p)/2",
        "All real cases truth 1; anchor cases truth 0 scored 0.5 so that AUC = mean win score",
        f"NR: {len(readers)}",
        f"N0: {len(anchors)}",
        f"N1: {len(cases)}",
        "NM: 2",
        "BEGIN DATA:",
    ]
    lines += [f"truth,{c},truth,0" for c in anchors]
    lines += [f"truth,{neutralise_cell(c)},truth,1" for c in cases]
    body = pd.concat([scores, _anchor_rows(readers)], ignore_index=True)
    body = body.sort_values(["modality", "reader", "case"], kind="stable")
    lines += [
        f"{neutralise_cell(r)},{neutralise_cell(c)},{m},{_fmt(s)}"
        for r, c, m, s in zip(body["reader"], body["case"], body["modality"], body["score"], strict=True)
    ]
    return "\n".join(lines) + "\n"


def mrmcaov_table(df: pd.DataFrame) -> pd.DataFrame:
    """MRMCaov data frame: reader, test, case, truth, rating (one criterion's reads plus the anchors)."""
    scores = modality_scores(df)
    readers = sorted(scores["reader"].unique())
    body = pd.concat([scores, _anchor_rows(readers)], ignore_index=True)
    truth = np.where(body["case"].str.startswith("_anchor_normal_"), 0, 1)
    out = pd.DataFrame(
        {
            "reader": body["reader"],
            "test": body["modality"],
            "case": body["case"],
            "truth": truth,
            "rating": body["score"],
        }
    )
    return out.sort_values(["test", "reader", "case"], kind="stable").reset_index(drop=True)


def parse_imrmc_text(text: str) -> pd.DataFrame:
    """Read back the data rows of an iMRMC file (readerID, caseID, modalityID, score) after `BEGIN DATA:`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().upper().startswith("BEGIN DATA:"))
    rows = [line.split(",") for line in lines[start + 1 :] if line.strip()]
    out = pd.DataFrame(rows, columns=["readerID", "caseID", "modalityID", "score"])
    out["score"] = out["score"].astype(float)
    return out
