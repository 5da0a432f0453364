"""Multi-label classification metrics: per-label ROC AUC and average precision, macro means, CIs.

Point estimates equal scikit-learn (`roc_auc_score`, `average_precision_score`). The bootstrap does not
re-sort or re-run sklearn per replicate: each label is sorted once, each replicate is a vector of case
multiplicities, and AUC/AP become weighted sums over cumulative weights in sorted order. With integer
multiplicities this is exactly sklearn on the explicitly resampled rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.significance import delong_auc_ci
from bench.metrics.threads import map_threads, start
from bench.metrics.types import MetricValue, TaskResult

# Replicates are processed in blocks so the (cases x replicates) work arrays stay small (~12 MB).
_BLOCK_BYTES = 12 * 2**20

CONVENTIONS: dict[str, Any] = {
    "unknown_labels": "NaN in y_true = unknown ground truth, excluded for that label only",
    "auc": "ROC AUC = Mann-Whitney U / (n_pos*n_neg), ties count 1/2 (= sklearn.metrics.roc_auc_score)",
    "ap": "average precision, step-wise sum (R_k - R_{k-1}) * P_k over distinct score thresholds, "
    "no interpolation (= sklearn.metrics.average_precision_score)",
    "macro": "unweighted mean over labels that have both classes among known values",
    "bootstrap": "cases (rows) resampled with replacement via bench.metrics.bootstrap.bootstrap_counts; "
    "corpus metrics recomputed per replicate; 95 % percentile interval",
    "bootstrap_replicate_label_loss": "in a replicate, a label left with one class is NaN for that "
    "replicate and the macro mean is taken over the remaining labels (NaN if none remain)",
    "per_label_ci": "per-label 95 % CIs in notes['per_label_ci95'][metric][label] as [lo, hi]",
    "delong": "per-label DeLong 95 % CI (Sun & Xu 2014 fast DeLong, normal approximation, clipped to "
    "[0, 1]) in notes['delong_auc_ci95'][label]; needs >= 2 positives and >= 2 negatives; with clusters "
    "(patients, studies) Obuchowski's clustered variance instead, in notes['obuchowski_auc_ci95'][label]",
}


@dataclass(frozen=True)
class _LabelBuckets:
    """One label's known cases pooled into score buckets; sorting happens once, here.

    `pool` maps cases to bucket rows (0/1 sparse matrix), so `pool @ weights` sums each bucket's weights
    for every replicate at once. With t_0 > t_1 > ... the distinct positive scores, the rows are: negative
    buckets in descending score order -- (t_0, inf), [t_0], (t_1, t_0), [t_1], ..., (-inf, t_last), the
    [t_d] "tied" buckets only present when some negative ties a positive score -- then one row of
    positives per t_d.
    """

    pool: sparse.csr_array
    n_neg_buckets: int
    n_groups: int  # distinct positive scores
    tied: bool  # whether the [t_d] negative buckets are present


def _bucket_label(known_y: np.ndarray, known_s: np.ndarray, known_rows: np.ndarray, n: int) -> _LabelBuckets:
    pos = known_y == 1.0
    ascending = np.unique(known_s[pos])
    n_groups = ascending.size
    neg_scores = known_s[~pos]
    groups_above = n_groups - np.searchsorted(ascending, neg_scores, side="right")
    ties = groups_above < n_groups
    ties[ties] = ascending[n_groups - 1 - groups_above[ties]] == neg_scores[ties]
    tied = bool(ties.any())
    neg_bucket = 2 * groups_above + ties if tied else groups_above
    n_neg_buckets = 2 * n_groups + 1 if tied else n_groups + 1
    bucket = np.empty(known_rows.size, dtype=np.int64)
    bucket[~pos] = neg_bucket
    bucket[pos] = n_neg_buckets + n_groups - 1 - np.searchsorted(ascending, known_s[pos], side="left")
    pool = sparse.csr_array(
        # uint16 ones: the product takes the weights' dtype (scipy upcasts to the wider of the two)
        (np.ones(known_rows.size, dtype=np.uint16), (bucket, known_rows)),
        shape=(n_neg_buckets + n_groups, n),
    )
    return _LabelBuckets(pool=pool, n_neg_buckets=n_neg_buckets, n_groups=n_groups, tied=tied)


def _prefix_sum_rows(x: np.ndarray) -> None:
    """In-place inclusive cumulative sum down the rows of a C-contiguous 2-D array.

    np.cumsum(axis=0) walks each column with a large stride and is several times slower; here rows are
    added as contiguous vectors, two-level (within blocks of ~sqrt(R) rows, then block offsets).
    """
    n_rows = x.shape[0]
    if n_rows < 2:
        return
    k = max(2, int(np.sqrt(n_rows)))
    n_blocks = n_rows // k
    blocks = x[: n_blocks * k].reshape(n_blocks, k, x.shape[1])
    for i in range(1, k):
        np.add(blocks[:, i], blocks[:, i - 1], out=blocks[:, i])
    if n_blocks > 1:
        block_offsets = np.cumsum(blocks[:-1, -1], axis=0, dtype=x.dtype)
        blocks[1:] += block_offsets[:, None, :]
    for i in range(n_blocks * k, n_rows):
        np.add(x[i], x[i - 1], out=x[i])


def _weighted_auc_ap(label: _LabelBuckets, weights_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC and AP of one label for each column of `weights_t` ((n_cases, b) integer multiplicities).

    Counts are summed exactly in the weights' unsigned dtype (wide enough for the largest replicate total, see
    `_weight_dtype`); only AP's precision and the final ratios are floating point.
    """
    buckets = np.asarray(label.pool @ weights_t)
    neg_above = buckets[: label.n_neg_buckets]
    pos_at = buckets[label.n_neg_buckets :]  # positives at t_d, d = 0.. (descending)
    _prefix_sum_rows(neg_above)
    g = label.n_groups
    # per t_d: negatives with score >= t_d (false positives at threshold t_d) and with score > t_d
    false_pos = neg_above[1 : 2 * g : 2] if label.tied else neg_above[:g]
    true_pos = pos_at.copy()
    _prefix_sum_rows(true_pos)  # positives with score >= t_d
    n_neg = neg_above[-1].astype(np.int64)
    n_pos = true_pos[-1].astype(np.int64)
    # Mann-Whitney with ties = 1/2: 2U = sum_d P_d * (#neg < t_d + #neg <= t_d)
    #                                  = 2 n_pos n_neg - sum_d P_d * (#neg >= t_d + #neg > t_d)
    pair_dtype = _pair_dtype(weights_t.dtype)
    pairs_not_below = np.einsum("gb,gb->b", pos_at, false_pos, dtype=pair_dtype).astype(np.int64)
    if label.tied:
        pairs_above = np.einsum("gb,gb->b", pos_at, neg_above[0 : 2 * g : 2], dtype=pair_dtype).astype(
            np.int64
        )
    else:
        pairs_above = pairs_not_below
    twice_u = 2 * n_pos * n_neg - pairs_not_below - pairs_above
    # AP = sum_d (P_d / n_pos) * precision at threshold t_d
    predicted_pos = np.add(true_pos, false_pos)
    # Where it is 0, true_pos is 0 too: make it 1. It grows down the rows, so only the first rows can hold a 0.
    top = 0
    while top < g and not predicted_pos[top].all():
        top += 1
    np.maximum(predicted_pos[:top], 1, out=predicted_pos[:top])
    precision = np.divide(true_pos, predicted_pos, dtype=np.float64)
    ap_sum = np.einsum("gb,gb->b", pos_at, precision)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = twice_u / (2.0 * n_pos * n_neg)
        ap = ap_sum / n_pos
    undefined = (n_pos == 0) | (n_neg == 0)
    auc[undefined] = np.nan
    ap[undefined] = np.nan
    return auc, ap


