"""Significance tools: DeLong AUC variance / paired test, generic paired bootstrap and approximate
randomization for any corpus metric (cases or whole clusters resampled / swapped), and Holm's step-down correction."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np

from bench.metrics.bootstrap import bootstrap_indices, percentile_ci

MetricFn = Callable[[Any, Any], float]

# Relative slack when comparing permuted and observed differences, so that float summation-order noise
# does not turn an exact tie (|diff_perm| == |diff_obs|) into a miss.
_TIE_RTOL = 1e-12


def normal_quantile(p: float) -> float:
    """Standard normal quantile (scipy.stats.norm.ppf within 1e-15), from the standard library: scipy.special
    would add about 45 ms of imports to every `cxrbench score`."""
    return NormalDist().inv_cdf(p)


def normal_two_sided_p(z: float) -> float:
    """Two-sided normal p-value 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2) (scipy.stats.norm.sf within 1e-13 relative)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


class DelongResult(NamedTuple):
    auc: float
    variance: float  # NaN when fewer than 2 positives or 2 negatives
    ci: tuple[float, float] | None  # normal-approximation interval clipped to [0, 1]


def _midranks_in_order(sorted_values: np.ndarray) -> np.ndarray:
    """1-based average ranks (ties share their mean rank) of an already sorted vector."""
    is_start = np.empty(sorted_values.size, dtype=bool)
    is_start[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start)
    ends = np.append(starts[1:], sorted_values.size)
    return ((starts + ends + 1) / 2.0)[np.cumsum(is_start) - 1]


def _structural_components(
    y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fast DeLong (Sun & Xu 2014) for k score vectors ((k, n) array).

    Returns per-score AUC (k,), V10 (k, n_pos) and V01 (k, n_neg) from midranks (one sort per score
    vector; the within-class orders are sub-sequences of it) instead of n_pos*n_neg comparisons.
    """
    pos = y_true == 1.0
    m, n = int(pos.sum()), int((~pos).sum())
    within_class = np.cumsum(pos) - 1, np.cumsum(~pos) - 1  # case index -> index among its class
    auc = np.empty(scores.shape[0])
    v10, v01 = np.empty((scores.shape[0], m)), np.empty((scores.shape[0], n))
    for r, s in enumerate(scores):
        order = np.argsort(s, kind="stable")
        all_ranks = np.empty(s.size)
        all_ranks[order] = _midranks_in_order(s[order])
        pos_order, neg_order = order[pos[order]], order[~pos[order]]
        pos_ranks, neg_ranks = np.empty(m), np.empty(n)
        pos_ranks[within_class[0][pos_order]] = _midranks_in_order(s[pos_order])
        neg_ranks[within_class[1][neg_order]] = _midranks_in_order(s[neg_order])
        v10[r] = (all_ranks[pos] - pos_ranks) / n
        v01[r] = 1.0 - (all_ranks[~pos] - neg_ranks) / m
        auc[r] = (all_ranks[pos].sum() - m * (m + 1) / 2.0) / (m * n)
    return auc, v10, v01


def _sample_cov(v: np.ndarray) -> np.ndarray:
    """(k, k) covariance (ddof = 1) of the k rows of v."""
    centered = v - v.mean(axis=1, keepdims=True)
    return np.einsum("im,jm->ij", centered, centered) / (v.shape[1] - 1)


def _delong_covariance(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k,) AUCs and their (k, k) DeLong covariance; NaN covariance with < 2 positives or negatives."""
    auc, v10, v01 = _structural_components(y_true, scores)
    m, n = v10.shape[1], v01.shape[1]
    k = scores.shape[0]
    if m < 2 or n < 2:
        return auc, np.full((k, k), np.nan)
    return auc, _sample_cov(v10) / m + _sample_cov(v01) / n


def _check_binary(y_true: np.ndarray) -> None:
    if not np.all((y_true == 0.0) | (y_true == 1.0)):
        raise ValueError("y_true must contain only 0 and 1 (drop unknown cases first)")
    if y_true.all() or not y_true.any():
        raise ValueError("AUC needs both classes in y_true")


def delong_auc_ci(y_true_1d: np.ndarray, score_1d: np.ndarray, level: float = 0.95) -> DelongResult:
    """AUC with its DeLong variance and normal-approximation CI (clipped to [0, 1])."""
    y = np.asarray(y_true_1d, dtype=np.float64)
    s = np.asarray(score_1d, dtype=np.float64)
    _check_binary(y)
    auc, cov = _delong_covariance(y, s[None, :])
    variance = float(cov[0, 0])
    if not np.isfinite(variance):
        return DelongResult(float(auc[0]), variance, None)
    half = normal_quantile(0.5 + level / 2.0) * np.sqrt(max(variance, 0.0))
    lo, hi = max(0.0, auc[0] - half), min(1.0, auc[0] + half)
    return DelongResult(float(auc[0]), variance, (float(lo), float(hi)))


def delong_paired_test(
    y_true_1d: np.ndarray, score_a: np.ndarray, score_b: np.ndarray
) -> tuple[float, float, float, float, float]:
    """DeLong test of AUC(a) == AUC(b) on the same cases: (auc_a, auc_b, auc_a - auc_b, z, two-sided p).

    When the difference has zero variance: identical AUCs give z = 0, p = 1; otherwise z and p are NaN
    (the normal approximation is undefined). With < 2 positives or negatives z and p are NaN.
    """
    y = np.asarray(y_true_1d, dtype=np.float64)
    _check_binary(y)
    scores = np.vstack([np.asarray(score_a, dtype=np.float64), np.asarray(score_b, dtype=np.float64)])
    auc, cov = _delong_covariance(y, scores)
    diff = float(auc[0] - auc[1])
    var_diff = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    if not np.isfinite(var_diff):
        return float(auc[0]), float(auc[1]), diff, float("nan"), float("nan")
    if var_diff <= 1e-15 * max(1.0, float(cov[0, 0] + cov[1, 1])):
        if abs(diff) <= 1e-15:
            return float(auc[0]), float(auc[1]), diff, 0.0, 1.0
        return float(auc[0]), float(auc[1]), diff, float("nan"), float("nan")
    z = diff / np.sqrt(var_diff)
    return float(auc[0]), float(auc[1]), diff, float(z), normal_two_sided_p(float(z))


def take(x: Any, idx: np.ndarray) -> Any:
    """Cases `idx` of a per-case sequence: numpy arrays index rows, lists/tuples give a list."""
    if isinstance(x, np.ndarray):
        return x[idx]
    return [x[i] for i in idx]


def mix(a: Any, b: Any, mask: np.ndarray) -> Any:
    """Per case: b's entry where mask is True, else a's. Same container kind as the inputs."""
    mask = np.asarray(mask, dtype=bool)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), b, a)
    return [bi if m else ai for ai, bi, m in zip(a, b, mask, strict=True)]


