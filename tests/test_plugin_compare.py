"""`compare` on a plugin metric (bench.metrics.extra): the paired tests of the registered function, checked against
explicit resampling and swapping of each system's own arrays; names, directions and provenance as `score` has them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench import tasks
from bench.errors import BadInputError
from bench.metrics import extra
from bench.metrics.bootstrap import bootstrap_indices, cluster_numbers
from bench.metrics.extra import register_metric
from bench.metrics.significance import randomization_swaps
from bench.run.compare import compare_files

LABELS = ("A", "B")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(extra, "EXTRA_METRICS", {task: {} for task in tasks.TASK_NAMES})
    monkeypatch.setattr(tasks, "REGISTERED_DIRECTIONS", {})
    monkeypatch.delenv("CXRBENCH_PLUGINS", raising=False)
    yield


def mean_gap(y_true: np.ndarray, y_score: np.ndarray, label_names: list[str]) -> float:
    """Mean score of known positives minus mean score of known negatives, pooled over labels."""
    known = ~np.isnan(y_true)
    return float(y_score[known & (y_true == 1)].mean() - y_score[known & (y_true == 0)].mean())


def _files(
    tmp_path: Path, n: int = 40, seed: int = 3
) -> tuple[Path, Path, Path, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    patients = [f"P{int(k)}" for k in rng.integers(0, 12, size=n)]
    y = (rng.random((n, 2)) < 0.4).astype(float)
    y[rng.random((n, 2)) < 0.15] = np.nan
    s_a = np.round(np.clip(0.3 * np.nan_to_num(y) + rng.random((n, 2)) * 0.7, 0, 1), 3)
    s_b = np.round(rng.random((n, 2)), 3)
    lines: dict[str, list[str]] = {"gt.jsonl": [], "a.jsonl": [], "b.jsonl": []}
    for i, patient in enumerate(patients):
        labels = {k: None if np.isnan(y[i, j]) else int(y[i, j]) for j, k in enumerate(LABELS)}
        lines["gt.jsonl"].append(json.dumps({"id": f"i{i}", "labels": labels, "meta": {"patient": patient}}))
        for name, s in (("a.jsonl", s_a), ("b.jsonl", s_b)):
            lines[name].append(
                json.dumps({"id": f"i{i}", "labels": dict(zip(LABELS, s[i].tolist(), strict=True))})
            )
    for name, rows in lines.items():
        (tmp_path / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    clusters = cluster_numbers(patients)
    return (
        tmp_path / "gt.jsonl",
        tmp_path / "a.jsonl",
        tmp_path / "b.jsonl",
        y,
        np.stack([s_a, s_b]),
        clusters,
    )


def _cases_of(drawn: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """The images of each drawn patient, patient after patient, each patient's in file order (a plain loop)."""
    return np.array([i for c in drawn for i in range(clusters.size) if clusters[i] == c], dtype=int)


