"""F1-CheXbert against the reference package (f1chexbert 0.0.2) on the same random local weights, the label mapping
and F1 arithmetic against scikit-learn, the reference-label cache, the CLI and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import classification_report
from typer.testing import CliRunner

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.report.chexbert import (
    CHEXBERT_LABELS,
    MAX_TOKENS,
    ChexbertSpec,
    encode_reports,
    load_chexbert,
    run_chexbert,
)
from bench.metrics.report.chexbert_random import write_random_chexbert
from bench.metrics.report.f1chexbert import (
    CHEXBERT_LABELS_5,
    F1CHEXBERT_METRICS,
    classes_to_labels,
    f1chexbert_replicates,
    f1chexbert_scores,
    f1chexbert_value,
)
from cxrbench.cli import app

runner = CliRunner()
LONG = " ".join(["there is a small left pleural effusion with adjacent atelectasis ."] * 60)
REPORTS = [
    "No pleural effusion. Normal heart size.",
    "Normal heart size.",
    "Increased mild pulmonary edema and left basal atelectasis.",
    "Bilateral lower lobe bronchiectasis with improved right lower medial lung peribronchial consolidation.",
    "",
    "   \n  ",
    "Enlarged heart.\nStable cardiomegaly.  Pacemaker in place.",
    "Small left pleural effusion, possibly atelectasis or pneumonia.",
    "Fracture of the left 5th rib; lines and tubes unchanged.",
    "Pneumothorax is seen on the right. Lungs are otherwise clear.",
    "No acute cardiopulmonary process. No significant interval change.",
    "Mild interstitial edema. Cardiomediastinal silhouette is enlarged.",
    "ET tube 4 cm above the carina. NG tube in the stomach.",
    "Opacity in the right lower lobe concerning for pneumonia. Café-au-lait xyzzy!",
    LONG,
    "Lung lesion: 2 cm nodule in the left upper lobe.",
]
HYPS = [
    "No effusion. Heart size is normal.",
    "Enlarged heart.",
    "Mild pulmonary edema. Left basal atelectasis.",
    "Bilateral lower lobe bronchiectasis.",
    "No acute process.",
    "",
    "Stable cardiomegaly.",
    "Small pleural effusion.",
    "Rib fracture.",
    "Right pneumothorax.",
    "No change.",
    "Interstitial edema.",
    "Lines and tubes in place.",
    "Right lower lobe pneumonia.",
    LONG + " " + LONG,
    "Nodule in the left upper lobe.",
]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_random_chexbert(tmp_path_factory.mktemp("chexbert"), REPORTS + HYPS)


@pytest.fixture(scope="module")
def reference(weights: tuple[Path, Path]):
    pytest.importorskip("f1chexbert")
    from bench.metrics.report.chexbert_reference import local_f1chexbert

    with local_f1chexbert(*weights) as model:
        yield model


def _spec(weights: tuple[Path, Path], tmp_path: Path, **kw) -> ChexbertSpec:
    return ChexbertSpec(str(weights[0]), str(weights[1]), cache_dir=str(tmp_path / "cache"), **kw)


# --- parity with the reference package on the same weights -------------------------------------------------------


def test_token_ids_and_truncation_equal_the_reference(weights, reference) -> None:
    import pandas as pd
    from f1chexbert.f1chexbert import tokenize as reference_tokenize

    ours, lengths = encode_reports(reference.tokenizer, REPORTS + HYPS)
    theirs = reference_tokenize(pd.Series([r.strip() for r in REPORTS + HYPS]), reference.tokenizer)
    assert ours == theirs
    assert (
        max(len(x) for x in ours) == MAX_TOKENS
        and ours[REPORTS.index(LONG)][-1] == reference.tokenizer.sep_token_id
    )
    assert (lengths > MAX_TOKENS).sum() == 2  # LONG in the references, LONG + LONG in the hypotheses


def test_weights_loaded_are_the_references(weights, reference, tmp_path: Path) -> None:
    loaded = load_chexbert(_spec(weights, tmp_path))
    theirs = dict(reference.model.named_parameters())
    ours = dict(loaded.model.named_parameters())
    assert set(ours) == set(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


@pytest.fixture(scope="module")
def reference_labels(reference) -> tuple[np.ndarray, np.ndarray]:
    """f1chexbert's get_label of every report, one forward each: rrg 0/1, and classification with '' as NaN."""
    texts = [t.strip() for t in REPORTS + HYPS]
    rrg = np.array([reference.get_label(t, mode="rrg") for t in texts])
    theirs = [reference.get_label(t, mode="classification") for t in texts]
    return rrg, np.array([[np.nan if v == "" else float(v) for v in row] for row in theirs])


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_labels_equal_reference_get_label_in_both_modes(
    weights, reference_labels, tmp_path: Path, batch_size: int
) -> None:
    out = run_chexbert(load_chexbert(_spec(weights, tmp_path)), REPORTS + HYPS, batch_size=batch_size)
    rrg, classification = reference_labels
    np.testing.assert_array_equal(classes_to_labels(out.classes, "rrg"), rrg)
    np.testing.assert_array_equal(classes_to_labels(out.classes, "classification"), classification)
    assert len(set(map(tuple, rrg))) > 5, (
        "the random model should give varied labels, or the test proves little"
    )


