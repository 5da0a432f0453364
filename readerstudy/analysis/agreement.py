"""Inter-reader agreement on the AI-relative preference (-1 worse, 0 equal, +1 better) and on Likert scores.

Inputs are readers x cases float matrices with NaN for a missing read. Agreement is computed on the
AI-relative scale, never on the raw A/B choice, because the AI side is randomised per reader.

Own implementations (each checked in the tests against a reference package or a published example):
- Fleiss' kappa (Fleiss 1971, Psychol Bull 76:378-382), generalised to unequal raters per case as in
  Gwet (2014, Handbook of Inter-Rater Reliability, 4th ed., ch. 2); equals statsmodels' fleiss_kappa on
  complete data.
- Gwet's AC1 (Gwet 2008, Br J Math Stat Psychol 61:29-48), same generalisation:
  p_a = mean over cases with >= 2 ratings of sum_k r_ik (r_ik - 1) / (r_i (r_i - 1)),
  pi_k = mean over cases of r_ik / r_i, p_e = sum_k pi_k (1 - pi_k) / (q - 1), AC1 = (p_a - p_e)/(1 - p_e).
- Kendall's W with tie correction (Kendall & Babington Smith 1939), W = chi2_Friedman / (m (n - 1)).
Reference packages used directly: krippendorff (alpha, ordinal metric), scikit-learn (pairwise linearly
weighted Cohen's kappa), pingouin (ICC).
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

# The levels of measurement krippendorff.alpha accepts by name.
KrippendorffLevel = Literal["nominal", "ordinal", "interval", "ratio"]


def package_label(dist: str) -> str:
    """'name version' of an installed distribution, for the provenance next to each agreement figure."""
    try:
        return f"{dist} {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{dist} (not installed)"


OWN = "cxrbench readerstudy.analysis (own implementation)"


def category_counts(ratings: np.ndarray, categories: list[float]) -> np.ndarray:
    """cases x categories table of how many readers gave each category (NaN ratings ignored)."""
    y = np.asarray(ratings, dtype=float)
    return np.stack([(y == k).sum(axis=0) for k in categories], axis=1).astype(float)


def fleiss_kappa_counts(table: np.ndarray) -> float | None:
    """Fleiss' kappa from a cases x categories count table (Gwet 2014 form for unequal raters per case:
    p_a over cases with >= 2 ratings, category shares pi_k over all rated cases, p_e = sum_k pi_k^2)."""
    counts = np.asarray(table, dtype=float)
    r_i = counts.sum(axis=1)
    rated, multi = r_i >= 1, r_i >= 2
    if not multi.any():
        return None
    p_a = float(np.mean((counts[multi] * (counts[multi] - 1)).sum(axis=1) / (r_i[multi] * (r_i[multi] - 1))))
    pi = (counts[rated] / r_i[rated][:, None]).mean(axis=0)
    p_e = float((pi**2).sum())
    return None if p_e >= 1 else (p_a - p_e) / (1 - p_e)


def gwet_ac1_counts(table: np.ndarray) -> dict[str, float | None]:
    """Gwet's AC1 (unweighted) from a cases x categories count table, with p_a and p_e."""
    counts = np.asarray(table, dtype=float)
    q = counts.shape[1]
    r_i = counts.sum(axis=1)
    rated = r_i >= 1
    multi = r_i >= 2
    if q < 2 or not multi.any():
        return {"value": None, "p_a": None, "p_e": None}
    p_a = float(np.mean((counts[multi] * (counts[multi] - 1)).sum(axis=1) / (r_i[multi] * (r_i[multi] - 1))))
    pi = (counts[rated] / r_i[rated][:, None]).mean(axis=0)
    p_e = float((pi * (1 - pi)).sum() / (q - 1))
    value = None if p_e >= 1 else (p_a - p_e) / (1 - p_e)
    return {"value": value, "p_a": p_a, "p_e": p_e}


