"""AUC with its variance for clustered data: Obuchowski's nonparametric method.

Several images of one patient (or study) are correlated, so the image is not an independent unit.
Obuchowski (1997) keeps the usual Mann-Whitney AUC over all (positive unit, negative unit) pairs,
whatever their clusters, and estimates its variance from *cluster-level* sums of DeLong's structural
components, so that the cluster, not the image, is the sampling unit. A cluster may hold positives,
negatives or both.

Notation (units j of cluster i; I clusters; m_i positives and n_i negatives in cluster i;
M = sum m_i, N = sum n_i; I10 / I01 = number of clusters holding at least one positive / negative)::

    psi(x, y)  = 1 if x > y, 1/2 if x == y, 0 otherwise        (x positive score, y negative score)
    theta      = (1 / (M N)) sum_{positive x} sum_{negative y} psi(x, y)
    V10(x)     = (1 / N) sum_{negative y} psi(x, y)              (per positive unit, DeLong's V10)
    V01(y)     = (1 / M) sum_{positive x} psi(x, y)              (per negative unit, DeLong's V01)
    V10_i      = sum of V10 over the positives of cluster i      (0 where m_i = 0)
    V01_i      = sum of V01 over the negatives of cluster i      (0 where n_i = 0)
    S10        = I10 / ((I10 - 1) M) * sum_i (V10_i - m_i theta)^2
    S01        = I01 / ((I01 - 1) N) * sum_i (V01_i - n_i theta)^2
    S11        = I   / (I - 1)       * sum_i (V10_i - m_i theta) (V01_i - n_i theta)
    var(theta) = S10 / M + S01 / N + 2 S11 / (M N)

For two scores r, s of the same units (two models / readers) the cross terms S10^{rs}, S01^{rs} use
(V10_i^r - m_i theta^r)(V10_i^s - m_i theta^s) etc., S11^{rs} pairs r's V10 residual with s's V01
residual, and::

    cov(theta^r, theta^s) = S10^{rs} / M + S01^{rs} / N + (S11^{rs} + S11^{sr}) / (M N)
    var(theta^r - theta^s) = var^r + var^s - 2 cov^{rs}     (z = diff / sqrt(var), two-sided normal p)

Reduction to DeLong. When every cluster holds one unit, a positive cluster has m_i = 1, n_i = 0 and a
negative one m_i = 0, n_i = 1, so I10 = M, I01 = N, I = M + N, and:
  * S10 = M / ((M - 1) M) * sum_pos (V10_j - theta)^2 = sum_pos (V10_j - theta)^2 / (M - 1): exactly the
    ddof = 1 sample (co)variance of the V10 that the fast DeLong code in `significance.py` uses (the mean
    of the V10 is theta); likewise S01 with 1 / (N - 1);
  * every product (V10_i - m_i theta)(V01_i - n_i theta) has one factor exactly 0, so S11 = 0.
Hence var = s10 / M + s01 / N, DeLong's estimator as implemented there, with no finite-sample factor
left over: the I10 / (I10 - 1) factor of the published formula, together with its 1 / M, *is* the
1 / (M - 1) of the sample variance (the I / (I - 1) factor multiplies a zero sum). The tests check the
equality to 1e-12 (variance, CI, paired z and p). Duplicating every unit k times inside its own cluster
multiplies every residual by k and M, N by k, which leaves theta and the variance exactly unchanged.

Computation: the V10 / V01 of all units come from two `searchsorted` calls on the sorted scores of the
other class (counts of strictly smaller / not larger scores give psi with ties = 1/2), the cluster sums
from `bincount`: O(n log n) per score vector, no pair loops.

Sources (read to understand the method; this code is written from the formulas above):
  * N. A. Obuchowski, "Nonparametric analysis of clustered ROC curve data", Biometrics 53:567-578 (1997).
  * Cleveland Clinic QHS `funcs_clusteredROC.R` / `clusteredROC()` (Obuchowski's group) as adapted in
    `doAUCcluster.R` of the FDA/DIDSR `mitoticFigureCounts` R package (github.com/DIDSR/mitoticFigureCounts,
    CC0), and its `inst/extra/docs/clusteredROC_help.pdf`, which reproduces the footer of Table 3 of the
    1997 paper (MRA example: I = 36, I10 = 23, I01 = 27, M = 29, N = 36) with these formulas.
  * Worked example with public data and outputs used in the tests: the same package's
    `dfClassify20180627` data and the `aucMRMCcluster` reader-by-modality covariance matrix that
    `doAUCcluster` computed from it (clusters = whole-slide images).
  * E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, Biometrics 44:837-845 (1988); X. Sun, W. Xu,
    IEEE Signal Process. Lett. 21:1389-1393 (2014) for the size-1 case (`significance.py`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.metrics.significance import normal_quantile, normal_two_sided_p

_Z95 = normal_quantile(0.975)


@dataclass(frozen=True)
class ClusteredAUC:
    auc: float
    variance: float  # NaN with fewer than 2 clusters holding a positive, or 2 holding a negative
    se: float  # sqrt(max(variance, 0)); NaN when the variance is NaN
    n_clusters: int  # clusters holding at least one labelled case (I)
    n_pos: int  # positive cases (M)
    n_neg: int  # negative cases (N)
    n_pos_clusters: int  # clusters holding a positive (I10)
    n_neg_clusters: int  # clusters holding a negative (I01)
    ci95: tuple[float, float] | None  # normal approximation clipped to [0, 1]; None when variance is NaN


@dataclass(frozen=True)
class PairedResult:
    auc_a: float
    auc_b: float
    diff: float  # auc_a - auc_b
    variance: float  # variance of the difference
    se: float
    z: float
    p: float  # two-sided normal p-value
    ci95: tuple[float, float] | None  # diff +- 1.96 se, clipped to [-1, 1]
    var_a: float
    var_b: float
    covariance: float
    n_clusters: int
    n_pos: int
    n_neg: int


# ---------------------------------------------------------------------------------------------------
# input handling


def _labels(y_true: Any, name: str = "y_true") -> np.ndarray:
    try:
        y = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric 0/1 (NaN = unknown): {exc}") from None
    known = ~np.isnan(y)
    bad = known & (y != 0.0) & (y != 1.0)
    if bad.any():
        raise ValueError(
            f"{name} must contain only 0, 1 or NaN (unknown); found {np.unique(y[bad])[:5].tolist()}"
        )
    return y


def _scores(y_score: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None


def _cluster_codes(clusters: Any, n: int) -> np.ndarray:
    """Integer codes 0..I-1 for any hashable cluster ids (strings, ints, tuples, ...)."""
    if isinstance(clusters, np.ndarray) and clusters.ndim == 1:
        values: Any = clusters
    elif isinstance(clusters, np.ndarray):
        raise ValueError(f"clusters must be one-dimensional, got shape {clusters.shape}")
    else:
        seq: Sequence[Hashable] = list(clusters)
        values = np.empty(len(seq), dtype=object)
        for i, c in enumerate(seq):
            values[i] = c
    if len(values) != n:
        raise ValueError(f"clusters has {len(values)} entries but y_true has {n} cases")
    # Codes in order of first appearance, as pandas.factorize gives them (without importing pandas).
    numbers: dict[Hashable, int] = {}
    codes = np.empty(len(values), dtype=np.intp)
    missing = 0
    try:
        for i, value in enumerate(values.tolist()):
            if value is None or (isinstance(value, float) and value != value):
                missing += 1
                codes[i] = -1
            else:
                codes[i] = numbers.setdefault(value, len(numbers))
    except TypeError as exc:
        raise ValueError(f"cluster ids must be hashable: {exc}") from None
    if missing:
        raise ValueError(f"clusters contains {missing} missing id(s) (None/NaN)")
    return codes


def _check_len(n: int, arr: np.ndarray, name: str) -> None:
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries but y_true has {n} cases")


# ---------------------------------------------------------------------------------------------------
# core


@dataclass(frozen=True)
class _Components:
    auc: np.ndarray  # (k,)
    res10: np.ndarray  # (k, I) V10_i - m_i theta
    res01: np.ndarray  # (k, I) V01_i - n_i theta
    m: int
    n: int
    i_all: int
    i10: int
    i01: int


def _components(pos: np.ndarray, scores: np.ndarray, codes: np.ndarray, n_codes: int) -> _Components:
    """Cluster-level structural components of k score rows ((k, n) array) on labelled cases."""
    pos_codes, neg_codes = codes[pos], codes[~pos]
    m_i = np.bincount(pos_codes, minlength=n_codes)
    n_i = np.bincount(neg_codes, minlength=n_codes)
    m, n = int(pos_codes.size), int(neg_codes.size)
    k = scores.shape[0]
    auc = np.empty(k)
    res10, res01 = np.empty((k, n_codes)), np.empty((k, n_codes))
    for r in range(k):
        s_pos, s_neg = scores[r, pos], scores[r, ~pos]
        neg_sorted, pos_sorted = np.sort(s_neg), np.sort(s_pos)
        # 2 N V10(x) = #{y < x} + #{y <= x};  2 M V01(y) = #{x > y} + #{x >= y}  (integers, exact)
        twice10 = np.searchsorted(neg_sorted, s_pos, "left") + np.searchsorted(neg_sorted, s_pos, "right")
        twice01 = (
            2 * m - np.searchsorted(pos_sorted, s_neg, "left") - np.searchsorted(pos_sorted, s_neg, "right")
        )
        theta = float(twice10.sum()) / (2.0 * m * n)
        auc[r] = theta
        v10_i = np.bincount(pos_codes, weights=twice10, minlength=n_codes) / (2.0 * n)
        v01_i = np.bincount(neg_codes, weights=twice01, minlength=n_codes) / (2.0 * m)
        res10[r] = v10_i - m_i * theta
        res01[r] = v01_i - n_i * theta
    return _Components(
        auc=auc,
        res10=res10,
        res01=res01,
        m=m,
        n=n,
        i_all=int(np.count_nonzero(m_i + n_i)),
        i10=int(np.count_nonzero(m_i)),
        i01=int(np.count_nonzero(n_i)),
    )


def _quad(c: _Components, a10: np.ndarray, a01: np.ndarray, b10: np.ndarray, b01: np.ndarray) -> float:
    """Obuchowski covariance S10/M + S01/N + (S11^ab + S11^ba)/(MN) of residual vectors a and b."""
    if c.i10 < 2 or c.i01 < 2:
        return float("nan")
    m, n = c.m, c.n
    s10 = c.i10 / ((c.i10 - 1) * m) * float(a10 @ b10)
    s01 = c.i01 / ((c.i01 - 1) * n) * float(a01 @ b01)
    f11 = c.i_all / (c.i_all - 1)
    s11_ab, s11_ba = f11 * float(a10 @ b01), f11 * float(b10 @ a01)
    return s10 / m + s01 / n + (s11_ab + s11_ba) / (m * n)


def _result(c: _Components, r: int = 0) -> ClusteredAUC:
    auc = float(c.auc[r])
    var = _quad(c, c.res10[r], c.res01[r], c.res10[r], c.res01[r])
    if np.isfinite(var):
        se = float(np.sqrt(max(var, 0.0)))
        half = _Z95 * se
        ci: tuple[float, float] | None = (max(0.0, auc - half), min(1.0, auc + half))
    else:
        se, ci = float("nan"), None
    return ClusteredAUC(auc, var, se, c.i_all, c.m, c.n, c.i10, c.i01, ci)


def _prepare(y_true: Any, score_rows: list[tuple[Any, str]], clusters: Any):
    y = _labels(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be one-dimensional, got shape {y.shape}")
    n_cases = y.shape[0]
    rows = []
    for raw, name in score_rows:
        s = _scores(raw, name)
        _check_len(n_cases, s, name)
        rows.append(s)
    codes = _cluster_codes(clusters, n_cases)
    known = ~np.isnan(y)
    scores = np.vstack(rows)[:, known]
    for s, (_, name) in zip(scores, score_rows, strict=True):
        if np.isnan(s).any():
            raise ValueError(f"{name} has {int(np.isnan(s).sum())} NaN score(s) among labelled cases")
    pos = y[known] == 1.0
    if pos.all() or not pos.any():
        raise ValueError("AUC needs both classes in y_true (after dropping unknown/NaN labels)")
    kept = codes[known]
    return pos, scores, kept, int(codes.max()) + 1 if codes.size else 0


# ---------------------------------------------------------------------------------------------------
# public API


def clustered_auc(y_true: Any, y_score: Any, clusters: Any) -> ClusteredAUC:
    """AUC with Obuchowski's (1997) clustered variance and 95 % normal CI (clipped to [0, 1]).

    y_true: 0/1 with NaN for unknown (dropped); y_score: finite-or-inf scores (NaN rejected on labelled
    cases); clusters: one hashable id per case. Ties count 1/2. With every cluster of size 1 the
    variance is DeLong's (see the module docstring).
    """
    pos, scores, codes, n_codes = _prepare(y_true, [(y_score, "y_score")], clusters)
    return _result(_components(pos, scores, codes, n_codes))


def clustered_auc_paired(y_true: Any, score_a: Any, score_b: Any, clusters: Any) -> PairedResult:
    """Paired test of AUC(a) == AUC(b) on the same cases with Obuchowski's clustered covariance.

    Zero variance of the difference: identical AUCs give z = 0, p = 1, otherwise z and p are NaN (as
    `significance.delong_paired_test`). Fewer than 2 positive or negative clusters: NaN.
    """
    pos, scores, codes, n_codes = _prepare(y_true, [(score_a, "score_a"), (score_b, "score_b")], clusters)
    c = _components(pos, scores, codes, n_codes)
    auc_a, auc_b = float(c.auc[0]), float(c.auc[1])
    diff = auc_a - auc_b
    var_a = _quad(c, c.res10[0], c.res01[0], c.res10[0], c.res01[0])
    var_b = _quad(c, c.res10[1], c.res01[1], c.res10[1], c.res01[1])
    cov = _quad(c, c.res10[0], c.res01[0], c.res10[1], c.res01[1])
    d10, d01 = c.res10[0] - c.res10[1], c.res01[0] - c.res01[1]
    var_d = _quad(c, d10, d01, d10, d01)  # = var_a + var_b - 2 cov, without the cancellation
    nan = float("nan")
    z, p, se, ci = nan, nan, nan, None
    if np.isfinite(var_d):
        se = float(np.sqrt(max(var_d, 0.0)))
        ci = (max(-1.0, diff - _Z95 * se), min(1.0, diff + _Z95 * se))
        if var_d <= 1e-15 * max(1.0, var_a + var_b):
            if abs(diff) <= 1e-15:
                z, p = 0.0, 1.0
        else:
            z = diff / np.sqrt(var_d)
            p = normal_two_sided_p(float(z))
            z = float(z)
    return PairedResult(auc_a, auc_b, diff, var_d, se, z, p, ci, var_a, var_b, cov, c.i_all, c.m, c.n)


def clustered_auc_labels(y_true: Any, y_score: Any, clusters: Any) -> list[ClusteredAUC | None]:
    """Per-label `clustered_auc` for (n, k) labels (NaN = unknown) and scores; None where a label lacks
    a class among its labelled cases. The clusters are coded once for all labels."""
    y = _labels(y_true)
    s = _scores(y_score, "y_score")
    if y.ndim != 2:
        raise ValueError(f"y_true must be (n, k), got shape {y.shape}")
    if s.shape != y.shape:
        raise ValueError(f"y_score has shape {s.shape} but y_true has shape {y.shape}")
    codes = _cluster_codes(clusters, y.shape[0])
    n_codes = int(codes.max()) + 1 if codes.size else 0
    out: list[ClusteredAUC | None] = []
    for j in range(y.shape[1]):
        known = ~np.isnan(y[:, j])
        col = s[known, j]
        if np.isnan(col).any():
            raise ValueError(
                f"y_score column {j} has {int(np.isnan(col).sum())} NaN score(s) among labelled cases"
            )
        pos = y[known, j] == 1.0
        if pos.all() or not pos.any():
            out.append(None)
            continue
        out.append(_result(_components(pos, col[None, :], codes[known], n_codes)))
    return out