def test_f1_equals_reference_forward(weights, reference, tmp_path: Path) -> None:
    spec = _spec(weights, tmp_path)
    loaded = load_chexbert(spec)
    ref_labels = classes_to_labels(run_chexbert(loaded, REPORTS).classes)
    hyp_labels = classes_to_labels(run_chexbert(loaded, HYPS).classes)
    ours = f1chexbert_scores(ref_labels, hyp_labels)
    _, _, cr, cr5 = reference(hyps=HYPS, refs=REPORTS)
    assert ours["f1chexbert_micro_14"] == cr["micro avg"]["f1-score"]
    assert ours["f1chexbert_macro_14"] == cr["macro avg"]["f1-score"]
    assert ours["f1chexbert_micro_5"] == cr5["micro avg"]["f1-score"]
    assert ours["f1chexbert_macro_5"] == cr5["macro avg"]["f1-score"]
    for label in CHEXBERT_LABELS:
        assert ours["f1"][label] == cr[label]["f1-score"]
        assert ours["precision"][label] == cr[label]["precision"]
        assert ours["recall"][label] == cr[label]["recall"]
        assert ours["support"][label] == cr[label]["support"]


# --- mapping and arithmetic on hand-made vectors ------------------------------------------------------------------


def test_rrg_mapping_counts_uncertain_as_positive() -> None:
    classes = np.array([[0, 1, 2, 3]])
    np.testing.assert_array_equal(classes_to_labels(classes, "rrg"), [[0, 1, 0, 1]])
    np.testing.assert_array_equal(classes_to_labels(classes, "classification"), [[np.nan, 1.0, 0.0, -1.0]])
    with pytest.raises(ValueError, match="unknown CheXbert label mode"):
        classes_to_labels(classes, "u-ones")


def test_hand_case() -> None:
    """Two reports, Cardiomegaly TP + FN, Edema FP, everything else absent: micro-14 = 2*1/(2+1+1) = 0.5,
    macro-14 = (2/3 + 0) / 14, micro-5 = 0.5, macro-5 = (2/3) / 5."""
    ref = np.zeros((2, 14), dtype=np.int8)
    hyp = np.zeros((2, 14), dtype=np.int8)
    c, e = CHEXBERT_LABELS.index("Cardiomegaly"), CHEXBERT_LABELS.index("Edema")
    ref[0, c] = ref[1, c] = 1
    hyp[0, c] = 1
    hyp[1, e] = 1
    s = f1chexbert_scores(ref, hyp)
    assert s["f1chexbert_micro_14"] == pytest.approx(0.5)
    assert s["f1chexbert_macro_14"] == pytest.approx((2 / 3) / 14)
    assert s["f1chexbert_micro_5"] == pytest.approx(0.5)
    assert s["f1chexbert_macro_5"] == pytest.approx((2 / 3) / 5)


