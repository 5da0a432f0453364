"""`cxrbench score` end to end: numbers equal the references, files are deterministic, bad input writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from cxrbench.cli import app

runner = CliRunner()
LABELS = ["Atelectasis", "Cardiomegaly", "Effusion", "Hernia"]


def _classification_files(
    tmp_path: Path, n: int = 120, seed: int = 3
) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(LABELS))) < 0.3).astype(float)
    y[rng.random((n, len(LABELS))) < 0.1] = np.nan  # unknown ground truth
    y[:, 3] = np.where(np.isnan(y[:, 3]), np.nan, 0.0)  # Hernia: single class -> skipped
    s = np.clip(0.35 * np.nan_to_num(y) + rng.random(y.shape) * 0.7, 0, 1).round(2)  # ties on purpose
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    with gt.open("w") as g, pred.open("w") as p:
        for i in range(n):
            labels = {name: (None if np.isnan(y[i, j]) else int(y[i, j])) for j, name in enumerate(LABELS)}
            g.write(json.dumps({"id": f"img{i}", "labels": labels}) + "\n")
            p.write(
                json.dumps({"id": f"img{i}", "labels": dict(zip(LABELS, s[i].tolist(), strict=True))}) + "\n"
            )
    return gt, pred, y, s


def _score(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, ["score", *args])
    return result.exit_code, result.output


def test_classification_matches_sklearn_and_is_deterministic(tmp_path: Path) -> None:
    gt, pred, y, s = _classification_files(tmp_path)
    out1, out2 = tmp_path / "r1.json", tmp_path / "r2.json"
    base = [
        "--task",
        "classification",
        "--gt",
        str(gt),
        "--pred",
        str(pred),
        "--bootstrap",
        "200",
        "--seed",
        "7",
    ]
    assert _score([*base, "--out", str(out1), "--quiet"])[0] == 0
    assert _score([*base, "--out", str(out2), "--quiet"])[0] == 0
    assert out1.read_bytes() == out2.read_bytes()
    res = json.loads(out1.read_text())
    assert res["task"] == "classification" and res["n"] == 120
    aucs = []
    for j, name in enumerate(LABELS[:3]):
        known = ~np.isnan(y[:, j])
        auc = roc_auc_score(y[known, j], s[known, j])
        ap = average_precision_score(y[known, j], s[known, j])
        assert res["per_label"]["auc"][name] == pytest.approx(auc, abs=1e-12)
        assert res["per_label"]["ap"][name] == pytest.approx(ap, abs=1e-12)
        aucs.append(auc)
    assert res["metrics"]["auc_macro"]["value"] == pytest.approx(np.mean(aucs), abs=1e-12)
    lo, hi = res["metrics"]["auc_macro"]["ci95"]
    assert lo < res["metrics"]["auc_macro"]["value"] < hi
    assert res["per_label"]["auc"]["Hernia"] is None
    assert "Hernia" in json.dumps(res["notes"])
    assert res["provenance"]["seed"] == 7
    assert len(res["provenance"]["inputs"]["gt"]["sha256"]) == 64
    # A different seed moves the CI, not the point estimate.
    out3 = tmp_path / "r3.json"
    assert _score([*base[:-1], "8", "--out", str(out3), "--quiet"])[0] == 0
    res3 = json.loads(out3.read_text())
    assert res3["metrics"]["auc_macro"]["value"] == res["metrics"]["auc_macro"]["value"]
    assert res3["metrics"]["auc_macro"]["ci95"] != res["metrics"]["auc_macro"]["ci95"]


@pytest.mark.parametrize(
    ("mutate", "fragment", "where"),
    [
        (lambda lines: lines[:-1], "has no prediction for id 'img119'", "pred"),
        (lambda lines: [*lines, lines[0]], "duplicate id 'img0' (first on line 1)", "pred:121"),
        (
            lambda lines: [lines[0].replace("Atelectasis", "Atelectasis_typo"), *lines[1:]],
            "no score for label",
            "pred:1",
        ),
        (
            lambda lines: [*lines[:5], lines[5].replace(": 0.", ": 7.", 1), *lines[6:]],
            "probabilities in [0, 1]",
            "pred:6",
        ),
        (lambda lines: [*lines, '{"id": "stranger", "labels": {}}'], "not in the ground truth", "pred:121"),
    ],
)
def test_bad_predictions_fail_cleanly(tmp_path: Path, mutate, fragment: str, where: str) -> None:
    gt, pred, _, _ = _classification_files(tmp_path)
    lines = pred.read_text().splitlines()
    pred.write_text("\n".join(mutate(lines)) + "\n")
    out = tmp_path / "r.json"
    code, output = _score(
        ["--task", "classification", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]
    )
    assert code == 2
    assert fragment in output
    file_part = where.split(":")[0]
    assert f"{file_part}.jsonl" in output
    if ":" in where:
        assert f"{file_part}.jsonl:{where.split(':')[1]}" in output
    assert not out.exists()


def test_task_without_its_field_is_an_error(tmp_path: Path) -> None:
    gt, pred, _, _ = _classification_files(tmp_path)
    out = tmp_path / "r.json"
    code, output = _score(["--task", "localization", "--gt", str(gt), "--pred", str(pred), "--out", str(out)])
    assert code == 2 and "no record has a 'boxes' field" in output
    assert not out.exists()


def _one_image(tmp_path: Path, gt_extra: dict, pred_extra: dict) -> tuple[Path, Path]:
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    image = {"width": 64, "height": 48}
    gt.write_text(json.dumps({"id": "a", "image": image, **gt_extra}) + "\n")
    pred.write_text(json.dumps({"id": "a", **pred_extra}) + "\n")
    return gt, pred


@pytest.mark.parametrize(
    ("task", "gt_extra", "pred_extra", "fragment"),
    [
        (
            "localization",
            {"boxes": []},
            {"boxes": [{"label": "Nodule", "bbox": [10, 10, 70, 20], "score": 0.5}]},
            "lies outside the 64x48 image",
        ),
        ("localization", {"boxes": []}, {"labels": {}}, "no 'boxes' list"),
        (
            "segmentation",
            {"masks": {"heart": {"size": [48, 64], "counts": "PQ1"}}},
            {"masks": {"heart": {"size": [64, 48], "counts": "PQ1"}}},
            "ground truth has [48, 64]",
        ),
        ("report", {"report": "No effusion."}, {"labels": {}}, "has no 'report'"),
    ],
)
def test_bad_task_inputs_name_file_and_line(
    tmp_path: Path, task: str, gt_extra: dict, pred_extra: dict, fragment: str
) -> None:
    gt, pred = _one_image(tmp_path, gt_extra, pred_extra)
    out = tmp_path / "r.json"
    code, output = _score(
        ["--task", task, "--gt", str(gt), "--pred", str(pred), "--out", str(out), "--no-meteor"]
    )
    assert code == 2, output
    assert f"{pred}:1" in output.replace("\n", "") and fragment in output.replace("\n", "")
    assert not out.exists()


def test_binary_scores_are_flagged(tmp_path: Path) -> None:
    gt, pred, y, s = _classification_files(tmp_path)
    binary = tmp_path / "binary.jsonl"
    with binary.open("w") as handle:
        for line in pred.read_text().splitlines():
            record = json.loads(line)
            record["labels"] = {k: float(v >= 0.5) for k, v in record["labels"].items()}
            handle.write(json.dumps(record) + "\n")
    out = tmp_path / "r.json"
    assert _score(["--task", "classification", "--gt", str(gt), "--pred", str(binary), "--out", str(out),
                   "--bootstrap", "0"])[0] == 0  # fmt: skip
    res = json.loads(out.read_text())
    assert res["notes"]["score_type"] == "binary" and "TPR + TNR" in res["conventions"]["binary_scores"]
    known = ~np.isnan(y[:, 0])
    yb, sb = y[known, 0], (s[known, 0] >= 0.5).astype(float)
    tpr, tnr = sb[yb == 1].mean(), 1 - sb[yb == 0].mean()
    assert res["per_label"]["auc"]["Atelectasis"] == pytest.approx((tpr + tnr) / 2, abs=1e-12)
    _score(
        [
            "--task",
            "classification",
            "--gt",
            str(gt),
            "--pred",
            str(pred),
            "--out",
            str(out),
            "--bootstrap",
            "0",
        ]
    )
    assert json.loads(out.read_text())["notes"]["score_type"] == "continuous"
