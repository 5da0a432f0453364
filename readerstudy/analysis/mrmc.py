"""Multi-reader multi-case inference for a mean-over-cases endpoint (net preference, equal-or-better).

Every reader r reads every case c and gives a case score Y[r, c] (e.g. +1 AI better, 0 equal, -1 AI worse
for net preference; the indicator Y >= 0 for equal-or-better). The per-reader figure of merit is
theta_r = mean_c Y[r, c] and the study endpoint is theta = mean_r theta_r.

Obuchowski-Rockette (OR) model for one modality (Obuchowski & Rockette 1995, Commun Stat Simul Comput
24:285-308; Hillis 2007, Stat Med 26:596-619):  theta_r = mu + R_r + e_r, with reader effects R_r ~ (0, s2_R)
and case-sampling errors e_r that share Var(e_r) = s2_e and Cov(e_r, e_r') = Cov2 (same cases, other reader).
For a mean over cases the jackknife pseudovalues are the case scores themselves, so the DBM analysis
(Dorfman, Berbaum & Metz 1992, Invest Radiol 27:723-731) is the two-way reader x case ANOVA of Y, and
OR and DBM coincide (Hillis, Obuchowski, Schartz & Berbaum 2005, Stat Med 24:1579-1607). With S the
J x J covariance matrix (ddof 1) of reader rows over the n cases:

    s2_e = mean(diag S) / n,    Cov2 = mean(offdiag S) / n    (jackknife = unbiased covariance of means)
    MS(R) = sample variance of theta_r over readers (ddof 1)

Readers fixed, cases random (FRRC): Var(theta | readers) = (1/J^2) sum_{r,r'} S[r, r'] / n, i.e. the
variance of the mean of the per-case reader-averaged scores; CI = theta +- t_{n-1} SE (DBM fixed-reader
df = n - 1; the OR fixed-reader form uses z, which differs by < 1 % at n >= 100).

Readers and cases random (RRRC): Var(theta) = MS(R)/J + Cov2 (unbiased; equals DBM's
[MS_R + MS_C - MS_RC]/(J n)). Following Hillis (2007) and Hillis, Berbaum & Metz (2008, Acad Radiol
15:647-661) for a single modality the estimate uses max(Cov2, 0):

    SE^2 = (MS(R) + J max(Cov2, 0)) / J,    df_H = (MS(R) + J max(Cov2, 0))^2 / (MS(R)^2 / (J - 1))

(the Satterthwaite approximation with Hillis's denominator df), CI = theta +- t_{df_H} SE.

Sensitivity: a two-way bootstrap resampling readers and cases independently (percentile CI). It is known to
over-state the variance by counting the reader x case term more than once (Gallas, Bandos, Samuelson & Wagner
2009, Commun Stat Theory Methods 38:2586-2603), so it is reported as a sensitivity analysis only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci

CI_LEVEL = 0.95


@dataclass(frozen=True)
class MeanEndpointInference:
    """Point estimate, FRRC / RRRC intervals and the variance components behind them."""

    value: float | None
    ci95_frrc: tuple[float, float] | None
    ci95_rrrc: tuple[float, float] | None
    se_frrc: float | None
    se_rrrc: float | None
    df_frrc: float | None
    df_rrrc: float | None
    ms_reader: float | None
    var_case_error: float | None
    cov2: float | None
    n_readers: int
    n_cases: int

    def to_json(self) -> dict[str, Any]:
        return to_jsonable(asdict(self))


def _t_interval(center: float, se: float, df: float) -> tuple[float, float]:
    q = stats.norm.ppf(0.5 + CI_LEVEL / 2) if not math.isfinite(df) else stats.t.ppf(0.5 + CI_LEVEL / 2, df)
    return float(center - q * se), float(center + q * se)


def mean_endpoint_inference(scores: np.ndarray) -> MeanEndpointInference:
    """OR/DBM inference for the reader-averaged mean case score of a complete J x n score matrix.

    FRRC needs n >= 2 cases; RRRC needs J >= 2 readers as well. Undefined parts are None.
    """
    y = np.asarray(scores, dtype=float)
    if y.ndim != 2 or np.isnan(y).any():
        raise ValueError("scores must be a complete readers x cases matrix")
    n_readers, n_cases = y.shape
    if n_readers == 0 or n_cases == 0:
        return MeanEndpointInference(None, None, None, None, None, None, None, None, None, None, 0, 0)
    value = float(y.mean())
    if n_cases < 2:
        return MeanEndpointInference(
            value, None, None, None, None, None, None, None, None, None, n_readers, n_cases
        )
    cov = np.atleast_2d(np.cov(y, ddof=1))
    var_frrc = max(float(cov.sum()) / (n_readers**2 * n_cases), 0.0)
    se_frrc = math.sqrt(var_frrc)
    df_frrc = float(n_cases - 1)
    ci_frrc = _t_interval(value, se_frrc, df_frrc)
    var_case_error = float(np.mean(np.diag(cov))) / n_cases
    if n_readers < 2:
        return MeanEndpointInference(
            value, ci_frrc, None, se_frrc, None, df_frrc, None, None, var_case_error, None, n_readers, n_cases
        )
    off_diag = cov[~np.eye(n_readers, dtype=bool)]
    cov2 = float(off_diag.mean()) / n_cases
    ms_reader = float(np.var(y.mean(axis=1), ddof=1))
    numerator = ms_reader + n_readers * max(cov2, 0.0)
    se_rrrc = math.sqrt(numerator / n_readers)
    df_rrrc = numerator**2 / (ms_reader**2 / (n_readers - 1)) if ms_reader > 0 else math.inf
    ci_rrrc = _t_interval(value, se_rrrc, df_rrrc)
    return MeanEndpointInference(
        value=value,
        ci95_frrc=ci_frrc,
        ci95_rrrc=ci_rrrc,
        se_frrc=se_frrc,
        se_rrrc=se_rrrc,
        df_frrc=df_frrc,
        df_rrrc=df_rrrc,
        ms_reader=ms_reader,
        var_case_error=var_case_error,
        cov2=cov2,
        n_readers=n_readers,
        n_cases=n_cases,
    )


def dbm_mean_squares(scores: np.ndarray) -> dict[str, float]:
    """Two-way reader x case ANOVA mean squares of the score matrix (the DBM pseudovalue ANOVA)."""
    y = np.asarray(scores, dtype=float)
    n_readers, n_cases = y.shape
    grand = y.mean()
    reader_means = y.mean(axis=1, keepdims=True)
    case_means = y.mean(axis=0, keepdims=True)
    resid = y - reader_means - case_means + grand
    return {
        "ms_reader": float(n_cases * ((reader_means - grand) ** 2).sum() / (n_readers - 1)),
        "ms_case": float(n_readers * ((case_means - grand) ** 2).sum() / (n_cases - 1)),
        "ms_reader_case": float((resid**2).sum() / ((n_readers - 1) * (n_cases - 1))),
    }


def two_way_bootstrap_replicates(scores: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Endpoint recomputed on readers and cases resampled independently with replacement.

    Cases use the shared `bootstrap_counts(n_cases, n_boot, seed)` draws (same resamples as every other task
    for one seed); readers use `bootstrap_counts(n_readers, n_boot, seed + 1)`.
    """
    y = np.asarray(scores, dtype=float)
    n_readers, n_cases = y.shape
    case_w = bootstrap_counts(n_cases, n_boot, seed).astype(float)
    reader_w = bootstrap_counts(n_readers, n_boot, seed + 1).astype(float)
    weighted = np.einsum("br,rc->bc", reader_w, y)
    return np.einsum("bc,bc->b", weighted, case_w) / (n_readers * n_cases)


