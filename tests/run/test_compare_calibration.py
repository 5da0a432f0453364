"""`cxrbench compare` tests Brier and ECE (lower is better) on the same draws as the other metrics: each system's
value equals `cxrbench score --calibration`, the paired bootstrap equals a scikit-learn loop over the same drawn
cases, and calibration slope / intercept (best closest to 1 / 0) are refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss
from typer.testing import CliRunner

from bench.metrics.bootstrap import bootstrap_indices, percentile_ci
from cxrbench.cli import app

runner = CliRunner()
LABELS = ["Edema", "Effusion", "Nodule"]


def _files(tmp_path: Path, n: int = 120) -> tuple[Path, Path, Path, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = (rng.random((n, 3)) < 0.3).astype(int)
    a = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.15, y.shape), 0.01, 0.99).round(4)
    b = np.clip(0.4 + 0.2 * y + rng.normal(0, 0.25, y.shape), 0.01, 0.99).round(4)
    paths = []
    for name, rows in (
        ("gt", [{"id": f"i{k}", "labels": dict(zip(LABELS, map(int, y[k]), strict=True))} for k in range(n)]),
        (
            "a",
            [{"id": f"i{k}", "labels": dict(zip(LABELS, map(float, a[k]), strict=True))} for k in range(n)],
        ),
        (
            "b",
            [{"id": f"i{k}", "labels": dict(zip(LABELS, map(float, b[k]), strict=True))} for k in range(n)],
        ),
    ):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(path)
    return paths[0], paths[1], paths[2], y, a, b


def _macro_brier(y: np.ndarray, s: np.ndarray) -> float:
    return float(np.mean([brier_score_loss(y[:, j], s[:, j]) for j in range(y.shape[1])]))


def test_brier_and_ece_are_compared_like_score_computes_them(tmp_path: Path) -> None:
    gt, pa, pb, y, a, b = _files(tmp_path)
    out = tmp_path / "cmp.json"
    args = ["compare", "--task", "classification", "--gt", str(gt), "--pred-a", str(pa), "--pred-b", str(pb)]
    result = runner.invoke(
        app, [*args, "--out", str(out), "--metrics", "brier_macro,ece_macro", "--bootstrap", "60",
              "--permutations", "40", "--cluster", "image"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cmp = json.loads(out.read_text())
    for name, pred in (("a", pa), ("b", pb)):
        scored = tmp_path / f"{name}.json"
        assert runner.invoke(app, ["score", "--task", "classification", "--gt", str(gt), "--pred", str(pred),
                                   "--out", str(scored), "--calibration", "--bootstrap", "0", "--quiet"]).exit_code == 0  # fmt: skip
        metrics = json.loads(scored.read_text())["metrics"]
        for metric in ("brier_macro", "ece_macro"):
            assert cmp["comparisons"][metric][name] == pytest.approx(metrics[metric]["value"], abs=1e-12)
    brier = cmp["comparisons"]["brier_macro"]
    assert brier["a"] == pytest.approx(_macro_brier(y, a), abs=1e-12)
    assert brier["lower_is_better"] is True and cmp["comparisons"]["ece_macro"]["lower_is_better"] is True
    # the same drawn cases score both systems: an independent scikit-learn loop over them
    diffs = [
        _macro_brier(y[idx], a[idx]) - _macro_brier(y[idx], b[idx])
        for idx in bootstrap_indices(len(y), 60, 0)
    ]
    assert brier["paired_bootstrap"]["ci95"] == pytest.approx(list(percentile_ci(np.array(diffs))), abs=1e-12)


def test_a_system_against_itself_and_slope_refused(tmp_path: Path) -> None:
    gt, pa, _, *_ = _files(tmp_path, n=60)
    out = tmp_path / "self.json"
    args = ["compare", "--task", "classification", "--gt", str(gt), "--pred-a", str(pa), "--pred-b", str(pa)]
    assert runner.invoke(app, [*args, "--out", str(out), "--metrics", "brier_macro", "--bootstrap", "30",
                               "--permutations", "30"]).exit_code == 0  # fmt: skip
    brier = json.loads(out.read_text())["comparisons"]["brier_macro"]
    assert brier["diff"] == 0.0 and brier["paired_bootstrap"]["p_value"] == 1.0
    refused = runner.invoke(
        app, [*args, "--out", str(tmp_path / "x.json"), "--metrics", "calibration_slope_macro"]
    )
    assert refused.exit_code == 2 and "closest to their ideal value" in refused.output
    assert not (tmp_path / "x.json").exists()
