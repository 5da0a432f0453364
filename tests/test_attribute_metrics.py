"""Attribute characterisation metrics (location, severity) against scikit-learn, and their scoring from files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from bench.datasets.attributes import LOCATIONS, SEVERITY_GRADES
from bench.metrics.attributes import attribute_items, score_attributes
from bench.metrics.bootstrap import bootstrap_counts, cluster_numbers, percentile_ci
from bench.records import Record, RecordError, write_records
from bench.run.score import ScoreSettings, build_results

TOL = 1e-12


def _entry(location: list[str] | None = None, severity: str | None = None) -> dict:
    return {"location": location or [], "severity": severity, "size_mm": None}


# Hand-made: 4 images. Ground truth gives 5 location items and 4 severity items.
GT = [
    {"Pleural Effusion": _entry(["left"], "severe"), "Cardiomegaly": _entry([], "moderate")},
    {"Pneumothorax": _entry(["right", "apical"], "mild")},
    {"Atelectasis": _entry(["bilateral", "basal"]), "Edema": _entry(["bilateral"], "mild")},
    {"Consolidation": _entry(["right", "right lower lobe"])},
]
PRED = [
    {"Pleural Effusion": _entry(["left"], "moderate"), "Cardiomegaly": _entry(["left"], "moderate")},
    {"Pneumothorax": _entry(["right"], "mild")},
    {"Atelectasis": _entry(["bilateral", "basal"])},  # Edema not characterised: both its items wrong
    {"Consolidation": _entry(["right", "right lower lobe"], "severe")},  # severity not in the gt: not scored
]


def _sklearn(gt: list[dict], pred: list[dict], attribute: str) -> tuple[float, float, dict[str, float]]:
    """Reference: items listed one by one, then sklearn's accuracy_score / f1_score."""
    truths, guesses = [], []
    for g, p in zip(gt, pred, strict=True):
        for finding, entry in g.items():
            if attribute == "severity" and entry["severity"] is not None:
                truths.append(entry["severity"])
                guesses.append((p.get(finding) or {}).get("severity") or "<none>")
            elif attribute == "location" and entry["location"]:
                truths.append(entry["location"])
                guesses.append((p.get(finding) or {}).get("location") or [])
    if not truths:
        return np.nan, np.nan, {}
    if attribute == "severity":
        classes = [c for c in SEVERITY_GRADES if c in truths]
        per = f1_score(truths, guesses, average=None, labels=classes, zero_division=0)
        macro = f1_score(truths, guesses, average="macro", labels=classes, zero_division=0)
        return accuracy_score(truths, guesses), macro, dict(zip(classes, per, strict=True))
    binarizer = MultiLabelBinarizer(classes=list(LOCATIONS)).fit([])
    y_true, y_pred = binarizer.transform(truths), binarizer.transform(guesses)
    columns = [j for j in range(len(LOCATIONS)) if y_true[:, j].any()]
    per = f1_score(y_true, y_pred, average=None, labels=columns, zero_division=0)
    macro = f1_score(y_true, y_pred, average="macro", labels=columns, zero_division=0)
    return accuracy_score(y_true, y_pred), macro, {LOCATIONS[j]: v for j, v in zip(columns, per, strict=True)}


def test_hand_made_case_equals_sklearn_and_hand_values() -> None:
    result = score_attributes(GT, PRED, n_boot=0)
    for attribute in ("location", "severity"):
        accuracy, macro, per = _sklearn(GT, PRED, attribute)
        assert result.metrics[f"{attribute}_accuracy"].value == pytest.approx(accuracy, abs=TOL)
        assert result.metrics[f"{attribute}_macro_f1"].value == pytest.approx(macro, abs=TOL)
        assert result.per_label[f"{attribute}_f1"] == pytest.approx(per, abs=TOL)
    # by hand: location items = effusion ✓, pneumothorax ✗ (apical missing), atelectasis ✓, edema ✗, consolidation ✓
    assert result.metrics["location_accuracy"].value == pytest.approx(3 / 5)
    # severity items = effusion (severe -> moderate ✗), cardiomegaly ✓, pneumothorax ✓, edema (none ✗)
    assert result.metrics["severity_accuracy"].value == pytest.approx(2 / 4)
    # severity F1: mild tp1 fn1 -> 2/3; moderate tp1 fp1 -> 2/3; severe fn1 -> 0
    assert result.per_label["severity_f1"] == pytest.approx({"mild": 2 / 3, "moderate": 2 / 3, "severe": 0.0})
    assert result.notes["items"] == {"location": 5, "severity": 4}
    assert result.notes["unanswered_items"] == {"location": 1, "severity": 1}
    assert result.notes["support"]["severity"] == {"mild": 2, "moderate": 1, "severe": 1}


def _random_case(rng: np.random.Generator, n: int) -> tuple[list[dict], list[dict]]:
    findings = ["Atelectasis", "Edema", "Pleural Effusion", "Pneumothorax", "Consolidation"]
    terms = ["right", "left", "bilateral", "basal", "apical", "upper zone", "left lower lobe"]
    gt, pred = [], []
    for _ in range(n):
        g, p = {}, {}
        for finding in rng.choice(findings, size=rng.integers(0, 4), replace=False):
            g[finding] = _entry(
                list(rng.choice(terms, size=rng.integers(0, 3), replace=False)),
                rng.choice([None, *SEVERITY_GRADES]),
            )
            if rng.random() < 0.8:  # sometimes not characterised at all
                truth = g[finding]
                location = (
                    truth["location"] if rng.random() < 0.4 else list(rng.choice(terms, rng.integers(0, 3)))
                )
                severity = truth["severity"] if rng.random() < 0.5 else rng.choice([None, *SEVERITY_GRADES])
                p[finding] = _entry(sorted(set(location)), severity)
        gt.append(g)
        pred.append(p)
    return gt, pred


