"""Cluster bootstrap (issue 11): whole patients / studies are resampled; clusters of one case change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices, cluster_numbers, replicate_means
from bench.metrics.classification import score_classification
from bench.records import RecordError
from bench.run.align import align
from bench.run.score import ScoreSettings, build_results, resolve_cluster


def _data(
    seed: int, n_patients: int = 150, per_patient: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correlated images: a patient's images share its label and most of its score."""
    rng = np.random.default_rng(seed)
    y_patient = (rng.random(n_patients) < 0.4).astype(float)
    shift = rng.normal(0, 1, n_patients) + y_patient
    patients = np.repeat(np.arange(n_patients), per_patient)
    y = y_patient[patients]
    s = shift[patients] + rng.normal(0, 0.3, patients.size)
    return y[:, None], s[:, None], patients


def _width(result) -> float:
    lo, hi = result.metrics["auc_macro"].ci95
    return hi - lo


def test_cluster_numbers_follow_first_appearance() -> None:
    assert cluster_numbers(["b", "a", "b", "c", "a"]).tolist() == [0, 1, 0, 2, 1]
    assert cluster_numbers([]).tolist() == []


def test_one_case_per_cluster_is_the_case_bootstrap() -> None:
    counts = bootstrap_counts(50, 200, 7)
    assert (bootstrap_counts(50, 200, 7, clusters=np.arange(50)) == counts).all()
    y, s, _ = _data(1)
    a = score_classification(y, s, ["x"], n_boot=300, seed=3)
    b = score_classification(y, s, ["x"], n_boot=300, seed=3, clusters=cluster_numbers(range(y.shape[0])))
    assert a.metrics["auc_macro"].ci95 == b.metrics["auc_macro"].ci95


def test_a_replicate_equals_sklearn_on_the_explicitly_resampled_patients() -> None:
    y, s, patients = _data(2, n_patients=40)
    clusters = cluster_numbers(patients.tolist())
    counts = bootstrap_counts(y.shape[0], 5, 11, clusters=clusters)
    drawn = bootstrap_indices(40, 5, 11)  # the same generator draws the patients
    for b in range(5):
        rows = np.concatenate([np.flatnonzero(clusters == c) for c in drawn[b]])
        assert (np.bincount(rows, minlength=y.shape[0]) == counts[b]).all()
        from bench.metrics.classification import _bucket_labels, _replicates

        auc, _ = _replicates(_bucket_labels(y, s), counts[b : b + 1])
        if len(np.unique(y[rows, 0])) == 2:
            assert auc[0, 0] == pytest.approx(roc_auc_score(y[rows, 0], s[rows, 0]), abs=1e-12)


def test_replicate_means_are_over_the_drawn_cases_not_n() -> None:
    # The mean-of-per-case metrics (ROUGE-L, BERTScore, RadGraph, semb, RadCliQ, METEOR-NLTK) resample with it.
    rng = np.random.default_rng(4)
    clusters = np.repeat(np.arange(6), [1, 8, 2, 5, 1, 3])
    values = rng.random(clusters.size)
    drawn = bootstrap_indices(6, 40, 9)
    explicit = [np.mean(np.concatenate([values[clusters == c] for c in row])) for row in drawn]
    reps = replicate_means(bootstrap_counts(clusters.size, 40, 9, clusters=clusters), values)
    np.testing.assert_allclose(reps, explicit, rtol=0, atol=1e-12)
    assert np.isnan(replicate_means(np.zeros((1, 3), dtype=np.int32), np.ones(3)))[0]


def test_duplicated_images_do_not_shrink_the_cluster_interval() -> None:
    """Duplicating each patient's images k times: the patient bootstrap keeps its width, the image one shrinks."""
    y, s, patients = _data(3, n_patients=200, per_patient=1)
    base = _width(score_classification(y, s, ["x"], n_boot=2000, seed=0))
    k = 3
    yk, sk, pk = np.repeat(y, k, axis=0), np.repeat(s, k, axis=0), np.repeat(patients, k)
    clustered = _width(
        score_classification(yk, sk, ["x"], n_boot=2000, seed=0, clusters=cluster_numbers(pk.tolist()))
    )
    by_image = _width(score_classification(yk, sk, ["x"], n_boot=2000, seed=0))
    assert 0.85 < clustered / base < 1.15  # sampling noise of 2,000 replicates
    assert by_image / base < 0.7  # about 1 / sqrt(3)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _files(tmp_path: Path, metas: list[dict | None]) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    gt = [
        {"id": f"i{k}", "labels": {"x": float(k % 2)}} | ({"meta": m} if m is not None else {})
        for k, m in enumerate(metas)
    ]
    pred = [{"id": f"i{k}", "labels": {"x": float(rng.random())}} for k in range(len(metas))]
    return _write(tmp_path / "gt.jsonl", gt), _write(tmp_path / "pred.jsonl", pred)


