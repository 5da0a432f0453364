"""`cxrbench study plan`: Hillis (2011) power / sample size, checked against published RJafroc results for the
Van Dyke data and against the empirical power of the analysis' own decision on simulated studies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from readerstudy.analysis import analyze_reads, simulate_study
from readerstudy.analysis.data import complete_cases, reader_case_matrix
from readerstudy.analysis.mrmc import mean_endpoint_inference, non_inferiority
from readerstudy.analysis.power import (
    VarianceComponents,
    cases_needed,
    components_from_analysis_json,
    components_from_reads,
    from_inference,
    from_stated,
    from_two_modality_or,
    power,
)
from readerstudy.analysis.simulate import _thresholds, simulate_preference_matrix
from readerstudy.cli import study_app
from readerstudy.study.simulate import simulate_into_db

runner = CliRunner()

# Van Dyke et al. (1993) cine vs spin-echo MRI, 5 readers x 114 cases, trapezoidal AUC, jackknife: the OR
# variance components and the AUC difference printed by OR-DBM MRMC 2.51 (Schartz, Hillis, Pesce, Berbaum),
# as shipped with RJafroc: github.com/dpc10ster/RJafroc inst/Iowa/VanDyke.txt ("Var(T*R) 0.00020040,
# COV1 0.00034661, COV2 0.00034407, COV3 0.00023903, Var(Error) 0.00080229"; "1 - 2  -0.04380032").
VAN_DYKE = from_two_modality_or(0.00020040, 0.00034661, 0.00034407, 0.00023903, 0.00080229, 114, "Van Dyke")
VAN_DYKE_EFFECT = -0.04380032


@pytest.mark.parametrize(
    ("readers", "cases", "random_readers", "published"),
    [
        # RJafroc tests/testthat/test-SsSampleSizeRoc.R ("after updating Ss routines from Hillis 2011 and
        # 2018 papers"): SsPowerGivenJK(dataset02, "Wilcoxon", method = "OR", effectSize = -0.043800322, ...)
        (10, 165, True, 0.80541995),  # J = 10, K = 165, RRRC
        (10, 131, False, 0.80091813),  # J = 10, K = 131, analysisOption = "FRRC" (chi-square reference)
        (6, 111, True, 0.5526116),  # SsPowerGivenJK(dataset02, "Wilcoxon", J = 6, K = 111, method = "OR")
    ],
)
def test_van_dyke_power_matches_rjafroc(
    readers: int, cases: int, random_readers: bool, published: float
) -> None:
    result = power(
        VAN_DYKE,
        readers,
        cases,
        effect=VAN_DYKE_EFFECT,
        alternative="two-sided",
        readers="random" if random_readers else "fixed",
        fixed_reader_df="infinite",
    )
    # The printed components carry 8 decimals; RJafroc used unrounded ones.
    assert result.power == pytest.approx(published, abs=5e-5)


def test_van_dyke_cases_needed_matches_rjafroc() -> None:
    # RJafroc: SsSampleSizeKGivenJ(dataset02, J = 6, FOM = "Wilcoxon", method = "OR")$KRRRC == 251, and
    # SsPowerTable(dataset02) row 7: 6 readers, 251 cases, power 0.801.
    test = {"effect": VAN_DYKE_EFFECT, "alternative": "two-sided"}
    assert cases_needed(VAN_DYKE, 6, 0.8, **test) == 251
    assert round(power(VAN_DYKE, 6, 251, **test).power, 3) == 0.801
    assert power(VAN_DYKE, 6, 250, **test).power < 0.8


def test_two_sided_f_power_is_both_tails_of_the_noncentral_t() -> None:
    comp = from_stated(0.1, 0.8, 0.3)
    two = power(comp, 5, 120, effect=0.08, alternative="two-sided")
    crit = stats.t.ppf(0.975, two.ddf)
    tails = stats.nct.sf(crit, two.ddf, two.ncp) + stats.nct.cdf(-crit, two.ddf, two.ncp)
    assert two.power == pytest.approx(tails, rel=1e-7)
    one = power(comp, 5, 120, effect=0.08, margin=0.0)
    assert one.power == pytest.approx(stats.nct.sf(crit, two.ddf, two.ncp), rel=1e-7)


def test_cases_needed_is_the_first_k_reaching_the_target_and_none_when_capped_by_readers() -> None:
    comp = from_stated(0.05, 1.0, 0.2)
    test = {"effect": 0.0, "margin": 0.1}
    k = cases_needed(comp, 6, 0.8, **test)
    assert k is not None
    assert power(comp, 6, k, **test).power >= 0.8 > power(comp, 6, k - 1, **test).power
    fixed_k = cases_needed(comp, 6, 0.8, **test, readers="fixed")
    assert fixed_k is not None and fixed_k < k
    # Readers random: as K grows the SE falls to reader_sd / sqrt(J) = 0.05 / sqrt(3); 0.1 / that SE is
    # below the t quantile with 2 df, so no number of cases gives 80 % power with 3 readers.
    assert cases_needed(comp, 3, 0.8, **test) is None


def _true_components(p_better: float, p_equal: float, reader_sd: float, case_sd: float) -> tuple:
    """Population OR components of net preference under the analysis simulator's ordinal probit model,
    by Gauss-Hermite quadrature over reader and case effects (independent of the power code)."""
    t1, t2 = _thresholds(p_better, p_equal, reader_sd, case_sd)
    x, w = np.polynomial.hermite_e.hermegauss(48)
    w = w / w.sum()
    latent = reader_sd * x[:, None] + case_sd * x[None, :]  # reader effect a (rows), case effect b (cols)
    p_b, p_w = stats.norm.sf(t2 - latent), stats.norm.cdf(t1 - latent)
    mean_given_ab, square_given_ab = p_b - p_w, p_b + p_w
    theta = mean_given_ab @ w  # per-reader endpoint theta(a)
    reader_var = float(((theta - theta @ w) ** 2) @ w)
    case_var = float((square_given_ab @ w - theta**2) @ w)  # E_a Var(Y | a)
    cross = (mean_given_ab * w) @ mean_given_ab.T  # E_b[m(a, b) m(a', b)]
    case_cov = float(w @ (cross - np.outer(theta, theta)) @ w)  # two independent readers a, a'
    return float(theta @ w), VarianceComponents(reader_var, case_var, case_cov, "truth")


def test_pilot_estimates_average_to_the_true_components() -> None:
    params = (0.35, 0.35, 0.15, 0.8)
    _, truth = _true_components(*params)
    estimates = []
    for seed in range(300):
        y, _ = simulate_preference_matrix(5, 100, seed, *params)
        inf = mean_endpoint_inference(y)
        raw_reader_var = inf.ms_reader - inf.var_case_error + inf.cov2  # unbiased before Hillis's truncation
        estimates.append((raw_reader_var, inf.var_case_error * 100, inf.cov2 * 100))
    mean = np.mean(estimates, axis=0)
    se = np.std(estimates, axis=0, ddof=1) / np.sqrt(len(estimates))
    expected = (truth.reader_var, truth.case_var, truth.case_cov)
    assert np.all(np.abs(mean - expected) < 4 * se + 1e-3), (mean, expected, se)


@pytest.mark.parametrize(
    ("params", "readers", "cases", "margin", "random_readers"),
    [
        ((0.35, 0.35, 0.15, 0.8), 5, 80, 0.1, True),
        ((0.35, 0.35, 0.0, 0.8), 4, 60, 0.1, False),  # no reader effect: given readers == population
    ],
)
def test_planned_power_matches_the_analysis_decision_on_simulated_studies(
    params: tuple, readers: int, cases: int, margin: float, random_readers: bool
) -> None:
    true_value, truth = _true_components(*params)
    mode = "random" if random_readers else "fixed"
    planned = power(truth, readers, cases, effect=true_value, margin=margin, readers=mode).power
    n_studies = 1000
    hits = 0
    for seed in range(n_studies):
        y, _ = simulate_preference_matrix(readers, cases, 50_000 + seed, *params)
        inference = mean_endpoint_inference(y)
        if random_readers:
            hits += bool(non_inferiority(inference, margin)["non_inferior"])  # the analysis' own decision
        else:
            hits += inference.ci95_frrc[0] > -margin
    empirical = hits / n_studies
    monte_carlo_se = np.sqrt(planned * (1 - planned) / n_studies)
    assert 0.3 < planned < 0.7  # where a wrong power formula shows most
    assert abs(empirical - planned) < 3 * monte_carlo_se, (empirical, planned)


def test_components_from_reads_and_from_analysis_json_agree(tmp_path: Path) -> None:
    reads = simulate_study(4, 50, 7, 0.4, 0.3, 0.2, 0.8)
    from_db_path = components_from_reads(reads, {}, "pilot")
    matrix, _ = complete_cases(reader_case_matrix(reads, "preference_vs_ai"))
    inf = mean_endpoint_inference(matrix.to_numpy(float))
    assert from_db_path.case_var == pytest.approx(inf.var_case_error * 50)
    assert from_db_path.case_cov == pytest.approx(inf.cov2 * 50)
    assert from_db_path.reader_var == pytest.approx(
        max(inf.ms_reader - inf.var_case_error + max(inf.cov2, 0), 0)
    )
    (tmp_path / "analysis.json").write_text(json.dumps(analyze_reads(reads, {}, n_boot=0)))
    from_json = components_from_analysis_json(tmp_path / "analysis.json")
    for name in ("reader_var", "case_var", "case_cov", "pilot_value"):
        assert getattr(from_json, name) == pytest.approx(getattr(from_db_path, name), rel=1e-12)
    assert from_inference(inf, "x").pilot_readers == 4


def test_plan_cli_from_a_study_db_writes_json_and_table(tmp_path: Path) -> None:
    db = tmp_path / "pilot.db"
    simulate_into_db(db, 3, 30, 5)
    out = tmp_path / "plan.json"
    args = ["plan", "--db", str(db), "--effect", "0", "--margin", "0.1", "--readers", "5", "--cases", "200"]
    result = runner.invoke(
        study_app, [*args, "--readers-range", "3-5", "--cases-grid", "100,200", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(out.read_text())
    assert plan["components"]["pilot_readers"] == 3 and plan["components"]["pilot_cases"] == 30
    assert [row["readers"] for row in plan["table"]] == [3, 4, 5]
    comp = VarianceComponents(
        **{k: plan["components"][k] for k in ("reader_var", "case_var", "case_cov", "source")}
    )
    expected = power(comp, 5, 200, effect=0.0, margin=0.1).power
    assert plan["design"]["readers_random"]["power"] == pytest.approx(expected)
    assert plan["table"][2]["power_readers_random"]["200"] == pytest.approx(expected)
    assert "cases needed for power 0.8" in result.output and "Hillis" in result.output


def test_plan_cli_stated_values_and_analysis_json(tmp_path: Path) -> None:
    stated = runner.invoke(
        study_app,
        ["plan", "--effect", "0.05", "--reader-sd", "0.05", "--reader-corr", "0.3", "--test", "two-sided"],
    )
    assert stated.exit_code == 0, stated.output
    assert "stated values" in stated.output and "two-sided" in stated.output
    reads = simulate_study(3, 40, 1, 0.4, 0.3, 0.2, 0.8)
    (tmp_path / "analysis.json").write_text(json.dumps(analyze_reads(reads, {}, n_boot=0)))
    from_json = runner.invoke(
        study_app, ["plan", "--effect", "0.1", "--analysis", str(tmp_path / "analysis.json")]
    )
    assert from_json.exit_code == 0, from_json.output
    assert "pilot: 3 readers x 40 cases" in from_json.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give one source of variance components"),
        (["--reader-sd", "0.1"], "need both --reader-sd and --reader-corr"),
        (["--reader-sd", "0.1", "--reader-corr", "0.2", "--analysis", "a.json"], "give one source"),
        (["--db", "missing.db"], "no study database at"),
        (["--analysis", "missing.json"], "missing.json: cannot be read"),
        (["--analysis", "bad.json"], "bad.json: not an analysis.json with a net_preference block"),
        (["--reader-sd", "0.1", "--reader-corr", "2"], "--reader-corr must lie in [-1, 1]"),
        (["--reader-sd", "0.1", "--reader-corr", "0.2", "--readers-range", "3-x"], "--readers-range '3-x'"),
        (["--reader-sd", "0.1", "--reader-corr", "0.2", "--readers", "4"], "--readers and --cases together"),
        (["--reader-sd", "0.1", "--reader-corr", "0.2", "--test", "one"], "--test 'one'"),
    ],
)
def test_plan_cli_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text('{"net_preference": {"value": 0.1}}')
    out = tmp_path / "plan.json"
    result = runner.invoke(study_app, ["plan", "--effect", "0.1", *extra, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
