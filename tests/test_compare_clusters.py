"""`cxrbench compare` at the cluster unit (issue 11): the paired bootstrap draws whole clusters, approximate
randomization swaps whole clusters, the per-label AUC test is Obuchowski's; clusters of one image change nothing."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.metrics.bootstrap import cluster_numbers, percentile_ci
from bench.metrics.significance import delong_paired_test, mix, take
from bench.run.align import align
from bench.run.compare import compare_files, paired_auc_per_label, task_inputs
from bench.synthetic import make_demo
from cxrbench.cli import app

# --------------------------------------------------------------------------------------------------------------
# the paired tests exactly as compare ran them before cluster units (case bootstrap, per-case swaps), frozen here


def _case_level_bootstrap(fn, gt, a, b, n_boot: int, seed: int) -> tuple[float, tuple | None, float]:
    n = len(gt)
    diff = float(fn(gt, a)) - float(fn(gt, b))
    reps = []
    for idx in np.random.default_rng(seed).integers(0, n, size=(n_boot, n)):
        g = take(gt, idx)
        reps.append(float(fn(g, take(a, idx))) - float(fn(g, take(b, idx))))
    finite = np.array(reps)[np.isfinite(reps)]
    below, above = (
        (np.sum(finite <= 0) + 1) / (finite.size + 1),
        (np.sum(finite >= 0) + 1) / (finite.size + 1),
    )
    return diff, percentile_ci(finite), float(min(1.0, 2.0 * min(below, above)))


def _case_level_randomization(fn, gt, a, b, n_perm: int, seed: int) -> float:
    diff = float(fn(gt, a)) - float(fn(gt, b))
    rng = np.random.default_rng(seed)
    threshold = abs(diff) - 1e-12 * max(1.0, abs(diff))
    at_least = 0
    for _ in range(n_perm):
        swap = rng.random(len(gt)) < 0.5
        at_least += int(abs(float(fn(gt, mix(a, b, swap))) - float(fn(gt, mix(b, a, swap)))) >= threshold)
    return (at_least + 1) / (n_perm + 1)


# --------------------------------------------------------------------------------------------------------------
# files


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo set (every task) with a patient per image and a perturbed second model."""
    folder = tmp_path_factory.mktemp("demo")
    files = make_demo(folder, n=40, seed=7)
    rng = np.random.default_rng(1)
    gt = _lines(files["gt"])
    for k, r in enumerate(gt):
        r["meta"] = {"patient": f"p{k}", "study": f"s{k}"}
    preds = _lines(files["pred"])
    other = []
    for k, r in enumerate(preds):
        r = dict(r)
        r["labels"] = {name: float(np.clip(v + rng.normal(0, 0.3), 0, 1)) for name, v in r["labels"].items()}
        r["boxes"] = [
            {**box, "bbox": [c + float(rng.normal(0, 3)) for c in box["bbox"]], "score": float(rng.random())}
            for box in r["boxes"]
        ]
        r["masks"] = preds[(k + 1) % len(preds)]["masks"]  # a neighbour's masks: a worse segmenter
        other.append(r)
    return {
        "gt": _write(folder / "gt.jsonl", gt),
        "a": files["pred"],
        "b": _write(folder / "b.jsonl", other),
    }


