"""Runs scored for real (with --calibration) whose results files then get a hand-written `subgroups` block that
follows the contract (docs/leaderboards.md, "Subgroup tables"), so that every table number can be checked by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from conftest import write_classification

from bench.run.provenance import sha256_file
from bench.run.score import ScoreSettings, score_files

CONVENTIONS = {
    "fields": ["sex", "age_bin"],
    "age_bin": {
        "rule": "decades-80",
        "edges": [0, 20, 40, 60, 80],
        "labels": ["0-19", "20-39", "40-59", "60-79", "80+"],
        "source": "Seyyed-Kalantari et al. 2021, Nat Med 27:2176",
    },  # fmt: skip
    "cluster": "patient",
    "bootstrap_replicates": 1000,
    "seed": 0,
    "ci_level": 0.95,
    "gap_test": "group minus overall on the same patient draws",
    "multiplicity": "Holm within each field and metric",
    "small_group": {"min_cases": 30, "min_positives": 5, "meaning": "reported, flagged small; never dropped"},
    "missing": "records without the meta field form the group 'unknown'",
}
DEFINITION = "false-positive rate of No Finding among images with a finding (Seyyed-Kalantari et al. 2021)"


def _group(
    value: str, n: int, small: bool, auc: float, ci: list[float], gap: float, p: float, p_holm: float
) -> dict:
    return {
        "value": value, "n": n, "n_clusters": n - 3, "small": small,
        "metrics": {"auc_macro": {"value": auc, "ci": ci}, "ap_macro": {"value": 0.5, "ci": None}},
        "gap_to_overall": {"auc_macro": {"value": gap, "ci": None if gap is None else [gap - 0.02, gap + 0.02],
                                         "p": p, "p_holm": p_holm}},
    }  # fmt: skip


# Per model: sex F / M (M is small: 29 < 30 cases), age 20-39 / 40-59 / unknown; an FPR table for sex only.
SUBGROUPS: dict[str, dict[str, Any]] = {
    "a": {
        "sex": [
            _group("F", 31, False, 0.812, [0.79, 0.834], -0.021, 0.012, 0.024),
            _group("M", 29, True, 0.853, [0.821, 0.88], 0.020, 0.03, 0.06),
        ],  # fmt: skip
        "age_bin": [
            _group("20-39", 20, True, 0.9, [0.85, 0.95], 0.067, 0.001, 0.003),
            _group("40-59", 25, True, 0.8, [0.7, 0.9], -0.033, 0.2, 0.4),
            _group("unknown", 15, True, None, None, None, None, None),
        ],  # fmt: skip  (one class: undefined)
        "fpr": ([0.12, [0.05, 0.2], 22], [0.3, [0.18, 0.42], 21], [-0.18, [-0.33, -0.03], 0.01, 0.01]),
    },
    "b": {
        "sex": [
            _group("F", 31, False, 0.701, [0.65, 0.75], 0.004, 0.7, 0.7),
            _group("M", 29, True, 0.69, [0.62, 0.76], -0.007, 0.5, 0.7),
        ],  # fmt: skip
        "age_bin": [
            _group("20-39", 20, True, 0.66, [0.55, 0.77], -0.037, 0.3, 0.9),
            _group("40-59", 25, True, 0.72, [0.62, 0.82], 0.023, 0.4, 0.9),
            _group("unknown", 15, True, 0.71, [0.6, 0.8], 0.013, 0.6, 0.9),
        ],  # fmt: skip
        "fpr": ([0.25, [0.1, 0.4], 22], [0.2, [0.08, 0.33], 21], [0.05, [-0.1, 0.2], 0.5, 0.5]),
    },
}


def subgroups_block(name: str) -> dict[str, Any]:
    data = SUBGROUPS[name]
    (fpr_f, ci_f, nf), (fpr_m, ci_m, nm), (gap, gap_ci, p, p_holm) = data["fpr"]
    return {
        "conventions": CONVENTIONS,
        "fields": {
            "sex": {
                "groups": data["sex"],
                "pairwise": [
                    {
                        "a": "F",
                        "b": "M",
                        "metric": "auc_macro",
                        "gap": -0.04,
                        "ci": [-0.08, 0.0],
                        "p": 0.08,
                        "p_holm": 0.08,
                    }
                ],  # fmt: skip
                "underdiagnosis": {
                    "label": "No Finding",
                    "threshold": 0.5,
                    "definition": DEFINITION,
                    "groups": [
                        {"value": "F", "fpr": fpr_f, "ci": ci_f, "n_with_finding": nf},
                        {"value": "M", "fpr": fpr_m, "ci": ci_m, "n_with_finding": nm},
                    ],
                    "pairwise": [{"a": "F", "b": "M", "gap": gap, "ci": gap_ci, "p": p, "p_holm": p_holm}],
                },  # fmt: skip
            },
            "age_bin": {"groups": data["age_bin"], "pairwise": []},
        },
    }


def make_calibrated_run(root: Path, name: str, model: str, gt: Path, pred: Path) -> Path:
    """A zero-shot chexpert run scored with --calibration (50 bootstrap replicates), in the runner's layout."""
    run = root / name
    (run / "results").mkdir(parents=True)
    shutil.copyfile(gt, run / "gt.jsonl")
    shutil.copyfile(pred, run / "predictions.jsonl")
    settings = ScoreSettings(n_boot=50, seed=0, meteor=False, calibration=True)
    score_files("classification", run / "gt.jsonl", run / "predictions.jsonl", run / "results" / "classification.json",
                settings)  # fmt: skip
    manifest = {
        "model": {"spec": model},
        "dataset": {"name": "chexpert", "split": "test"},
        "mode": "zero-shot",
        "seed": 0,
        "files": {"gt": {"path": "gt.jsonl", "sha256": sha256_file(run / "gt.jsonl")},
                  "predictions": {"path": "predictions.jsonl", "sha256": sha256_file(run / "predictions.jsonl")}},
    }  # fmt: skip
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return run