def percent_agreement(ratings: np.ndarray, categories: list[float]) -> dict[str, Any]:
    """Raw agreement: mean pairwise agreement, share of cases where all readers agree, and the marginals."""
    y = np.asarray(ratings, dtype=float)
    table = category_counts(y, categories)
    r_i = table.sum(axis=1)
    multi = r_i >= 2
    pairwise = (
        float(np.mean((table[multi] * (table[multi] - 1)).sum(axis=1) / (r_i[multi] * (r_i[multi] - 1))))
        if multi.any()
        else None
    )
    unanimous = float(np.mean(table[multi].max(axis=1) == r_i[multi])) if multi.any() else None
    total = table.sum()
    marginals = {
        _label(k): (float(table[:, i].sum() / total) if total else None) for i, k in enumerate(categories)
    }
    return {
        "pairwise": pairwise,
        "all_readers_agree": unanimous,
        "marginals": marginals,
        "n_cases": int(multi.sum()),
    }


def reader_marginals(ratings: np.ndarray, readers: list[str], categories: list[float]) -> dict[str, dict]:
    """Per reader, the share of reads in each category (each reader's own marginal distribution)."""
    y = np.asarray(ratings, dtype=float)
    out = {}
    for j, reader in enumerate(readers):
        row = y[j][~np.isnan(y[j])]
        out[reader] = {_label(k): (float(np.mean(row == k)) if row.size else None) for k in categories}
    return out


def krippendorff_alpha(ratings: np.ndarray, level: KrippendorffLevel = "ordinal") -> float | None:
    """Krippendorff's alpha via the krippendorff package (readers x cases, NaN = missing)."""
    import krippendorff

    y = np.asarray(ratings, dtype=float)
    if np.sum(np.sum(~np.isnan(y), axis=0) >= 2) == 0 or np.unique(y[~np.isnan(y)]).size < 2:
        return None
    return float(krippendorff.alpha(reliability_data=y, level_of_measurement=level))


def pairwise_weighted_kappa(ratings: np.ndarray, readers: list[str], labels: list[float]) -> list[dict]:
    """sklearn cohen_kappa_score(weights="linear") for every reader pair, over the cases both read."""
    from sklearn.metrics import cohen_kappa_score

    y = np.asarray(ratings, dtype=float)
    out = []
    for a, b in itertools.combinations(range(len(readers)), 2):
        both = ~np.isnan(y[a]) & ~np.isnan(y[b])
        value = None
        if both.sum() >= 2:
            with warnings.catch_warnings():  # undefined kappa (one shared label) is returned as NaN -> None
                warnings.simplefilter("ignore")
                kappa = cohen_kappa_score(y[a, both], y[b, both], labels=labels, weights="linear")
            value = float(kappa) if math.isfinite(kappa) else None
        out.append(
            {"reader_a": readers[a], "reader_b": readers[b], "value": value, "n_cases": int(both.sum())}
        )
    return out


def kendall_w(ratings: np.ndarray) -> dict[str, float | None]:
    """Kendall's W (tie-corrected) for m readers ranking n cases; complete matrix required.

    W = 12 S / (m^2 (n^3 - n) - m sum T), S = sum_i (R_i - mean R)^2 over the case rank sums R_i,
    T = sum over tie groups of (t^3 - t) within each reader. Equivalently W = chi2_F / (m (n - 1)) with
    the tie-corrected Friedman statistic; p-value from that chi-square with n - 1 df.
    """
    y = np.asarray(ratings, dtype=float)
    if np.isnan(y).any() or y.ndim != 2 or y.shape[0] < 2 or y.shape[1] < 2:
        return {"value": None, "chi2": None, "p_value": None}
    m, n = y.shape
    ranks = np.apply_along_axis(stats.rankdata, 1, y)
    rank_sums = ranks.sum(axis=0)
    s = float(((rank_sums - rank_sums.mean()) ** 2).sum())
    ties = 0.0
    for row in y:
        _, t = np.unique(row, return_counts=True)
        ties += float((t**3 - t).sum())
    denom = m**2 * (n**3 - n) - m * ties
    if denom <= 0:
        return {"value": None, "chi2": None, "p_value": None}
    w = 12 * s / denom
    chi2 = m * (n - 1) * w
    return {"value": float(w), "chi2": float(chi2), "p_value": float(stats.chi2.sf(chi2, n - 1))}