def test_default_unit_is_the_finest_the_ground_truth_carries(tmp_path: Path) -> None:
    metas = [{"patient": f"p{k // 2}", "study": f"s{k}"} for k in range(8)]
    gt, pred = _files(tmp_path, metas)
    data = align("classification", gt, pred)
    assert resolve_cluster(data, None).unit == "patient" and resolve_cluster(data, None).n_clusters == 4
    assert resolve_cluster(data, "study").n_clusters == 8
    assert resolve_cluster(data, "image").clusters is None
    results = build_results("classification", gt, pred, ScoreSettings(n_boot=50))
    assert results["settings"]["cluster"] == "patient" and results["settings"]["n_clusters"] == 4
    assert results["conventions"]["cluster"]["unit"] == "patient"
    gt, pred = _files(tmp_path, [{"study": f"s{k // 4}"} for k in range(8)])
    assert resolve_cluster(align("classification", gt, pred), None).unit == "study"
    gt, pred = _files(tmp_path, [None] * 8)
    assert resolve_cluster(align("classification", gt, pred), None).unit == "image"


def test_missing_cluster_key_and_a_study_of_two_patients_are_located(tmp_path: Path) -> None:
    metas: list[dict | None] = [{"patient": "p0"}, {"patient": "p0"}, None, {"patient": "p2"}]
    gt, pred = _files(tmp_path, metas)
    partial = resolve_cluster(align("classification", gt, pred), None)
    assert (partial.unit, partial.n_clusters, partial.without_key) == ("patient", 3, 1)
    assert partial.clusters.tolist() == [0, 0, 1, 2]  # the record without a patient is its own cluster
    gt, pred = _files(tmp_path, [None, {"study": "s1"}])
    with pytest.raises(RecordError, match="no meta.patient") as error:
        resolve_cluster(align("classification", gt, pred), "patient")
    assert error.value.line == 1
    gt, pred = _files(tmp_path, [{"patient": "p0", "study": "s0"}, {"patient": "p1", "study": "s0"}])
    with pytest.raises(RecordError, match="study 's0' belongs to patient 'p0'") as error:
        resolve_cluster(align("classification", gt, pred), None)
    assert error.value.line == 2


def test_cli_score_cluster_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cxrbench.cli import app

    gt, pred = _files(tmp_path, [{"patient": f"p{k // 2}"} for k in range(10)])
    out = tmp_path / "r.json"
    runner = CliRunner()
    result = runner.invoke(
        app, ["score", "--task", "classification", "--gt", str(gt), "--pred", str(pred), "--out", str(out),
              "--bootstrap", "20", "--cluster", "image", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["settings"]["cluster"] == "image"
    gt, pred = _files(tmp_path, [None] * 4)
    result = runner.invoke(
        app, ["score", "--task", "classification", "--gt", str(gt), "--pred", str(pred), "--out", str(out),
              "--cluster", "patient", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2 and "no meta.patient" in result.output


def test_analytic_auc_ci_is_obuchowski_with_clusters_and_delong_without() -> None:
    y, s, patients = _data(4)
    plain = score_classification(y, s, ["x"])
    singletons = score_classification(y, s, ["x"], clusters=cluster_numbers(range(y.shape[0])))
    assert singletons.notes["obuchowski_auc_ci95"]["x"] == pytest.approx(
        plain.notes["delong_auc_ci95"]["x"], abs=1e-12
    )
    clustered = score_classification(y, s, ["x"], clusters=cluster_numbers(patients.tolist()))
    lo, hi = clustered.notes["obuchowski_auc_ci95"]["x"]
    d_lo, d_hi = plain.notes["delong_auc_ci95"]["x"]
    assert hi - lo > 1.3 * (d_hi - d_lo)  # three correlated images per patient: wider than DeLong's


def test_tables_and_report_state_the_unit(tmp_path: Path) -> None:
    from leaderboards.conventions import convention_footnote
    from leaderboards.report import metrics_table

    gt, pred = _files(tmp_path, [{"patient": f"p{k // 2}"} for k in range(10)])
    results = build_results("classification", gt, pred, ScoreSettings(n_boot=30))
    assert "bootstrap over patients (5 patients), 30 replicates" in convention_footnote(
        "classification", "auc_macro", results
    )
    assert "bootstrap over patients (5 clusters), 30 replicates" in metrics_table(results)
