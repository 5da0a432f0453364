"""Position bias (is the left report, A, preferred more than chance?) and the blinding check."""

from __future__ import annotations

from typing import Any

import pandas as pd
from scipy import stats


def _binomial_summary(successes: int, trials: int) -> dict[str, Any]:
    """Proportion with an exact (Clopper-Pearson) 95 % CI and the two-sided exact binomial test vs 0.5."""
    if trials == 0:
        return {"proportion": None, "ci95": None, "p_value": None, "n": 0}
    result = stats.binomtest(successes, trials, p=0.5, alternative="two-sided")
    ci = result.proportion_ci(confidence_level=0.95, method="exact")
    return {
        "proportion": successes / trials,
        "ci95": [float(ci.low), float(ci.high)],
        "p_value": float(result.pvalue),
        "n": int(trials),
    }


def position_bias(df: pd.DataFrame) -> dict[str, Any]:
    """Among non-tied choices, how often the left report (A) was picked; exact binomial test vs 0.5.

    Ties ("equal") carry no side and are excluded. Reads are pooled over readers, cases and criteria, so
    the p-value treats them as independent (a screening test, not a mixed model); per-reader counts follow.
    """
    decided = df[df["choice"].isin(["A", "B"])]
    overall = _binomial_summary(int((decided["choice"] == "A").sum()), len(decided))
    per_reader = {
        str(reader): _binomial_summary(int((grp["choice"] == "A").sum()), len(grp))
        for reader, grp in decided.groupby("reader_id")
    }
    return {
        **overall,
        "n_ties_excluded": int((df["choice"] == "equal").sum()),
        "per_reader": per_reader,
        "test": "scipy.stats.binomtest (exact, two-sided, p0 = 0.5); Clopper-Pearson CI",
    }


def blinding_check(df: pd.DataFrame) -> dict[str, Any]:
    """Accuracy of the end-of-study "which report was the AI?" guesses, one guess per reader x case.

    Answers other than "A"/"B" (none, "unsure") are counted as not answered. Accuracy near 0.5 is what
    successful blinding looks like; the exact binomial test is against 0.5.
    """
    per_read = df.drop_duplicates(["reader_id", "case_id"])
    answered = per_read[per_read["blinding_guess_ai_side"].isin(["A", "B"])]
    correct = int((answered["blinding_guess_ai_side"] == answered["ai_side"]).sum())
    out = _binomial_summary(correct, len(answered))
    out["accuracy"] = out.pop("proportion")
    out["n_answered"] = out.pop("n")
    out["n_not_answered"] = int(len(per_read) - len(answered))
    out["per_reader"] = {}
    for reader, grp in answered.groupby("reader_id"):
        summary = _binomial_summary(int((grp["blinding_guess_ai_side"] == grp["ai_side"]).sum()), len(grp))
        out["per_reader"][str(reader)] = {
            "accuracy": summary["proportion"],
            "ci95": summary["ci95"],
            "n": summary["n"],
        }
    out["test"] = "scipy.stats.binomtest (exact, two-sided, p0 = 0.5); Clopper-Pearson CI"
    return out