def test_classification_plugin_is_tested_on_whole_patients(tmp_path: Path, registry: None) -> None:
    gt, a, b, y, scores, clusters = _files(tmp_path)
    register_metric("mean_gap", "classification", mean_gap)
    result = compare_files(
        "classification",
        gt,
        a,
        b,
        tmp_path / "c.json",
        metrics=["mean_gap", "auc_macro"],
        n_boot=300,
        n_perm=300,
        seed=4,
    )
    entry = result["comparisons"]["mean_gap"]
    names = list(LABELS)
    value_a, value_b = mean_gap(y, scores[0], names), mean_gap(y, scores[1], names)
    assert (entry["a"], entry["b"]) == (pytest.approx(value_a, abs=1e-15), pytest.approx(value_b, abs=1e-15))
    assert result["settings"]["cluster"] == "patient" and "lower_is_better" not in entry

    diffs = []
    for drawn in bootstrap_indices(int(clusters.max()) + 1, 300, 4):
        rows = _cases_of(drawn, clusters)
        diffs.append(mean_gap(y[rows], scores[0][rows], names) - mean_gap(y[rows], scores[1][rows], names))
    assert entry["paired_bootstrap"]["ci95"] == pytest.approx(
        list(np.percentile(diffs, [2.5, 97.5])), abs=1e-12
    )

    observed = value_a - value_b
    at_least = 0
    for chunk in randomization_swaps(y.shape[0], 300, 4, clusters):
        for swap in chunk:
            swapped_a = np.where(swap[:, None], scores[1], scores[0])
            swapped_b = np.where(swap[:, None], scores[0], scores[1])
            at_least += (
                abs(mean_gap(y, swapped_a, names) - mean_gap(y, swapped_b, names)) >= abs(observed) - 1e-12
            )
    assert entry["approximate_randomization"]["p_value"] == pytest.approx((at_least + 1) / 301, abs=1e-15)

    recorded = result["conventions"]["extra_metrics"]["mean_gap"]
    assert recorded["module"] == __name__ and recorded["qualname"] == "mean_gap"
    alone = compare_files(
        "classification", gt, a, b, tmp_path / "d.json", metrics=["auc_macro"], n_boot=300, n_perm=300, seed=4
    )
    assert alone["comparisons"]["auc_macro"] == result["comparisons"]["auc_macro"]  # built-ins untouched
    assert "conventions" not in alone


def length_ratio(refs: list[str], hyps: list[str]) -> float:
    return sum(len(h.split()) for h in hyps) / sum(len(r.split()) for r in refs)


def test_report_plugin_and_its_declared_direction(tmp_path: Path, registry: None) -> None:
    refs = [
        "no acute findings",
        "small left pleural effusion",
        "heart size normal lungs clear",
        "mild edema",
        "clear",
    ]
    hyps = {
        "a": [
            "no findings",
            "left effusion",
            "normal heart",
            "moderate pulmonary edema seen today",
            "lungs clear",
        ],
        "b": [
            "no acute findings",
            "small effusion on the left",
            "heart normal",
            "edema",
            "clear lungs bilaterally",
        ],
    }
    (tmp_path / "gt.jsonl").write_text(
        "".join(json.dumps({"id": f"r{i}", "report": r}) + "\n" for i, r in enumerate(refs))
    )
    for system, texts in hyps.items():
        (tmp_path / f"{system}.jsonl").write_text(
            "".join(json.dumps({"id": f"r{i}", "report": h}) + "\n" for i, h in enumerate(texts))
        )
    register_metric("length_ratio", "report", length_ratio, lower_is_better=True)
    result = compare_files(
        "report", tmp_path / "gt.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.json",
        metrics=["length_ratio", "bleu4"], n_boot=100, n_perm=0, seed=1,
    )  # fmt: skip
    entry = result["comparisons"]["length_ratio"]
    assert entry["lower_is_better"] is True
    assert entry["diff"] == pytest.approx(
        length_ratio(refs, hyps["a"]) - length_ratio(refs, hyps["b"]), abs=1e-15
    )
    diffs = []
    for rows in bootstrap_indices(len(refs), 100, 1):
        picked = [refs[i] for i in rows]
        diffs.append(
            length_ratio(picked, [hyps["a"][i] for i in rows])
            - length_ratio(picked, [hyps["b"][i] for i in rows])
        )
    assert entry["paired_bootstrap"]["ci95"] == pytest.approx(
        list(np.percentile(diffs, [2.5, 97.5])), abs=1e-12
    )
    assert "bleu4" in result["comparisons"]


def test_a_metric_best_near_a_target_or_named_like_a_built_in_is_refused(
    tmp_path: Path, registry: None
) -> None:
    gt, a, b, *_ = _files(tmp_path)
    register_metric("gap_to_one", "classification", mean_gap, target=1.0)
    with pytest.raises(ValueError, match="closest to 1"):
        compare_files(
            "classification", gt, a, b, tmp_path / "c.json", metrics=["gap_to_one"], n_boot=10, n_perm=10
        )
    register_metric("ap_macro", "classification", mean_gap)  # allowed at registration, refused once scored
    with pytest.raises(BadInputError, match="name of a built-in classification metric"):
        compare_files(
            "classification", gt, a, b, tmp_path / "c.json", metrics=["ap_macro"], n_boot=10, n_perm=10
        )
    assert not (tmp_path / "c.json").exists()


