"""DeLong against a slow O(n^2) reference and sklearn; paired bootstrap / randomization; Holm."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.significance import (
    approximate_randomization,
    delong_auc_ci,
    delong_paired_test,
    holm,
    mix,
    normal_quantile,
    normal_two_sided_p,
    paired_bootstrap,
    take,
)


def _slow_components(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components from all positive/negative pairs: psi = 1, 1/2 (tie), 0."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)  # V10 per positive, V01 per negative


def _slow_cov(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> float:
    a10, a01 = _slow_components(y, s1)
    b10, b01 = _slow_components(y, s2)
    m, n = a10.size, a01.size
    cov10 = np.sum((a10 - a10.mean()) * (b10 - b10.mean())) / (m - 1)
    cov01 = np.sum((a01 - a01.mean()) * (b01 - b01.mean())) / (n - 1)
    return cov10 / m + cov01 / n


def _data(seed: int, n: int = 120, decimals: int | None = 1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(float)
    y[:2], y[2:4] = 1.0, 0.0
    s_a = rng.random(n) + 0.4 * y
    s_b = 0.6 * s_a + 0.4 * rng.random(n)
    if decimals is not None:
        s_a, s_b = np.round(s_a, decimals), np.round(s_b, decimals)
    return y, s_a, s_b


@pytest.mark.parametrize("decimals", [None, 1])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_variance_equals_slow_reference(seed, decimals):
    y, s, _ = _data(seed, decimals=decimals)
    result = delong_auc_ci(y, s)
    assert result.auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert result.variance == pytest.approx(_slow_cov(y, s, s), rel=1e-10)
    half = norm.ppf(0.975) * np.sqrt(result.variance)
    assert result.ci == pytest.approx((max(0.0, result.auc - half), min(1.0, result.auc + half)), abs=1e-12)


def test_delong_hand_computed_case():
    # V10 = [0.5, 1], V01 = [1, 0.5] -> var = 0.125/2 + 0.125/2
    result = delong_auc_ci([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert result.auc == pytest.approx(0.75)
    assert result.variance == pytest.approx(0.125)


def test_delong_degenerate_cases():
    one_pos = delong_auc_ci([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3])
    assert one_pos.auc == 1.0 and np.isnan(one_pos.variance) and one_pos.ci is None
    perfect = delong_auc_ci([1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2])
    assert perfect.variance == 0.0 and perfect.ci == (1.0, 1.0)
    with pytest.raises(ValueError):
        delong_auc_ci([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        delong_auc_ci([1, np.nan, 0], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("decimals", [None, 1])
@pytest.mark.parametrize("seed", [3, 4])
def test_delong_paired_equals_slow_reference(seed, decimals):
    y, s_a, s_b = _data(seed, decimals=decimals)
    auc_a, auc_b, diff, z, p = delong_paired_test(y, s_a, s_b)
    assert auc_a == pytest.approx(roc_auc_score(y, s_a), abs=1e-12)
    assert auc_b == pytest.approx(roc_auc_score(y, s_b), abs=1e-12)
    assert diff == pytest.approx(auc_a - auc_b, abs=1e-15)
    var_diff = _slow_cov(y, s_a, s_a) + _slow_cov(y, s_b, s_b) - 2 * _slow_cov(y, s_a, s_b)
    assert z == pytest.approx(diff / np.sqrt(var_diff), rel=1e-9)
    assert p == pytest.approx(2 * norm.sf(abs(diff / np.sqrt(var_diff))), rel=1e-9)


def test_delong_paired_identical_and_strong_difference():
    y, s_a, _ = _data(5, n=300)
    assert delong_paired_test(y, s_a, s_a)[2:] == (0.0, 0.0, 1.0)
    # a monotone transform has the same AUC: zero difference, zero variance
    assert delong_paired_test(y, s_a, np.exp(s_a))[3:] == (0.0, 1.0)
    noise = np.random.default_rng(0).random(y.size)
    _, _, diff, z, p = delong_paired_test(y, y + 0.1 * noise, noise)
    assert diff > 0.3 and z > 0 and p < 1e-6


def _accuracy(gt, pred) -> float:
    return float(np.mean(np.asarray(gt) == np.asarray(pred)))


def test_take_and_mix_on_arrays_and_lists():
    idx = np.array([2, 0, 2])
    assert take(["a", "b", "c"], idx) == ["c", "a", "c"]
    arr = np.arange(12).reshape(4, 3)
    np.testing.assert_array_equal(take(arr, idx), arr[[2, 0, 2]])
    mask = np.array([True, False, True, False])
    assert mix(["a0", "a1", "a2", "a3"], ["b0", "b1", "b2", "b3"], mask) == ["b0", "a1", "b2", "a3"]
    mixed = mix(arr, -arr, mask)
    np.testing.assert_array_equal(mixed, np.where(mask[:, None], -arr, arr))
    np.testing.assert_array_equal(mix(np.arange(4), -np.arange(4), mask), [0, 1, -2, 3])


def test_identical_predictions():
    rng = np.random.default_rng(0)
    gt = list(rng.integers(0, 3, 80))
    pred = list(rng.integers(0, 3, 80))
    boot = paired_bootstrap(_accuracy, gt, pred, list(pred), n_boot=200, seed=1)
    assert boot["diff"] == 0.0 and boot["ci95"] == (0.0, 0.0) and boot["p"] == 1.0
    ar = approximate_randomization(_accuracy, gt, pred, list(pred), n_perm=99, seed=1)
    assert ar["diff"] == 0.0 and ar["p"] == 1.0


def test_paired_bootstrap_linear_metric_matches_counts():
    # for a mean-of-cases metric, a replicate's difference is counts @ (a_i - b_i) / n
    rng = np.random.default_rng(2)
    gt = rng.integers(0, 2, 150)
    pred_a = np.where(rng.random(150) < 0.8, gt, 1 - gt)
    pred_b = np.where(rng.random(150) < 0.7, gt, 1 - gt)
    result = paired_bootstrap(_accuracy, gt, pred_a, pred_b, n_boot=300, seed=4)
    per_case = (pred_a == gt).astype(float) - (pred_b == gt)
    reps = bootstrap_counts(150, 300, 4) @ per_case / 150
    assert result["diff"] == pytest.approx(per_case.mean(), abs=1e-12)
    assert result["ci95"] == pytest.approx(percentile_ci(reps), abs=1e-12)
    expected_p = min(1.0, 2 * min((np.sum(reps <= 0) + 1) / 301, (np.sum(reps >= 0) + 1) / 301))
    assert result["p"] == pytest.approx(expected_p, abs=1e-10)


def test_strong_difference_gives_small_p():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 2, 200)
    good = np.where(rng.random(200) < 0.95, gt, 1 - gt)
    bad = rng.integers(0, 2, 200)
    boot = paired_bootstrap(_accuracy, gt, good, bad, n_boot=500, seed=0)
    assert boot["diff"] > 0.3 and boot["ci95"][0] > 0 and boot["p"] <= 2 / 501
    ar = approximate_randomization(_accuracy, list(gt), list(good), list(bad), n_perm=199, seed=0)
    assert ar["p"] == pytest.approx(1 / 200)  # +1 smoothing: never 0


def test_randomization_p_roughly_uniform_under_null():
    p_values = []
    for seed in range(60):
        rng = np.random.default_rng(100 + seed)
        gt = rng.integers(0, 2, 40)
        # exchangeable systems: same accuracy distribution, independent errors
        pred_a = np.where(rng.random(40) < 0.7, gt, 1 - gt)
        pred_b = np.where(rng.random(40) < 0.7, gt, 1 - gt)
        p_values.append(approximate_randomization(_accuracy, gt, pred_a, pred_b, n_perm=99, seed=seed)["p"])
    p_values = np.array(p_values)
    assert np.all(p_values > 0)
    assert 0.0 <= np.mean(p_values <= 0.1) <= 0.25
    assert 0.25 <= np.mean(p_values <= 0.5) <= 0.75
    assert 0.35 <= p_values.mean() <= 0.7


def test_case_count_mismatch_raises():
    with pytest.raises(ValueError):
        paired_bootstrap(_accuracy, [1, 0], [1, 0, 1], [1, 0], n_boot=5, seed=0)


@pytest.mark.parametrize("seed", range(4))
def test_holm_equals_statsmodels(seed):
    p = np.random.default_rng(seed).random(12) ** 3
    p[3] = p[7]  # a tie
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)


def test_holm_keeps_nan_out_of_the_count():
    adjusted = holm([0.01, np.nan, 0.04])
    np.testing.assert_allclose(adjusted, [0.02, np.nan, 0.04])
    assert holm([]).size == 0


def test_normal_helpers_equal_scipy_stats():
    """The standard-library normal quantile and two-sided p-value against scipy.stats.norm."""
    for p in np.linspace(0.001, 0.999, 999):
        assert abs(normal_quantile(p) - norm.ppf(p)) < 1e-14
    for z in np.linspace(-9.0, 9.0, 1801):
        expected = 2.0 * norm.sf(abs(z))
        assert abs(normal_two_sided_p(z) - expected) <= 1e-13 * expected + 1e-300
    assert abs(normal_quantile(0.975) - 1.959963984540054) < 1e-15