@pytest.mark.parametrize("seed", range(8))
def test_random_cases_equal_sklearn(seed: int) -> None:
    gt, pred = _random_case(np.random.default_rng(seed), 40)
    result = score_attributes(gt, pred, n_boot=0)
    for attribute in ("location", "severity"):
        accuracy, macro, per = _sklearn(gt, pred, attribute)
        assert result.metrics[f"{attribute}_accuracy"].value == pytest.approx(accuracy, abs=TOL)
        assert result.metrics[f"{attribute}_macro_f1"].value == pytest.approx(macro, abs=TOL)
        assert result.per_label[f"{attribute}_f1"] == pytest.approx(per, abs=TOL)


@pytest.mark.parametrize("clustered", [False, True])
def test_bootstrap_ci_is_the_percentile_of_sklearn_on_resampled_images(clustered: bool) -> None:
    """Each replicate = sklearn on the explicitly resampled images (all findings of an image together);
    with clusters, whole clusters are drawn; a class without items in a replicate leaves the macro mean."""
    gt, pred = _random_case(np.random.default_rng(11), 30)
    clusters = cluster_numbers([i // 3 for i in range(30)]) if clustered else None
    n_boot, seed = 60, 4
    result = score_attributes(gt, pred, n_boot=n_boot, seed=seed, clusters=clusters)
    counts = bootstrap_counts(30, n_boot, seed, clusters=clusters)
    for attribute in ("location", "severity"):
        accuracies, macros = [], []
        for b in range(n_boot):
            rows = np.repeat(np.arange(30), counts[b])
            accuracy, macro, _ = _sklearn([gt[i] for i in rows], [pred[i] for i in rows], attribute)
            accuracies.append(accuracy)
            macros.append(macro)
        assert result.metrics[f"{attribute}_accuracy"].ci95 == pytest.approx(
            percentile_ci(np.array(accuracies))
        )
        assert result.metrics[f"{attribute}_macro_f1"].ci95 == pytest.approx(percentile_ci(np.array(macros)))


def test_items_and_degenerate_cases() -> None:
    items = attribute_items(GT, PRED, "location")
    assert items.case.tolist() == [0, 1, 2, 2, 3]
    assert items.classes == (
        "right",
        "left",
        "bilateral",
        "apical",
        "basal",
        "right lower lobe",
    )  # LOCATIONS order
    result = score_attributes([{"Edema": _entry()}, {}], [{}, {}], n_boot=10)
    assert result.metrics["location_accuracy"].value is None
    assert result.notes["undefined"]["severity"] == "no ground-truth finding gives a severity"
    with pytest.raises(ValueError, match="2 ground-truth cases but 1"):
        attribute_items([{}, {}], [{}], "location")


# ----------------------------------------------------------------------------- from files (bench.run.score)


def _records(attrs: list[dict | None], with_meta: bool = True) -> list[Record]:
    out = []
    for i, a in enumerate(attrs):
        meta = {"patient": f"p{i // 2}", "attributes": a} if with_meta else None
        out.append(Record(id=f"img{i}", meta=meta))
    return out


def test_score_files_attributes(tmp_path: Path) -> None:
    gt_records = _records([*GT, None])  # an image whose report gave nothing: not a case
    write_records(tmp_path / "gt.jsonl", gt_records)
    write_records(tmp_path / "pred.jsonl", _records([*PRED, {}]))
    results = build_results(
        "attributes", tmp_path / "gt.jsonl", tmp_path / "pred.jsonl", ScoreSettings(n_boot=50)
    )
    reference = score_attributes(GT, PRED, n_boot=50, seed=0, clusters=cluster_numbers([0, 0, 1, 1]))
    assert results["n"] == 4 and results["settings"]["cluster"] == "patient"
    for name, metric in reference.metrics.items():
        assert results["metrics"][name]["value"] == pytest.approx(metric.value)
        assert results["metrics"][name]["ci95"] == pytest.approx(list(metric.ci95))
    assert "location" in results["conventions"]


def test_score_files_attributes_errors(tmp_path: Path) -> None:
    write_records(tmp_path / "gt.jsonl", _records(GT))
    write_records(tmp_path / "pred.jsonl", _records(PRED, with_meta=False))
    with pytest.raises(RecordError, match=r"pred.jsonl:1: record 'img0' has no predicted meta.attributes"):
        build_results("attributes", tmp_path / "gt.jsonl", tmp_path / "pred.jsonl", ScoreSettings(n_boot=0))
    bad = [dict(PRED[0]), *PRED[1:]]
    bad[0]["Cardiomegaly"] = {"location": "left", "severity": "moderate"}
    write_records(tmp_path / "pred.jsonl", _records(bad))
    with pytest.raises(RecordError, match=r"pred.jsonl:1: .*meta.attributes\['Cardiomegaly'\] must be"):
        build_results("attributes", tmp_path / "gt.jsonl", tmp_path / "pred.jsonl", ScoreSettings(n_boot=0))
    (tmp_path / "none.jsonl").write_text(json.dumps({"id": "img0", "meta": {"patient": "x"}}) + "\n")
    (tmp_path / "one.jsonl").write_text(json.dumps({"id": "img0", "meta": {"attributes": {}}}) + "\n")
    with pytest.raises(RecordError, match="none.jsonl: no record has a 'meta.attributes' field"):
        build_results("attributes", tmp_path / "none.jsonl", tmp_path / "one.jsonl", ScoreSettings(n_boot=0))
