"""Calibration metrics against scikit-learn (Brier, calibration_curve bins) and statsmodels (logistic
recalibration slope, intercept with offset), per bootstrap replicate and through `cxrbench score`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices, cluster_numbers, percentile_ci
from bench.metrics.calibration import (
    LOGIT_CLIP,
    SKIP_BINARY,
    calibration_replicates,
    score_calibration,
)
from bench.metrics.calibration_plot import reliability_diagram
from bench.run.score import ScoreSettings, build_results

TOL = 1e-10
SKLEARN_STRATEGY = {"equal-width": "uniform", "equal-mass": "quantile"}


def _data(n: int, n_labels: int, seed: int, decimals: int | None = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random((n, n_labels))
    y = (rng.random((n, n_labels)) < p**1.4).astype(float)  # over-confident on purpose
    if decimals is not None:
        p = p.round(decimals)  # scores on the bin edges and many ties
    y[rng.random((n, n_labels)) < 0.1] = np.nan
    return y, p


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(clipped / (1 - clipped))


def _references(y: np.ndarray, p: np.ndarray, binning: str, n_bins: int = 10) -> dict[str, float]:
    """The four metrics of one label by scikit-learn and statsmodels (known cases only)."""
    known = ~np.isnan(y)
    y, p = y[known], p[known]
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy=SKLEARN_STRATEGY[binning])
    # counts of the non-empty bins, by np.digitize (right=True: a score on an edge goes to the lower bin)
    if binning == "equal-width":
        inner = np.linspace(0, 1, n_bins + 1)[1:-1]
    else:
        inner = np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100)[1:-1]
    counts = np.bincount(np.digitize(p, inner, right=True), minlength=n_bins)
    counts = counts[counts > 0]
    x = _logit(p)
    slope_fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12)
    intercept_fit = sm.GLM(y, np.ones_like(x), family=sm.families.Binomial(), offset=x).fit(tol=1e-12)
    return {
        "brier": brier_score_loss(y, p),
        "ece": float(np.sum(counts * np.abs(observed - predicted)) / y.size),
        "calibration_slope": float(slope_fit.params[1]),
        "calibration_intercept": float(intercept_fit.params[0]),
        "observed": observed,
        "predicted": predicted,
        "counts": counts,
    }


@pytest.mark.parametrize("binning", ["equal-width", "equal-mass"])
@pytest.mark.parametrize(("seed", "decimals"), [(0, 2), (1, 1), (2, None)])
def test_point_estimates_equal_sklearn_and_statsmodels(binning: str, seed: int, decimals: int | None) -> None:
    y, p = _data(300, 3, seed, decimals)
    names = ["a", "b", "c"]
    result = score_calibration(y, p, names, binning=binning)
    for j, name in enumerate(names):
        ref = _references(y[:, j], p[:, j], binning)
        for metric in ("brier", "ece", "calibration_slope", "calibration_intercept"):
            assert result.per_label[metric][name] == pytest.approx(ref[metric], abs=1e-8), metric
        bins = [b for b in result.notes["reliability_diagram"][name] if b["count"]]
        np.testing.assert_allclose([b["observed"] for b in bins], ref["observed"], atol=TOL)
        np.testing.assert_allclose([b["mean_predicted"] for b in bins], ref["predicted"], atol=TOL)
        assert [b["count"] for b in bins] == ref["counts"].tolist()
    for metric in ("brier", "ece", "calibration_slope", "calibration_intercept"):
        expected = np.mean([result.per_label[metric][name] for name in names])
        assert result.metrics[f"{metric}_macro"].value == pytest.approx(expected, abs=1e-12)
    assert result.conventions["binning"] == binning and result.conventions["n_bins"] == 10


@pytest.mark.parametrize("binning", ["equal-width", "equal-mass"])
def test_each_bootstrap_replicate_equals_the_references_on_resampled_rows(binning: str) -> None:
    y, p = _data(200, 2, 4, decimals=1)
    n_boot, seed = 12, 5
    replicates = calibration_replicates(y, p, bootstrap_counts(200, n_boot, seed), binning)
    for b, rows in enumerate(bootstrap_indices(200, n_boot, seed)):
        for j in range(2):
            ref = _references(y[rows, j], p[rows, j], binning)
            for metric in ("brier", "ece", "calibration_slope", "calibration_intercept"):
                assert replicates[j][metric][b] == pytest.approx(ref[metric], abs=1e-8), (b, j, metric)


def test_cluster_bootstrap_replicates_resample_whole_patients() -> None:
    y, p = _data(90, 1, 6)
    patients = np.repeat(np.arange(30), 3)  # three images per patient
    clusters = cluster_numbers(patients.tolist())
    replicates = calibration_replicates(y, p, bootstrap_counts(90, 8, 2, clusters=clusters))
    for b, drawn in enumerate(bootstrap_indices(30, 8, 2)):
        rows = np.concatenate([np.flatnonzero(patients == c) for c in drawn])
        ref = _references(y[rows, 0], p[rows, 0], "equal-width")
        assert replicates[0]["brier"][b] == pytest.approx(ref["brier"], abs=1e-12)
        assert replicates[0]["calibration_slope"][b] == pytest.approx(ref["calibration_slope"], abs=1e-8)


def test_macro_and_per_label_cis_are_percentiles_of_the_replicates() -> None:
    y, p = _data(150, 3, 8)
    n_boot, seed = 40, 3
    result = score_calibration(y, p, ["a", "b", "c"], n_boot=n_boot, seed=seed)
    reps = {m: [] for m in ("brier", "calibration_slope")}
    for rows in bootstrap_indices(150, n_boot, seed):
        for metric in reps:
            reps[metric].append(
                [_references(y[rows, j], p[rows, j], "equal-width")[metric] for j in range(3)]
            )
    for metric, values in reps.items():
        values = np.array(values)
        np.testing.assert_allclose(
            result.metrics[f"{metric}_macro"].ci95, percentile_ci(values.mean(1)), atol=1e-8
        )
        np.testing.assert_allclose(
            result.notes["per_label_ci95"][metric]["b"], percentile_ci(values[:, 1]), atol=1e-8
        )


def test_undefined_cases_are_recorded_not_guessed() -> None:
    rng = np.random.default_rng(3)
    n = 80
    p = rng.random((n, 4))
    y = (rng.random((n, 4)) < p).astype(float)
    y[:, 1] = (p[:, 1] > 0.5).astype(float)  # separated by the score: no finite slope
    y[:, 2] = 0.0  # single class
    p[:, 3] = p[:, 3] * 4 - 1  # not probabilities (logits, say)
    result = score_calibration(y, p, ["ok", "separated", "single", "logits"], n_boot=20, seed=0)
    slope = result.per_label["calibration_slope"]
    assert slope["ok"] is not None and slope["separated"] is None and slope["single"] is None
    assert result.per_label["calibration_intercept"]["separated"] is not None  # offset model still has an MLE
    assert result.per_label["brier"]["single"] == pytest.approx(np.mean(p[:, 2] ** 2))
    assert result.per_label["brier"]["logits"] is None and "logits" not in result.notes["reliability_diagram"]
    reasons = result.notes["calibration_labels_not_in_macro"]
    assert "single class" in reasons["single"] and "outside [0, 1]" in reasons["logits"]
    # macro over the labels with both classes and probabilities; an undefined slope is left out
    assert result.metrics["calibration_slope_macro"].value == pytest.approx(slope["ok"])
    brier = result.per_label["brier"]
    assert result.metrics["brier_macro"].value == pytest.approx((brier["ok"] + brier["separated"]) / 2)
    assert result.notes["calibration_replicates_undefined"]["calibration_slope"]["separated"] == 20


def test_binary_scores_are_skipped_with_the_reason() -> None:
    y, p = _data(60, 2, 9)
    result = score_calibration(y, (p >= 0.5).astype(float), ["a", "b"], n_boot=10)
    assert result.notes["calibration_skipped"] == SKIP_BINARY
    assert all(metric.value is None for metric in result.metrics.values())


def _files(tmp_path: Path, binary: bool = False) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    y, p = _data(120, 2, 11)
    y = np.nan_to_num(y, nan=0.0)
    if binary:
        p = (p >= 0.5).astype(float)
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    names = ["Effusion", "Edema"]
    gt.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"i{i}",
                    "labels": dict(zip(names, map(int, y[i]), strict=True)),
                    "meta": {"patient": i // 2},
                }
            )
            + "\n"
            for i in range(120)
        )
    )
    pred.write_text(
        "".join(
            json.dumps({"id": f"i{i}", "labels": dict(zip(names, p[i].tolist(), strict=True))}) + "\n"
            for i in range(120)
        )
    )
    return gt, pred, y, p


def test_score_results_carry_the_metrics_and_the_binning_rule(tmp_path: Path) -> None:
    gt, pred, y, p = _files(tmp_path)
    assert "brier_macro" not in build_results("classification", gt, pred, ScoreSettings(n_boot=0))["metrics"]
    settings = ScoreSettings(n_boot=50, seed=1, calibration=True)  # opt-in (--calibration)
    results = build_results("classification", gt, pred, settings)
    assert build_results("classification", gt, pred, settings) == results  # deterministic
    for metric in ("brier", "ece", "calibration_slope", "calibration_intercept"):
        entry = results["metrics"][f"{metric}_macro"]
        assert entry["value"] is not None and entry["ci95"][0] <= entry["ci95"][1]
        assert set(results["per_label"][metric]) == {"Effusion", "Edema"}
        assert results["notes"]["per_label_ci95"][metric]["Edema"] is not None
    assert results["per_label"]["brier"]["Edema"] == pytest.approx(brier_score_loss(y[:, 1], p[:, 1]))
    assert results["conventions"]["calibration"]["binning"] == "equal-width"
    assert results["conventions"]["cluster"]["unit"] == "patient"  # CIs drew patients
    assert set(results["notes"]["per_label_ci95"]) >= {"auc", "ap", "brier"}  # AUC/AP CIs kept


def test_score_results_skip_calibration_for_binary_answers(tmp_path: Path) -> None:
    gt, pred, _, _ = _files(tmp_path, binary=True)
    results = build_results("classification", gt, pred, ScoreSettings(n_boot=0, calibration=True))
    assert results["notes"]["calibration_skipped"] == SKIP_BINARY
    assert results["conventions"]["calibration"] == {"skipped": SKIP_BINARY}
    assert results["metrics"]["brier_macro"] == {"value": None, "ci95": None}


def test_reliability_diagram_svg_and_png_are_deterministic() -> None:
    y, p = _data(200, 2, 12)
    reliability = score_calibration(y, p, ["a", "b"], n_boot=30).notes["reliability_diagram"]
    svg = reliability_diagram(reliability, fmt="svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and svg == reliability_diagram(reliability)
    png = reliability_diagram(reliability, fmt="png", labels=["b"])
    assert png.startswith(b"\x89PNG") and png == reliability_diagram(reliability, fmt="png", labels=["b"])
    with pytest.raises(ValueError):
        reliability_diagram(reliability, fmt="pdf")  # type: ignore[arg-type]