def endpoint_summary(scores: np.ndarray, n_boot: int, seed: int) -> dict[str, Any]:
    """JSON block for one endpoint: value, FRRC / RRRC / bootstrap CIs, SEs, df and variance components."""
    inference = mean_endpoint_inference(scores)
    out = inference.to_json()
    out["ci95_bootstrap"] = None
    y = np.asarray(scores, dtype=float)
    if n_boot > 0 and y.size and y.shape[1] >= 2:
        ci = percentile_ci(two_way_bootstrap_replicates(y, n_boot, seed), CI_LEVEL)
        out["ci95_bootstrap"] = None if ci is None else [ci[0], ci[1]]
    return out


def single_reader_interval(reader_scores: np.ndarray) -> dict[str, Any]:
    """One reader's mean score with a cases-random t interval (theta_r +- t_{n-1} sd / sqrt(n))."""
    y = np.asarray(reader_scores, dtype=float)
    y = y[~np.isnan(y)]
    if y.size == 0:
        return {"value": None, "ci95": None, "n_cases": 0}
    value = float(y.mean())
    if y.size < 2:
        return {"value": value, "ci95": None, "n_cases": int(y.size)}
    se = float(np.std(y, ddof=1)) / math.sqrt(y.size)
    lo, hi = _t_interval(value, se, float(y.size - 1))
    return {"value": value, "ci95": [lo, hi], "n_cases": int(y.size)}


def non_inferiority(inference: MeanEndpointInference, margin: float) -> dict[str, Any]:
    """Non-inferiority of AI vs original: lower RRRC 95 % bound of net preference above -margin.

    The lower bound of a two-sided 95 % CI is the one-sided alpha = 0.025 test. The one-sided p-value tests
    H0: theta <= -margin with the same t reference (Hillis df). Falls back to FRRC when RRRC is undefined.
    """
    delta = abs(float(margin))
    basis, ci, se, df = "rrrc", inference.ci95_rrrc, inference.se_rrrc, inference.df_rrrc
    if ci is None:
        basis, ci, se, df = "frrc", inference.ci95_frrc, inference.se_frrc, inference.df_frrc
    if ci is None or inference.value is None or se is None or df is None:
        return {"non_inferior": None, "basis": None, "p_value_one_sided": None, "margin": delta}
    if se > 0:
        t_stat = (inference.value + delta) / se
        p = float(stats.norm.sf(t_stat) if not math.isfinite(df) else stats.t.sf(t_stat, df))
    else:
        p = 0.0 if inference.value > -delta else 1.0
    return {"non_inferior": bool(ci[0] > -delta), "basis": basis, "p_value_one_sided": p, "margin": delta}


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
