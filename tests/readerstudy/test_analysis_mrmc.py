"""MRMC inference for mean-over-cases endpoints, checked against statsmodels / scipy and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

from bench.metrics.bootstrap import bootstrap_indices
from readerstudy.analysis.mrmc import (
    dbm_mean_squares,
    endpoint_summary,
    mean_endpoint_inference,
    non_inferiority,
    single_reader_interval,
    two_way_bootstrap_replicates,
)


def _random_scores(seed: int, n_readers: int = 4, n_cases: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = (
        rng.normal(0, 0.4, (n_readers, 1))
        + rng.normal(0, 0.8, (1, n_cases))
        + rng.normal(0, 1, (n_readers, n_cases))
    )
    return np.where(latent > 0.4, 1.0, np.where(latent < -0.6, -1.0, 0.0))


def _anova_mean_squares(y: np.ndarray) -> dict[str, float]:
    j, n = y.shape
    long = pd.DataFrame(
        {
            "y": y.ravel(),
            "r": np.repeat(np.arange(j), n).astype(str),
            "c": np.tile(np.arange(n), j).astype(str),
        }
    )
    table = anova_lm(ols("y ~ C(r) + C(c)", data=long).fit())
    return {
        "ms_reader": table.loc["C(r)", "mean_sq"],
        "ms_case": table.loc["C(c)", "mean_sq"],
        "ms_reader_case": table.loc["Residual", "mean_sq"],
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dbm_mean_squares_equal_statsmodels_two_way_anova(seed: int) -> None:
    y = _random_scores(seed)
    ours, ref = dbm_mean_squares(y), _anova_mean_squares(y)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_or_variances_equal_dbm_anova_forms(seed: int) -> None:
    y = _random_scores(seed)
    j, n = y.shape
    ms = _anova_mean_squares(y)
    inf = mean_endpoint_inference(y)
    # FRRC: DBM fixed-reader variance MS(C) / (J n); RRRC unbiased form (MS_R + MS_C - MS_RC) / (J n).
    assert inf.se_frrc**2 == pytest.approx(ms["ms_case"] / (j * n), rel=1e-10)
    assert inf.cov2 == pytest.approx((ms["ms_case"] - ms["ms_reader_case"]) / (j * n), rel=1e-9)
    if inf.cov2 >= 0:
        assert inf.se_rrrc**2 == pytest.approx(
            (ms["ms_reader"] + ms["ms_case"] - ms["ms_reader_case"]) / (j * n), rel=1e-10
        )


@pytest.mark.parametrize("seed", [6, 7])
def test_frrc_interval_is_one_sample_t_on_case_means(seed: int) -> None:
    y = _random_scores(seed, n_readers=3, n_cases=25)
    case_means = y.mean(axis=0)
    ref = stats.ttest_1samp(case_means, 0.0).confidence_interval(0.95)
    inf = mean_endpoint_inference(y)
    assert inf.ci95_frrc == pytest.approx((ref.low, ref.high), rel=1e-10)
    assert inf.df_frrc == 24


def test_rrrc_hand_computed_small_case() -> None:
    y = np.array([[1.0, 0.0, 1.0, -1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    j, n = y.shape
    theta_r = y.mean(axis=1)  # 0.25, 0.5, 0.0
    ms_r = sum((t - theta_r.mean()) ** 2 for t in theta_r) / (j - 1)
    dev = y - theta_r[:, None]
    covs = [dev[a] @ dev[b] / (n - 1) for a in range(j) for b in range(j) if a != b]
    cov2 = sum(covs) / len(covs) / n
    se = math.sqrt((ms_r + j * max(cov2, 0)) / j)
    df = (ms_r + j * max(cov2, 0)) ** 2 / (ms_r**2 / (j - 1))
    q = stats.t.ppf(0.975, df)
    inf = mean_endpoint_inference(y)
    assert inf.value == pytest.approx(0.25)
    assert inf.ms_reader == pytest.approx(ms_r) and inf.cov2 == pytest.approx(cov2)
    assert inf.df_rrrc == pytest.approx(df)
    assert inf.ci95_rrrc == pytest.approx((0.25 - q * se, 0.25 + q * se))


def test_negative_cov2_is_truncated_at_zero() -> None:
    y = np.array([[1.0, -1.0, 1.0, -1.0], [-1.0, 1.0, -1.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    inf = mean_endpoint_inference(y)
    assert inf.cov2 < 0
    assert inf.se_rrrc**2 == pytest.approx(inf.ms_reader / 3)
    assert inf.df_rrrc == pytest.approx(2.0)


def test_undefined_parts_are_none() -> None:
    one_case = mean_endpoint_inference(np.array([[1.0], [0.0]]))
    assert one_case.value == 0.5 and one_case.ci95_frrc is None and one_case.ci95_rrrc is None
    one_reader = mean_endpoint_inference(np.array([[1.0, 0.0, -1.0, 1.0]]))
    assert one_reader.ci95_frrc is not None and one_reader.ci95_rrrc is None
    with pytest.raises(ValueError):
        mean_endpoint_inference(np.array([[1.0, np.nan], [0.0, 1.0]]))


def test_single_reader_interval_is_scipy_t_interval() -> None:
    row = np.array([1, 0, 1, -1, 0, 1, 1, np.nan, -1, 0], dtype=float)
    ref = stats.ttest_1samp(row[~np.isnan(row)], 0.0).confidence_interval(0.95)
    out = single_reader_interval(row)
    assert out["n_cases"] == 9
    assert out["ci95"] == pytest.approx([ref.low, ref.high], rel=1e-10)


def test_two_way_bootstrap_matches_explicit_resampling() -> None:
    y = _random_scores(8, n_readers=3, n_cases=12)
    reps = two_way_bootstrap_replicates(y, n_boot=5, seed=11)
    case_idx = bootstrap_indices(12, 5, 11)
    reader_idx = bootstrap_indices(3, 5, 12)
    explicit = [y[np.ix_(reader_idx[b], case_idx[b])].mean() for b in range(5)]
    assert reps == pytest.approx(explicit, rel=1e-12)


def test_endpoint_summary_bootstrap_brackets_estimate() -> None:
    y = _random_scores(9, n_readers=5, n_cases=60)
    out = endpoint_summary(y, n_boot=400, seed=0)
    lo, hi = out["ci95_bootstrap"]
    assert lo < out["value"] < hi
    assert endpoint_summary(y, n_boot=0, seed=0)["ci95_bootstrap"] is None


def test_non_inferiority_decision_and_one_sided_p_agree() -> None:
    y = _random_scores(10, n_readers=4, n_cases=80)
    inf = mean_endpoint_inference(y)
    lower = inf.ci95_rrrc[0]
    for margin in (0.0, -lower - 0.01, -lower + 0.01, 0.5):
        out = non_inferiority(inf, margin)
        assert out["non_inferior"] == (lower > -abs(margin))
        assert (out["p_value_one_sided"] < 0.025) == out["non_inferior"]
    assert non_inferiority(inf, -0.2)["margin"] == 0.2
