"""Simulated studies: known truths, and CI coverage of FRRC / RRRC intervals at the nominal rate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from readerstudy.analysis.mrmc import mean_endpoint_inference
from readerstudy.analysis.simulate import (
    simulate_preference_matrix,
    simulate_study,
    simulate_study_with_truth,
)


def test_long_table_matches_fast_matrix_and_contract() -> None:
    df, truth = simulate_study_with_truth(
        4, 30, 3, 0.45, 0.25, 0.3, 0.7, criteria=("diagnostic clarity", "completeness")
    )
    y, truth_fast = simulate_preference_matrix(4, 30, 3, 0.45, 0.25, 0.3, 0.7)
    first = df[df["criterion"] == "diagnostic clarity"]
    pivot = first.pivot(index="reader_id", columns="case_id", values="preference_vs_ai").to_numpy(float)
    assert np.array_equal(pivot, y) and truth == truth_fast
    assert len(df) == 2 * 4 * 30
    # choice, ai_side and preference_vs_ai are consistent on every row.
    expected = np.where(df["choice"] == "equal", 0, np.where(df["choice"] == df["ai_side"], 1, -1))
    assert np.array_equal(expected, df["preference_vs_ai"].to_numpy())
    assert df["likert_ai"].between(1, 5).all() and df["likert_original"].between(1, 5).all()
    assert set(df["site"]) == {"site_1", "site_2", "site_3", "site_4"}
    assert simulate_study(2, 5, 0, 0.4, 0.3, 0.2, 0.5).attrs["truth"].net_preference == pytest.approx(0.1)


def test_population_shares_match_requested_probabilities() -> None:
    y, truth = simulate_preference_matrix(200, 2000, 1, 0.4, 0.35, 0.3, 0.8)
    # Conditional on the 200 drawn readers the expected shares are known exactly; the case sample is large.
    assert y.mean() == pytest.approx(truth.net_preference_given_readers, abs=0.03)
    assert (y >= 0).mean() == pytest.approx(truth.equal_or_better_given_readers, abs=0.02)
    assert truth.net_preference == pytest.approx(0.4 - 0.25)
    assert truth.net_preference_given_readers == pytest.approx(truth.net_preference, abs=0.05)


def test_position_bias_moves_ties_to_the_left_report() -> None:
    df, truth = simulate_study_with_truth(20, 200, 2, 0.3, 0.4, 0.2, 0.5, position_bias=1.0)
    assert (df["choice"] == "equal").sum() == 0
    assert truth.equal_or_better == pytest.approx(0.3 + 0.4 * 0.5)
    ai_left = df["ai_side"] == "A"
    assert df.loc[ai_left, "preference_vs_ai"].mean() > df.loc[~ai_left, "preference_vs_ai"].mean()


def _coverage(
    n_studies: int, n_readers: int, n_cases: int, reader_sd: float, case_sd: float
) -> dict[str, int]:
    hits = {"frrc": 0, "rrrc": 0, "eob_frrc": 0, "eob_rrrc": 0}
    for seed in range(n_studies):
        y, truth = simulate_preference_matrix(n_readers, n_cases, 1000 + seed, 0.4, 0.3, reader_sd, case_sd)
        net, eob = mean_endpoint_inference(y), mean_endpoint_inference((y >= 0).astype(float))
        hits["frrc"] += net.ci95_frrc[0] <= truth.net_preference_given_readers <= net.ci95_frrc[1]
        hits["rrrc"] += net.ci95_rrrc[0] <= truth.net_preference <= net.ci95_rrrc[1]
        hits["eob_frrc"] += eob.ci95_frrc[0] <= truth.equal_or_better_given_readers <= eob.ci95_frrc[1]
        hits["eob_rrrc"] += eob.ci95_rrrc[0] <= truth.equal_or_better <= eob.ci95_rrrc[1]
    return hits


def test_ci_coverage_is_nominal_over_simulated_studies() -> None:
    n_studies = 200
    hits = _coverage(n_studies, n_readers=10, n_cases=80, reader_sd=0.3, case_sd=0.8)
    for name, count in hits.items():
        # Two-sided exact binomial test of the coverage count against 0.95 (alpha 0.001 keeps the test stable).
        p = stats.binomtest(count, n_studies, 0.95).pvalue
        assert p > 1e-3, f"{name} coverage {count / n_studies:.3f} is off nominal (p = {p:.2g})"
    # Ignoring the reader variance (FRRC interval used for the population truth) must under-cover here.
    y_cover = 0
    for seed in range(n_studies):
        y, truth = simulate_preference_matrix(10, 80, 1000 + seed, 0.4, 0.3, 0.6, 0.3)
        lo, hi = mean_endpoint_inference(y).ci95_frrc
        y_cover += lo <= truth.net_preference <= hi
    assert y_cover / n_studies < 0.85
