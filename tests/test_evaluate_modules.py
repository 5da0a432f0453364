"""The evaluate modules load offline from the installed package and return what `cxrbench score` writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from typer.testing import CliRunner

import bench
from bench.evaluate_modules import MODULE_TASKS, path
from bench.metrics.report.meteor_nltk import wordnet_missing

# Runs in a fresh interpreter with the hub switched off and every socket connection refused: a module that tried
# the network would fail here instead of falling back.
LOAD_AND_COMPUTE = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
import evaluate
assert evaluate.config.HF_EVALUATE_OFFLINE
from bench.evaluate_modules import path
cases = json.load(open(sys.argv[1]))
out = {}
for task, case in cases.items():
    module = evaluate.load(path(task), keep_in_memory=True)
    out[task] = module.compute(predictions=case["predictions"], references=case["references"], **case["options"])
json.dump(out, open(sys.argv[2], "w"))
"""


def rle(mask: np.ndarray) -> dict[str, Any]:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def make_cases() -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(7)
    n = 40
    ids = [f"img-{i:02d}" for i in range(n)]
    patients = [f"p{i // 2}" for i in range(n)]
    truth = (rng.random((n, 3)) < 0.4).astype(float)
    scores = np.clip(truth * 0.35 + rng.random((n, 3)) * 0.65, 0, 1)
    references = [[None if (i, j) in {(3, 1), (8, 2)} else truth[i, j] for j in range(3)] for i in range(n)]
    classification = {
        "predictions": scores.round(6).tolist(),
        "references": references,
        "options": {
            "labels": ["Atelectasis", "Edema", "Effusion"],
            "bootstrap": 200,
            "seed": 3,
            "calibration": True,
            "ids": ids,
            "patients": patients,
        },
    }
    boxes_gt, boxes_pred = [], []
    for i in range(12):
        gt = [
            {"label": ["Nodule", "Mass"][k % 2], "bbox": [10.0 + 40 * k, 20.0, 50.0 + 40 * k, 70.0]}
            for k in range(i % 3)
        ]
        pred = [
            {
                "label": b["label"],
                "bbox": [v + float(rng.integers(-6, 7)) for v in b["bbox"]],
                "score": round(float(rng.random()), 4),
            }
            for b in gt
        ] + [{"label": "Nodule", "bbox": [200.0, 200.0, 230.0, 240.0], "score": 0.2 + 0.05 * i}]
        boxes_gt.append(gt)
        boxes_pred.append(pred)  # fmt: skip
    localization = {
        "predictions": boxes_pred,
        "references": boxes_gt,
        "options": {"froc_hit": "iou@0.5", "bootstrap": 100, "seed": 1, "ids": [f"b{i}" for i in range(12)]},
    }
    seg_gt, seg_pred = [], []
    for i in range(8):
        lung = np.zeros((32, 24), bool)
        lung[4 : 20 + i, 3:15] = True
        guess = np.roll(lung, i % 3, axis=1)
        heart = np.zeros((32, 24), bool)
        if i % 4:
            heart[10:18, 8 : 8 + 2 * (i % 4)] = True
        seg_gt.append([{"structure": "left lung", **rle(lung)}, {"structure": "heart", **rle(heart)}])
        seg_pred.append(
            [{"structure": "left lung", **rle(guess)}, {"structure": "heart", **rle(heart[::-1])}]
        )
    segmentation = {
        "predictions": seg_pred,
        "references": seg_gt,
        "options": {
            "empty_rule": "one",
            "bootstrap": 100,
            "seed": 2,
            "ids": [f"s{i}" for i in range(8)],
            "pixel_spacing_mm": [[0.5, 0.5]] * 8,
        },
    }
    refs = [
        "No acute cardiopulmonary process. Heart size is normal.",
        "Small left pleural effusion. No pneumothorax.",
        "Mild cardiomegaly with pulmonary edema.",
        "The lungs are clear. No focal consolidation.",
        "Right lower lobe opacity, likely pneumonia.",
        "Stable cardiomegaly. Atelectasis at the left base.",
    ]
    hyps = [
        "Heart size normal. No acute process.",
        "There is a small effusion on the left side.",
        "Enlarged heart and edema in the lungs.",
        "",
        "Opacity in the right lower lobe concerning for pneumonia.",
        "Cardiomegaly. Left basilar atelectasis. No effusion.",
    ]
    report_options: dict[str, Any] = {"bootstrap": 100, "seed": 4, "ids": [f"r{i}" for i in range(6)]}
    report_options["meteor"] = shutil.which("java") is not None
    report_options["meteor_nltk"] = wordnet_missing() is None
    report = {"predictions": hyps, "references": refs, "options": report_options}
    return {
        "classification": classification,
        "localization": localization,
        "segmentation": segmentation,
        "report": report,
    }


