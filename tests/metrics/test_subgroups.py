"""bench.metrics.subgroups against independent references: scikit-learn on the group's (resampled) rows, the
classification scorer on the group alone with the same draws, hand-counted rates and p-values, statsmodels' Holm,
and the null distribution of the gap test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score
from statsmodels.stats.multitest import multipletests

from bench.metrics.bootstrap import bootstrap_counts, cluster_numbers
from bench.metrics.classification import score_classification
from bench.metrics.subgroups import (
    Estimate,
    add_holm,
    bootstrap_p,
    classification_estimates,
    gap_test,
    gaps_to_reference,
    is_small,
    pairwise_gaps,
    rate_estimate,
)


def _data(n: int, n_labels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, n_labels)) < 0.35).astype(float)
    y[rng.random(y.shape) < 0.05] = np.nan  # unknown ground truth
    s = np.clip(0.3 * np.nan_to_num(y) + 0.7 * rng.random(y.shape), 0, 1).round(2)  # ties on purpose
    return y, s


def test_group_values_equal_sklearn_on_the_subset() -> None:
    y, s = _data(400, 3, seed=1)
    rows = np.flatnonzero(np.random.default_rng(2).random(400) < 0.4)
    estimates, auc, ap = classification_estimates(y[rows], s[rows], None)
    ref_auc, ref_ap = [], []
    for j in range(3):
        known = ~np.isnan(y[rows, j])
        ref_auc.append(roc_auc_score(y[rows, j][known], s[rows, j][known]))
        ref_ap.append(average_precision_score(y[rows, j][known], s[rows, j][known]))
    assert auc == pytest.approx(ref_auc, abs=1e-12) and ap == pytest.approx(ref_ap, abs=1e-12)
    assert estimates["auc_macro"].value == pytest.approx(np.mean(ref_auc), abs=1e-12)
    assert estimates["ap_macro"].value == pytest.approx(np.mean(ref_ap), abs=1e-12)


def test_group_replicates_equal_sklearn_on_resampled_rows_of_the_joint_draws() -> None:
    y, s = _data(300, 2, seed=3)
    clusters = cluster_numbers([i // 3 for i in range(300)])  # patients of three images
    counts = bootstrap_counts(300, 20, seed=4, clusters=clusters)
    rows = np.arange(0, 300, 2)  # a group splitting patients: the draws of a patient reach both groups
    estimates, _, _ = classification_estimates(y[rows], s[rows], counts[:, rows])
    for b in (0, 7, 19):
        idx = np.repeat(rows, counts[b, rows])
        aucs = []
        for j in range(2):
            known = ~np.isnan(y[idx, j])
            aucs.append(roc_auc_score(y[idx, j][known], s[idx, j][known]))
        assert estimates["auc_macro"].reps[b] == pytest.approx(np.mean(aucs), abs=1e-12)


def test_group_ci_equals_the_scorer_ci_on_the_subset_with_the_same_draws() -> None:
    y, s = _data(250, 3, seed=5)
    clusters = cluster_numbers([i // 2 for i in range(250)])
    rows = np.flatnonzero(np.arange(250) % 5 != 0)
    sub_clusters = cluster_numbers(clusters[rows].tolist())
    draws = bootstrap_counts(rows.size, 300, seed=9, clusters=sub_clusters)
    estimates, _, _ = classification_estimates(y[rows], s[rows], draws)
    ref = score_classification(y[rows], s[rows], ["a", "b", "c"], n_boot=300, seed=9, clusters=sub_clusters)
    for name in ("auc_macro", "ap_macro"):
        assert estimates[name].value == ref.metrics[name].value
        ci = np.percentile(estimates[name].reps[np.isfinite(estimates[name].reps)], [2.5, 97.5])
        assert list(ci) == list(ref.metrics[name].ci95)


def test_known_gap_perfect_against_inverted_scores() -> None:
    y = np.tile([0.0, 1.0], 200)[:, None]
    s = np.where(np.arange(400)[:, None] < 200, y, 1.0 - y)  # group a ranks perfectly, group b inverted
    counts = bootstrap_counts(400, 200, seed=0)
    a, _, _ = classification_estimates(y[:200], s[:200], counts[:, :200])
    b, _, _ = classification_estimates(y[200:], s[200:], counts[:, 200:])
    test = gap_test(a["auc_macro"], b["auc_macro"])
    assert test["value"] == 1.0 and test["ci"] == [1.0, 1.0]
    finite = np.isfinite(a["auc_macro"].reps - b["auc_macro"].reps).sum()
    assert test["p"] == pytest.approx(2 / (finite + 1))  # no replicate gap at or below 0: the floor


def test_bootstrap_p_hand_count() -> None:
    # #{<= 0} = 1, #{>= 0} = 3 of 4: p = 2 min(2/5, 4/5) = 0.8
    assert bootstrap_p(np.array([-1.0, 1.0, 2.0, 3.0])) == pytest.approx(0.8)
    assert bootstrap_p(np.array([-1.0, -2.0, np.nan, 0.5])) == pytest.approx(2 * 2 / 4)
    assert np.isnan(bootstrap_p(np.array([np.nan]))) and np.isnan(bootstrap_p(None))


def test_holm_equals_statsmodels_and_never_lowers_p() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.random(6) ** 2
        tests = [{"p": float(x)} for x in p]
        add_holm(tests)
        ref = multipletests(p, method="holm")[1]
        assert [t["p_holm"] for t in tests] == pytest.approx(ref)
        assert all(t["p_holm"] >= t["p"] for t in tests)
    tests = [{"p": 0.01}, {"p": None}, {"p": 0.04}]
    add_holm(tests)
    assert [t["p_holm"] for t in tests] == [0.02, None, 0.04]


def test_no_finding_false_positive_rate_hand_count() -> None:
    # 6 images with a finding (No Finding = 0), 2 of them predicted No Finding (score >= 0.5): FPR 2/6
    nf_truth = np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=float)
    score = np.array([0.5, 0.9, 0.1, 0.49, 0.2, 0.3, 0.8, 0.1])
    counts = np.array([[1, 1, 1, 1, 1, 1, 1, 1], [2, 0, 1, 1, 0, 2, 1, 0], [0, 0, 3, 0, 0, 0, 2, 3]])
    est = rate_estimate(score >= 0.5, nf_truth == 0, counts)
    assert est.value == pytest.approx(2 / 6)
    # replicate 1: with a finding 2+1+1+2 = 6 images, predicted No Finding: image 0 twice -> 2/6
    assert est.reps[0] == pytest.approx(2 / 6) and est.reps[1] == pytest.approx(2 / 6)
    assert est.reps[2] == 0.0


def test_gaps_to_overall_and_pairwise_shape_and_undefined() -> None:
    reps = np.array([0.1, 0.2, 0.3])
    groups = {
        "F": Estimate(0.8, reps + 0.5),
        "M": Estimate(0.7, reps + 0.4),
        "unknown": Estimate(np.nan, None),
    }
    overall = Estimate(0.75, reps + 0.45)
    to_overall = gaps_to_reference(groups, overall)
    assert to_overall["F"]["value"] == pytest.approx(0.05) and to_overall["F"]["ci"] == pytest.approx(
        [0.05, 0.05]
    )
    assert to_overall["unknown"] == {"value": None, "ci": None, "p": None, "p_holm": None}
    pairs = pairwise_gaps(list(groups.items()))
    assert [(t["a"], t["b"]) for t in pairs] == [("F", "M"), ("F", "unknown"), ("M", "unknown")]
    assert pairs[0]["gap"] == pytest.approx(0.1) and pairs[0]["p"] == pytest.approx(2 * 1 / 4)
    assert pairs[0]["p_holm"] == pairs[0]["p"]  # the only test with a p-value in its family


def test_small_group_rule() -> None:
    assert is_small(29, None) and not is_small(30, None)
    assert is_small(100, 4) and not is_small(100, 5)


def test_gap_p_values_under_identical_groups_are_roughly_uniform() -> None:
    """Two groups drawn from one distribution: the gap test's p-values spread over (0, 1] and rarely fall below
    0.05; Holm over the family never lowers them."""
    rng = np.random.default_rng(11)
    pvalues = []
    for sim in range(150):
        n = 160
        y = (rng.random((n, 1)) < 0.4).astype(float)
        s = 0.8 * y + rng.random((n, 1))
        group = rng.random(n) < 0.5
        counts = bootstrap_counts(n, 199, seed=sim)
        a, _, _ = classification_estimates(y[group], s[group], counts[:, group])
        b, _, _ = classification_estimates(y[~group], s[~group], counts[:, ~group])
        pvalues.append(gap_test(a["auc_macro"], b["auc_macro"])["p"])
    p = np.array(pvalues)
    assert 0.01 <= np.mean(p < 0.05) <= 0.12
    assert 0.4 <= p.mean() <= 0.6
    assert stats.kstest(p, "uniform").pvalue > 0.001
    tests = [{"p": float(x)} for x in p[:10]]
    add_holm(tests)
    assert all(t["p_holm"] >= t["p"] for t in tests)
