"""Classification metrics against scikit-learn, on random, tied and degenerate data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.errors import BadInputError
from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices, percentile_ci
from bench.metrics.classification import (
    _prefix_sum_rows,
    bootstrap_auc_ap,
    per_label_auc_ap,
    score_classification,
)
from bench.metrics.significance import delong_auc_ci

TOL = 1e-12


def _random_multilabel(n: int, n_labels: int, seed: int, decimals: int | None = 1, unknown: float = 0.15):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n, n_labels)) < rng.uniform(0.1, 0.6, n_labels)).astype(float)
    y_score = rng.random((n, n_labels)) * 0.7 + 0.3 * y_true
    if decimals is not None:
        y_score = np.round(y_score, decimals)  # many ties, also across classes
    y_true[rng.random((n, n_labels)) < unknown] = np.nan
    return y_true, y_score


def _sklearn_per_label(y_true: np.ndarray, y_score: np.ndarray, metric) -> np.ndarray:
    out = np.full(y_true.shape[1], np.nan)
    for j in range(y_true.shape[1]):
        known = ~np.isnan(y_true[:, j])
        y, s = y_true[known, j], y_score[known, j]
        if 0 < y.sum() < y.size:
            out[j] = metric(y, s)
    return out


@pytest.mark.parametrize("decimals", [None, 2, 1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_sklearn(decimals, seed):
    y_true, y_score = _random_multilabel(400, 6, seed, decimals)
    auc, ap = per_label_auc_ap(y_true, y_score)
    np.testing.assert_allclose(auc, _sklearn_per_label(y_true, y_score, roc_auc_score), rtol=0, atol=TOL)
    np.testing.assert_allclose(
        ap, _sklearn_per_label(y_true, y_score, average_precision_score), rtol=0, atol=TOL
    )


@pytest.mark.parametrize("decimals", [None, 1])
def test_each_replicate_equals_sklearn_on_resampled_rows(decimals):
    y_true, y_score = _random_multilabel(150, 4, 7, decimals)
    y_true[:, 3] = np.nan
    y_true[:6, 3] = [1, 0, 0, 0, 0, 0]  # one positive among 6 known: often lost in a replicate
    n_boot, seed = 25, 3
    boot_auc, boot_ap = bootstrap_auc_ap(y_true, y_score, bootstrap_counts(150, n_boot, seed))
    for b, idx in enumerate(bootstrap_indices(150, n_boot, seed)):
        ref_auc = _sklearn_per_label(y_true[idx], y_score[idx], roc_auc_score)
        ref_ap = _sklearn_per_label(y_true[idx], y_score[idx], average_precision_score)
        np.testing.assert_allclose(boot_auc[b], ref_auc, rtol=0, atol=TOL)  # NaN positions must match too
        np.testing.assert_allclose(boot_ap[b], ref_ap, rtol=0, atol=TOL)
    assert np.isnan(boot_auc[:, 3]).any() and np.isfinite(boot_auc[:, 3]).any()


def test_replicates_beyond_uint16_case_count():
    n = 70_000  # bucket sums no longer fit uint16
    y_true, y_score = _random_multilabel(n, 1, 11, decimals=3, unknown=0.0)
    boot_auc, boot_ap = bootstrap_auc_ap(y_true, y_score, bootstrap_counts(n, 2, 5))
    idx = bootstrap_indices(n, 2, 5)[1]
    assert abs(boot_auc[1, 0] - roc_auc_score(y_true[idx, 0], y_score[idx, 0])) < TOL
    assert abs(boot_ap[1, 0] - average_precision_score(y_true[idx, 0], y_score[idx, 0])) < TOL


def test_cluster_replicates_heavier_than_uint16_with_fewer_cases():
    """A cluster bootstrap can draw one large cluster several times: a replicate's total weight then exceeds n.
    With n < 65,536 the weights once stayed uint16 and those replicates wrapped around (AUC -0.11, AP 3.46)."""
    n = 40_000
    rng = np.random.default_rng(1)
    y_true = (rng.random((n, 1)) < 0.3).astype(float)
    y_score = rng.random((n, 1)) + 0.3 * y_true
    clusters = np.zeros(n, dtype=np.int64)
    clusters[-10:] = np.arange(1, 11)  # one cluster of 39,990 images and ten single images
    counts = bootstrap_counts(n, 6, 0, clusters=clusters)
    assert counts.sum(axis=1).max() > np.iinfo(np.uint16).max
    boot_auc, boot_ap = bootstrap_auc_ap(y_true, y_score, counts)
    for b in range(6):  # sample_weight = multiplicity: scikit-learn on the replicate
        ref_auc = roc_auc_score(y_true[:, 0], y_score[:, 0], sample_weight=counts[b])
        ref_ap = average_precision_score(y_true[:, 0], y_score[:, 0], sample_weight=counts[b])
        assert abs(boot_auc[b, 0] - ref_auc) < 1e-9 and abs(boot_ap[b, 0] - ref_ap) < 1e-9


def test_macro_bootstrap_ci_matches_explicit_resampling():
    y_true, y_score = _random_multilabel(120, 3, 4, decimals=1)
    y_true[:, 2] = np.nan
    y_true[:8, 2] = [1, 1, 0, 0, 0, 0, 0, 0]
    names = ["a", "b", "c"]
    n_boot, seed = 40, 9
    result = score_classification(y_true, y_score, names, n_boot=n_boot, seed=seed)
    reps_auc, reps_ap = [], []
    for idx in bootstrap_indices(120, n_boot, seed):
        auc = _sklearn_per_label(y_true[idx], y_score[idx], roc_auc_score)
        ap = _sklearn_per_label(y_true[idx], y_score[idx], average_precision_score)
        # documented rule: a label that lost a class is dropped from that replicate's macro mean
        reps_auc.append(np.mean(auc[np.isfinite(auc)]))
        reps_ap.append(np.mean(ap[np.isfinite(ap)]))
    np.testing.assert_allclose(result.metrics["auc_macro"].ci95, percentile_ci(np.array(reps_auc)), atol=TOL)
    np.testing.assert_allclose(result.metrics["ap_macro"].ci95, percentile_ci(np.array(reps_ap)), atol=TOL)
    assert result.notes["bootstrap_replicates_with_label_single_class"].get("c", 0) > 0
    ci_b = result.notes["per_label_ci95"]["auc"]["b"]
    ref_b = percentile_ci(
        np.array(
            [
                _sklearn_per_label(y_true[i], y_score[i], roc_auc_score)[1]
                for i in bootstrap_indices(120, n_boot, seed)
            ]
        )
    )
    np.testing.assert_allclose(ci_b, ref_b, atol=TOL)


def test_skipped_labels_and_macro_over_scored_labels():
    rng = np.random.default_rng(5)
    n = 60
    y_true = np.column_stack(
        [
            rng.integers(0, 2, n),  # scored
            np.ones(n),  # single class: no negatives
            np.zeros(n),  # single class: no positives
            np.full(n, np.nan),  # no known values
            np.r_[1.0, np.zeros(n - 1)],  # exactly one positive: scored
        ]
    ).astype(float)
    y_score = rng.random((n, 5))
    names = ["ok", "all_pos", "all_neg", "all_nan", "one_pos"]
    result = score_classification(y_true, y_score, names, n_boot=30, seed=1)
    auc_ok = roc_auc_score(y_true[:, 0], y_score[:, 0])
    auc_one = roc_auc_score(y_true[:, 4], y_score[:, 4])
    assert result.per_label["auc"]["ok"] == pytest.approx(auc_ok, abs=TOL)
    assert result.per_label["auc"]["one_pos"] == pytest.approx(auc_one, abs=TOL)
    assert result.metrics["auc_macro"].value == pytest.approx((auc_ok + auc_one) / 2, abs=TOL)
    ap_ok = average_precision_score(y_true[:, 0], y_score[:, 0])
    ap_one = average_precision_score(y_true[:, 4], y_score[:, 4])
    assert result.metrics["ap_macro"].value == pytest.approx((ap_ok + ap_one) / 2, abs=TOL)
    for name in ("all_pos", "all_neg", "all_nan"):
        assert result.per_label["auc"][name] is None and result.per_label["ap"][name] is None
    assert set(result.notes["skipped_labels"]) == {"all_pos", "all_neg", "all_nan"}
    assert "no known values" in result.notes["skipped_labels"]["all_nan"]
    assert "single class" in result.notes["skipped_labels"]["all_pos"]
    assert result.notes["delong_auc_ci95"]["one_pos"] is None  # DeLong variance needs >= 2 positives
    assert result.notes["delong_auc_ci95"]["ok"] == pytest.approx(
        list(delong_auc_ci(y_true[:, 0], y_score[:, 0]).ci)
    )
    assert result.notes["per_label_ci95"]["auc"]["all_nan"] is None
    lo, hi = result.metrics["auc_macro"].ci95
    assert lo <= result.metrics["auc_macro"].value <= hi


def test_nothing_scorable_gives_none_not_zero():
    y_true = np.array([[1.0, np.nan], [1.0, np.nan]])
    result = score_classification(y_true, np.array([[0.2, 0.1], [0.3, 0.9]]), ["a", "b"], n_boot=10)
    assert result.metrics["auc_macro"].value is None and result.metrics["auc_macro"].ci95 is None
    assert result.metrics["ap_macro"].value is None
    assert "macro_undefined" in result.notes
    assert result.to_json()["metrics"]["auc_macro"] == {"value": None, "ci95": None}


@pytest.mark.parametrize(
    ("y", "s"),
    [([1.0], [0.4]), ([1.0, 0.0], [0.9, 0.1]), ([1.0, 0.0], [0.1, 0.9]), ([1.0, 0.0], [0.5, 0.5])],
)
def test_tiny_inputs(y, s):
    y_true, y_score = np.array(y)[:, None], np.array(s)[:, None]
    result = score_classification(y_true, y_score, ["x"], n_boot=20, seed=0)
    if len(y) == 1:
        assert result.metrics["auc_macro"].value is None
        return
    assert result.metrics["auc_macro"].value == pytest.approx(roc_auc_score(y, s), abs=TOL)
    assert result.metrics["ap_macro"].value == pytest.approx(average_precision_score(y, s), abs=TOL)
    boot_auc, _ = bootstrap_auc_ap(y_true, y_score, bootstrap_counts(2, 20, 0))
    for b, idx in enumerate(bootstrap_indices(2, 20, 0)):
        yy = np.array(y)[idx]
        expected = roc_auc_score(yy, np.array(s)[idx]) if 0 < yy.sum() < 2 else np.nan
        np.testing.assert_allclose(boot_auc[b, 0], expected, atol=TOL)


def test_delong_ci_method_and_input_checks():
    y_true, y_score = _random_multilabel(200, 2, 3, decimals=2)
    result = score_classification(y_true, y_score, ["a", "b"], ci_method="delong")
    assert result.metrics["auc_macro"].ci95 is None  # n_boot = 0: no bootstrap CI
    assert result.notes["per_label_ci95"]["auc"] == result.notes["delong_auc_ci95"]
    with pytest.raises(ValueError):
        score_classification(y_true, y_score, ["a", "b"], ci_method="wald")
    bad = y_true.copy()
    bad[0, 0] = 2.0
    with pytest.raises(ValueError):
        score_classification(bad, y_score, ["a", "b"])
    with pytest.raises(ValueError):
        score_classification(y_true, y_score, ["a"])


@pytest.mark.parametrize("n_rows", [0, 1, 2, 3, 4, 17, 100, 1001])
def test_prefix_sum_rows_equals_cumsum(n_rows):
    x = np.random.default_rng(n_rows).integers(0, 50, (n_rows, 7)).astype(np.uint16)
    expected = np.cumsum(x, axis=0)
    _prefix_sum_rows(x)
    np.testing.assert_array_equal(x, expected)


_labels_and_scores = st.integers(min_value=2, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 12), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(_labels_and_scores)
def test_auc_properties(data):
    labels, ints = data
    y = np.array(labels, dtype=float)
    if y.min() == y.max():
        return
    s = np.array(ints, dtype=float) / 12.0
    auc, ap = per_label_auc_ap(y, s)
    assert auc[0] == pytest.approx(roc_auc_score(y, s), abs=TOL)
    assert ap[0] == pytest.approx(average_precision_score(y, s), abs=TOL)
    # strictly increasing transform keeps ties and order: same AUC and AP
    auc_t, ap_t = per_label_auc_ap(y, np.exp(3.0 * s) - 7.0)
    assert auc_t[0] == pytest.approx(auc[0], abs=TOL) and ap_t[0] == pytest.approx(ap[0], abs=TOL)
    # reversing the ranking mirrors AUC
    auc_r, _ = per_label_auc_ap(y, 1.0 - s)
    assert auc_r[0] == pytest.approx(1.0 - auc[0], abs=TOL)
    # swapping classes and reversing scores leaves AUC unchanged
    auc_sw, _ = per_label_auc_ap(1.0 - y, -s)
    assert auc_sw[0] == pytest.approx(auc[0], abs=TOL)


def test_thread_count_does_not_change_numbers(monkeypatch):
    """Labels are scored on threads ($CXRBENCH_THREADS); every count gives the same replicates, bit for bit."""
    y_true, y_score = _random_multilabel(300, 6, 9, decimals=2)
    counts = bootstrap_counts(300, 40, 1)
    results = []
    for threads in ("1", "2", "5"):
        monkeypatch.setenv("CXRBENCH_THREADS", threads)
        results.append(bootstrap_auc_ap(y_true, y_score, counts))
    for auc, ap in results[1:]:
        np.testing.assert_array_equal(auc, results[0][0])
        np.testing.assert_array_equal(ap, results[0][1])


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_bad_thread_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("CXRBENCH_THREADS", value)
    with pytest.raises(BadInputError, match="CXRBENCH_THREADS"):
        bootstrap_auc_ap(*_random_multilabel(50, 2, 1), bootstrap_counts(50, 3, 0))