def _weight_dtype(max_total: int) -> type[np.unsignedinteger]:
    """Smallest unsigned type holding any bucket sum, i.e. the largest total weight of a replicate (less memory
    traffic). That total is n for a case bootstrap but not for a cluster bootstrap: drawing a large cluster twice
    can take a replicate past n, so it is measured, never assumed."""
    if max_total <= np.iinfo(np.uint16).max:
        return np.uint16
    return np.uint32 if max_total <= np.iinfo(np.uint32).max else np.uint64


def _pair_dtype(weight_dtype: np.dtype) -> type[np.integer]:
    """Exact accumulator for pair counts: with uint16 weights a replicate's total weight T is at most 65,535, so it
    holds at most (T / 2)^2 < 2^32 positive-negative pairs and uint32 sums are exact (and about twice as fast as int64)."""
    return np.uint32 if weight_dtype == np.uint16 else np.int64


def _known_cases(y_true: np.ndarray, y_score: np.ndarray, j: int):
    known_rows = np.flatnonzero(~np.isnan(y_true[:, j]))
    return known_rows, y_true[known_rows, j], y_score[known_rows, j]


def _bucket_labels(y_true: np.ndarray, y_score: np.ndarray) -> list[_LabelBuckets | None]:
    """Buckets per label; None for labels without both classes among known values."""
    out: list[_LabelBuckets | None] = []
    for j in range(y_true.shape[1]):
        rows, y, s = _known_cases(y_true, y_score, j)
        both = np.any(y == 1.0) and np.any(y == 0.0)
        out.append(_bucket_label(y, s, rows, y_true.shape[0]) if both else None)
    return out