def _case_count(gt: Any, pred_a: Any, pred_b: Any) -> int:
    n = len(gt)
    if len(pred_a) != n or len(pred_b) != n:
        raise ValueError(
            f"gt, pred_a, pred_b must have the same number of cases ({n}, {len(pred_a)}, {len(pred_b)})"
        )
    return n


class ClusterMembers:
    """The cases of each cluster, for expanding drawn cluster numbers into case indices without a loop.

    `clusters` are (n,) numbers 0..I-1 (`bench.metrics.bootstrap.cluster_numbers`), every number used. The cases
    of a drawn cluster come in their original order; with one case per cluster `cases(drawn)` is `drawn` itself.
    """

    def __init__(self, clusters: np.ndarray) -> None:
        clusters = np.asarray(clusters)
        if clusters.ndim != 1 or not np.issubdtype(clusters.dtype, np.integer):
            raise ValueError(f"clusters must be a 1-D integer array, got {clusters.dtype} {clusters.shape}")
        sizes = np.bincount(clusters) if clusters.size else np.zeros(0, dtype=np.int64)
        if clusters.size and (clusters.min() < 0 or sizes.min() == 0):
            raise ValueError(
                "clusters must number the clusters 0..I-1 with none left empty (cluster_numbers)"
            )
        self.clusters = clusters.astype(np.int64)
        self.n_clusters = int(sizes.size)
        self._order = np.argsort(self.clusters, kind="stable")
        self._sizes = sizes
        self._starts = np.cumsum(sizes) - sizes

    def cases(self, drawn: np.ndarray) -> np.ndarray:
        """Case indices of the drawn clusters (with repeats), cluster after cluster in the order drawn."""
        lengths = self._sizes[drawn]
        shift = np.repeat(self._starts[drawn] - (np.cumsum(lengths) - lengths), lengths)
        return self._order[shift + np.arange(shift.size)]


def _plural(unit: str) -> str:
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def _cluster_members(clusters: np.ndarray | None, n: int) -> ClusterMembers | None:
    if clusters is None:
        return None
    members = ClusterMembers(clusters)
    if members.clusters.shape != (n,):
        raise ValueError(f"clusters has {members.clusters.size} entries for {n} cases")
    return members


def paired_bootstrap_result(
    diff: float, reps: np.ndarray, *, n_boot: int, seed: int, unit: str | None = None
) -> dict[str, Any]:
    """Interval and p-value of the paired bootstrap from the observed difference and the (B,) replicate
    differences (NaN where a replicate is undefined); `unit` names the drawn clusters (None: cases)."""
    reps = np.asarray(reps, dtype=float)
    finite = reps[np.isfinite(reps)]
    k = finite.size
    if k:
        # Two-sided: twice the smaller tail mass of the replicate differences beyond 0, +1 smoothed.
        below = (np.sum(finite <= 0.0) + 1) / (k + 1)
        above = (np.sum(finite >= 0.0) + 1) / (k + 1)
        p = float(min(1.0, 2.0 * min(below, above)))
    else:
        p = float("nan")
    drawn = (
        "paired case bootstrap"
        if unit is None
        else f"paired cluster bootstrap (whole {_plural(unit)} drawn with replacement, all images of a drawn "
        f"{unit} together; the same drawn clusters score both systems)"
    )
    return {
        "diff": float(diff),
        "ci95": percentile_ci(finite),
        "p": p,
        "n_boot": n_boot,
        "n_finite_replicates": int(k),
        "seed": seed,
        "method": f"{drawn} of metric(a) - metric(b); 95 % percentile CI; two-sided "
        "p = min(1, 2 min((#{d* <= 0} + 1) / (B + 1), (#{d* >= 0} + 1) / (B + 1))); non-finite "
        "replicates dropped",
    }


