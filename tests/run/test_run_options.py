"""`cxrbench run --option / --limit`: typed model options, partial smoke runs that never enter a table, final
answer counts in the manifest, and unparseable answers that never abort a run (the policy decides)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from bench.datasets import get_adapter
from bench.run.context import model_options
from cxrbench.cli import app
from leaderboards.runs import discover_runs, partial_runs

cli = CliRunner()
LIST_QUESTION = "What disease does this image have?"
BOX_QUESTION = "Give the accurate bounding box of {}."


def _answers(root: Path, path: Path, *, empty: int = 0) -> tuple[list, list[str]]:
    """An answers file for vindr-cxr's test split: the label list names the ground truth's positives (so AUC is
    1), boxes answer "none"; the first `empty` images give an empty (unparseable) label answer."""
    records = list(get_adapter("vindr-cxr").records(root / "vindr-cxr", "test"))
    box_labels = list(dict.fromkeys(b.label for r in records for b in r.boxes or []))
    lines = []
    for i, rec in enumerate(records):
        positives = [name for name, v in (rec.labels or {}).items() if v == 1.0]
        answer = "" if i < empty else ", ".join(positives) or "No Finding"
        lines.append({"id": rec.id, "instruction": LIST_QUESTION, "answer": answer})
        lines += [
            {"id": rec.id, "instruction": BOX_QUESTION.format(label), "answer": "none"}
            for label in box_labels
        ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return records, box_labels


def _run(args: list[str]):
    return cli.invoke(app, ["run", "--dataset", "vindr-cxr", "--bootstrap", "20", "--workers", "0", *args])


def test_options_are_typed_by_the_adapter_signature() -> None:
    typed = model_options(
        "hf:x", {"max_new_tokens": "12", "unparseable_labels": "negative", "prompts": "none"}
    )
    assert typed == {"max_new_tokens": 12, "unparseable_labels": "negative", "prompts": None}
    with pytest.raises(ValueError, match="has no option 'max_tokens'.*max_new_tokens"):
        model_options("hf:x", {"max_tokens": "3"})
    with pytest.raises(ValueError, match="max_new_tokens='many' is not an integer"):
        model_options("hf:x", {"max_new_tokens": "many"})


def test_unknown_option_is_a_one_line_error(demo_data: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    _answers(demo_data, answers)
    result = _run(
        [
            "--model",
            f"imt-text:{answers}",
            "--root",
            str(demo_data / "vindr-cxr"),
            "--out",
            str(tmp_path / "r"),
        ]
        + ["--option", "colour=blue"]
    )
    assert result.exit_code == 2  # usage: bench.errors
    assert "has no option 'colour'" in result.output and "Traceback" not in result.output


def test_unparseable_answers_never_abort_and_the_policy_decides(demo_data: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    records, _ = _answers(demo_data, answers, empty=2)
    base = ["--model", f"imt-text:{answers}", "--root", str(demo_data / "vindr-cxr")]

    absent = _run([*base, "--out", str(tmp_path / "absent")])
    assert absent.exit_code == 0, absent.output
    manifest = json.loads((tmp_path / "absent" / "manifest.json").read_text())
    assert "classification" in manifest["notes"]["unscored_tasks"]
    assert "unparseable_labels=negative" in manifest["notes"]["unscored_tasks"]["classification"]
    assert not (tmp_path / "absent" / "results" / "classification.json").exists()
    assert (tmp_path / "absent" / "results" / "localization.json").is_file()
    # the manifest's model block holds the final counts, equal to the notes counted from predictions.jsonl
    assert manifest["model"]["parse_failures"] == manifest["notes"]["parse_failures"] == {LIST_QUESTION: 2}
    # a rerun of the completed run reads it back, the unscored task included
    again = _run([*base, "--out", str(tmp_path / "absent")])
    assert again.exit_code == 0 and "classification not scored" in again.output

    negative = _run([*base, "--out", str(tmp_path / "negative"), "--option", "unparseable_labels=negative"])
    assert negative.exit_code == 0, negative.output
    run_dir = tmp_path / "negative"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["model"]["options"] == {"unparseable_labels": "negative"}
    assert manifest["model"]["unparseable_labels"] == "negative"
    results = json.loads((run_dir / "results" / "classification.json").read_text())
    # the two unparseable images score 0 for every label: an independent AUC on those scores
    preds = {
        json.loads(line)["id"]: json.loads(line)["labels"] for line in (run_dir / "predictions.jsonl").open()
    }
    for label, auc in results["per_label"]["auc"].items():
        truth = [r.labels[label] for r in records if r.labels and r.labels.get(label) is not None]
        if auc is None or len(set(truth)) < 2:
            continue
        scores = [preds[r.id][label] for r in records if r.labels and r.labels.get(label) is not None]
        assert auc == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)


def test_limit_makes_a_partial_run_that_never_enters_a_table(demo_data: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    records, _ = _answers(demo_data, answers)
    run_dir = tmp_path / "smoke"
    result = _run(
        ["--model", f"imt-text:{answers}", "--root", str(demo_data / "vindr-cxr"), "--out", str(run_dir)]
        + ["--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "partial run" in result.output
    lines = (run_dir / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r.id for r in records[:3]]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["partial"]["limit"] == 3 and manifest["partial"]["of"] == len(records)
    assert manifest["dataset"]["n"] == 3
    assert discover_runs([tmp_path]) == [] and partial_runs([tmp_path]) == [run_dir]
    # the same folder without --limit is a different run, refused rather than mixed
    full = _run(
        ["--model", f"imt-text:{answers}", "--root", str(demo_data / "vindr-cxr"), "--out", str(run_dir)]
    )
    assert full.exit_code == 2 and "differs in" in full.output and "limit" in full.output


class _ConstantModel:
    """An external image model that cannot train: answers 0.5 for every label (needs pixels, like clip: / hf:)."""

    tasks = frozenset({"classification"})
    needs_images = True
    can_train = False
    score_type = "continuous"

    def __init__(self, target: str, *, device: str = "cpu"):
        self.target = target

    def predict(self, batch, spec):
        from bench.records import Record

        return [
            Record(id=s.record.id, image=s.record.image, labels=dict.fromkeys(spec.labels, 0.5))
            for s in batch
        ]

    def describe(self):
        return {"spec": f"constant:{self.target}", "score_type": self.score_type}

    def fit(self, *args, **kwargs):
        raise NotImplementedError


def test_suite_skips_fine_tuning_of_models_that_cannot_train(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from bench.models import MODEL_KINDS
    from bench.run.suite import run_suite

    monkeypatch.setitem(MODEL_KINDS, "constant", f"{__name__}:_ConstantModel")
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    data = tmp_path / "data"
    data.mkdir()
    (data / "shenzhen").symlink_to(demo_data / "shenzhen")
    summary = run_suite("constant:x", "demo", tmp_path / "out", data, workers=0, n_boot=10, progress=False)
    shenzhen = [r for r in summary["runs"] if r["dataset"] == "shenzhen"]
    assert [r["mode"] for r in shenzhen] == ["zero-shot", "fine-tune"]
    assert shenzhen[0]["status"] == "ok"
    assert (
        shenzhen[1]["status"].startswith("skipped:")
        and "cannot be fine-tuned in-process" in shenzhen[1]["status"]
    )


def test_compare_refuses_tasks_without_a_paired_test(tmp_path: Path) -> None:
    gt = tmp_path / "gt.jsonl"
    gt.write_text('{"id": "a", "meta": {"attributes": {}}}\n', encoding="utf-8")
    result = cli.invoke(
        app, ["compare", "--task", "attributes", "--gt", str(gt), "--pred-a", str(gt), "--pred-b", str(gt),
              "--out", str(tmp_path / "c.json")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "paired comparison is not defined for 'attributes'" in result.output


def test_run_calibration_is_opt_in_and_recorded(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from bench.models import MODEL_KINDS

    monkeypatch.setitem(MODEL_KINDS, "constant", f"{__name__}:_ConstantModel")
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    base = ["run", "--model", "constant:x", "--dataset", "shenzhen", "--root", str(demo_data / "shenzhen")]
    base += ["--bootstrap", "20", "--workers", "0"]
    plain = cli.invoke(app, [*base, "--out", str(tmp_path / "plain")])
    calibrated = cli.invoke(app, [*base, "--out", str(tmp_path / "calibrated"), "--calibration"])
    assert plain.exit_code == 0 and calibrated.exit_code == 0, calibrated.output
    off = json.loads((tmp_path / "plain" / "results" / "classification.json").read_text())
    on = json.loads((tmp_path / "calibrated" / "results" / "classification.json").read_text())
    assert "brier_macro" not in off["metrics"] and off["settings"]["calibration"] is False
    assert on["settings"]["calibration"] is True
    # every score is 0.5: the Brier score is the mean of (0.5 - y)^2 = 0.25 whatever the labels (the demo's three
    # test images are all positive, so the macro mean skips the one-class label as AUC does)
    assert on["per_label"]["brier"]["Tuberculosis"] == pytest.approx(0.25)
    # the HTML report draws the reliability diagram of the calibrated run only
    from leaderboards.report import report_command

    for name in ("plain", "calibrated"):
        assert report_command([tmp_path / name], tmp_path / f"{name}.html") == 0
    assert "Reliability diagram" in (tmp_path / "calibrated.html").read_text()
    assert "Reliability diagram" not in (tmp_path / "plain.html").read_text()


def test_suite_takes_the_report_metric_and_calibration_options() -> None:
    import inspect

    from bench.cli import suite

    params = inspect.signature(suite).parameters
    for option in ("chexbert", "chexbert_tokenizer", "radgraph", "calibration", "option"):
        assert option in params
