"""Calibration of multi-label probabilities: Brier score, ECE, calibration slope and intercept, reliability data.

Per label, over the cases whose truth is known (NaN = unknown):

- Brier score: mean (p - y)^2 (= sklearn.metrics.brier_score_loss).
- ECE: sum over bins of (n_bin / n) |observed_bin - mean predicted_bin| (Naeini, Cooper & Hauskrecht 2015,
  AAAI; Guo et al. 2017, ICML). Bins exactly as sklearn.calibration.calibration_curve: "equal-width" =
  strategy "uniform" (edges linspace(0, 1, n_bins + 1)), "equal-mass" = strategy "quantile" (edges the
  np.percentile of the scores); a score equal to an inner edge belongs to the lower bin. Default
  equal-width, 10 bins.
- Calibration slope: b in logit P(y = 1) = a + b logit(p); calibration intercept (calibration-in-the-large):
  a in logit P(y = 1) = a + offset(logit(p)), slope fixed at 1 (Cox 1958, Biometrika 45:562-565; Van Calster
  et al. 2016, J Clin Epidemiol 74:167-176; Van Calster et al. 2019, BMC Med 17:230). Maximum likelihood by
  Newton-Raphson; p is clipped to [1e-7, 1 - 1e-7] before the logit (float32 sigmoids saturate at 1).
  Undefined (None / NaN) without both classes or under (quasi-)complete separation by logit(p), where the
  slope's MLE does not exist.
- Reliability diagram: per bin of the full sample, count, mean predicted and observed frequency.

Bootstrap: the replicates of `bench.metrics.bootstrap.bootstrap_counts` (cases, or whole clusters), each
replicate's statistics equal to the above run on the explicitly resampled rows (equal-mass edges recomputed
per replicate; reliability bins stay those of the full sample). Binary 0/1 scores are not probabilities:
calibration is then skipped with the reason recorded.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.calibration_replicates import (
    BINNINGS,
    DEFAULT_BINNING,
    DEFAULT_N_BINS,
    LOGIT_CLIP,
    as_2d,
    calibration_replicates,
)
from bench.metrics.types import MetricValue, TaskResult
from bench.tasks import CALIBRATION_FAMILIES

__all__ = ["BINNINGS", "add_calibration", "calibration_replicates", "score_calibration"]
METRICS = CALIBRATION_FAMILIES  # the metric names, declared with their directions in the task table
_NOT_PROBABILITIES = "scores outside [0, 1] are not probabilities"
SKIP_BINARY = (
    "every predicted score is 0 or 1 (e.g. parsed text answers): hard labels are not probabilities, so "
    "their calibration is not meaningful"
)


def conventions(binning: str, n_bins: int) -> dict[str, Any]:
    return {
        "brier": "mean (p - y)^2 over known cases (= sklearn.metrics.brier_score_loss)",
        "ece": f"sum_bins (n_bin / n) |observed - mean predicted|; {n_bins} {binning} bins",
        "binning": binning,
        "n_bins": n_bins,
        "bin_rule": "bins of sklearn.calibration.calibration_curve (equal-width = strategy 'uniform', "
        "equal-mass = 'quantile', edges np.percentile of the scores); a score on an inner edge goes to the "
        "lower bin; equal-mass edges recomputed in each bootstrap replicate",
        "calibration_slope": "b of logit P(y=1) = a + b logit(p) (logistic recalibration; Cox 1958; "
        "Van Calster et al. 2016 J Clin Epidemiol 74:167, 2019 BMC Med 17:230)",
        "calibration_intercept": "a of logit P(y=1) = a + offset(logit(p)) (calibration-in-the-large, "
        "slope fixed at 1)",
        "logit_clip": f"p clipped to [{LOGIT_CLIP:g}, 1 - {LOGIT_CLIP:g}] before the logit",
        "slope_undefined": "no slope/intercept without both classes; no slope under (quasi-)complete "
        "separation by logit(p) (no finite MLE)",
        "macro": "unweighted mean over labels with both classes among known values and scores in [0, 1]; "
        "in a replicate, labels whose value is undefined there are left out",
        "reliability_diagram": "notes['reliability_diagram'][label]: per full-sample bin lower/upper edge, "
        "count, mean predicted, observed frequency, observed 95 % bootstrap CI (bins fixed)",
        "per_label_ci": "per-label 95 % CIs in notes['per_label_ci95'][metric][label]",
    }


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _ci(values: np.ndarray) -> list[float] | None:
    ci = percentile_ci(values)
    return None if ci is None else [ci[0], ci[1]]


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=1)


def _skip_reason(y: np.ndarray, p: np.ndarray) -> str | None:
    if y.size == 0:
        return "no known values (all NaN)"
    if p.min() < 0.0 or p.max() > 1.0:
        return _NOT_PROBABILITIES
    if y.min() == y.max():
        return "single class: no calibration slope/intercept, not in the macro means"
    return None


def skipped_result(reason: str, label_names: list[str]) -> TaskResult:
    """Calibration metrics present but undefined, with the reason."""
    return TaskResult(
        metrics={f"{m}_macro": MetricValue(None) for m in METRICS},
        per_label={m: dict.fromkeys(label_names) for m in METRICS},
        conventions={},
        notes={"calibration_skipped": reason},
    )


def score_calibration(
    y_true: np.ndarray,
    y_score: np.ndarray,
    label_names: list[str],
    *,
    n_boot: int = 0,
    seed: int = 0,
    clusters: np.ndarray | None = None,
    binning: str = DEFAULT_BINNING,
    n_bins: int = DEFAULT_N_BINS,
    fits: bool = True,
) -> TaskResult:
    """Per-label and macro Brier, ECE, calibration slope and intercept with cluster-bootstrap CIs (`fits=False`:
    Brier and ECE only, slope and intercept undefined; `cxrbench compare` re-scores Brier / ECE per replicate)."""
    y_true, y_score = as_2d(y_true), as_2d(y_score)
    if y_true.shape != y_score.shape or y_true.shape[1] != len(label_names):
        raise ValueError(
            f"shape mismatch: y_true {y_true.shape}, y_score {y_score.shape}, {len(label_names)} names"
        )
    known_scores = y_score[~np.isnan(y_true)]
    if not np.isfinite(known_scores).all():
        raise ValueError("y_score must be finite wherever y_true is known")
    if known_scores.size and np.isin(known_scores, (0.0, 1.0)).all():
        return skipped_result(SKIP_BINARY, label_names)
    n = y_true.shape[0]
    point = calibration_replicates(y_true, y_score, np.ones((1, n), np.int32), binning, n_bins, fits=fits)
    boot = (
        calibration_replicates(
            y_true, y_score, bootstrap_counts(n, n_boot, seed, clusters=clusters), binning, n_bins, fits=fits
        )
        if n_boot > 0
        else [None] * len(label_names)
    )
    reasons: dict[str, str] = {}
    in_macro = np.zeros(len(label_names), dtype=bool)
    for j, name in enumerate(label_names):
        known = ~np.isnan(y_true[:, j])
        reason = _skip_reason(y_true[known, j], y_score[known, j])
        if reason:
            reasons[name] = reason
        in_macro[j] = reason is None
    per_label: dict[str, dict[str, float | None]] = {m: {} for m in METRICS}
    per_label_ci: dict[str, dict[str, list[float] | None]] = {m: {} for m in METRICS}
    metrics: dict[str, MetricValue] = {}
    reliability: dict[str, Any] = {}
    for metric in METRICS:
        values = np.full(len(label_names), np.nan)
        reps = np.full((max(n_boot, 1), len(label_names)), np.nan)
        for j, name in enumerate(label_names):
            point_j, boot_j = point[j], boot[j]
            usable = False
            if point_j is not None and not reasons.get(name, "").startswith(_NOT_PROBABILITIES):
                usable = True
                values[j] = point_j[metric][0]
                if boot_j is not None:
                    reps[:, j] = boot_j[metric]
            per_label[metric][name] = _finite_or_none(values[j])
            per_label_ci[metric][name] = _ci(reps[:, j]) if n_boot > 0 and usable else None
        macro = values[in_macro]
        macro = macro[np.isfinite(macro)]
        ci = percentile_ci(_nanmean_rows(reps[:, in_macro])) if n_boot > 0 and macro.size else None
        metrics[f"{metric}_macro"] = MetricValue(float(macro.mean()) if macro.size else None, ci)
    for name, point_j, boot_j in zip(label_names, point, boot, strict=True):
        if point_j is None or reasons.get(name, "").startswith(_NOT_PROBABILITIES):
            continue
        reliability[name] = _reliability(point_j, boot_j)
    notes: dict[str, Any] = {"calibration_labels_not_in_macro": reasons, "reliability_diagram": reliability}
    if n_boot > 0:
        notes["per_label_ci95"] = per_label_ci
        notes["calibration_replicates_undefined"] = {
            m: {
                name: int(np.isnan(boot_j[m]).sum())
                for name, boot_j, counted in zip(label_names, boot, in_macro, strict=True)
                if boot_j is not None and counted and np.isnan(boot_j[m]).any()
            }
            for m in ("calibration_slope", "calibration_intercept")
        }
    return TaskResult(
        metrics=metrics,
        per_label=per_label,
        conventions=conventions(binning, n_bins),
        notes=notes,
    )


def _reliability(point: dict[str, np.ndarray], boot: dict[str, np.ndarray] | None) -> list[dict[str, Any]]:
    edges = point["bin_edges"]
    bins = []
    for k in range(edges.size - 1):
        count = int(point["bin_count"][0, k])
        bins.append(
            {
                "lower": float(edges[k]),
                "upper": float(edges[k + 1]),
                "count": count,
                "mean_predicted": _finite_or_none(point["bin_predicted"][0, k]) if count else None,
                "observed": _finite_or_none(point["bin_observed"][0, k]) if count else None,
                "observed_ci95": _ci(boot["bin_observed"][:, k]) if boot is not None and count else None,
            }
        )
    return bins


def add_calibration(
    result: TaskResult,
    y_true: np.ndarray,
    y_score: np.ndarray,
    label_names: list[str],
    *,
    binary: bool,
    n_boot: int,
    seed: int,
    clusters: np.ndarray | None = None,
    binning: str = DEFAULT_BINNING,
    n_bins: int = DEFAULT_N_BINS,
) -> None:
    """Add the calibration metrics to a classification result (skipped, with the reason, for binary scores)."""
    if binary:
        calibration = skipped_result(SKIP_BINARY, label_names)
    else:
        calibration = score_calibration(
            y_true,
            y_score,
            label_names,
            n_boot=n_boot,
            seed=seed,
            clusters=clusters,
            binning=binning,
            n_bins=n_bins,
        )
    result.metrics.update(calibration.metrics)
    result.per_label.update(calibration.per_label)
    result.conventions["calibration"] = calibration.conventions or {
        "skipped": calibration.notes["calibration_skipped"]
    }
    notes = dict(calibration.notes)
    if "per_label_ci95" in notes:
        result.notes.setdefault("per_label_ci95", {}).update(notes.pop("per_label_ci95"))
    result.notes.update(notes)