def _replicates(labels: list[_LabelBuckets | None], counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, L) AUC and AP for the (B, n) case multiplicities `counts`; NaN where a label lacks a class."""
    n_boot, n = counts.shape
    auc = np.full((n_boot, len(labels)), np.nan)
    ap = np.full((n_boot, len(labels)), np.nan)
    weight_dtype = _weight_dtype(int(counts.sum(axis=1).max()) if counts.size else 0)
    block = max(1, min(n_boot, _BLOCK_BYTES // (np.dtype(weight_dtype).itemsize * max(n, 1))))
    scored = [(j, label) for j, label in enumerate(labels) if label is not None]
    for b0 in range(0, n_boot, block):
        # Case-major layout: a case's weights across replicates are one contiguous row.
        weights_t = np.ascontiguousarray(counts[b0 : b0 + block].T, dtype=weight_dtype)
        rows = slice(b0, b0 + block)

        def one_label(
            item: tuple[int, _LabelBuckets], rows: slice = rows, weights_t: np.ndarray = weights_t
        ) -> None:
            j, label = item
            auc[rows, j], ap[rows, j] = _weighted_auc_ap(label, weights_t)

        map_threads(one_label, scored)  # labels are independent: each writes its own column
    return auc, ap


def per_label_auc_ap(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L,) AUC and (L,) AP on all known cases; NaN for labels without both classes."""
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    auc, ap = _replicates(_bucket_labels(y_true, y_score), np.ones((1, y_true.shape[0]), dtype=np.int64))
    return auc[0], ap[0]


