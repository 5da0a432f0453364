"""Cross-task consistency: pure metric functions on hand-computed cases and sklearn, and the command on runs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from bench.metrics import consistency as cm
from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices
from bench.metrics.segmentation import encode_mask
from bench.records import write_records
from leaderboards.consistency import consistency_command


def _sk_kappa(a: np.ndarray, b: np.ndarray, weight: np.ndarray | None = None) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(a, b, sample_weight=weight))


def test_kappa_and_agreement_equal_sklearn_with_bootstrap_weights() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random((60, 3)) < 0.4).astype(float)
    b = np.where(rng.random((60, 3)) < 0.75, a, 1 - a)
    a[rng.random((60, 3)) < 0.1] = np.nan  # pairs with a NaN are left out
    counts = bootstrap_counts(60, 5, seed=2)
    stats = cm.label_agreement(cm.pair_cells(a, b), counts)
    for rep in range(5):
        w = counts[rep].astype(float)
        for j in range(3):
            ok = ~np.isnan(a[:, j])
            assert stats["kappa"][rep, j] == pytest.approx(_sk_kappa(a[ok, j], b[ok, j], w[ok]), abs=1e-12)
            agree = np.average(a[ok, j] == b[ok, j], weights=w[ok])
            assert stats["agreement"][rep, j] == pytest.approx(agree, abs=1e-12)
        ok = ~np.isnan(a)
        pooled = _sk_kappa(a[ok], b[ok], np.broadcast_to(w[:, None], a.shape)[ok])
        assert stats["kappa_micro"][rep] == pytest.approx(pooled, abs=1e-12)
        assert stats["kappa_macro"][rep] == pytest.approx(stats["kappa"][rep].mean(), abs=1e-12)


def test_kappa_undefined_is_nan_like_sklearn() -> None:
    a = np.ones((4, 1))
    stats = cm.label_agreement(cm.pair_cells(a, a))
    assert np.isnan(_sk_kappa(a[:, 0], a[:, 0]))
    assert np.isnan(stats["kappa"][0, 0]) and stats["agreement"][0, 0] == 1.0
    empty = cm.label_agreement(cm.pair_cells(np.full((3, 1), np.nan), a[:3]))
    assert np.isnan(empty["agreement_micro"][0]) and np.isnan(empty["kappa_macro"][0])


def test_binarize_and_report_rule() -> None:
    np.testing.assert_array_equal(cm.binarize_scores(np.array([0.2, 0.5, np.nan])), [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(cm.report_positive(np.array([1.0, 0.0, -1.0, np.nan])), [1, 0, 0, 0])


def test_box_side_and_zone_hand_cases() -> None:
    assert cm.box_side([0, 0, 40, 10], width=100) == "right"  # image left = patient right
    assert cm.box_side([60, 0, 90, 10], width=100) == "left"
    assert [cm.box_zone([0, y, 10, y + 2], height=90) for y in (0, 40, 88)] == ["upper", "middle", "lower"]


def test_stated_locations() -> None:
    assert cm.stated_locations("Small nodule in the right upper lobe. No effusion.", "Nodule") == (
        {"right"},
        {"upper"},
        True,
    )
    assert cm.stated_locations("Bilateral pleural effusions at the bases.", "Pleural Effusion") == (
        {"right", "left"},
        {"lower"},
        True,
    )
    # negated mentions state nothing; other findings' sides are not borrowed
    assert cm.stated_locations("No nodule in the left lung.", "Nodule") == (set(), set(), False)
    assert cm.stated_locations("Left effusion. A nodule is seen.", "Nodule") == (set(), set(), True)


def test_location_tallies_hand_case() -> None:
    boxes = [
        [("Nodule", [10, 10, 20, 20])],  # patient right, upper: report agrees on both
        [("Nodule", [70, 70, 80, 80])],  # patient left, lower: report says right upper -> both disagree
        [("Pleural Effusion", [5, 70, 30, 95]), ("Pleural Effusion", [70, 70, 95, 95])],  # bilateral, lower
        [("Nodule", [10, 10, 20, 20])],  # report without a location
    ]
    reports = [
        "Right upper lobe nodule.",
        "Right upper lobe nodule.",
        "Bilateral effusions at the bases.",
        "A nodule.",
    ]
    t = cm.location_tallies(boxes, [(100, 100)] * 4, reports)
    np.testing.assert_array_equal(t["side_total"], [1, 1, 1, 0])
    np.testing.assert_array_equal(t["side_agree"], [1, 0, 1, 0])
    np.testing.assert_array_equal(t["zone_agree"], [1, 0, 1, 0])
    np.testing.assert_array_equal(t["mentioned"], [1, 1, 1, 1])
    assert cm.ratio_replicates(t["side_agree"], t["side_total"])[0] == pytest.approx(2 / 3)


def test_ratio_replicates_equal_explicit_resampling() -> None:
    rng = np.random.default_rng(5)
    total = rng.integers(0, 3, 40).astype(float)
    agree = np.minimum(total, rng.integers(0, 3, 40))
    reps = cm.ratio_replicates(agree, total, bootstrap_counts(40, 30, seed=7))
    for r, idx in enumerate(bootstrap_indices(40, 30, seed=7)):
        assert reps[r] == pytest.approx(agree[idx].sum() / total[idx].sum(), abs=1e-12)


def _masks(heart_cols: tuple[int, int], lung_cols: tuple[tuple[int, int], ...], size: int = 40) -> tuple:
    heart = np.zeros((size, size), bool)
    heart[20:30, heart_cols[0] : heart_cols[1] + 1] = True
    lungs = []
    for lo, hi in lung_cols:
        lung = np.zeros((size, size), bool)
        lung[5:35, lo : hi + 1] = True
        lungs.append(lung)
    return heart, lungs


def test_cardiothoracic_ratio_hand_case() -> None:
    heart, lungs = _masks((10, 24), ((2, 15), (20, 31)))  # heart 15 px wide, thorax 2..31 = 30 px
    assert cm.cardiothoracic_ratio(heart, lungs) == pytest.approx(0.5)
    heart[25, 5] = True  # widest extent now 5..24 = 20 px
    assert cm.cardiothoracic_ratio(heart, lungs) == pytest.approx(20 / 30)
    assert np.isnan(cm.cardiothoracic_ratio(np.zeros((4, 4), bool), lungs))


def _consistency_records(n: int = 12) -> tuple[list[dict], list[dict], dict[str, float]]:
    """Predictions whose agreement is known by construction; returns expected metric values."""
    gt, pred = [], []
    label_pairs, side_ok, side_n, ctr_pairs = [], 0, 0, []
    for i in range(n):
        cardio_score = 0.9 if i % 2 else 0.1
        cardio_report = i % 3 != 0  # disagrees with the score on some images
        big_heart = i % 4 != 0
        right = i % 3 == 0
        x0 = 10 if right else 60  # image left half = patient right
        text = ("The heart is enlarged. " if cardio_report else "Heart size is normal. ") + (
            "Nodule in the right upper lobe." if i % 2 else "Nodule in the left upper lobe."
        )
        heart, lungs = _masks((10, 29) if big_heart else (15, 24), ((2, 15), (20, 31)))
        gt.append({"id": f"k{i:02d}", "image": {"width": 40, "height": 40}, "labels": {"Cardiomegaly": 0}})
        pred.append(
            {
                "id": f"k{i:02d}",
                "labels": {"Cardiomegaly": cardio_score},
                "boxes": [{"label": "Nodule", "bbox": [x0 / 2.5, 2, x0 / 2.5 + 4, 6], "score": 0.8}],
                "masks": {
                    "heart": encode_mask(heart),
                    "right lung": encode_mask(lungs[0]),
                    "left lung": encode_mask(lungs[1]),
                },
                "report": text,
            }
        )
        label_pairs.append((cardio_score >= 0.5, cardio_report))
        side_n += 1
        side_ok += (right and i % 2 == 1) or (not right and i % 2 == 0)
        ctr_pairs.append((big_heart, cardio_report))  # CTR 20/30 vs 10/30
    expected = {
        "label_agreement_micro": np.mean([a == b for a, b in label_pairs]),
        "label_kappa_micro": _sk_kappa(*np.array(label_pairs, dtype=float).T),
        "laterality_agreement": side_ok / side_n,
        "zone_agreement": 1.0,
        "ctr_agreement": np.mean([a == b for a, b in ctr_pairs]),
        "ctr_kappa": _sk_kappa(*np.array(ctr_pairs, dtype=float).T),
    }
    return gt, pred, expected


def _run_dir(root: Path, gt: list[dict], pred: list[dict], fields: tuple[str, ...]) -> Path:
    root.mkdir(parents=True)
    write_records(root / "gt.jsonl", gt)
    write_records(
        root / "predictions.jsonl", [{k: v for k, v in p.items() if k in ("id", *fields)} for p in pred]
    )
    manifest = {"model": {"spec": "baseline:x"}, "dataset": {"name": "demo", "split": "test"}, "seed": 0}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_command_on_one_run_and_on_split_runs(tmp_path: Path) -> None:
    gt, pred, expected = _consistency_records()
    one = _run_dir(tmp_path / "one" / "run", gt, pred, ("labels", "boxes", "masks", "report"))
    assert consistency_command([one], tmp_path / "out1", n_boot=50, seed=0) == 0
    result = json.loads((tmp_path / "out1" / "consistency.json").read_text())
    assert result["task"] == "consistency" and result["n"] == 12
    for name, value in expected.items():
        assert result["metrics"][name]["value"] == pytest.approx(value, abs=1e-12), name
        lo, hi = result["metrics"][name]["ci95"]
        assert lo <= value + 1e-12 and hi >= value - 1e-12
    assert result["per_label"]["agreement"]["Cardiomegaly"] == pytest.approx(
        expected["label_agreement_micro"]
    )
    table = (tmp_path / "out1" / "consistency.md").read_text()
    assert f"{expected['ctr_agreement']:.3f}" in table and "| baseline:x | demo | 12 |" in table
    # the same predictions spread over two run dirs of the same model and images give the same numbers
    _run_dir(tmp_path / "two" / "a", gt, pred, ("labels", "report"))
    _run_dir(tmp_path / "two" / "b", gt, pred, ("boxes", "masks"))
    assert consistency_command([tmp_path / "two"], tmp_path / "out2", n_boot=50, seed=0) == 0
    split = json.loads((tmp_path / "out2" / "consistency.json").read_text())
    assert split["metrics"] == result["metrics"]


def test_command_marks_missing_checks_undefined(tmp_path: Path) -> None:
    gt, pred, _ = _consistency_records(6)
    run = _run_dir(tmp_path / "run", gt, pred, ("labels", "report"))
    assert consistency_command([run], tmp_path / "out", n_boot=0) == 0
    result = json.loads((tmp_path / "out" / "consistency.json").read_text())
    assert result["metrics"]["ctr_agreement"] == {"value": None, "ci95": None}
    assert "heart and lung masks" in result["notes"]["undefined"]["ctr_agreement"]
    assert result["metrics"]["label_agreement_micro"]["ci95"] is None


def test_consistency_resamples_patients_when_the_ground_truth_names_them(tmp_path: Path) -> None:
    gt, pred, _ = _consistency_records()
    plain = _run_dir(tmp_path / "plain" / "run", gt, pred, ("labels", "boxes", "masks", "report"))
    assert consistency_command([plain], tmp_path / "o1", n_boot=50, seed=0) == 0
    base = json.loads((tmp_path / "o1" / "consistency.json").read_text())
    assert (base["settings"]["cluster"], base["settings"]["n_clusters"]) == ("image", 12)
    singles = [g | {"meta": {"patient": f"p{k}"}} for k, g in enumerate(gt)]
    one_each = _run_dir(tmp_path / "single" / "run", singles, pred, ("labels", "boxes", "masks", "report"))
    assert consistency_command([one_each], tmp_path / "o2", n_boot=50, seed=0) == 0
    assert json.loads((tmp_path / "o2" / "consistency.json").read_text())["metrics"] == base["metrics"]
    pairs = [g | {"meta": {"patient": f"p{k // 2}"}} for k, g in enumerate(gt)]
    paired = _run_dir(tmp_path / "pairs" / "run", pairs, pred, ("labels", "boxes", "masks", "report"))
    assert consistency_command([paired], tmp_path / "o3", n_boot=50, seed=0) == 0
    result = json.loads((tmp_path / "o3" / "consistency.json").read_text())
    assert (result["settings"]["cluster"], result["settings"]["n_clusters"]) == ("patient", 6)
