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

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.significance import delong_auc_ci
from bench.metrics.types import MetricValue, TaskResult

# Replicates are processed in blocks so the (cases x replicates) work arrays stay small (~8 MB).
_BLOCK_BYTES = 8 * 2**20

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
    "[0, 1]) in notes['delong_auc_ci95'][label]; needs >= 2 positives and >= 2 negatives",
}


@dataclass(frozen=True)
class _SortedLabel:
    """One label's known cases split by class, each sorted by ascending score, plus tie structure."""

    neg_rows: np.ndarray  # case indices of negatives, ascending score
    pos_rows: np.ndarray  # case indices of positives, ascending score
    group_start: np.ndarray  # index into pos_rows where each distinct positive score begins
    group_end: np.ndarray  # ... and ends (exclusive)
    neg_below: np.ndarray  # per positive group: number of negatives with a strictly lower score
    neg_below_or_tied: np.ndarray  # per positive group: number of negatives with score <= it
    has_ties: bool


def _sort_label(known_y: np.ndarray, known_s: np.ndarray, known_rows: np.ndarray) -> _SortedLabel:
    pos = known_y == 1.0
    neg_order = np.argsort(known_s[~pos], kind="stable")
    pos_order = np.argsort(known_s[pos], kind="stable")
    neg_scores = known_s[~pos][neg_order]
    pos_scores = known_s[pos][pos_order]
    is_start = np.ones(pos_scores.size, dtype=bool)
    is_start[1:] = pos_scores[1:] != pos_scores[:-1]
    group_start = np.flatnonzero(is_start)
    group_end = np.append(group_start[1:], pos_scores.size)
    group_scores = pos_scores[group_start]
    below = np.searchsorted(neg_scores, group_scores, side="left")
    below_or_tied = np.searchsorted(neg_scores, group_scores, side="right")
    return _SortedLabel(
        neg_rows=known_rows[~pos][neg_order],
        pos_rows=known_rows[pos][pos_order],
        group_start=group_start,
        group_end=group_end,
        neg_below=below,
        neg_below_or_tied=below_or_tied,
        has_ties=bool(np.any(below != below_or_tied)),
    )


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
        block_offsets = np.cumsum(blocks[:-1, -1], axis=0)
        blocks[1:] += block_offsets[:, None, :]
    for i in range(n_blocks * k, n_rows):
        np.add(x[i], x[i - 1], out=x[i])


def _cumulative_rows(weights_t: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(rows)+1, b): row k = summed weights of the first k of `rows` (row 0 = 0)."""
    cum = np.empty((rows.size + 1, weights_t.shape[1]), dtype=weights_t.dtype)
    cum[0] = 0
    np.take(weights_t, rows, axis=0, out=cum[1:])
    _prefix_sum_rows(cum[1:])
    return cum


def _weighted_auc_ap(label: _SortedLabel, weights_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC and AP of one label for each column of `weights_t` ((n_cases, b) integer multiplicities).

    Integer weights are summed in their own dtype (a replicate's total weight is n, so int32 suffices).
    """
    cum_neg = _cumulative_rows(weights_t, label.neg_rows)
    cum_pos = _cumulative_rows(weights_t, label.pos_rows)
    n_neg = cum_neg[-1]
    n_pos = cum_pos[-1]
    pos_before_group = cum_pos[label.group_start]
    pos_in_group = cum_pos[label.group_end]
    pos_in_group -= pos_before_group
    neg_below = cum_neg[label.neg_below]
    # Twice the Mann-Whitney numerator: each positive counts negatives below + negatives tied (ties = 1/2).
    twice_below = neg_below + cum_neg[label.neg_below_or_tied] if label.has_ties else 2 * neg_below
    twice_u = np.multiply(pos_in_group, twice_below, dtype=np.int64).sum(axis=0)
    # AP: at the threshold of each distinct positive score, TP = positives with score >= it, FP likewise.
    true_pos = n_pos - pos_before_group
    predicted_pos = neg_below
    predicted_pos += pos_before_group
    np.subtract(n_pos + n_neg, predicted_pos, out=predicted_pos)
    np.maximum(predicted_pos, 1, out=predicted_pos)  # where 0, true_pos is 0 too
    precision = np.divide(true_pos, predicted_pos, dtype=np.float64)
    precision *= pos_in_group
    ap_sum = precision.sum(axis=0)
    n_neg = n_neg.astype(np.float64)
    n_pos = n_pos.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = twice_u / (2.0 * n_pos * n_neg)
        ap = ap_sum / n_pos
    undefined = (n_pos == 0) | (n_neg == 0)
    auc[undefined] = np.nan
    ap[undefined] = np.nan
    return auc, ap