def paired_bootstrap(
    metric_fn: MetricFn,
    gt: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    n_boot: int,
    seed: int,
    clusters: np.ndarray | None = None,
    unit: str = "cluster",
) -> dict[str, Any]:
    """Paired bootstrap of metric(a) - metric(b): the same resampled cases score both systems.

    With `clusters` ((n,) numbers from `cluster_numbers`) whole clusters are drawn (`bootstrap_indices` over the
    clusters) and expanded to their cases; with one case per cluster the replicates are the case bootstrap's.
    """
    n = _case_count(gt, pred_a, pred_b)
    members = _cluster_members(clusters, n)
    diff = float(metric_fn(gt, pred_a)) - float(metric_fn(gt, pred_b))
    reps = np.empty(n_boot)
    draws = bootstrap_indices(n if members is None else members.n_clusters, n_boot, seed)
    for r, drawn in enumerate(draws):
        idx = drawn if members is None else members.cases(drawn)
        g = take(gt, idx)
        reps[r] = float(metric_fn(g, take(pred_a, idx))) - float(metric_fn(g, take(pred_b, idx)))
    return paired_bootstrap_result(
        diff, reps, n_boot=n_boot, seed=seed, unit=None if members is None else unit
    )


def randomization_swaps(
    n: int, n_perm: int, seed: int, clusters: np.ndarray | None = None, chunk_rows: int = 64
) -> Iterator[np.ndarray]:
    """(rows, n) boolean swap masks of approximate randomization, `chunk_rows` permutations at a time.

    Each permutation draws one uniform per cluster (per case without `clusters`) and swaps where it is < 1/2;
    every case takes its cluster's draw. The chunks come from one generator in order, so the masks do not depend
    on `chunk_rows`, and with one case per cluster they are those of the case-level test.
    """
    rng = np.random.default_rng(seed)
    width = n if clusters is None else (int(np.max(clusters)) + 1 if n else 0)
    for start in range(0, n_perm, chunk_rows):
        swap = rng.random((min(chunk_rows, n_perm - start), width)) < 0.5
        yield swap if clusters is None else swap[:, clusters]


def randomization_result(
    diff: float, perm_diffs: np.ndarray, *, n_perm: int, seed: int, unit: str | None = None
) -> dict[str, Any]:
    """p-value of approximate randomization from the observed and the (n_perm,) permuted differences."""
    threshold = abs(diff) - _TIE_RTOL * max(1.0, abs(diff))
    at_least = int(np.count_nonzero(np.abs(np.asarray(perm_diffs, dtype=float)) >= threshold))
    swapped = (
        "per case swap a/b predictions with prob. 1/2"
        if unit is None
        else f"per {unit} swap a/b predictions with prob. 1/2 (all images of a {unit} swapped together)"
    )
    return {
        "diff": float(diff),
        "p": (at_least + 1) / (n_perm + 1),
        "n_perm": n_perm,
        "seed": seed,
        "method": f"approximate randomization: {swapped}; "
        "p = (#{|d_perm| >= |d_obs|} + 1) / (n_perm + 1), ties within 1e-12 relative count",
    }


def approximate_randomization(
    metric_fn: MetricFn,
    gt: Any,
    pred_a: Any,
    pred_b: Any,
    *,
    n_perm: int,
    seed: int,
    clusters: np.ndarray | None = None,
    unit: str = "cluster",
) -> dict[str, Any]:
    """Paired approximate randomization test of metric(a) == metric(b); with `clusters` the a/b labels are
    swapped per cluster (`randomization_swaps`)."""
    n = _case_count(gt, pred_a, pred_b)
    members = _cluster_members(clusters, n)
    diff = float(metric_fn(gt, pred_a)) - float(metric_fn(gt, pred_b))
    perm_diffs = np.empty(n_perm)
    r = 0
    for chunk in randomization_swaps(n, n_perm, seed, None if members is None else members.clusters):
        for swap in chunk:
            perm_diffs[r] = float(metric_fn(gt, mix(pred_a, pred_b, swap))) - float(
                metric_fn(gt, mix(pred_b, pred_a, swap))
            )
            r += 1
    return randomization_result(
        diff, perm_diffs, n_perm=n_perm, seed=seed, unit=None if members is None else unit
    )


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (same order as input); NaN entries stay NaN and are not counted."""
    p = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted[order] = np.minimum(1.0, stepped)
    return adjusted