def records_of(task: str, case: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The same cases as record-format JSONL lines (docs/formats.md), written independently of the modules."""
    opts = case["options"]
    gt, pred = [], []
    for i, (p, r) in enumerate(zip(case["predictions"], case["references"], strict=True)):
        g: dict[str, Any] = {"id": opts["ids"][i]}
        q: dict[str, Any] = {"id": opts["ids"][i]}
        if task == "classification":
            g["labels"] = dict(zip(opts["labels"], r, strict=True))
            q["labels"] = dict(zip(opts["labels"], p, strict=True))
            g["meta"] = {"patient": opts["patients"][i]}
        elif task == "localization":
            g["boxes"], q["boxes"] = r, p
        elif task == "segmentation":
            g["masks"] = {m["structure"]: {"size": m["size"], "counts": m["counts"]} for m in r}
            q["masks"] = {m["structure"]: {"size": m["size"], "counts": m["counts"]} for m in p}
            h, w = r[0]["size"]
            g["image"] = {"width": w, "height": h, "pixel_spacing_mm": opts["pixel_spacing_mm"][i]}
        else:
            g["report"], q["report"] = r, p
        gt.append(g)
        pred.append(q)
    return gt, pred


def cli_options(task: str, options: dict[str, Any]) -> list[str]:
    args = ["--bootstrap", str(options["bootstrap"]), "--seed", str(options["seed"])]
    if task == "classification":
        args += ["--labels", ",".join(options["labels"]), "--calibration"]
    if task == "localization":
        args += ["--froc-hit", options["froc_hit"]]
    if task == "segmentation":
        args += ["--empty-rule", options["empty_rule"]]
    if task == "report":
        args += ["--meteor" if options["meteor"] else "--no-meteor"]
        args += ["--meteor-nltk"] if options["meteor_nltk"] else []
    return args


@pytest.fixture(scope="module")
def module_outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("evaluate_modules")
    cases = make_cases()
    (folder / "cases.json").write_text(json.dumps(cases))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_EVALUATE_OFFLINE": "1",
        "HF_HOME": str(folder / "hf"),
        "HF_MODULES_CACHE": str(folder / "modules"),
    }
    run = subprocess.run(
        [sys.executable, "-c", LOAD_AND_COMPUTE, str(folder / "cases.json"), str(folder / "out.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return cases, json.loads((folder / "out.json").read_text()), folder


@pytest.mark.slow
@pytest.mark.parametrize("task", MODULE_TASKS)
def test_module_equals_cxrbench_score(task: str, module_outputs: tuple[dict, dict, Path]) -> None:
    from cxrbench.cli import app

    cases, outputs, folder = module_outputs
    case = cases[task]
    gt, pred = records_of(task, case)
    gt_path, pred_path, out_path = (
        folder / f"{task}-gt.jsonl",
        folder / f"{task}-pred.jsonl",
        folder / f"{task}.json",
    )
    gt_path.write_text("".join(json.dumps(r) + "\n" for r in gt))
    pred_path.write_text("".join(json.dumps(r) + "\n" for r in pred))
    command = [
        "score",
        "--task",
        task,
        "--gt",
        str(gt_path),
        "--pred",
        str(pred_path),
        "--out",
        str(out_path),
    ]
    result = CliRunner().invoke(app, [*command, *cli_options(task, case["options"]), "--quiet"])
    assert result.exit_code == 0, result.output
    expected = json.loads(out_path.read_text())
    got = outputs[task]
    expected["provenance"].pop("inputs")
    assert sorted(got) == sorted(expected)
    for key in expected:
        assert got[key] == expected[key], key
    metrics = got["metrics"]
    if task == "classification":
        assert {"auc_macro", "ap_macro", "brier_macro"} <= set(metrics) and set(got["per_label"]) >= {
            "auc",
            "ap",
        }
        assert got["settings"]["cluster"] == "patient" and got["settings"]["n_clusters"] == 20
    if task == "localization":
        assert {"map_coco", "ap50"} <= set(metrics) and got["settings"]["froc_hit"] == "iou@0.5"
    if task == "segmentation":
        assert any(name.startswith("dice") for name in metrics) and got["settings"]["empty_rule"] == "one"
    if task == "report":
        assert {"bleu4", "rouge_l", "cider", "ce_micro_f1"} <= set(metrics)
        assert ("meteor_nltk" in metrics) == case["options"]["meteor_nltk"]


def test_path_is_inside_the_installed_package() -> None:
    root = Path(bench.__file__).resolve().parent
    for task in MODULE_TASKS:
        folder = Path(path(task))
        assert folder.parent == root / "evaluate_modules" and (folder / f"{task}.py").is_file()
    with pytest.raises(ValueError, match="choose one of"):
        path("attributes")


def test_module_scripts_ship_as_packages() -> None:
    """pyproject's packages.find (include bench*) picks up every module folder, so a wheel carries the scripts."""
    from setuptools import find_packages

    found = set(find_packages(str(Path(bench.__file__).resolve().parents[1]), include=["bench*"]))
    assert {f"bench.evaluate_modules.{task}" for task in MODULE_TASKS} <= found


def test_options_use_the_cli_names_and_values() -> None:
    from bench.evaluate_modules.scoring import score_cases

    refs, hyps = ["a b c"], ["a b c"]
    with pytest.raises(
        ValueError, match=r"froc_hit='iou50': choose one of center_in_object, center_in_box, iou@0.5"
    ):
        score_cases("localization", [[]], [[]], {"froc_hit": "iou50"})
    with pytest.raises(ValueError, match="unknown option.*empty_rule"):
        score_cases("report", hyps, refs, {"empty_rule": "one"})
    with pytest.raises(ValueError, match=r"ce_labelset='mimic': choose one of chexpert, chestxray14"):
        score_cases("report", hyps, refs, {"ce_labelset": "mimic"})
    with pytest.raises(ValueError, match=r"predictions\[1\] has 1 values for 2 labels"):
        score_cases("classification", [[0.1, 0.2], [0.3]], [[1, 0], [0, 1]], {"labels": "A,B"})
    with pytest.raises(ValueError, match=r"^predictions\[0\]: record 'case0': predicted label 'A' is None"):
        score_cases("classification", [[None, 0.2]], [[1, 0]], {"labels": "A,B", "bootstrap": 0})
    with pytest.raises(ValueError, match="finite numbers"):
        score_cases("classification", [[float("nan"), 0.2]], [[1, 0]], {"labels": ["A", "B"]})
