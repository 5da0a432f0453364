"""Plugins (bench.plugins) and the extra-metric registry (bench.metrics.extra): how modules are found and what a
failing one prints; which names a metric may take, its direction, and its CI over the run's own bootstrap draws."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench import plugins, tasks
from bench.errors import BadInputError
from bench.metrics import extra
from bench.metrics.bootstrap import bootstrap_counts, cluster_numbers
from bench.metrics.extra import register_metric
from bench.run.score import build_results, score_files
from bench.run.settings import ScoreSettings

CXRBENCH = Path(sys.executable).with_name("cxrbench")


def _env(tmp_path: Path, plugins_value: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CXRBENCH_PLUGINS", "PYTHONPATH")}
    env.update(PYTHONPATH=str(tmp_path), NO_COLOR="1", COLUMNS="200")
    if plugins_value is not None:
        env["CXRBENCH_PLUGINS"] = plugins_value
    return env


def _cli(tmp_path: Path, *args: str, plugins_value: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CXRBENCH), *args],
        cwd=tmp_path,
        env=_env(tmp_path, plugins_value),
        capture_output=True,
        text=True,
    )


def _dist_info(folder: Path, dist: str, entry_points: str) -> None:
    """An installed distribution as importlib.metadata finds it on sys.path: METADATA and entry_points.txt."""
    info = folder / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[cxrbench.plugins]\n{entry_points}\n", encoding="utf-8")


# ---- plugins ---------------------------------------------------------------------------------------------------


def test_a_module_that_is_not_there_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _cli(tmp_path, "data", "check", "tiny", "--root", ".", plugins_value="no_such_plugin_mod")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: plugin module 'no_such_plugin_mod' (named by CXRBENCH_PLUGINS) failed to import: "
        "ModuleNotFoundError: No module named 'no_such_plugin_mod'"
    ]


def test_a_module_that_raises_stops_score_and_run_before_writing(tmp_path: Path) -> None:
    (tmp_path / "broken_plugin.py").write_text(
        "raise RuntimeError('boom:\\n  second line')\n", encoding="utf-8"
    )
    (tmp_path / "gt.jsonl").write_text('{"id": "a", "labels": {"X": 1}}\n{"id": "b", "labels": {"X": 0}}\n')
    (tmp_path / "pred.jsonl").write_text(
        '{"id": "a", "labels": {"X": 0.9}}\n{"id": "b", "labels": {"X": 0.1}}\n'
    )
    expected = (
        "error: plugin module 'broken_plugin' (named by CXRBENCH_PLUGINS) failed to import: "
        "RuntimeError: boom: second line"
    )
    score = _cli(
        tmp_path, "score", "--task", "classification", "--gt", "gt.jsonl", "--pred", "pred.jsonl",
        "--out", "r.json", plugins_value="broken_plugin",
    )  # fmt: skip
    assert (score.returncode, score.stderr.splitlines()) == (2, [expected])
    assert not (tmp_path / "r.json").exists()
    run = _cli(
        tmp_path, "run", "--model", "somekind:x", "--dataset", "jsrt", "--root", ".", "--out", "run",
        plugins_value="broken_plugin",
    )  # fmt: skip
    assert run.returncode == 2 and expected in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "run").exists()


def test_help_imports_no_plugin(tmp_path: Path) -> None:
    (tmp_path / "marker_plugin.py").write_text("open('imported', 'w').close()\n", encoding="utf-8")
    assert _cli(tmp_path, "--help", plugins_value="marker_plugin").returncode == 0
    assert not (tmp_path / "imported").exists()
    code = "import sys, cxrbench.cli; print('bench.plugins' in sys.modules, 'bench.metrics.extra' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    # the same module is imported by a command that looks a name up
    _cli(tmp_path, "data", "check", "nope", "--root", ".", plugins_value="marker_plugin")
    assert (tmp_path / "imported").exists()


def test_entry_points_of_installed_distributions_are_read(tmp_path: Path) -> None:
    (tmp_path / "ep_model.py").write_text(
        "from bench.models import MODEL_KINDS, ModelAdapter\n"
        "class Echo(ModelAdapter):\n"
        "    tasks = frozenset({'classification'})\n"
        "    def __init__(self, arg): self.arg = arg\n"
        "    def predict(self, batch, spec): return []\n"
        "    def describe(self): return {'spec': 'echo:' + self.arg}\n"
        "MODEL_KINDS['echo'] = 'ep_model:Echo'\n",
        encoding="utf-8",
    )
    _dist_info(tmp_path, "echo-plugin", "echo = ep_model")
    code = (
        "from bench.models import load_model; from bench.plugins import load_plugins;"
        "print(load_model('echo:hello').describe()['spec']); print(load_plugins()['ep_model'].source)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "echo:hello",
        "entry point 'echo' of distribution echo-plugin (cxrbench.plugins)",
    ]


def test_a_broken_entry_point_names_its_distribution(tmp_path: Path) -> None:
    _dist_info(tmp_path, "broken-dist", "gone = not_installed_module")
    result = _cli(tmp_path, "data", "check", "nope", "--root", ".")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: plugin module 'not_installed_module' (named by entry point 'gone' of distribution broken-dist "
        "(cxrbench.plugins)) failed to import: ModuleNotFoundError: No module named 'not_installed_module'"
    ]


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CXRBENCH_PLUGINS", raising=False)
    monkeypatch.setattr(plugins, "_loaded", {})
    monkeypatch.setattr(plugins, "_entry_points_read", False)
    monkeypatch.setattr(plugins, "_env_read", None)


def test_each_module_is_imported_once_and_a_new_value_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> None:
    from bench.datasets.base import UnknownDatasetError, get_adapter

    for name in ("count_a", "count_b"):
        (tmp_path / f"{name}.py").write_text(
            f"with open({str(tmp_path / 'log')!r}, 'a') as f: f.write('{name}\\n')\n", encoding="utf-8"
        )
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CXRBENCH_PLUGINS", " count_a, ,count_a ")
    for _ in range(3):
        plugins.load_plugins()
        with pytest.raises(UnknownDatasetError, match="unknown dataset 'nope'"):
            get_adapter("nope")  # loads plugins, then the usual error
    monkeypatch.setenv("CXRBENCH_PLUGINS", "count_a,count_b")
    assert set(plugins.load_plugins()) >= {"count_a", "count_b"}
    plugins.load_plugins()
    assert (tmp_path / "log").read_text().splitlines() == ["count_a", "count_b"]
    for name in ("count_a", "count_b"):
        monkeypatch.delitem(sys.modules, name, raising=False)


# ---- the metric registry ----------------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> Iterator[None]:
    monkeypatch.setattr(extra, "EXTRA_METRICS", {task: {} for task in tasks.TASK_NAMES})
    monkeypatch.setattr(tasks, "REGISTERED_DIRECTIONS", {})
    yield


def mean_gap(y_true: np.ndarray, y_score: np.ndarray, label_names: list[str]) -> float:
    """Mean score of known positives minus mean score of known negatives, pooled over labels."""
    known = ~np.isnan(y_true)
    return float(y_score[known & (y_true == 1)].mean() - y_score[known & (y_true == 0)].mean())


def other_gap(y_true: np.ndarray, y_score: np.ndarray, label_names: list[str]) -> float:
    return -mean_gap(y_true, y_score, label_names)


def _classification_files(tmp_path: Path, n: int = 30, seed: int = 1) -> tuple[Path, Path, list[str]]:
    rng = np.random.default_rng(seed)
    patients = [f"P{int(k)}" for k in rng.integers(0, 9, size=n)]
    gt, pred = [], []
    for i, patient in enumerate(patients):
        labels = {
            "A": float(rng.random() < 0.5),
            "B": None if rng.random() < 0.2 else float(rng.random() < 0.4),
        }
        gt.append({"id": f"i{i}", "labels": labels, "meta": {"patient": patient}})
        pred.append({"id": f"i{i}", "labels": {k: round(float(rng.random()), 3) for k in labels}})
    for name, rows in (("gt.jsonl", gt), ("pred.jsonl", pred)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path / "gt.jsonl", tmp_path / "pred.jsonl", patients


def _arrays(gt_path: Path, pred_path: Path) -> tuple[np.ndarray, np.ndarray]:
    gt = [json.loads(line) for line in gt_path.read_text().splitlines()]
    pred = [json.loads(line) for line in pred_path.read_text().splitlines()]
    y = np.array([[np.nan if g["labels"][k] is None else g["labels"][k] for k in "AB"] for g in gt])
    return y, np.array([[p["labels"][k] for k in "AB"] for p in pred])


def _hand_ci(fn, arrays: tuple, counts: np.ndarray) -> list[float]:
    replicates = []
    for row in counts:
        rows = np.repeat(np.arange(len(row)), row)
        replicates.append(fn(*(a[rows] for a in arrays), ["A", "B"]))
    return list(np.percentile(replicates, [2.5, 97.5]))


def test_ci_is_the_function_on_the_runs_cluster_draws(tmp_path: Path, registry: None) -> None:
    gt, pred, patients = _classification_files(tmp_path)
    register_metric("mean_gap", "classification", mean_gap)
    y, s = _arrays(gt, pred)
    clustered = bootstrap_counts(len(patients), 200, 5, clusters=cluster_numbers(patients))
    per_image = bootstrap_counts(len(patients), 200, 5)
    results = build_results("classification", gt, pred, ScoreSettings(n_boot=200, seed=5))
    assert results["settings"]["cluster"] == "patient"
    metric = results["metrics"]["mean_gap"]
    assert metric["value"] == pytest.approx(mean_gap(y, s, ["A", "B"]), abs=1e-15)
    assert metric["ci95"] == pytest.approx(_hand_ci(mean_gap, (y, s), clustered), abs=1e-15)
    assert metric["ci95"] != pytest.approx(
        _hand_ci(mean_gap, (y, s), per_image), abs=1e-6
    )  # clusters did count
    by_image = build_results("classification", gt, pred, ScoreSettings(n_boot=200, seed=5, cluster="image"))
    assert by_image["metrics"]["mean_gap"]["ci95"] == pytest.approx(
        _hand_ci(mean_gap, (y, s), per_image), abs=1e-15
    )
    # the built-in metrics are untouched by the extra one
    register_metric("mean_gap", "classification", mean_gap)  # the same function again: allowed
    extra.unregister_metric("mean_gap", "classification")
    plain = build_results("classification", gt, pred, ScoreSettings(n_boot=200, seed=5))
    assert plain["metrics"] == {k: v for k, v in results["metrics"].items() if k != "mean_gap"}
    assert "extra_metrics" not in plain["conventions"]


def test_results_name_the_code_and_the_direction(tmp_path: Path, registry: None) -> None:
    gt, pred, _ = _classification_files(tmp_path)
    register_metric("gap_error", "classification", other_gap, lower_is_better=True)
    recorded = build_results("classification", gt, pred, ScoreSettings(n_boot=20))["conventions"][
        "extra_metrics"
    ]
    assert recorded["gap_error"]["module"] == __name__ and recorded["gap_error"]["qualname"] == "other_gap"
    assert recorded["gap_error"]["source_sha256"] == hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    assert recorded["gap_error"]["direction"] == "lower is better"
    from leaderboards.directions import metric_direction as table_direction

    assert tasks.metric_direction("gap_error") == table_direction("gap_error") == tasks.Direction(True)
    register_metric("ratio", "report", lambda refs, hyps: 1.0, target=1)
    assert tasks.metric_direction("ratio") == tasks.Direction(target=1.0)
    # an exact registered name wins over a built-in family it happens to start with (hd95: lower is better)
    register_metric("hd95_words", "report", lambda refs, hyps: 1.0)
    assert tasks.metric_direction("hd95_words").lower_is_better is False
    assert tasks.metric_direction("hd95_mean").lower_is_better is True


def test_names_are_refused_clearly(tmp_path: Path, registry: None) -> None:
    refused = {
        ("auc_macro", "classification"): "is a built-in classification metric",
        ("ece", "classification"): "is a built-in classification metric",
        ("bleu4", "report"): "is a built-in report metric",
        ("sens/Edema", "classification"): "no '/'",
        ("x", "triage"): "task 'triage' is not one of",
    }
    for (name, task), why in refused.items():
        with pytest.raises(BadInputError, match=why):
            register_metric(name, task, mean_gap)
    with pytest.raises(BadInputError, match="not both"):
        register_metric("x", "classification", mean_gap, lower_is_better=True, target=0.0)
    register_metric("gap", "classification", mean_gap)
    with pytest.raises(BadInputError, match=f"already registered by {__name__}:mean_gap"):
        register_metric("gap", "classification", other_gap)
    with pytest.raises(BadInputError, match="already registered as higher is better"):
        register_metric("gap", "report", lambda refs, hyps: 0.0, lower_is_better=True)
    # a built-in name not caught at registration is refused when scoring, before anything is written
    gt, pred, _ = _classification_files(tmp_path)
    register_metric("ap_macro", "classification", mean_gap)
    with pytest.raises(BadInputError, match="'ap_macro' .* has the name of a built-in classification metric"):
        score_files("classification", gt, pred, tmp_path / "r.json", ScoreSettings(n_boot=10))
    assert not (tmp_path / "r.json").exists()


def test_a_bug_in_the_function_keeps_its_traceback_and_says_where(tmp_path: Path, registry: None) -> None:
    gt, pred, _ = _classification_files(tmp_path)

    def broken(y_true: np.ndarray, y_score: np.ndarray, label_names: list[str]) -> float:
        return 1 / 0

    register_metric("broken", "classification", broken)
    with pytest.raises(ZeroDivisionError) as caught:
        build_results("classification", gt, pred, ScoreSettings(n_boot=10))
    assert any("extra metric 'broken'" in note and "all 30 cases" in note for note in caught.value.__notes__)


def length_ratio(refs: list[str], hyps: list[str]) -> float:
    return sum(len(h.split()) for h in hyps) / sum(len(r.split()) for r in refs)


def test_report_metric_gets_the_texts_and_the_same_draws(tmp_path: Path, registry: None) -> None:
    refs = ["no acute findings", "small left pleural effusion", "heart size normal lungs clear", "mild edema"]
    hyps = ["no findings", "left effusion is small", "normal heart", "moderate pulmonary edema seen today"]
    patients = ["p1", "p1", "p2", "p3"]
    (tmp_path / "gt.jsonl").write_text(
        "".join(
            json.dumps({"id": f"r{i}", "report": r, "meta": {"patient": p}}) + "\n"
            for i, (r, p) in enumerate(zip(refs, patients, strict=True))
        )  # fmt: skip
    )
    (tmp_path / "pred.jsonl").write_text(
        "".join(json.dumps({"id": f"r{i}", "report": h}) + "\n" for i, h in enumerate(hyps))
    )
    register_metric("length_ratio", "report", length_ratio)
    results = build_results(
        "report",
        tmp_path / "gt.jsonl",
        tmp_path / "pred.jsonl",
        ScoreSettings(n_boot=50, seed=2, meteor=False),
    )
    counts = bootstrap_counts(4, 50, 2, clusters=cluster_numbers(patients))
    replicates = []
    for row in counts:
        rows = np.repeat(np.arange(4), row)
        replicates.append(length_ratio([refs[i] for i in rows], [hyps[i] for i in rows]))
    assert results["metrics"]["length_ratio"]["value"] == pytest.approx(length_ratio(refs, hyps), abs=1e-15)
    assert results["metrics"]["length_ratio"]["ci95"] == pytest.approx(np.percentile(replicates, [2.5, 97.5]))


def test_subset_picks_rows_of_every_task_shape() -> None:
    from bench.metrics.localization import DetectionSet

    rows = np.array([2, 0, 2])
    boxes = [np.full((k, 4), float(k)) for k in range(3)]
    detections = DetectionSet(
        ["X"], boxes, [np.zeros(k, int) for k in range(3)], boxes, [np.zeros(k, int) for k in range(3)],
        [np.ones(k) for k in range(3)],
    )  # fmt: skip
    (picked,) = extra.subset("localization", (detections,), rows)
    assert [b.shape[0] for b in picked.gt_boxes] == [2, 0, 2] and picked.gt_shapes is None
    assert picked.label_names == ["X"] and [s.size for s in picked.pred_scores] == [2, 0, 2]
    gt, pred, spacing = extra.subset(
        "segmentation",
        ({"lung": ["g0", None, "g2"]}, {"lung": ["p0", "p1", "p2"]}, [(1, 1), None, (2, 2)]),
        rows,
    )
    assert (gt, pred, spacing) == (
        {"lung": ["g2", "g0", "g2"]},
        {"lung": ["p2", "p0", "p2"]},
        [(2, 2), (1, 1), (2, 2)],
    )
    assert extra.subset("attributes", ([{"a": 0}, {"b": 1}, {"c": 2}], [{}, {}, {"z": 1}]), rows) == (
        [{"c": 2}, {"a": 0}, {"c": 2}],
        [{"z": 1}, {}, {"z": 1}],
    )