def icc_likert(ratings: np.ndarray, readers: list[str], cases: list[str]) -> dict[str, Any] | None:
    """pingouin intraclass_corr on complete Likert data; reports ICC2 (two-way random, absolute agreement,
    single reader) and ICC2k (mean of k readers), with 95 % CIs, following Shrout & Fleiss (1979)."""
    import pingouin as pg

    y = np.asarray(ratings, dtype=float)
    complete = ~np.isnan(y).any(axis=0)
    y = y[:, complete]
    if y.shape[0] < 2 or y.shape[1] < 3 or np.nanstd(y) == 0:
        return None
    kept_cases = [c for c, keep in zip(cases, complete, strict=True) if keep]
    long = pd.DataFrame(
        {
            "case": np.tile(kept_cases, y.shape[0]),
            "reader": np.repeat(readers, y.shape[1]),
            "score": y.ravel(),
        }
    )
    with warnings.catch_warnings():  # pingouin's own pandas deprecation notices
        warnings.simplefilter("ignore")
        table = pg.intraclass_corr(data=long, targets="case", raters="reader", ratings="score").set_index(
            "Type"
        )
    out: dict[str, Any] = {"n_cases": int(y.shape[1]), "n_readers": int(y.shape[0])}
    # pingouin >= 0.7 names the forms after McGraw & Wong (1996); older releases use Shrout & Fleiss names.
    names = {"ICC2": ("ICC(A,1)", "ICC2"), "ICC2k": ("ICC(A,k)", "ICC2k"), "ICC3": ("ICC(C,1)", "ICC3")}
    for kind, aliases in names.items():
        row = table.loc[next(a for a in aliases if a in table.index)]
        ci = row.get("CI95", row.get("CI95%"))
        out[kind] = {"value": float(row["ICC"]), "ci95": None if ci is None else [float(v) for v in ci]}
    return out


def agreement_block(ratings: np.ndarray, readers: list[str], categories: list[float]) -> dict[str, Any]:
    """All categorical agreement statistics for one criterion, each with its package and weighting."""
    y = np.asarray(ratings, dtype=float)
    table = category_counts(y, categories)
    ac1 = gwet_ac1_counts(table)
    return {
        "fleiss_kappa": {
            "value": fleiss_kappa_counts(table),
            "package": f"{OWN}; equals statsmodels fleiss_kappa ({package_label('statsmodels')}) on complete data",
            "weighting": "unweighted (nominal)",
        },
        "krippendorff_alpha_ordinal": {
            "value": krippendorff_alpha(y, "ordinal"),
            "package": package_label("krippendorff"),
            "weighting": "ordinal metric",
        },
        "gwet_ac1": {**ac1, "package": OWN, "weighting": "unweighted (nominal)"},
        "percent_agreement": {
            **percent_agreement(y, categories),
            "package": OWN,
            "weighting": "exact category match",
        },
        "pairwise_weighted_kappa": {
            "pairs": pairwise_weighted_kappa(y, readers, categories),
            "package": package_label("scikit-learn"),
            "weighting": "linear (cohen_kappa_score weights='linear')",
        },
        "marginals": reader_marginals(y, readers, categories),
        "kendall_w": {
            **kendall_w(y),
            "package": f"{OWN}; W = tie-corrected Friedman chi2 / (m (n - 1)), ranks by {package_label('scipy')}",
            "weighting": "ranks with ties averaged",
        },
    }


def _label(k: float) -> str:
    return str(int(k)) if float(k).is_integer() else str(k)
