"""End to end: `analyze` writes analysis.json, the reports and the exports with values that match the reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from readerstudy.analysis import analyze, analyze_reads, simulate_study
from readerstudy.analysis.data import primary_criterion

TOP_KEYS = {
    "equal_or_better",
    "net_preference",
    "better",
    "equal",
    "worse",
    "per_reader",
    "per_site",
    "per_normal_abnormal",
    "agreement",
    "position_bias",
    "blinding_check",
    "margin",
    "non_inferior",
    "n_readers",
    "n_cases",
    "methods",
}
AGREEMENT_KEYS = {
    "fleiss_kappa",
    "krippendorff_alpha_ordinal",
    "gwet_ac1",
    "percent_agreement",
    "pairwise_weighted_kappa",
    "icc_likert",
    "kendall_w",
    "marginals",
}


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    return simulate_study(3, 40, 21, 0.45, 0.3, 0.3, 0.8, criteria=("diagnostic clarity", "completeness"))


@pytest.fixture(scope="module")
def written(study: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("analysis")
    return analyze(study, out, {"margin": 0.15, "seed": 5}, n_boot=300), out


def test_files_and_keys(written: tuple[dict, Path]) -> None:
    result, out = written
    for name in ("analysis.json", "report.md", "report.html", "reads_long.csv", "imrmc.csv", "mrmcaov.csv"):
        assert (out / name).stat().st_size > 0
    on_disk = json.loads(
        (out / "analysis.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}")
    )
    assert on_disk == result
    assert set(result) >= TOP_KEYS and set(result["agreement"]) >= AGREEMENT_KEYS
    for key in ("equal_or_better", "net_preference"):
        assert {"value", "ci95_frrc", "ci95_rrrc", "ci95_bootstrap"} <= set(result[key])
    assert result["n_readers"] == 3 and result["n_cases"] == 40 and result["margin"] == 0.15


def test_values_match_direct_computation(written: tuple[dict, Path], study: pd.DataFrame) -> None:
    result, _ = written
    primary = study[study["criterion"] == "diagnostic clarity"]
    pref = primary["preference_vs_ai"]
    assert result["net_preference"]["value"] == pytest.approx(pref.mean())
    assert result["equal_or_better"]["value"] == pytest.approx((pref >= 0).mean())
    assert result["better"]["value"] + result["equal"]["value"] + result["worse"]["value"] == pytest.approx(
        1.0
    )
    assert result["equal_or_better"]["null_value_if_no_difference"] == pytest.approx(
        0.5 + (pref == 0).mean() / 2
    )
    for site, grp in primary.groupby("site"):
        assert result["per_site"][site]["net_preference"]["value"] == pytest.approx(
            grp["preference_vs_ai"].mean()
        )
    for reader, grp in primary.groupby("reader_id"):
        assert result["per_reader"][reader]["net_preference"]["value"] == pytest.approx(
            grp["preference_vs_ai"].mean()
        )
    net = result["net_preference"]
    assert result["non_inferior"] == (net["ci95_rrrc"][0] > -0.15)
    assert set(result["per_criterion"]) == {"diagnostic clarity", "completeness"}


def test_reports_are_self_contained(written: tuple[dict, Path]) -> None:
    _, out = written
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    assert html.count("data:image/png;base64,") == 2 and md.count("data:image/png;base64,") == 2
    assert not re.search(r'(src|href)="(?!data:)', html)
    assert "Hillis" in md and "equal-or-better" in md.lower()
    reads = pd.read_csv(out / "reads_long.csv")
    assert len(reads) == 2 * 3 * 40


def test_incomplete_reads_margin_sign_and_missing_optional_columns() -> None:
    df = simulate_study(3, 12, 2, 0.4, 0.3, 0.2, 0.6)
    df = df.drop(index=df.index[(df["reader_id"] == "reader_02") & (df["case_id"] == "case_0005")])
    df = df[["reader_id", "case_id", "site", "criterion", "ai_side", "choice", "preference_vs_ai"]]
    result = analyze_reads(df, {"margin": -0.1}, n_boot=0)
    assert result["n_cases"] == 11 and result["cases_left_out"] == ["case_0005"]
    assert result["margin"] == 0.1 and len(result["notes"]) == 2
    assert result["net_preference"]["ci95_bootstrap"] is None
    assert result["agreement"]["icc_likert"]["likert_ai"] is None
    assert result["blinding_check"]["n_answered"] == 0 and result["blinding_check"]["accuracy"] is None


def test_latest_version_wins_and_primary_criterion_choice() -> None:
    df = simulate_study(2, 6, 3, 0.4, 0.3, 0.2, 0.6, criteria=("clarity", "completeness"))
    first = df.index[(df["criterion"] == "completeness")][0]
    revised = df.loc[[first]].assign(version=2, preference_vs_ai=-1, choice="equal")
    revised["choice"] = np.where(revised["ai_side"] == "A", "B", "A")
    result = analyze_reads(pd.concat([df, revised]), {"criteria": [{"name": "completeness"}]}, n_boot=0)
    assert result["criterion"] == "completeness"
    expected = df[df["criterion"] == "completeness"]["preference_vs_ai"].copy()
    expected.loc[first] = -1
    assert result["net_preference"]["value"] == pytest.approx(expected.mean())
    assert primary_criterion(df, {"primary_criterion": "clarity"}) == "clarity"
    with pytest.raises(ValueError):
        analyze_reads(df.assign(preference_vs_ai=2), None, n_boot=0)


def test_degenerate_studies_give_undefined_not_zero(tmp_path: Path) -> None:
    ties = simulate_study(3, 10, 1, 0.4, 0.3, 0.3, 0.8).assign(preference_vs_ai=0, choice="equal")
    result = analyze(ties, tmp_path / "ties", None, n_boot=50)
    assert result["net_preference"]["value"] == 0.0 and result["net_preference"]["ci95_rrrc"] == [0.0, 0.0]
    assert result["agreement"]["fleiss_kappa"]["value"] is None  # p_e = 1: kappa undefined
    assert result["agreement"]["krippendorff_alpha_ordinal"]["value"] is None
    assert result["agreement"]["kendall_w"]["preference_vs_ai"]["value"] is None
    assert result["position_bias"]["n"] == 0 and result["position_bias"]["p_value"] is None
    one_reader = analyze(simulate_study(1, 10, 1, 0.4, 0.3, 0.3, 0.8), tmp_path / "one", None, n_boot=50)
    assert one_reader["net_preference"]["ci95_rrrc"] is None and one_reader["net_preference"]["ci95_frrc"]
    assert one_reader["non_inferior"] is not None  # falls back to the FRRC interval
    assert one_reader["net_preference"]["basis"] == "frrc"
