"""CE metrics against scikit-learn (the reference R2Gen's compute_ce.py calls)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices
from bench.metrics.clinical_efficacy import CE5_LABELS, CE_METRIC_NAMES, ce_bootstrap, ce_metrics
from bench.metrics.labeler import LABELSETS

CHEXPERT = LABELSETS["chexpert"]
TOL = 1e-12


def _random_labels(rng: np.random.Generator, n: int, n_labels: int, p_pos: float) -> np.ndarray:
    """Values 1 / 0 / -1 / NaN, as a labeler emits them."""
    values = rng.choice([1.0, 0.0, -1.0, np.nan], size=(n, n_labels), p=[p_pos, 0.4, 0.1, 0.5 - p_pos])
    return values


def _r2gen_binarize(labels: np.ndarray) -> np.ndarray:
    """R2Gen compute_ce.py: fillna(0), then -1 -> 0."""
    out = np.nan_to_num(labels, nan=0.0)
    out[out == -1] = 0
    return out.astype(int)


def _sklearn_reference(ref: np.ndarray, hyp: np.ndarray) -> dict[str, float]:
    gt, pred = _r2gen_binarize(ref), _r2gen_binarize(hyp)
    out = {}
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(gt, pred, average=average, zero_division=0)
        out[f"ce_{average}_precision"], out[f"ce_{average}_recall"], out[f"ce_{average}_f1"] = p, r, f
    return out


def _assert_matches_sklearn(ref: np.ndarray, hyp: np.ndarray, names: list[str]) -> None:
    got = ce_metrics(ref, hyp, names)
    expected = _sklearn_reference(ref, hyp)
    for key in CE_METRIC_NAMES:
        assert got[key] == pytest.approx(expected[key], abs=TOL), key
    p, r, f, _ = precision_recall_fscore_support(
        _r2gen_binarize(ref), _r2gen_binarize(hyp), average=None, zero_division=0, labels=range(len(names))
    )
    for i, name in enumerate(names):
        assert got[f"ce_precision/{name}"] == pytest.approx(p[i], abs=TOL)
        assert got[f"ce_recall/{name}"] == pytest.approx(r[i], abs=TOL)
        assert got[f"ce_f1/{name}"] == pytest.approx(f[i], abs=TOL)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p_pos", [0.02, 0.2, 0.45])
def test_random_labels_match_sklearn(seed: int, p_pos: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    ref, hyp = _random_labels(rng, n, 14, p_pos), _random_labels(rng, n, 14, p_pos)
    _assert_matches_sklearn(ref, hyp, CHEXPERT)


@pytest.mark.parametrize(
    "case",
    ["all_blank", "hyp_all_positive", "ref_all_positive", "identical", "one_report", "label_never_positive"],
)
def test_edge_cases_match_sklearn(case: str) -> None:
    rng = np.random.default_rng(7)
    ref = _random_labels(rng, 40, 14, 0.2)
    hyp = _random_labels(rng, 40, 14, 0.2)
    if case == "all_blank":
        ref[:], hyp[:] = np.nan, np.nan
    elif case == "hyp_all_positive":
        hyp[:] = 1.0
    elif case == "ref_all_positive":
        ref[:] = 1.0
    elif case == "identical":
        hyp = ref.copy()
    elif case == "one_report":
        ref, hyp = ref[:1], hyp[:1]
    elif case == "label_never_positive":
        ref[:, 3], hyp[:, 3] = -1.0, 0.0
    _assert_matches_sklearn(ref, hyp, CHEXPERT)


def test_hand_computed_case() -> None:
    names = ["a", "b"]
    ref = np.array([[1, 1], [1, 0], [0, -1], [np.nan, 1]], dtype=float)
    hyp = np.array([[1, 0], [-1, 0], [1, 1], [np.nan, 1]], dtype=float)
    got = ce_metrics(ref, hyp, names)
    # label a: tp 1 fp 1 fn 1; label b: tp 1 fp 1 (uncertain ref = negative) fn 1
    assert got["ce_micro_precision"] == pytest.approx(2 / 4)
    assert got["ce_micro_recall"] == pytest.approx(2 / 4)
    assert got["ce_macro_f1"] == pytest.approx(0.5)
    assert got["ce_f1/a"] == pytest.approx(0.5)


def test_all_negative_gives_zero_not_nan() -> None:
    ref = np.zeros((5, 14))
    got = ce_metrics(ref, ref.copy(), CHEXPERT)
    assert all(got[k] == 0.0 for k in CE_METRIC_NAMES)


def test_subset_equals_sklearn_on_those_columns() -> None:
    rng = np.random.default_rng(3)
    ref, hyp = _random_labels(rng, 120, 14, 0.25), _random_labels(rng, 120, 14, 0.25)
    got = ce_metrics(ref, hyp, CHEXPERT, subset=CE5_LABELS)
    cols = [CHEXPERT.index(name) for name in CE5_LABELS]
    expected = _sklearn_reference(ref[:, cols], hyp[:, cols])
    for key in CE_METRIC_NAMES:
        assert got[key] == pytest.approx(expected[key], abs=TOL)
    assert "ce_f1/Fracture" not in got
    assert f1_score(_r2gen_binarize(ref[:, cols]), _r2gen_binarize(hyp[:, cols]), average="micro") == (
        pytest.approx(got["ce_micro_f1"], abs=TOL)
    )


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        ce_metrics(np.zeros((3, 14)), np.zeros((4, 14)), CHEXPERT)
    with pytest.raises(ValueError):
        ce_metrics(np.zeros((3, 13)), np.zeros((3, 13)), CHEXPERT)
    with pytest.raises(ValueError):
        ce_metrics(np.zeros((3, 14)), np.zeros((3, 14)), CHEXPERT, subset=["Nope"])
    with pytest.raises(ValueError):
        ce_bootstrap(np.zeros((3, 14)), np.zeros((3, 14)), np.ones((2, 4)))


@pytest.mark.parametrize("subset", [None, CE5_LABELS])
def test_bootstrap_equals_recomputing_on_resampled_reports(subset: list[str] | None) -> None:
    rng = np.random.default_rng(11)
    n, n_boot, seed = 60, 50, 5
    ref, hyp = _random_labels(rng, n, 14, 0.15), _random_labels(rng, n, 14, 0.15)
    reps = ce_bootstrap(ref, hyp, bootstrap_counts(n, n_boot, seed), label_names=CHEXPERT, subset=subset)
    for b, idx in enumerate(bootstrap_indices(n, n_boot, seed)):
        expected = ce_metrics(ref[idx], hyp[idx], CHEXPERT, subset=subset)
        for key in CE_METRIC_NAMES:
            assert reps[key].shape == (n_boot,)
            assert reps[key][b] == pytest.approx(expected[key], abs=TOL), (key, b)