@pytest.mark.parametrize("seed", range(6))
def test_f1_arithmetic_equals_sklearn_classification_report(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    ref = (rng.random((n, 14)) < rng.random(14)).astype(np.int8)
    hyp = (rng.random((n, 14)) < rng.random(14)).astype(np.int8)
    ref[:, rng.integers(0, 14)] = 0  # a label absent from the references
    hyp[:, rng.integers(0, 14)] = 0
    ours = f1chexbert_scores(ref, hyp)
    cr = classification_report(
        ref, hyp, target_names=list(CHEXBERT_LABELS), output_dict=True, zero_division=0
    )
    cols = [CHEXBERT_LABELS.index(x) for x in CHEXBERT_LABELS_5]
    cr5 = classification_report(ref[:, cols], hyp[:, cols], output_dict=True, zero_division=0)
    assert ours["f1chexbert_micro_14"] == pytest.approx(cr["micro avg"]["f1-score"], abs=1e-15)
    assert ours["f1chexbert_macro_14"] == pytest.approx(cr["macro avg"]["f1-score"], abs=1e-15)
    assert ours["f1chexbert_micro_5"] == pytest.approx(cr5["micro avg"]["f1-score"], abs=1e-15)
    assert ours["f1chexbert_macro_5"] == pytest.approx(cr5["macro avg"]["f1-score"], abs=1e-15)
    for name in F1CHEXBERT_METRICS:
        assert f1chexbert_value(ref, hyp, name) == ours[name]


def test_bootstrap_replicates_equal_explicit_resamples() -> None:
    rng = np.random.default_rng(3)
    ref = (rng.random((25, 14)) < 0.3).astype(np.int8)
    hyp = (rng.random((25, 14)) < 0.3).astype(np.int8)
    clusters = np.repeat(np.arange(9), [3, 3, 3, 3, 3, 3, 3, 2, 2])
    counts = bootstrap_counts(25, 40, seed=1, clusters=clusters)
    reps = f1chexbert_replicates(ref, hyp, counts)
    for b in range(counts.shape[0]):
        rows = np.repeat(np.arange(25), counts[b])
        explicit = f1chexbert_scores(ref[rows], hyp[rows])
        for name in F1CHEXBERT_METRICS:
            assert reps[name][b] == pytest.approx(explicit[name], abs=1e-12)
        np.testing.assert_allclose(reps["f1"][b], [explicit["f1"][x] for x in CHEXBERT_LABELS], atol=1e-12)


# --- cache, CLI, compare ----------------------------------------------------------------------------------------


def _write_records(folder: Path, refs: list[str], hyps: list[str]) -> tuple[Path, Path]:
    gt, pred = folder / "gt.jsonl", folder / "pred.jsonl"
    gt.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "report": r, "meta": {"patient": f"p{i // 3}"}}) + "\n"
            for i, r in enumerate(refs)
        )
    )
    pred.write_text("".join(json.dumps({"id": f"r{i}", "report": h}) + "\n" for i, h in enumerate(hyps)))
    return gt, pred


def _score(weights, gt: Path, pred: Path, out: Path, cache: Path, *extra: str):
    return runner.invoke(
        app,
        ["score", "--task", "report", "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--no-meteor",
         "--bootstrap", "200", "--chexbert", str(weights[0]), "--chexbert-tokenizer", str(weights[1]),
         "--chexbert-cache", str(cache), *extra],
    )  # fmt: skip