def _known_cases(y_true: np.ndarray, y_score: np.ndarray, j: int):
    known_rows = np.flatnonzero(~np.isnan(y_true[:, j]))
    return known_rows, y_true[known_rows, j], y_score[known_rows, j]


def _sorted_labels(y_true: np.ndarray, y_score: np.ndarray) -> list[_SortedLabel]:
    out = []
    for j in range(y_true.shape[1]):
        rows, y, s = _known_cases(y_true, y_score, j)
        out.append(_sort_label(y, s, rows))
    return out


def per_label_auc_ap(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L,) AUC and (L,) AP on all known cases; NaN for labels without both classes."""
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    ones = np.ones((y_true.shape[0], 1), dtype=np.int32)
    auc = np.full(y_true.shape[1], np.nan)
    ap = np.full(y_true.shape[1], np.nan)
    for j, label in enumerate(_sorted_labels(y_true, y_score)):
        a, p = _weighted_auc_ap(label, ones)
        auc[j], ap[j] = a[0], p[0]
    return auc, ap


def bootstrap_auc_ap(
    y_true: np.ndarray, y_score: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(B, L) per-label AUC and AP for each bootstrap replicate.

    `counts` is the (B, n) multiplicity matrix from `bootstrap_counts`; replicate b equals sklearn run on
    the rows `np.repeat(arange(n), counts[b])`. A label left with one class in a replicate is NaN there.
    """
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    n_boot, n = counts.shape
    if n != y_true.shape[0]:
        raise ValueError(f"counts has {n} cases, y_true has {y_true.shape[0]}")
    labels = _sorted_labels(y_true, y_score)
    auc = np.full((n_boot, len(labels)), np.nan)
    ap = np.full((n_boot, len(labels)), np.nan)
    weight_dtype = np.int32 if n < 2**31 else np.int64
    block = max(1, min(n_boot, _BLOCK_BYTES // (np.dtype(weight_dtype).itemsize * max(n, 1))))
    for b0 in range(0, n_boot, block):
        # Case-major layout: gathering a case's row across replicates is a contiguous copy.
        weights_t = np.ascontiguousarray(counts[b0 : b0 + block].T, dtype=weight_dtype)
        for j, label in enumerate(labels):
            if label.pos_rows.size == 0 or label.neg_rows.size == 0:
                continue
            auc[b0 : b0 + block, j], ap[b0 : b0 + block, j] = _weighted_auc_ap(label, weights_t)
    return auc, ap


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
) -> TaskResult:
    """Per-label and macro AUC / AP with optional CIs.

    ci_method: "bootstrap" = every CI from the case bootstrap (n_boot > 0); "delong" = per-label AUC CIs in
    notes['per_label_ci95']['auc'] from DeLong, all other CIs still bootstrap (None when n_boot == 0).
    DeLong CIs are always reported in notes['delong_auc_ci95'].
    """
    if ci_method not in ("bootstrap", "delong"):
        raise ValueError(f"ci_method must be 'bootstrap' or 'delong', got {ci_method!r}")
    y_true, y_score = _as_2d(y_true), _as_2d(y_score)
    if y_true.shape != y_score.shape or y_true.shape[1] != len(label_names):
        raise ValueError(f"shape mismatch: y_true {y_true.shape}, y_score {y_score.shape}, {len(label_names)} names")
    bad = ~np.isnan(y_true) & (y_true != 0.0) & (y_true != 1.0)
    if bad.any():
        raise ValueError("y_true must contain only 0.0, 1.0 or NaN")

    auc, ap = per_label_auc_ap(y_true, y_score)
    skipped = _skip_reasons(y_true, label_names)
    scored = np.isfinite(auc)
    auc_macro = float(auc[scored].mean()) if scored.any() else None
    ap_macro = float(ap[scored].mean()) if scored.any() else None

    notes: dict[str, Any] = {"skipped_labels": skipped, "n_labels_scored": int(scored.sum())}
    if not scored.any():
        notes["macro_undefined"] = "no label has both classes among known values"

    delong: dict[str, list[float] | None] = {}
    for j, name in enumerate(label_names):
        rows, y, s = _known_cases(y_true, y_score, j)
        delong[name] = _ci_list(delong_auc_ci(y, s).ci) if scored[j] else None
    notes["delong_auc_ci95"] = delong
    notes["delong_method"] = "fast DeLong (Sun & Xu 2014), AUC +/- 1.96 sqrt(var), clipped to [0, 1]"

    macro_ci: dict[str, tuple[float, float] | None] = {"auc_macro": None, "ap_macro": None}
    per_label_ci: dict[str, dict[str, list[float] | None]] = {}
    if n_boot > 0:
        counts = bootstrap_counts(y_true.shape[0], n_boot, seed)
        boot_auc, boot_ap = bootstrap_auc_ap(y_true, y_score, counts)
        del counts
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