def _same(x: object, y: object) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(i, j) for i, j in zip(x, y, strict=True))
    return x == y


@pytest.mark.parametrize("task", ["classification", "segmentation", "localization", "report"])
def test_stacked_systems_give_back_each_system(task: str) -> None:
    """Rows 0..n-1 of the stacked arguments are the first system's, rows n..2n-1 the second's, in every task."""
    from bench.metrics.localization import DetectionSet

    def detections(offset: float, shapes: bool) -> DetectionSet:
        boxes = [np.full((k, 4), offset + k) for k in range(3)]
        return DetectionSet(
            ["X", "Y"], boxes, [np.zeros(k, int) for k in range(3)], [b + 1 for b in boxes],
            [np.ones(k, int) for k in range(3)], [np.full(k, offset) for k in range(3)],
            gt_shapes=[["ellipse"] * k for k in range(3)] if shapes else None,
        )  # fmt: skip

    arguments = {
        "classification": lambda o: (
            np.array([[1.0, np.nan], [0, 1], [1, 0]]),
            np.full((3, 2), o),
            ["p", "q"],
        ),
        "segmentation": lambda o: (
            {"lung": [f"g{o}", None, "g"]},
            {"lung": [f"p{o}", "p", None]},
            [(o, o), None, (1, 1)],
        ),
        "localization": lambda o: (detections(o, shapes=o > 0),),
        "report": lambda o: ([f"ref {o}", "ref", "ref"], [f"hyp {o}", "hyp", "hyp"]),
    }[task]
    first, second = arguments(0.0), arguments(1.0)
    stacked = extra.concatenate(task, first, second)
    assert extra._case_total(task, stacked) == 6
    for rows, expected in ((np.arange(3), first), (np.arange(3, 6), second)):
        got = extra.subset(task, stacked, rows)
        if task == "localization":
            (got_set,), (expected_set,) = got, expected
            for field in ("gt_boxes", "gt_labels", "pred_boxes", "pred_labels", "pred_scores"):
                assert _same(getattr(got_set, field), getattr(expected_set, field)), field
            shapes = expected_set.gt_shapes or [[None] * len(b) for b in expected_set.gt_boxes]
            assert got_set.gt_shapes == shapes and got_set.label_names == expected_set.label_names
        else:
            assert _same(got, expected)


def test_cli_compare_loads_the_plugin_and_words_a_refusal(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    gt, a, b, *_ = _files(tmp_path)
    (tmp_path / "gap_metrics.py").write_text(
        "from bench.metrics.extra import register_metric\n"
        "def gap(y, s, names):\n"
        "    import numpy as np\n"
        "    k = ~np.isnan(y)\n"
        "    return float(s[k & (y == 1)].mean() - s[k & (y == 0)].mean())\n"
        "register_metric('gap', 'classification', gap)\n"
        "register_metric('gap_near_one', 'classification', gap, target=1.0)\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(tmp_path), CXRBENCH_PLUGINS="gap_metrics", NO_COLOR="1", COLUMNS="200")
    base = [
        str(Path(sys.executable).with_name("cxrbench")),
        "compare",
        "--task",
        "classification",
        "--gt",
        str(gt),
    ]
    base += ["--pred-a", str(a), "--pred-b", str(b), "--bootstrap", "50", "--permutations", "50"]
    done = subprocess.run(
        [*base, "--out", "c.json", "--metrics", "gap"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "c.json").read_text())["comparisons"]["gap"]["paired_bootstrap"]["ci95"]
    refused = subprocess.run(
        [*base, "--out", "r.json", "--metrics", "gap_near_one"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "closest to 1" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "r.json").exists()