def bootstrap_auc_ap(
    y_true: np.ndarray, y_score: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(B, L) per-label AUC and AP for each bootstrap replicate.

    `counts` is the (B, n) multiplicity matrix from `bootstrap_counts`; replicate b equals sklearn run on
    the rows `np.repeat(arange(n), counts[b])`. A label left with one class in a replicate is NaN there.
    """
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    if counts.ndim != 2 or counts.shape[1] != y_true.shape[0]:
        raise ValueError(f"counts must be (B, {y_true.shape[0]}), got {counts.shape}")
    return _replicates(_bucket_labels(y_true, y_score), counts)


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=1)


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def _skip_reasons(y_true: np.ndarray, label_names: list[str]) -> dict[str, str]:
    reasons = {}
    for j, name in enumerate(label_names):
        known = y_true[:, j][~np.isnan(y_true[:, j])]
        if known.size == 0:
            reasons[name] = "no known values (all NaN)"
        elif np.all(known == 1.0):
            reasons[name] = "single class (no negatives)"
        elif np.all(known == 0.0):
            reasons[name] = "single class (no positives)"
    return reasons


def _ci_list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [ci[0], ci[1]]


def _maybe(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def score_classification(
    y_true: np.ndarray,
    y_score: np.ndarray,
    label_names: list[str],
    *,
    n_boot: int = 0,
    seed: int = 0,
    ci_method: str = "bootstrap",
    clusters: np.ndarray | None = None,
) -> TaskResult:
    """Per-label and macro AUC / AP with optional CIs.

    ci_method: "bootstrap" = every CI from the case bootstrap (n_boot > 0); "delong" = per-label AUC CIs in
    notes['per_label_ci95']['auc'] from DeLong, all other CIs still bootstrap (None when n_boot == 0).
    DeLong CIs are always reported in notes['delong_auc_ci95'].
    clusters: (n,) cluster numbers (`bench.metrics.bootstrap.cluster_numbers`): the bootstrap draws clusters.
    """
    if ci_method not in ("bootstrap", "delong"):
        raise ValueError(f"ci_method must be 'bootstrap' or 'delong', got {ci_method!r}")
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    if y_true.shape != y_score.shape or y_true.shape[1] != len(label_names):
        raise ValueError(
            f"shape mismatch: y_true {y_true.shape}, y_score {y_score.shape}, {len(label_names)} names"
        )
    bad = ~np.isnan(y_true) & (y_true != 0.0) & (y_true != 1.0)
    if bad.any():
        raise ValueError("y_true must contain only 0.0, 1.0 or NaN")
    if not np.isfinite(y_score).all():
        raise ValueError("y_score must be finite")

    # The bootstrap draws (numpy releases the GIL while drawing) overlap the point estimates and DeLong CIs.
    counts = start(bootstrap_counts, y_true.shape[0], n_boot, seed, clusters=clusters) if n_boot > 0 else None
    labels = _bucket_labels(y_true, y_score)
    point_auc, point_ap = _replicates(labels, np.ones((1, y_true.shape[0]), dtype=np.int64))
    auc, ap = point_auc[0], point_ap[0]
    skipped = _skip_reasons(y_true, label_names)
    scored = np.isfinite(auc)
    auc_macro = float(auc[scored].mean()) if scored.any() else None
    ap_macro = float(ap[scored].mean()) if scored.any() else None

    notes: dict[str, Any] = {"skipped_labels": skipped, "n_labels_scored": int(scored.sum())}
    if not scored.any():
        notes["macro_undefined"] = "no label has both classes among known values"

    delong: dict[str, list[float] | None] = {}
    if clusters is None:
        for j, name in enumerate(label_names):
            _, y, s = _known_cases(y_true, y_score, j)
            delong[name] = _ci_list(delong_auc_ci(y, s).ci) if scored[j] else None
        notes["delong_auc_ci95"] = delong
        notes["delong_method"] = "fast DeLong (Sun & Xu 2014), AUC +/- 1.96 sqrt(var), clipped to [0, 1]"
    else:
        from bench.metrics.clustered_auc import clustered_auc_labels

        for name, res in zip(label_names, clustered_auc_labels(y_true, y_score, clusters), strict=True):
            delong[name] = _ci_list(res.ci95) if res is not None and res.ci95 is not None else None
        notes["obuchowski_auc_ci95"] = delong
        notes["obuchowski_method"] = (
            "Obuchowski (Biometrics 1997) nonparametric clustered AUC variance, AUC +/- 1.96 sqrt(var), clipped "
            "to [0, 1]; equals DeLong when every cluster holds one image"
        )

    macro_ci: dict[str, tuple[float, float] | None] = {"auc_macro": None, "ap_macro": None}
    per_label_ci: dict[str, dict[str, list[float] | None]] = {}
    if counts is not None:
        boot_auc, boot_ap = _replicates(labels, counts.result())
        macro_ci["auc_macro"] = percentile_ci(_nanmean_rows(boot_auc)) if scored.any() else None
        macro_ci["ap_macro"] = percentile_ci(_nanmean_rows(boot_ap)) if scored.any() else None
        for metric, reps in (("auc", boot_auc), ("ap", boot_ap)):
            per_label_ci[metric] = {
                name: _ci_list(percentile_ci(reps[:, j])) if scored[j] else None
                for j, name in enumerate(label_names)
            }
        n_lost = {
            name: int(np.isnan(boot_auc[:, j]).sum()) for j, name in enumerate(label_names) if scored[j]
        }
        notes["bootstrap_replicates_with_label_single_class"] = {k: v for k, v in n_lost.items() if v}
    if ci_method == "delong":
        per_label_ci["auc"] = dict(delong)
    if per_label_ci:
        notes["per_label_ci95"] = per_label_ci

    conventions = dict(CONVENTIONS)
    conventions.update({"n_boot": n_boot, "seed": seed, "ci_method": ci_method})
    return TaskResult(
        metrics={
            "auc_macro": MetricValue(auc_macro, macro_ci["auc_macro"]),
            "ap_macro": MetricValue(ap_macro, macro_ci["ap_macro"]),
        },
        per_label={
            "auc": {name: _maybe(auc[j]) for j, name in enumerate(label_names)},
            "ap": {name: _maybe(ap[j]) for j, name in enumerate(label_names)},
            "n_pos": {name: float(np.sum(y_true[:, j] == 1.0)) for j, name in enumerate(label_names)},
            "n_neg": {name: float(np.sum(y_true[:, j] == 0.0)) for j, name in enumerate(label_names)},
        },
        conventions=conventions,
        notes=notes,
    )