def add_subgroups(run: Path, name: str) -> dict[str, Any]:
    """Write the hand-written subgroups block into the run's results file (every other key as scored)."""
    path = run / "results" / "classification.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    results["subgroups"] = subgroups_block(name)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


SPEC = """name: fair
title: Subgroup and calibration fixture
significance: {test: paired_bootstrap, n_boot: 30, seed: 0, family: table}
columns:
  - {id: auc, benchmark: chexpert, task: classification, metric: auc_macro, label: CheXpert AUC, mode: zero-shot}
  - {id: brier, benchmark: chexpert, task: classification, metric: brier_macro, label: Brier, mode: zero-shot}
  - {id: ece, benchmark: chexpert, task: classification, metric: ece_macro, label: ECE, mode: zero-shot}
  - {id: slope, benchmark: chexpert, task: classification, metric: calibration_slope_macro, label: Cal. slope,
     mode: zero-shot}
  - {id: icpt, benchmark: chexpert, task: classification, metric: calibration_intercept_macro, label: Cal. intercept,
     mode: zero-shot}
rows:
  - {id: a, label: Model A, model: "a:*"}
  - {id: b, label: Model B, model: "b:*"}
  - {id: c, label: Model C, model: "c:*"}
subgroups:
  - {id: fair-auc, column: auc/zero-shot, label: CheXpert AUC (ZS), fields: [sex, age_bin]}
"""


def build_fixture(root: Path) -> Path:
    """Three models (a, b with subgroups; c without) scored with calibration; returns the runs folder."""
    data = write_classification(root / "data", 60, 11, {"a": 0.45, "b": 0.15, "c": 0.3})
    for name in ("a", "b", "c"):
        run = make_calibrated_run(root / "runs", name, f"{name}:w", data["gt"], data[name])
        if name in SUBGROUPS:
            add_subgroups(run, name)
    (root / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return root / "runs"
