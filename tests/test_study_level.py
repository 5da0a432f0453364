"""Study-level scoring (issue 11): one case per study where the ground truth belongs to the study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.metrics.report_task import score_report
from bench.records import RecordError
from bench.run.score import ScoreSettings, build_results

SETTINGS = ScoreSettings(n_boot=0, meteor=False)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _report_files(tmp_path: Path, second_report: str = "Small left effusion.") -> tuple[Path, Path]:
    meta = {"patient": "p1"}
    gt = [
        {"id": "a-lat", "report": "No acute process.", "meta": meta | {"study": "s1", "view": "LATERAL"}},
        {"id": "a-pa", "report": "No acute process.", "meta": meta | {"study": "s1", "view": "PA"}},
        {"id": "b-ap", "report": "Small left effusion.", "meta": meta | {"study": "s2", "view": "AP"}},
        {"id": "b-ap2", "report": second_report, "meta": meta | {"study": "s2", "view": "AP"}},
        {"id": "c-ll", "report": "Clear lungs.", "meta": {"patient": "p2", "study": "s3", "view": "LL"}},
    ]
    pred = [
        {"id": "a-lat", "report": "lateral view text"},
        {"id": "a-pa", "report": "No acute process."},
        {"id": "b-ap", "report": "Small effusion on the left."},
        {"id": "b-ap2", "report": "second AP text"},
        {"id": "c-ll", "report": "Lungs are clear."},
    ]
    return _write(tmp_path / "gt.jsonl", gt), _write(tmp_path / "pred.jsonl", pred)


def test_report_is_scored_once_per_study_on_the_frontal_prediction(tmp_path: Path) -> None:
    gt, pred = _report_files(tmp_path)
    results = build_results("report", gt, pred, SETTINGS)
    assert results["n"] == 3 and results["settings"]["level"] == "study"
    assert "frontal_first" in results["conventions"]["level"]
    expected = score_report(
        ["No acute process.", "Small left effusion.", "Clear lungs."],
        ["No acute process.", "Small effusion on the left.", "Lungs are clear."],
        run_meteor=False,
    )
    for name in ("bleu1", "bleu4", "rouge_l", "cider"):
        assert results["metrics"][name]["value"] == pytest.approx(expected.metrics[name].value, abs=1e-12)
    per_image = build_results("report", gt, pred, ScoreSettings(n_boot=0, meteor=False, level="image"))
    assert per_image["n"] == 5 and per_image["settings"]["level"] == "image"


def test_a_study_with_two_reports_is_an_error(tmp_path: Path) -> None:
    gt, pred = _report_files(tmp_path, second_report="Something else.")
    with pytest.raises(RecordError, match="report differs") as error:
        build_results("report", gt, pred, SETTINGS)
    assert error.value.line == 4


def _labels_files(tmp_path: Path, disagree: bool = False) -> tuple[Path, Path, dict[str, list[float]]]:
    rng = np.random.default_rng(0)
    gt, pred, by_study = [], [], {}
    for k in range(40):
        study = f"s{k // 2}"
        label = float((k // 2) % 3 == 0)
        if disagree and k == 5:
            label = 1.0 - label
        gt.append({"id": f"i{k}", "labels": {"x": label}, "meta": {"study": study}})
        score = float(rng.random())
        pred.append({"id": f"i{k}", "labels": {"x": score}})
        by_study.setdefault(study, []).append(score)
    return _write(tmp_path / "gt.jsonl", gt), _write(tmp_path / "pred.jsonl", pred), by_study


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_classification_per_study_equals_sklearn_on_aggregated_scores(tmp_path: Path, aggregate: str) -> None:
    gt, pred, by_study = _labels_files(tmp_path)
    settings = ScoreSettings(n_boot=0, level="study", study_aggregate=aggregate)
    results = build_results("classification", gt, pred, settings)
    reduce = np.max if aggregate == "max" else np.mean
    y = [float(int(s[1:]) % 3 == 0) for s in by_study]
    scores = [float(reduce(v)) for v in by_study.values()]
    assert results["n"] == 20 and results["settings"]["study_aggregate"] == aggregate
    assert results["per_label"]["auc"]["x"] == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert build_results("classification", gt, pred, ScoreSettings(n_boot=0))["settings"]["level"] == "image"


def test_study_images_that_disagree_on_a_label_are_an_error(tmp_path: Path) -> None:
    gt, pred, _ = _labels_files(tmp_path, disagree=True)
    with pytest.raises(RecordError, match="labels differs") as error:
        build_results("classification", gt, pred, ScoreSettings(n_boot=0, level="study"))
    assert error.value.line == 6


def test_study_level_needs_the_study_key(tmp_path: Path) -> None:
    gt = _write(tmp_path / "gt.jsonl", [{"id": "a", "labels": {"x": 1.0}}, {"id": "b", "labels": {"x": 0.0}}])
    pred = _write(
        tmp_path / "p.jsonl", [{"id": "a", "labels": {"x": 0.2}}, {"id": "b", "labels": {"x": 0.1}}]
    )
    with pytest.raises(RecordError, match="no meta.study"):
        build_results("classification", gt, pred, ScoreSettings(n_boot=0, level="study"))


def test_compare_scores_the_same_study_level_cases(tmp_path: Path) -> None:
    from bench.run.compare import compare_files

    gt, pred = _report_files(tmp_path)
    other = _write(
        tmp_path / "other.jsonl",
        [{"id": i, "report": "No acute process."} for i in ("a-lat", "a-pa", "b-ap", "b-ap2", "c-ll")],
    )
    result = compare_files(
        "report", gt, pred, other, tmp_path / "cmp.json", metrics=["bleu4"], n_boot=20, n_perm=20
    )
    assert result["n"] == 3 and result["settings"]["level"] == "study"
    score = build_results("report", gt, pred, SETTINGS)
    assert result["comparisons"]["bleu4"]["a"] == pytest.approx(score["metrics"]["bleu4"]["value"], abs=1e-12)


def test_tables_and_report_say_study_level(tmp_path: Path) -> None:
    from leaderboards.conventions import convention_footnote
    from leaderboards.report import metrics_table

    gt, pred = _report_files(tmp_path)
    results = build_results("report", gt, pred, ScoreSettings(n_boot=10, meteor=False))
    footnote = convention_footnote("report", "bleu4", results)
    assert "bootstrap over patients (2 patients)" in footnote and "frontal_first" in footnote
    assert "one case per study" in metrics_table(results)