def test_score_cli_equals_reference_with_clustered_cis_and_cache(
    weights, reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.metrics.report.chexbert_cache as cache_module

    gt, pred = _write_records(tmp_path, REPORTS, HYPS)
    labelled: list[int] = []
    real = cache_module.run_chexbert
    monkeypatch.setattr(
        cache_module, "run_chexbert", lambda m, t, *a: labelled.append(len(t)) or real(m, t, *a)
    )
    first = _score(weights, gt, pred, tmp_path / "a.json", tmp_path / "cache")
    assert first.exit_code == 0, first.output
    assert labelled == [len(REPORTS)]  # the references were labelled once, then cached
    second = _score(weights, gt, pred, tmp_path / "b.json", tmp_path / "cache")
    assert second.exit_code == 0, second.output
    assert labelled == [len(REPORTS)]  # ... and not again
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert len(list((tmp_path / "cache").glob("refs-*.npz"))) == 1

    res = json.loads((tmp_path / "a.json").read_text())
    _, _, cr, cr5 = reference(hyps=HYPS, refs=REPORTS)
    assert res["metrics"]["f1chexbert_micro_14"]["value"] == cr["micro avg"]["f1-score"]
    assert res["metrics"]["f1chexbert_macro_14"]["value"] == cr["macro avg"]["f1-score"]
    assert res["metrics"]["f1chexbert_micro_5"]["value"] == cr5["micro avg"]["f1-score"]
    assert res["metrics"]["f1chexbert_macro_5"]["value"] == cr5["macro avg"]["f1-score"]
    assert res["per_label"]["f1chexbert_f1"] == {x: cr[x]["f1-score"] for x in CHEXBERT_LABELS}
    # CIs resample whole patients (3 reports each), on the same draws as every other report metric
    assert res["settings"]["cluster"] == "patient"
    ref_l = np.array([reference.get_label(t.strip()) for t in REPORTS])
    hyp_l = np.array([reference.get_label(t.strip()) for t in HYPS])
    clusters = np.arange(len(REPORTS)) // 3
    reps = f1chexbert_replicates(ref_l, hyp_l, bootstrap_counts(len(REPORTS), 200, 0, clusters=clusters))
    assert res["metrics"]["f1chexbert_micro_14"]["ci95"] == list(percentile_ci(reps["f1chexbert_micro_14"]))
    conv = res["conventions"]["f1chexbert"]
    assert conv["mode"] == "rrg" and conv["max_tokens"] == 512 and conv["labels_5"] == list(CHEXBERT_LABELS_5)
    import hashlib

    assert conv["checkpoint_sha256"] == hashlib.sha256(weights[0].read_bytes()).hexdigest()
    assert res["notes"]["f1chexbert_truncated"] == {"reference": 1, "generated": 1}
    assert res["settings"]["chexbert"] == str(weights[0]) and res["settings"]["device"] == "cpu"
    assert "radcliq_v1" in res["notes"]["unavailable"]  # no RadGraph or BERTScore here
    assert res["metrics"]["chexbert_semb"]["value"] is not None


def test_a_changed_reference_is_relabelled(weights, tmp_path: Path) -> None:
    from bench.metrics.report.chexbert_cache import label_references

    spec = _spec(weights, tmp_path)
    loaded = load_chexbert(spec)
    first, state = label_references(loaded, spec, REPORTS)
    assert state == "miss"
    again, state = label_references(loaded, spec, REPORTS)
    assert (
        state == "hit"
        and np.array_equal(first.classes, again.classes)
        and np.array_equal(first.cls, again.cls)
    )
    _, state = label_references(loaded, spec, [*REPORTS[:-1], REPORTS[-1] + " Edema."])
    assert state == "miss"


def test_compare_f1chexbert_values_equal_score(weights, reference, tmp_path: Path) -> None:
    from bench.run.compare import compare_files

    gt, pred = _write_records(tmp_path, REPORTS, HYPS)
    pred_b = tmp_path / "b.jsonl"
    pred_b.write_text("".join(json.dumps({"id": f"r{i}", "report": r}) + "\n" for i, r in enumerate(REPORTS)))
    res = compare_files(
        "report", gt, pred, pred_b, tmp_path / "cmp.json", metrics=["f1chexbert_micro_14", "f1chexbert_macro_5"],
        n_boot=100, n_perm=100, chexbert=str(weights[0]), chexbert_tokenizer=str(weights[1]),
        chexbert_cache=str(tmp_path / "cache"),
    )  # fmt: skip
    _, _, cr, cr5 = reference(hyps=HYPS, refs=REPORTS)
    assert res["comparisons"]["f1chexbert_micro_14"]["a"] == cr["micro avg"]["f1-score"]
    assert res["comparisons"]["f1chexbert_micro_14"]["b"] == 1.0  # B repeats the references
    assert res["comparisons"]["f1chexbert_macro_5"]["a"] == cr5["macro avg"]["f1-score"]
    assert res["comparisons"]["f1chexbert_micro_14"]["paired_bootstrap"]["ci95"] is not None
    with pytest.raises(ValueError, match="--chexbert"):
        compare_files("report", gt, pred, pred_b, tmp_path / "c2.json", metrics=["f1chexbert_micro_14"])


# --- bad input: one sentence naming the file or option, exit 2, nothing written ------------------------------------


def _bad(weights, tmp_path: Path, *args: str) -> str:
    gt, pred = _write_records(tmp_path, REPORTS[:4], HYPS[:4])
    out = tmp_path / "bad.json"
    result = runner.invoke(
        app,
        ["score", "--task", "report", "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--no-meteor",
         "--bootstrap", "0", "--chexbert-cache", str(tmp_path / "cache"), *args],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_missing_paths_name_the_option(weights, tmp_path: Path) -> None:
    msg = _bad(
        weights, tmp_path, "--chexbert", str(tmp_path / "nope.pth"), "--chexbert-tokenizer", str(weights[1])
    )
    assert "--chexbert" in msg and "nope.pth" in msg
    msg = _bad(weights, tmp_path, "--chexbert", str(weights[0]))
    assert "--chexbert-tokenizer" in msg
    msg = _bad(
        weights, tmp_path, "--chexbert", str(weights[0]), "--chexbert-tokenizer", str(tmp_path / "no-tok")
    )
    assert "--chexbert-tokenizer" in msg and "no-tok" in msg


def test_wrong_checkpoint_format_and_shape(weights, tmp_path: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    assert "notes.pth" in _bad(
        weights, tmp_path, "--chexbert", str(text), "--chexbert-tokenizer", str(weights[1])
    )

    blob = torch.load(weights[0], weights_only=True)
    bare = tmp_path / "bare.pth"
    torch.save(blob["model_state_dict"], bare)
    msg = _bad(weights, tmp_path, "--chexbert", str(bare), "--chexbert-tokenizer", str(weights[1]))
    assert "bare.pth" in msg and "model_state_dict" in msg

    three = {k: v for k, v in blob["model_state_dict"].items()}
    three["module.linear_heads.0.weight"] = three["module.linear_heads.0.weight"][:3]
    three["module.linear_heads.0.bias"] = three["module.linear_heads.0.bias"][:3]
    shaped = tmp_path / "three.pth"
    torch.save({"model_state_dict": three}, shaped)
    msg = _bad(weights, tmp_path, "--chexbert", str(shaped), "--chexbert-tokenizer", str(weights[1]))
    assert "three.pth" in msg and "linear_heads.0" in msg

    twelve = {k: v for k, v in blob["model_state_dict"].items() if "linear_heads.13" not in k}
    short = tmp_path / "thirteen.pth"
    torch.save({"model_state_dict": twelve}, short)
    msg = _bad(weights, tmp_path, "--chexbert", str(short), "--chexbert-tokenizer", str(weights[1]))
    assert "thirteen.pth" in msg and "lacks" in msg


def test_tokenizer_that_does_not_match(weights, tmp_path: Path) -> None:
    other = tmp_path / "other-tok"
    other.mkdir()
    (other / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "heart"]) + "\n"
    )
    msg = _bad(weights, tmp_path, "--chexbert", str(weights[0]), "--chexbert-tokenizer", str(other))
    assert "other-tok" in msg and "tokens" in msg
    empty = tmp_path / "empty-tok"
    empty.mkdir()
    msg = _bad(weights, tmp_path, "--chexbert", str(weights[0]), "--chexbert-tokenizer", str(empty))
    assert "empty-tok" in msg and "vocab.txt" in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_one_sentence(weights, tmp_path: Path) -> None:
    msg = _bad(weights, tmp_path, "--chexbert", str(weights[0]), "--chexbert-tokenizer", str(weights[1]),
               "--device", "cuda")  # fmt: skip
    assert "--device" in msg and "CUDA" in msg


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_labels_equal_cpu_labels(weights, tmp_path: Path) -> None:
    texts = REPORTS + HYPS
    cpu = run_chexbert(load_chexbert(_spec(weights, tmp_path)), texts, batch_size=8)
    gpu = run_chexbert(load_chexbert(_spec(weights, tmp_path, device="cuda")), texts, batch_size=8)
    np.testing.assert_array_equal(cpu.classes, gpu.classes)
    np.testing.assert_allclose(cpu.cls, gpu.cls, atol=1e-3)


def test_run_and_compare_accept_the_chexbert_options() -> None:
    from bench.cli_options import score_settings

    settings = score_settings(10, 1, chexbert=(Path("c.pth"), Path("tok"), 32, None), device="cuda")
    assert (settings.chexbert, settings.chexbert_tokenizer, settings.device) == ("c.pth", "tok", "cuda")
    assert settings.for_task("report")["chexbert"] == "c.pth"
    assert "chexbert" not in score_settings(10, 1).for_task("report")  # unchanged results without it
    import typer

    commands = typer.main.get_command(app).commands
    for name in ("run", "compare", "score"):
        options = {opt for param in commands[name].params for opt in param.opts}
        assert {"--chexbert", "--chexbert-tokenizer", "--chexbert-cache", "--device"} <= options
