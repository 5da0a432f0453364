"""Obuchowski's clustered AUC variance (bench/metrics/clustered_auc.py).

Checked against: DeLong in significance.py when every cluster has one case (to 1e-12); a literal
O(n^2) transcription of the published formulas; scikit-learn's AUC; the duplication properties; the
covariances that the FDA/DIDSR `doAUCcluster` R code published for the CC0 `mitoticFigureCounts` data.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from bench.metrics.clustered_auc import (
    ClusteredAUC,
    clustered_auc,
    clustered_auc_labels,
    clustered_auc_paired,
)
from bench.metrics.significance import delong_auc_ci, delong_paired_test

# ---------------------------------------------------------------------------------------------------
# data


def _independent(seed: int, n: int = 150, decimals: int = 1):
    """Unclustered data with many ties (scores rounded)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    y[:2], y[2:4] = 1.0, 0.0
    s_a = np.round(rng.random(n) + 0.5 * y, decimals)
    s_b = np.round(0.6 * s_a + 0.5 * rng.random(n), decimals)
    return y, s_a, s_b


def _clustered(seed: int, n_clusters: int = 40, max_size: int = 5, decimals: int = 1):
    """Clusters of mixed sizes 1..max_size with a cluster effect on labels and scores, so that some
    clusters hold only positives, some only negatives, some both; scores rounded for ties."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, max_size + 1, n_clusters)
    cluster = np.repeat(np.arange(n_clusters), sizes)
    prevalence = rng.choice([0.0, 0.3, 0.7, 1.0], n_clusters)[cluster]
    y = (rng.random(cluster.size) < prevalence).astype(float)
    effect = rng.normal(0.0, 0.5, n_clusters)[cluster]
    s_a = np.round(effect + rng.normal(size=cluster.size) + 1.0 * y, decimals)
    s_b = np.round(0.5 * s_a + 0.5 * effect + rng.normal(size=cluster.size) + 0.5 * y, decimals)
    return y, s_a, s_b, cluster


# ---------------------------------------------------------------------------------------------------
# a literal transcription of Obuchowski (1997): pair loops over units and clusters


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else (0.5 if x == y else 0.0)


def _literal(y, scores, clusters):
    """(AUCs, covariance matrix) by the published formulas, term by term."""
    ids = list(dict.fromkeys(clusters.tolist()))
    pos = {c: [j for j in range(y.size) if clusters[j] == c and y[j] == 1] for c in ids}
    neg = {c: [j for j in range(y.size) if clusters[j] == c and y[j] == 0] for c in ids}
    m_i = {c: len(pos[c]) for c in ids}
    n_i = {c: len(neg[c]) for c in ids}
    big_m, big_n = sum(m_i.values()), sum(n_i.values())
    i_all = len(ids)
    i10 = sum(1 for c in ids if m_i[c] > 0)
    i01 = sum(1 for c in ids if n_i[c] > 0)
    theta, v10, v01 = [], [], []
    for s in scores:
        total = 0.0
        for c in ids:
            for j in pos[c]:
                for c2 in ids:
                    for k in neg[c2]:
                        total += _psi(s[j], s[k])
        theta.append(total / (big_m * big_n))
        # V10(X_i.) = (1/N) sum_j sum_i' sum_k psi(X_ij, Y_i'k);  V01(Y_i.) likewise with 1/M
        v10.append(
            {c: sum(_psi(s[j], s[k]) for j in pos[c] for c2 in ids for k in neg[c2]) / big_n for c in ids}
        )
        v01.append(
            {c: sum(_psi(s[j], s[k]) for k in neg[c] for c2 in ids for j in pos[c2]) / big_m for c in ids}
        )
    r = len(scores)
    cov = np.empty((r, r))
    for a in range(r):
        for b in range(r):
            s10 = (i10 / ((i10 - 1) * big_m)) * sum(
                (v10[a][c] - m_i[c] * theta[a]) * (v10[b][c] - m_i[c] * theta[b]) for c in ids
            )
            s01 = (i01 / ((i01 - 1) * big_n)) * sum(
                (v01[a][c] - n_i[c] * theta[a]) * (v01[b][c] - n_i[c] * theta[b]) for c in ids
            )
            s11_ab = (i_all / (i_all - 1)) * sum(
                (v10[a][c] - m_i[c] * theta[a]) * (v01[b][c] - n_i[c] * theta[b]) for c in ids
            )
            s11_ba = (i_all / (i_all - 1)) * sum(
                (v10[b][c] - m_i[c] * theta[b]) * (v01[a][c] - n_i[c] * theta[a]) for c in ids
            )
            cov[a, b] = s10 / big_m + s01 / big_n + (s11_ab + s11_ba) / (big_m * big_n)
    return np.array(theta), cov, (i_all, i10, i01, big_m, big_n)


# ---------------------------------------------------------------------------------------------------
# 1. clusters of size 1: exactly DeLong (significance.py)


@pytest.mark.parametrize("decimals", [1, 2, 8])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_size_one_clusters_equal_delong(seed, decimals):
    y, s_a, s_b = _independent(seed, decimals=decimals)
    clusters = np.array([f"case-{i}" for i in np.random.default_rng(seed).permutation(y.size)])
    ours = clustered_auc(y, s_a, clusters)
    ref = delong_auc_ci(y, s_a)
    assert ours.n_clusters == y.size and ours.n_pos_clusters == ours.n_pos
    assert ours.auc == pytest.approx(ref.auc, abs=1e-15)
    np.testing.assert_allclose(ours.variance, ref.variance, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.ci95, ref.ci, rtol=0, atol=1e-12)

    paired = clustered_auc_paired(y, s_a, s_b, clusters)
    auc_a, auc_b, diff, z, p = delong_paired_test(y, s_a, s_b)
    assert (paired.auc_a, paired.auc_b) == pytest.approx((auc_a, auc_b), abs=1e-15)
    assert paired.diff == pytest.approx(diff, abs=1e-15)
    np.testing.assert_allclose(paired.z, z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(paired.p, p, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(paired.var_b, delong_auc_ci(y, s_b).variance, rtol=1e-12, atol=1e-15)
    # the DeLong variance of the difference, from its z
    np.testing.assert_allclose(paired.variance, (diff / z) ** 2, rtol=1e-10)


def test_size_one_identical_scores_and_too_few_cases_like_delong():
    y, s_a, _ = _independent(5)
    ids = np.arange(y.size)
    paired = clustered_auc_paired(y, s_a, s_a, ids)
    assert (paired.z, paired.p) == (0.0, 1.0) == delong_paired_test(y, s_a, s_a)[3:]
    y1 = np.array([1.0, 0.0, 0.0, 0.0])
    s1 = np.array([0.9, 0.1, 0.5, 0.3])
    ours, ref = clustered_auc(y1, s1, np.arange(4)), delong_auc_ci(y1, s1)
    assert np.isnan(ours.variance) and np.isnan(ref.variance) and ours.ci95 is None and ref.ci is None
    assert ours.auc == ref.auc == 1.0


# ---------------------------------------------------------------------------------------------------
# 2. vectorised == literal published formulas; 3. AUC == scikit-learn


@pytest.mark.parametrize("decimals", [0, 1, 6])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_equals_literal_published_formulas(seed, decimals):
    y, s_a, s_b, cluster = _clustered(seed, decimals=decimals)
    m_i = np.bincount(cluster, weights=y)
    n_i = np.bincount(cluster, weights=1 - y)
    assert (m_i > 0).sum() < len(m_i) and (n_i > 0).sum() < len(n_i) and ((m_i > 0) & (n_i > 0)).any()
    assert decimals == 6 or len(np.unique(s_a)) < y.size  # ties (none with 6 decimals)
    theta, cov, (i_all, i10, i01, big_m, big_n) = _literal(y, [s_a, s_b], cluster)

    one = clustered_auc(y, s_a, cluster)
    assert (one.n_clusters, one.n_pos_clusters, one.n_neg_clusters, one.n_pos, one.n_neg) == (
        i_all,
        i10,
        i01,
        big_m,
        big_n,
    )
    assert one.auc == pytest.approx(theta[0], abs=1e-12)
    assert one.variance == pytest.approx(cov[0, 0], abs=1e-12, rel=1e-10)
    half = norm.ppf(0.975) * np.sqrt(cov[0, 0])
    assert one.ci95 == pytest.approx((max(0.0, theta[0] - half), min(1.0, theta[0] + half)), abs=1e-12)
    assert one.se == pytest.approx(np.sqrt(cov[0, 0]), abs=1e-12)

    paired = clustered_auc_paired(y, s_a, s_b, cluster)
    assert (paired.auc_a, paired.auc_b) == pytest.approx(tuple(theta), abs=1e-12)
    assert paired.var_a == pytest.approx(cov[0, 0], abs=1e-12, rel=1e-10)
    assert paired.var_b == pytest.approx(cov[1, 1], abs=1e-12, rel=1e-10)
    assert paired.covariance == pytest.approx(cov[0, 1], abs=1e-12, rel=1e-10)
    assert cov[0, 1] == pytest.approx(cov[1, 0], abs=1e-15)
    var_d = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert paired.variance == pytest.approx(var_d, abs=1e-12, rel=1e-10)
    z = (theta[0] - theta[1]) / np.sqrt(var_d)
    assert paired.z == pytest.approx(z, rel=1e-9)
    assert paired.p == pytest.approx(2 * norm.sf(abs(z)), abs=1e-12)
    assert paired.ci95 == pytest.approx(
        (paired.diff - norm.ppf(0.975) * np.sqrt(var_d), paired.diff + norm.ppf(0.975) * np.sqrt(var_d)),
        abs=1e-12,
    )


@pytest.mark.parametrize("seed", range(6))
def test_auc_equals_sklearn(seed):
    y, s_a, s_b, cluster = _clustered(seed, n_clusters=200, decimals=seed % 3)
    assert clustered_auc(y, s_a, cluster).auc == pytest.approx(roc_auc_score(y, s_a), abs=1e-14)
    paired = clustered_auc_paired(y, s_a, s_b, cluster)
    assert paired.auc_b == pytest.approx(roc_auc_score(y, s_b), abs=1e-14)


# ---------------------------------------------------------------------------------------------------
# 4. properties: the cluster, not the image, is the unit


@pytest.mark.parametrize("k", [2, 3, 5])
def test_duplicating_cases_within_clusters(k):
    y, s_a, s_b, cluster = _clustered(7, n_clusters=80)
    base = clustered_auc(y, s_a, cluster)
    rep = np.repeat(np.arange(y.size), k)
    dup = clustered_auc(y[rep], s_a[rep], cluster[rep])
    assert dup.auc == pytest.approx(base.auc, abs=1e-14)
    # every cluster residual scales by k and M, N by k: the variance is unchanged (exactly, in theory)
    assert dup.variance == pytest.approx(base.variance, rel=1e-12)
    assert (dup.n_clusters, dup.n_pos, dup.n_neg) == (base.n_clusters, k * base.n_pos, k * base.n_neg)
    paired, paired_dup = (
        clustered_auc_paired(y, s_a, s_b, cluster),
        clustered_auc_paired(y[rep], s_a[rep], s_b[rep], cluster[rep]),
    )
    assert paired_dup.variance == pytest.approx(paired.variance, rel=1e-12)
    assert paired_dup.p == pytest.approx(paired.p, rel=1e-9)

    # the same duplicated data with every image its own cluster: about 1/k of the image-level variance
    image_level = clustered_auc(y, s_a, np.arange(y.size))
    naive = clustered_auc(y[rep], s_a[rep], np.arange(rep.size))
    assert naive.variance == pytest.approx(image_level.variance / k, rel=0.05)
    # and each duplicate copy in a cluster of its own (k copies of every cluster): about 1/k as well
    copies = clustered_auc(y[rep], s_a[rep], cluster[rep] * k + np.tile(np.arange(k), y.size))
    assert copies.variance == pytest.approx(base.variance / k, rel=0.05)
    assert naive.variance < base.variance / (k - 0.5)


def test_positive_within_cluster_correlation_widens_interval():
    """Strong cluster effect: the clustered variance exceeds the image-level (DeLong) variance."""
    y, s_a, _, cluster = _clustered(11, n_clusters=300, max_size=6)
    assert clustered_auc(y, s_a, cluster).variance > 1.2 * delong_auc_ci(y, s_a).variance


# ---------------------------------------------------------------------------------------------------
# 5. published worked example (see the data block below)


def test_published_mitotic_figure_covariances():
    """Tabata et al. 2019 mitotic-figure data (FDA/DIDSR `mitoticFigureCounts`, CC0): 155 candidate
    cells in 4 whole-slide images (the clusters), 5 observers x (microscope, scanner A), binary calls.
    The package's `aucMRMCcluster$ScannerA` holds `theta.hat` and `cov.hat`, the 10 x 10 reader x
    modality AUC covariance matrix that `doAUCcluster` (Obuchowski 1997) computed from these data:
    cov[i, j] = (var_A + var_B - var_(A-B)) / 2 of the paired call, var on the diagonal."""
    slide = np.array([_MF_SLIDES[int(c)] for c in "".join(_MF_SLIDE)])
    truth = np.array([float(c) for c in "".join(_MF_TRUTH)])
    readers = [*_MF_MICROSCOPE, *_MF_SCANNER_A]
    scores = [np.array([float(c) for c in "".join(r)]) for r in readers]
    assert slide.size == truth.size == 155 and all(s.size == 155 for s in scores)
    expected_auc, expected_cov = np.array(_MF_AUC), np.array(_MF_COV)
    auc = np.array([clustered_auc(truth, s, slide).auc for s in scores])
    np.testing.assert_allclose(auc, expected_auc, rtol=0, atol=1e-15)
    cov = np.empty((10, 10))
    for i in range(10):
        for j in range(10):
            cov[i, j] = clustered_auc_paired(truth, scores[i], scores[j], slide).covariance
        assert cov[i, i] == pytest.approx(clustered_auc(truth, scores[i], slide).variance, abs=1e-17)
    np.testing.assert_allclose(cov, expected_cov, rtol=1e-12, atol=1e-17)
    one = clustered_auc(truth, scores[0], slide)
    assert (one.n_clusters, one.n_pos_clusters, one.n_neg_clusters, one.n_pos, one.n_neg) == (4, 4, 4, 74, 81)


# ---------------------------------------------------------------------------------------------------
# multi-label convenience, ids, unknown labels


def test_labels_match_single_label_calls_and_drop_unknown():
    rng = np.random.default_rng(3)
    n, k = 400, 5
    cluster = rng.integers(0, 120, n)
    y = (rng.random((n, k)) < 0.3).astype(float)
    y[rng.random((n, k)) < 0.2] = np.nan
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 0.0)  # one class only
    y[:, 4] = np.nan  # all unknown
    s = rng.random((n, k)) + 0.3 * np.nan_to_num(y)
    s[np.isnan(y[:, 0]), 0] = np.nan  # NaN scores allowed where the label is unknown
    out = clustered_auc_labels(y, s, cluster)
    assert out[3] is None and out[4] is None
    for j in range(3):
        known = ~np.isnan(y[:, j])
        ref = clustered_auc(y[known, j], s[known, j], cluster[known])
        assert isinstance(out[j], ClusteredAUC)
        assert out[j] == ref
        assert out[j] == clustered_auc(y[:, j], s[:, j], cluster)  # NaN labels dropped inside


def test_cluster_ids_any_hashable():
    y, s_a, _, cluster = _clustered(2)
    ref = clustered_auc(y, s_a, cluster)
    names = np.array([f"patient/{c:03d}" for c in cluster])
    tuples = [("p", int(c)) for c in cluster]
    assert clustered_auc(y, s_a, names) == ref
    assert clustered_auc(y, s_a, tuples) == ref
    assert clustered_auc(y.tolist(), s_a.tolist(), cluster.tolist()) == ref
    # a cluster whose cases are all unknown does not count
    y2 = y.copy()
    y2[cluster == cluster[0]] = np.nan
    assert clustered_auc(y2, s_a, cluster).n_clusters == ref.n_clusters - 1


def test_speed_20000_cases_5000_clusters_14_labels():
    rng = np.random.default_rng(0)
    n, k = 20_000, 14
    cluster = np.sort(rng.integers(0, 5_000, n)).astype(str)
    y = (rng.random((n, k)) < 0.2).astype(float)
    y[rng.random((n, k)) < 0.1] = np.nan
    s = np.round(rng.random((n, k)) + 0.4 * np.nan_to_num(y), 3)
    start = time.perf_counter()
    out = clustered_auc_labels(y, s, cluster)
    elapsed = time.perf_counter() - start
    assert all(r is not None and np.isfinite(r.variance) for r in out)
    assert elapsed < 2.0  # about 0.05 s on a developer machine; generous for slow CI


# ---------------------------------------------------------------------------------------------------
# 6. bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: clustered_auc([0, 1, 1], [0.1, 0.2], [1, 2, 3]), "y_score has 2 entries"),
        (lambda: clustered_auc([0, 1, 1], [0.1, 0.2, 0.3], [1, 2]), "clusters has 2 entries"),
        (lambda: clustered_auc([0, 1, 2], [0.1, 0.2, 0.3], [1, 2, 3]), "only 0, 1 or NaN"),
        (lambda: clustered_auc([0, 1, -1], [0.1, 0.2, 0.3], [1, 2, 3]), "only 0, 1 or NaN"),
        (lambda: clustered_auc(["a", "b", "c"], [0.1, 0.2, 0.3], [1, 2, 3]), "y_true must be numeric"),
        (lambda: clustered_auc([0, 1, 1], [0.1, np.nan, 0.3], [1, 2, 3]), "y_score has 1 NaN"),
        (lambda: clustered_auc([0, 1, 1], ["x", "y", "z"], [1, 2, 3]), "y_score must be numeric"),
        (lambda: clustered_auc([1, 1, 1], [0.1, 0.2, 0.3], [1, 2, 3]), "both classes"),
        (lambda: clustered_auc([0, 1, np.nan], [0.1, 0.2, 0.3], [1, None, 3]), "missing id"),
        (lambda: clustered_auc([0, 1, 1], [0.1, 0.2, 0.3], np.zeros((3, 1))), "one-dimensional"),
        (lambda: clustered_auc_paired([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2], [1, 2, 3]), "score_b has 2"),
        (lambda: clustered_auc_paired([0, 1, 1], [0.1, 0.2, 0.3], [0.1, np.nan, 0.3], [1, 2, 3]), "score_b"),
        (lambda: clustered_auc_labels(np.zeros((3, 2)), np.zeros((3, 3)), [1, 2, 3]), "shape"),
        (lambda: clustered_auc_labels(np.zeros(3), np.zeros(3), [1, 2, 3]), "(n, k)"),
        (
            lambda: clustered_auc_labels([[0, 1], [1, 0]], [[0.1, np.nan], [0.2, 0.3]], [1, 2]),
            "column 1 has 1 NaN",
        ),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ---------------------------------------------------------------------------------------------------
# mitoticFigureCounts (github.com/DIDSR/mitoticFigureCounts, CC0): data/dfClassify20180627.csv rows of
# modality 'microscope' and 'scanner.A' (targetID 1..155 in order; same cells, truth and slide in both),
# and data/aucMRMCcluster.rda, element ScannerA: theta.hat (row-major) and cov.hat. Order of the 10
# reader x modality entries: observer.1..5 with the microscope, then observer.1..5 with scanner A.

_MF_SLIDES = ("CCB010352HE", "CCB030097HE", "CCB030179HE", "CCB050031HE")  # wsiName; _MF_SLIDE indexes it
_MF_SLIDE = (
    "11111111113333331111000333330022222222223332222011111111111113333330111111112221"
    "111111111111133333111003333333332222333222222222222201111333011111100022222"
)
_MF_TRUTH = (
    "10000111000010100110001011100010111001001111001010111111000001111001111011111110"
    "101011111101010101110001000000000110000110000000011000000000001111001111100"
)
_MF_MICROSCOPE = (
    (
        "10000000000010100110001001000010010000001100001000110000000000110001111000001110"
        "000000111000000101010001001000000110000110000000011000000000000001001101000"
    ),
    (
        "10100111001000010110001111100010010011011111001010110101000001110001111000001110"
        "001011011100111100000001101000000110000111000110011000000000000010001101100"
    ),
    (
        "10000111000010100111001011000010010000001111001000110110001001100000111010001110"
        "100000011100000100000001000000000010000110000000011100000000000011001111000"
    ),
    (
        "10000111001010100111001011100011010011001101001000110111000101101001111011111110"
        "100000011101010101010001001000000011000110000000011000000000000000001111000"
    ),
    (
        "10000011010010100110000101010110010001001100001010111111000000000010111011101110"
        "100001011100000101110001000000000110010110000100011000000010000011001111000"
    ),
)
_MF_SCANNER_A = (
    (
        "11000100000110000110001001000010010000001101001000111100000000000000111000001111"
        "100000011100001100100001000000000100000010011000011000000000000000001101000"
    ),
    (
        "10001111001011001110111111101011111111101101111011111101000001100000111100001110"
        "100000011100010100000000100000000000000111000000010000000000000001000110000"
    ),
    (
        "10000100000010000110000001000000010010001100001000111110000000100000111000001110"
        "100000011100000100000101110011001110000110100000011001110000011111011111000"
    ),
    (
        "10000101000110000110001001000010000010000100001000101011000000000000111000001110"
        "000000011100000100000001000000000000000000010000011000000000000000001101000"
    ),
    (
        "10000100000110100110011001000000010000001100000010111110000001000000111000001010"
        "010000011100000100000001000000000000000000000000011000000000000000000101000"
    ),
)
_MF_AUC = [
    0.7640974307640974,
    0.7778611945278612,
    0.8058058058058059,
    0.8419252585919252,
    0.8019686353019686,
    0.7129629629629629,
    0.6996996996996997,
    0.7035368702035368,
    0.6909409409409409,
    0.6976976976976977,
]
_MF_COV = [
    [
        0.002712569111436253,
        0.0010452455104141669,
        0.0016448695746652203,
        0.0010420325839607188,
        -0.0012266461401281214,
        0.0009812399462817741,
        -0.00013751126015258642,
        0.00011238972885881235,
        -0.0005077283268784497,
        -0.0005664841445993938,
    ],
    [
        0.0010452455104141669,
        0.0007979679350686954,
        0.00048607720111532417,
        0.0003957958038076589,
        1.2556957865031589e-05,
        0.0007262635991297456,
        -0.00031466481119946,
        0.00015096975391247903,
        0.0002208791073265385,
        -0.00030588339935667735,
    ],
    [
        0.0016448695746652203,
        0.00048607720111532417,
        0.0010808605302988952,
        0.000744130139546335,
        -0.0011721632817855488,
        0.0003913161342420741,
        2.8584726623555822e-05,
        -0.00010789252986549865,
        -0.0004548607318133304,
        -0.0002535337096316319,
    ],
    [
        0.0010420325839607188,
        0.0003957958038076589,
        0.000744130139546335,
        0.0008303896076115739,
        -0.0014426090034022443,
        8.471501971393184e-05,
        6.195470325850495e-06,
        -0.0004887020863862154,
        -0.00016695845649134888,
        7.142451606823898e-06,
    ],
    [
        -0.0012266461401281214,
        1.2556957865031589e-05,
        -0.0011721632817855488,
        -0.0014426090034022443,
        0.003313141534726188,
        0.000627772148319615,
        -0.0003829481078110443,
        0.001270661206849969,
        0.000664467405189578,
        -0.0003525794565433498,
    ],
    [
        0.0009812399462817741,
        0.0007262635991297456,
        0.0003913161342420741,
        8.471501971393184e-05,
        0.000627772148319615,
        0.0008534548432560052,
        -0.0003171524145397422,
        0.0004896651754544295,
        0.00016048733082815324,
        -0.00043134165902404,
    ],
    [
        -0.00013751126015258642,
        -0.00031466481119946,
        2.8584726623555822e-05,
        6.195470325850495e-06,
        -0.0003829481078110443,
        -0.0003171524145397422,
        0.00018732964250797512,
        -0.0001450892861241773,
        -0.00024567531959781777,
        0.0001154200095909819,
    ],
    [
        0.00011238972885881235,
        0.00015096975391247903,
        -0.00010789252986549865,
        -0.0004887020863862154,
        0.001270661206849969,
        0.0004896651754544295,
        -0.0001450892861241773,
        0.0006880021100822809,
        5.0344235365957536e-05,
        -0.0003229513646282269,
    ],
    [
        -0.0005077283268784497,
        0.0002208791073265385,
        -0.0004548607318133304,
        -0.00016695845649134888,
        0.000664467405189578,
        0.00016048733082815324,
        -0.00024567531959781777,
        5.0344235365957536e-05,
        0.0005367433926501985,
        3.144577833293224e-05,
    ],
    [
        -0.0005664841445993938,
        -0.00030588339935667735,
        -0.0002535337096316319,
        7.142451606823898e-06,
        -0.0003525794565433498,
        -0.00043134165902404,
        0.0001154200095909819,
        -0.0003229513646282269,
        3.144577833293224e-05,
        0.00025386993405034113,
    ],
]
