"""Agreement statistics against statsmodels / sklearn / krippendorff / pingouin / scipy and published examples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from readerstudy.analysis.agreement import (
    agreement_block,
    category_counts,
    fleiss_kappa_counts,
    gwet_ac1_counts,
    icc_likert,
    kendall_w,
    krippendorff_alpha,
    pairwise_weighted_kappa,
    percent_agreement,
)

NAN = np.nan
# Krippendorff (2011) "Computing Krippendorff's alpha-reliability": 4 observers x 12 units, values 1-5, gaps
# missing. Published: alpha nominal 0.743, ordinal 0.815, interval 0.849. Gwet (2014, Handbook of Inter-Rater
# Reliability; irrCAC `cac.raw4raters`) reports for the same data AC1 = 0.7754 (pa 0.8182, pe 0.1903) and
# Fleiss' kappa = 0.7612.
KRIPPENDORFF_DATA = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
# Fleiss (1971) example as in statsmodels' tests / Wikipedia: 10 subjects, 14 raters, 5 categories, kappa 0.210.
FLEISS_1971 = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def _random_ratings(seed: int, n_readers: int = 4, n_cases: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.normal(0, 1, (1, n_cases)) + rng.normal(0, 0.8, (n_readers, n_cases))
    return np.where(latent > 0.5, 1.0, np.where(latent < -0.5, -1.0, 0.0))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fleiss_kappa_equals_statsmodels_on_complete_data(seed: int) -> None:
    table = category_counts(_random_ratings(seed), [-1.0, 0.0, 1.0])
    assert fleiss_kappa_counts(table) == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=1e-12)


def test_fleiss_kappa_published_examples() -> None:
    assert fleiss_kappa_counts(FLEISS_1971) == pytest.approx(0.2099, abs=5e-5)
    table = category_counts(KRIPPENDORFF_DATA, [1, 2, 3, 4, 5])
    assert fleiss_kappa_counts(table) == pytest.approx(0.7612, abs=5e-5)


def test_gwet_ac1_published_example() -> None:
    out = gwet_ac1_counts(category_counts(KRIPPENDORFF_DATA, [1, 2, 3, 4, 5]))
    assert out["value"] == pytest.approx(0.7754, abs=5e-5)
    assert out["p_a"] == pytest.approx(0.8182, abs=5e-5)
    assert out["p_e"] == pytest.approx(0.1903, abs=5e-5)


def test_gwet_ac1_hand_computed_two_raters() -> None:
    # Raters [1,1,0,0] and [1,0,0,0]: p_a = 3/4; pi_1 = (1 + 1/2)/4 = 3/8; p_e = 2 * 3/8 * 5/8 = 15/32;
    # AC1 = (3/4 - 15/32) / (1 - 15/32) = 9/17.
    table = category_counts(np.array([[1, 1, 0, 0], [1, 0, 0, 0]], dtype=float), [0.0, 1.0])
    out = gwet_ac1_counts(table)
    assert out["p_a"] == pytest.approx(0.75)
    assert out["p_e"] == pytest.approx(15 / 32)
    assert out["value"] == pytest.approx(9 / 17)


def test_krippendorff_alpha_published_values() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_DATA, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_DATA, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(np.ones((3, 5)), "ordinal") is None


def test_pairwise_weighted_kappa_hand_case_and_sklearn() -> None:
    # a = [-1,0,1,1], b = [-1,1,1,0], linear weights |i-j|/2: observed disagreement 1/4, expected 7/16 -> 3/7.
    y = np.array([[-1, 0, 1, 1], [-1, 1, 1, 0], [0, 0, 1, NAN]], dtype=float)
    pairs = pairwise_weighted_kappa(y, ["r1", "r2", "r3"], [-1.0, 0.0, 1.0])
    assert pairs[0]["value"] == pytest.approx(3 / 7)
    ref = cohen_kappa_score([-1, 0, 1], [0, 0, 1], labels=[-1, 0, 1], weights="linear")
    assert pairs[1]["n_cases"] == 3 and pairs[1]["value"] == pytest.approx(ref)


def test_percent_agreement_hand_case() -> None:
    y = np.array([[1, 0, -1, 1], [1, 0, 0, 1], [1, 1, 0, NAN]], dtype=float)
    out = percent_agreement(y, [-1.0, 0.0, 1.0])
    # Pairwise agreement per case: 1, 1/3, 1/3, 1 (two raters agree) -> mean 2/3; unanimous in 2 of 4 cases.
    assert out["pairwise"] == pytest.approx(2 / 3)
    assert out["all_readers_agree"] == pytest.approx(0.5)
    assert out["marginals"] == pytest.approx({"-1": 1 / 11, "0": 4 / 11, "1": 6 / 11})


def test_kendall_w_hand_case_and_friedman_relation() -> None:
    # Ranks [1,2,3] and [1,3,2]: rank sums 2,5,5, S = 6, W = 12*6 / (4*(27-3)) = 0.75.
    assert kendall_w(np.array([[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]]))["value"] == pytest.approx(0.75)
    y = _random_ratings(5, n_readers=5, n_cases=20)  # heavy ties
    chi2, p = stats.friedmanchisquare(*y.T)
    out = kendall_w(y)
    assert out["value"] == pytest.approx(chi2 / (5 * 19), rel=1e-10)
    assert out["p_value"] == pytest.approx(p, rel=1e-8)
    assert kendall_w(np.array([[1.0, NAN], [1.0, 2.0]]))["value"] is None


def test_icc_likert_shrout_fleiss_published_example() -> None:
    # Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges; ICC(2,1) = .29, ICC(3,1) = .71, ICC(2,4) = .62.
    targets = np.array(
        [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float
    )
    out = icc_likert(targets.T, ["j1", "j2", "j3", "j4"], [f"t{i}" for i in range(6)])
    assert out["ICC2"]["value"] == pytest.approx(0.29, abs=0.005)
    assert out["ICC3"]["value"] == pytest.approx(0.71, abs=0.005)
    assert out["ICC2k"]["value"] == pytest.approx(0.62, abs=0.005)


def test_agreement_block_names_package_and_weighting() -> None:
    block = agreement_block(_random_ratings(6), ["a", "b", "c", "d"], [-1.0, 0.0, 1.0])
    for key in (
        "fleiss_kappa",
        "krippendorff_alpha_ordinal",
        "gwet_ac1",
        "percent_agreement",
        "pairwise_weighted_kappa",
    ):
        assert block[key]["package"] and block[key]["weighting"]
    assert "krippendorff" in block["krippendorff_alpha_ordinal"]["package"]
    assert len(block["pairwise_weighted_kappa"]["pairs"]) == 6