def _classification_files(
    folder: Path, y: np.ndarray, s_a: np.ndarray, s_b: np.ndarray, patients: list[str]
) -> tuple[Path, Path, Path]:
    names = [f"l{j}" for j in range(y.shape[1])]
    gt = [
        {
            "id": f"i{i}",
            "labels": {n: float(v) for n, v in zip(names, y[i], strict=True) if v == v},
            "meta": {"patient": p},
        }
        for i, p in enumerate(patients)
    ]
    pred = [
        [
            {"id": f"i{i}", "labels": dict(zip(names, s[i].tolist(), strict=True))}
            for i in range(len(patients))
        ]
        for s in (s_a, s_b)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    return (
        _write(folder / "gt.jsonl", gt),
        _write(folder / "a.jsonl", pred[0]),
        _write(folder / "b.jsonl", pred[1]),
    )


def _random_classification(seed: int, n: int, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < rng.uniform(0.03, 0.5, n_labels)).astype(float)
    y[rng.random((n, n_labels)) < 0.1] = np.nan  # unknown labels
    signal = np.nan_to_num(y)
    s_a = np.round(1 / (1 + np.exp(-(rng.normal(size=y.shape) + signal))), 2)  # rounded: ties
    s_b = np.round(1 / (1 + np.exp(-(rng.normal(size=y.shape) + 0.6 * signal))), 2)
    return y, s_a, s_b


def _numbers(comparison: dict) -> dict:
    """A comparison without its method texts (those name the unit)."""
    return {
        metric: {k: ({kk: vv for kk, vv in v.items() if kk != "method"} if isinstance(v, dict) else v)
                 for k, v in c.items()}
        for metric, c in comparison["comparisons"].items()
    }  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# clusters of one image: today's numbers exactly


@pytest.mark.parametrize("seed", [0, 1])
def test_classification_clusters_of_one_give_the_case_level_numbers(tmp_path: Path, seed: int) -> None:
    y, s_a, s_b = _random_classification(seed, n=90, n_labels=5)  # rare labels: replicates that lose a class
    gt, a, b = _classification_files(tmp_path, y, s_a, s_b, [f"p{i}" for i in range(90)])
    kwargs = {"metrics": ["auc_macro", "ap_macro"], "n_boot": 120, "n_perm": 120, "seed": 3}
    by_image = compare_files("classification", gt, a, b, tmp_path / "i.json", cluster="image", **kwargs)
    by_patient = compare_files("classification", gt, a, b, tmp_path / "p.json", cluster="patient", **kwargs)
    assert by_patient["settings"]["cluster"] == "patient" and by_patient["settings"]["n_clusters"] == 90
    assert by_image["settings"]["cluster"] == "image"
    assert _numbers(by_patient) == _numbers(by_image)
    assert "paired case bootstrap" in by_image["comparisons"]["auc_macro"]["paired_bootstrap"]["method"]
    assert "whole patients" in by_patient["comparisons"]["auc_macro"]["paired_bootstrap"]["method"]

    gt_in, pa, pb, factory = task_inputs(align("classification", gt, a), align("classification", gt, b))
    for metric in (
        "auc_macro",
        "ap_macro",
    ):  # auc_macro: the vectorised replicates; ap_macro: the generic loop
        fn = factory(metric)
        diff, ci, p = _case_level_bootstrap(fn, gt_in, pa, pb, 120, 3)
        c = by_patient["comparisons"][metric]
        assert (c["diff"], c["paired_bootstrap"]["ci95"], c["paired_bootstrap"]["p_value"]) == (diff, ci, p)
        assert c["approximate_randomization"]["p_value"] == _case_level_randomization(
            fn, gt_in, pa, pb, 120, 3
        )

    # the per-label AUC test: Obuchowski's with clusters of one is DeLong's (to rounding), Holm as before
    rows_i, rows_p = by_image["paired_auc"]["per_label"], by_patient["paired_auc"]["per_label"]
    assert "DeLong" in by_image["paired_auc"]["method"] and "Obuchowski" in by_patient["paired_auc"]["method"]
    for name in rows_i:
        j = int(name[1:])  # labels come in order of first appearance in the ground truth
        known = ~np.isnan(y[:, j])
        expected = delong_paired_test(y[known, j], s_a[known, j], s_b[known, j])
        assert rows_i[name]["p_value"] == expected[4] and rows_i[name]["diff"] == expected[2]
        for key in ("auc_a", "auc_b", "diff", "z", "p_value", "p_holm"):
            assert rows_p[name][key] == pytest.approx(rows_i[name][key], abs=1e-12)


@pytest.mark.parametrize(("task", "metric"), [("segmentation", "dice_mean"), ("localization", "map_coco")])
def test_other_tasks_clusters_of_one_give_the_case_level_numbers(
    demo: dict[str, Path], tmp_path: Path, task: str, metric: str
) -> None:
    kwargs = {"metrics": [metric], "n_boot": 60, "n_perm": 60, "seed": 5}
    by_image = compare_files(
        task, demo["gt"], demo["a"], demo["b"], tmp_path / "i.json", cluster="image", **kwargs
    )
    by_study = compare_files(
        task, demo["gt"], demo["a"], demo["b"], tmp_path / "s.json", cluster="study", **kwargs
    )
    assert by_study["settings"]["n_clusters"] == 40
    assert _numbers(by_study) == _numbers(by_image)
    gt_in, pa, pb, factory = task_inputs(
        align(task, demo["gt"], demo["a"]), align(task, demo["gt"], demo["b"])
    )
    fn = factory(metric)
    diff, ci, p = _case_level_bootstrap(fn, gt_in, pa, pb, 60, 5)
    c = by_study["comparisons"][metric]
    assert c["diff"] != 0 and (
        c["diff"],
        c["paired_bootstrap"]["ci95"],
        c["paired_bootstrap"]["p_value"],
    ) == (
        diff,
        ci,
        p,
    )
    assert c["approximate_randomization"]["p_value"] == _case_level_randomization(fn, gt_in, pa, pb, 60, 5)


# --------------------------------------------------------------------------------------------------------------
# clusters: whole clusters drawn and swapped


def _clustered_data(seed: int, n_patients: int, per_patient: int) -> tuple[np.ndarray, ...]:
    """Correlated images: a patient's images share its label and most of each model's score."""
    rng = np.random.default_rng(seed)
    y_patient = (rng.random(n_patients) < 0.4).astype(float)
    patients = np.repeat(np.arange(n_patients), per_patient)
    y = y_patient[patients]
    shared = rng.normal(0, 1, n_patients)[patients]
    s_a = 1 / (1 + np.exp(-(shared + 1.2 * y + rng.normal(0, 0.4, patients.size))))
    s_b = 1 / (1 + np.exp(-(shared + 0.8 * y + rng.normal(0, 0.4, patients.size))))
    return y[:, None], s_a[:, None], s_b[:, None], patients


def _ci_width(result: dict, metric: str) -> float:
    lo, hi = result["comparisons"][metric]["paired_bootstrap"]["ci95"]
    return hi - lo


def test_duplicated_images_keep_the_cluster_interval_of_the_difference(tmp_path: Path) -> None:
    y, s_a, s_b, patients = _clustered_data(3, n_patients=200, per_patient=1)
    kwargs = {"metrics": ["auc_macro", "ap_macro"], "n_boot": 1500, "n_perm": 1, "seed": 0}
    base = compare_files(
        "classification", *_classification_files(tmp_path / "base", y, s_a, s_b, [f"p{p}" for p in patients]),
        tmp_path / "base.json", cluster="patient", **kwargs,
    )  # fmt: skip
    k = 3  # every image three times, inside its own patient
    files = _classification_files(
        tmp_path / "dup",
        *(np.repeat(x, k, axis=0) for x in (y, s_a, s_b)),
        [f"p{p}" for p in np.repeat(patients, k)],
    )
    by_patient = compare_files("classification", *files, tmp_path / "p.json", cluster="patient", **kwargs)
    by_image = compare_files("classification", *files, tmp_path / "i.json", cluster="image", **kwargs)
    for metric in ("auc_macro", "ap_macro"):
        assert by_patient["comparisons"][metric]["diff"] == pytest.approx(base["comparisons"][metric]["diff"])
        assert 0.85 < _ci_width(by_patient, metric) / _ci_width(base, metric) < 1.15  # sampling noise
        assert _ci_width(by_image, metric) / _ci_width(base, metric) < 0.7  # about 1 / sqrt(3)
    # Obuchowski's variance is unchanged by duplication inside a cluster; DeLong's shrinks
    z_base = base["paired_auc"]["per_label"]["l0"]["z"]
    assert by_patient["paired_auc"]["per_label"]["l0"]["z"] == pytest.approx(z_base, rel=1e-9)
    assert abs(by_image["paired_auc"]["per_label"]["l0"]["z"]) > 1.6 * abs(z_base)


def _explicit_macro_auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    aucs = []
    for j in range(y.shape[1]):
        known = ~np.isnan(y[:, j])
        if len(np.unique(y[known, j])) == 2:
            aucs.append(roc_auc_score(y[known, j], s[known, j]))
    return float(np.mean(aucs)) if aucs else float("nan")


def test_bootstrap_and_randomization_work_on_whole_clusters_literally(tmp_path: Path) -> None:
    """A literal loop over clusters (one generator draw per cluster, each case following its cluster) gives the
    same p-values and interval as compare, for the vectorised AUC path and the generic one."""
    rng = np.random.default_rng(11)
    y, s_a, s_b, _ = _clustered_data(4, n_patients=45, per_patient=1)
    sizes = rng.integers(1, 5, 45)  # patients of 1..4 images, interleaved in the file
    patients = rng.permutation(np.repeat(np.arange(45), sizes))
    y, s_a, s_b = (
        y[patients],
        np.round(s_a[patients] + rng.normal(0, 0.05, (patients.size, 1)), 2),
        s_b[patients],
    )
    keys = [f"p{p}" for p in patients]
    gt, a, b = _classification_files(tmp_path, y, np.clip(s_a, 0, 1), s_b, keys)
    n_boot = n_perm = 150
    result = compare_files(
        "classification", gt, a, b, tmp_path / "c.json", metrics=["auc_macro", "ap_macro"],
        n_boot=n_boot, n_perm=n_perm, seed=9, cluster="patient",
    )  # fmt: skip
    assert result["settings"]["n_clusters"] == 45
    gt_in, pa, pb, factory = task_inputs(align("classification", gt, a), align("classification", gt, b))
    cluster_of = {
        key: c for c, key in enumerate(dict.fromkeys(keys))
    }  # numbered in order of first appearance
    members = [[i for i, key in enumerate(keys) if cluster_of[key] == c] for c in range(45)]
    for metric in ("auc_macro", "ap_macro"):
        fn = factory(metric)
        diff = fn(gt_in, pa) - fn(gt_in, pb)
        if metric == "auc_macro":
            assert diff == pytest.approx(_explicit_macro_auc(y, pa) - _explicit_macro_auc(y, pb), abs=1e-12)
        # bootstrap: draw 45 patients with replacement, take all their images
        reps = []
        for drawn in np.random.default_rng(9).integers(0, 45, size=(n_boot, 45)):
            rows = [i for c in drawn for i in members[c]]
            reps.append(fn(gt_in[rows], pa[rows]) - fn(gt_in[rows], pb[rows]))
        finite = np.array(reps)[np.isfinite(reps)]
        below = (np.sum(finite <= 0) + 1) / (finite.size + 1)
        above = (np.sum(finite >= 0) + 1) / (finite.size + 1)
        c = result["comparisons"][metric]
        assert c["paired_bootstrap"]["ci95"] == percentile_ci(finite)
        assert c["paired_bootstrap"]["p_value"] == min(1.0, 2 * min(below, above))
        # randomization: one coin per patient; every image of a patient swapped with it
        perm = np.random.default_rng(9)
        at_least = 0
        for _ in range(n_perm):
            coin = perm.random(45) < 0.5
            a_swapped = np.array([pb[i] if coin[cluster_of[keys[i]]] else pa[i] for i in range(len(keys))])
            b_swapped = np.array([pa[i] if coin[cluster_of[keys[i]]] else pb[i] for i in range(len(keys))])
            d = fn(gt_in, a_swapped) - fn(gt_in, b_swapped)
            at_least += abs(d) >= abs(diff) - 1e-12 * max(1.0, abs(diff))
        assert c["approximate_randomization"]["p_value"] == (at_least + 1) / (n_perm + 1)
        assert "per patient swap" in c["approximate_randomization"]["method"]


def test_randomization_p_with_few_clusters_matches_full_enumeration(tmp_path: Path) -> None:
    """Six patients: 64 swap patterns in all. The test's p-value is the share of patterns at least as extreme as
    the observed difference (within Monte-Carlo noise), not that of the 2^n per-image swaps."""
    rng = np.random.default_rng(5)
    patients = np.repeat(np.arange(6), [3, 5, 2, 4, 6, 4])
    y = np.array([0, 1, 0, 1, 1, 0], dtype=float)[patients][:, None]
    y[::3] = 1 - y[::3]  # both classes inside some patients
    s_a = np.round(rng.random((patients.size, 1)) * 0.5 + 0.4 * y, 3)
    s_b = np.round(rng.random((patients.size, 1)), 3)
    gt, a, b = _classification_files(tmp_path, y, s_a, s_b, [f"p{p}" for p in patients])
    result = compare_files(
        "classification", gt, a, b, tmp_path / "c.json", metrics=["auc_macro"], n_boot=1, n_perm=4000, seed=0,
        cluster="patient",
    )  # fmt: skip
    gt_in, pa, pb, factory = task_inputs(align("classification", gt, a), align("classification", gt, b))
    fn = factory("auc_macro")
    diff = fn(gt_in, pa) - fn(gt_in, pb)
    extreme = 0
    for pattern in itertools.product([False, True], repeat=6):
        swap = np.array(pattern)[patients]
        extreme += abs(fn(gt_in, mix(pa, pb, swap)) - fn(gt_in, mix(pb, pa, swap))) >= abs(diff) - 1e-12
    exact = extreme / 64
    assert exact >= 2 / 64  # the identity and the full swap at least
    assert result["comparisons"]["auc_macro"]["approximate_randomization"]["p_value"] == pytest.approx(
        exact, abs=0.03
    )


def test_paired_auc_per_label_uses_obuchowski_with_clusters() -> None:
    from bench.metrics.clustered_auc import clustered_auc_paired

    y, s_a, s_b, patients = _clustered_data(8, n_patients=60, per_patient=3)
    y[::7] = np.nan
    clusters = cluster_numbers(patients.tolist())
    rows = paired_auc_per_label(y, s_a, s_b, ["x"], clusters, "patient")
    known = ~np.isnan(y[:, 0])
    expected = clustered_auc_paired(y[known, 0], s_a[known, 0], s_b[known, 0], patients[known])
    assert rows["per_label"]["x"]["p_value"] == expected.p and rows["per_label"]["x"]["z"] == expected.z
    assert rows["per_label"]["x"]["p_holm"] == expected.p  # one label: Holm changes nothing


# --------------------------------------------------------------------------------------------------------------
# command line and bad input


def test_cli_cluster_option_default_and_missing_key(tmp_path: Path) -> None:
    y, s_a, s_b, patients = _clustered_data(2, n_patients=20, per_patient=2)
    gt, a, b = _classification_files(tmp_path, y, s_a, s_b, [f"p{p}" for p in patients])
    out = tmp_path / "c.json"
    base = ["compare", "--task", "classification", "--gt", str(gt), "--pred-a", str(a), "--pred-b", str(b),
            "--out", str(out), "--bootstrap", "50", "--permutations", "50"]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, base)
    assert result.exit_code == 0, result.output
    settings = json.loads(out.read_text())["settings"]
    assert (settings["cluster"], settings["n_clusters"]) == ("patient", 20)  # the default: patient
    assert "20 patients resampled" in result.output
    result = runner.invoke(app, [*base, "--cluster", "image"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["settings"] == {
        "bootstrap_replicates": 50, "permutations": 50, "seed": 0, "labels": None, "cluster": "image", "n_clusters": 40,
        "level": "image",
    }  # fmt: skip
    out.unlink()
    result = runner.invoke(app, [*base, "--cluster", "study"])  # no record names its study
    assert result.exit_code == 2
    assert f"{gt}:1:" in " ".join(result.output.split()) and "no meta.study" in result.output
    assert not out.exists()
    result = runner.invoke(app, [*base, "--cluster", "ward"])
    assert result.exit_code == 2


def test_leaderboard_tests_run_at_the_results_cluster_unit(tmp_path: Path, monkeypatch) -> None:
    from bench.run import compare as compare_module
    from leaderboards.model import Cell, Source
    from leaderboards.significance import run_test
    from leaderboards.specs import Column, Significance

    y, s_a, s_b, patients = _clustered_data(6, n_patients=30, per_patient=2)
    gt, a, b = _classification_files(tmp_path, y, s_a, s_b, [f"p{p}" for p in patients])
    seen: list[str | None] = []
    real = compare_module.compare_files

    def spy(*args, **kwargs):
        seen.append(kwargs.get("cluster"))
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_module, "compare_files", spy)

    def results(pred: Path, unit: str | None) -> dict:
        inputs = {"gt": {"path": gt.name, "sha256": "g"}, "pred": {"path": pred.name, "sha256": "p"}}
        return {
            "settings": {"cluster": unit} if unit else {},
            "provenance": {"inputs": inputs, "ids_sha256": "i"},
        }

    def cell(row: str) -> Cell:
        return Cell(row=row, column="c", kind="reproduced", value=0.5, sources=[
            Source(run_dir=str(tmp_path), results="r.json", results_sha256="", metric_path="", seed=0, value=0.5)
        ])  # fmt: skip

    spec = SimpleNamespace(significance=Significance(n_boot=40, n_perm=40))
    macro = Column(
        key="c", group="c", label="c", benchmark="x", task="classification", metric="auc_macro", mode="m"
    )
    for unit, expected in (("patient", "patient"), ("image", "image"), (None, "image")):
        test = run_test(spec, macro, cell("a"), cell("b"), results(a, unit), results(b, unit), None)
        assert seen[-1] == expected and test.p_value is not None
        assert ("patient bootstrap" in test.method) == (expected == "patient")
    per_label = Column(
        key="c", group="c", label="c", benchmark="x", task="classification", metric="auc/l0", mode="m"
    )
    test = run_test(spec, per_label, cell("a"), cell("b"), results(a, "patient"), results(b, "patient"), None)
    rows = paired_auc_per_label(y, s_a, s_b, ["l0"], cluster_numbers([f"p{p}" for p in patients]), "patient")
    assert "Obuchowski" in test.method and test.p_value == rows["per_label"]["l0"]["p_value"]
    test = run_test(spec, per_label, cell("a"), cell("b"), results(a, "image"), results(b, "image"), None)
    assert (
        "DeLong" in test.method
        and test.p_value == paired_auc_per_label(y, s_a, s_b, ["l0"])["per_label"]["l0"]["p_value"]
    )
