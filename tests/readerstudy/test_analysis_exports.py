"""iMRMC / MRMCaov exports and the position-bias / blinding checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from readerstudy.analysis.bias import blinding_check, position_bias
from readerstudy.analysis.data import validate_long_table
from readerstudy.analysis.exports import imrmc_text, mrmcaov_table, parse_imrmc_text
from readerstudy.analysis.simulate import simulate_study


@pytest.fixture(scope="module")
def reads() -> pd.DataFrame:
    return validate_long_table(simulate_study(3, 24, 4, 0.4, 0.3, 0.3, 0.8))


def _net_by_reader(reads: pd.DataFrame) -> pd.Series:
    return reads.groupby("reader_id")["preference_vs_ai"].mean()


def test_imrmc_file_follows_documented_layout(reads: pd.DataFrame) -> None:
    text = imrmc_text(reads)
    lines = text.splitlines()
    begin = lines.index("BEGIN DATA:")
    header = lines[:begin]
    assert {"NR: 3", "N0: 3", "N1: 24", "NM: 2"} <= set(header)
    data = parse_imrmc_text(text)
    truth = data[data["readerID"] == "truth"]
    assert (truth["modalityID"] == "truth").all()
    assert truth["caseID"].is_unique and len(truth) == 24 + 3  # one truth row per case, anchors included
    assert set(truth["score"]) == {0.0, 1.0}
    scored = data[data["readerID"] != "truth"]
    assert set(scored["modalityID"]) == {"AI", "original"}
    assert not scored.duplicated(["readerID", "caseID", "modalityID"]).any()
    assert all(" " not in line for line in lines[begin + 1 :])


def test_imrmc_auc_difference_reproduces_net_preference(reads: pd.DataFrame) -> None:
    data = parse_imrmc_text(imrmc_text(reads))
    truth = data[data["readerID"] == "truth"].set_index("caseID")["score"]
    scored = data[data["readerID"] != "truth"]
    for reader, net in _net_by_reader(reads).items():
        auc = {}
        for modality in ("AI", "original"):
            rows = scored[(scored["readerID"] == reader) & (scored["modalityID"] == modality)]
            auc[modality] = roc_auc_score(truth.loc[rows["caseID"]].to_numpy(), rows["score"].to_numpy())
        assert auc["AI"] - auc["original"] == pytest.approx(net, abs=1e-12)


def test_mrmcaov_table_columns_and_auc_mapping(reads: pd.DataFrame) -> None:
    table = mrmcaov_table(reads)
    assert list(table.columns) == ["reader", "test", "case", "truth", "rating"]
    assert len(table) == 2 * 3 * (24 + 3)
    for reader, net in _net_by_reader(reads).items():
        rows = table[table["reader"] == reader]
        aucs = {t: roc_auc_score(g["truth"], g["rating"]) for t, g in rows.groupby("test")}
        assert aucs["AI"] - aucs["original"] == pytest.approx(net, abs=1e-12)


def test_position_bias_counts_and_binomial_test() -> None:
    df = pd.DataFrame(
        {
            "reader_id": ["r1"] * 6 + ["r2"] * 4,
            "case_id": [f"c{i}" for i in range(10)],
            "choice": ["A", "A", "A", "B", "equal", "A", "A", "B", "B", "equal"],
        }
    )
    out = position_bias(df)
    ref = stats.binomtest(5, 8, 0.5)
    assert out["n"] == 8 and out["n_ties_excluded"] == 2
    assert out["proportion"] == pytest.approx(5 / 8)
    assert out["p_value"] == pytest.approx(ref.pvalue)
    ci = ref.proportion_ci(method="exact")
    assert out["ci95"] == pytest.approx([ci.low, ci.high])
    assert out["per_reader"]["r1"]["n"] == 5 and out["per_reader"]["r2"]["proportion"] == pytest.approx(1 / 3)


def test_blinding_check_one_guess_per_reader_case() -> None:
    df = pd.DataFrame(
        {
            "reader_id": ["r1", "r1", "r1", "r1", "r2", "r2"],
            "case_id": ["c1", "c1", "c2", "c3", "c1", "c2"],
            "ai_side": ["A", "A", "B", "A", "B", "B"],
            "blinding_guess_ai_side": ["A", "A", "A", None, "B", "unsure"],
        }
    )
    out = blinding_check(df)
    # Unique reader x case: (r1,c1) right, (r1,c2) wrong, (r1,c3) none, (r2,c1) right, (r2,c2) unsure.
    assert out["n_answered"] == 3 and out["n_not_answered"] == 2
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["p_value"] == pytest.approx(stats.binomtest(2, 3, 0.5).pvalue)


def test_simulated_blinding_accuracy_is_recovered() -> None:
    df = simulate_study(10, 200, 9, 0.4, 0.3, 0.2, 0.5, blinding_accuracy=0.8)
    out = blinding_check(df)
    assert out["accuracy"] == pytest.approx(0.8, abs=0.03)
    assert out["ci95"][0] < 0.8 < out["ci95"][1]
    assert np.isfinite(out["p_value"]) and out["p_value"] < 1e-6
