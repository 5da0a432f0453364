"""Subgroup statistics on joint bootstrap draws: arrays in, numbers out.

One (B, n) multiplicity matrix (`bench.metrics.bootstrap.bootstrap_counts`, whole clusters drawn) covers the whole
test set; a group's replicate b is its metric on its own columns of row b. Every group, and the whole set, is thus
scored on the same draws, so a gap between two of them is paired by design: a patient drawn twice counts twice in
every group holding one of its images. Gaps get a percentile interval and the two-sided p-value of the percentile
interval's inversion (the rule of `bench.metrics.significance.paired_bootstrap_result`); Holm's step-down adjusts
each family of tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.metrics.bootstrap import percentile_ci
from bench.metrics.significance import holm

SMALL_MIN_CASES = 30
SMALL_MIN_POSITIVES = 5

GAP_P_RULE = (
    "two-sided p = min(1, 2 min((#{d* <= 0} + 1) / (B' + 1), (#{d* >= 0} + 1) / (B' + 1))) over the B' finite "
    "replicate gaps d* (inversion of the percentile interval, as cxrbench compare)"
)


@dataclass(frozen=True)
class Estimate:
    """A metric's value on the data as given (NaN when undefined) and its (B,) replicates (None without draws)."""

    value: float
    reps: np.ndarray | None = None


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def interval(reps: np.ndarray | None) -> list[float] | None:
    """95 % percentile interval of the finite replicates; None without any."""
    ci = None if reps is None else percentile_ci(reps)
    return None if ci is None else [float(ci[0]), float(ci[1])]


def bootstrap_p(reps: np.ndarray | None) -> float:
    """Two-sided p-value of gap = 0 from the replicate gaps (`GAP_P_RULE`); NaN without finite replicates."""
    if reps is None:
        return float("nan")
    finite = np.asarray(reps, dtype=float)
    finite = finite[np.isfinite(finite)]
    k = finite.size
    if k == 0:
        return float("nan")
    below = (np.count_nonzero(finite <= 0.0) + 1) / (k + 1)
    above = (np.count_nonzero(finite >= 0.0) + 1) / (k + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def summary(estimate: Estimate) -> dict[str, Any]:
    """{"value", "ci"}; the interval only where the value is defined."""
    value = finite_or_none(estimate.value)
    return {"value": value, "ci": interval(estimate.reps) if value is not None else None}


def gap(a: Estimate, b: Estimate) -> tuple[float, np.ndarray | None]:
    """a - b and its replicate gaps (None unless both have replicates on the same draws)."""
    reps = None
    if a.reps is not None and b.reps is not None:
        if a.reps.shape != b.reps.shape:
            raise ValueError(f"replicates of different draws: {a.reps.shape} vs {b.reps.shape}")
        reps = a.reps - b.reps
    return a.value - b.value, reps


def gap_test(a: Estimate, b: Estimate) -> dict[str, Any]:
    """{"value", "ci", "p"} of a - b; all None where either value is undefined."""
    value, reps = gap(a, b)
    if not np.isfinite(value):
        return {"value": None, "ci": None, "p": None}
    return {"value": float(value), "ci": interval(reps), "p": finite_or_none(bootstrap_p(reps))}


def add_holm(tests: Sequence[dict[str, Any]]) -> None:
    """Adds "p_holm" to every test of one family (tests without a p-value are not counted and get None)."""
    p = [np.nan if t["p"] is None else t["p"] for t in tests]
    for t, adjusted in zip(tests, holm(p), strict=True):
        t["p_holm"] = finite_or_none(float(adjusted))


def gaps_to_reference(estimates: Mapping[str, Estimate], reference: Estimate) -> dict[str, dict[str, Any]]:
    """Gap of every group to the reference (the whole set), Holm-adjusted over the groups."""
    tests = {name: gap_test(est, reference) for name, est in estimates.items()}
    add_holm(list(tests.values()))
    return tests


def pairwise_gaps(estimates: Sequence[tuple[str, Estimate]]) -> list[dict[str, Any]]:
    """value(a) - value(b) for every pair a before b in the given order, Holm-adjusted over the pairs."""
    tests = []
    for i, (name_a, est_a) in enumerate(estimates):
        for name_b, est_b in estimates[i + 1 :]:
            test = gap_test(est_a, est_b)
            tests.append({"a": name_a, "b": name_b, "gap": test["value"], "ci": test["ci"], "p": test["p"]})
    add_holm(tests)
    return tests


def classification_estimates(
    y_true: np.ndarray, y_score: np.ndarray, counts: np.ndarray | None
) -> tuple[dict[str, Estimate], np.ndarray, np.ndarray]:
    """auc_macro / ap_macro of one group as `score_classification` computes them, and the per-label AUC / AP.

    `counts` is the group's (B, n_group) columns of the whole set's multiplicities: labels are sorted once, each
    replicate is a weighted sum (bench.metrics.classification), so replicate b equals scikit-learn on the
    group's rows np.repeat(arange(n_group), counts[b]).
    """
    from bench.metrics.classification import _bucket_labels, _nanmean_rows, _replicates

    buckets = _bucket_labels(np.asarray(y_true, float), np.asarray(y_score, float))
    point_auc, point_ap = _replicates(buckets, np.ones((1, y_true.shape[0]), dtype=np.int64))
    auc, ap = point_auc[0], point_ap[0]
    scored = np.isfinite(auc)
    boot_auc = boot_ap = None
    if counts is not None:
        boot_auc, boot_ap = _replicates(buckets, counts)
    estimates = {
        "auc_macro": Estimate(
            float(auc[scored].mean()) if scored.any() else np.nan,
            _nanmean_rows(boot_auc) if boot_auc is not None and scored.any() else None,
        ),
        "ap_macro": Estimate(
            float(ap[scored].mean()) if scored.any() else np.nan,
            _nanmean_rows(boot_ap) if boot_ap is not None and scored.any() else None,
        ),
    }
    return estimates, auc, ap


def rate_estimate(event: np.ndarray, base: np.ndarray, counts: np.ndarray | None) -> Estimate:
    """Share of `base` cases with `event` ((n,) booleans), and its replicates for (B, n) multiplicities."""
    event = np.asarray(event, bool) & np.asarray(base, bool)
    n_base = int(np.count_nonzero(base))
    value = np.count_nonzero(event) / n_base if n_base else np.nan
    reps = None
    if counts is not None:
        weights = np.asarray(counts, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = (weights @ event.astype(np.float64)) / (weights @ np.asarray(base, np.float64))
    return Estimate(float(value), reps)


def count_clusters(clusters: np.ndarray | None, rows: np.ndarray) -> int:
    """Distinct clusters among `rows` (each row its own cluster when `clusters` is None)."""
    return int(rows.size) if clusters is None else int(np.unique(clusters[rows]).size)


def is_small(n: int, positives: int | None) -> bool:
    """Fewer than SMALL_MIN_CASES cases, or (where the task counts positives) fewer than SMALL_MIN_POSITIVES."""
    return n < SMALL_MIN_CASES or (positives is not None and positives < SMALL_MIN_POSITIVES)
