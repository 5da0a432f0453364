"""End to end through `cxrbench score` / `compare` / `label-reports` on the demo generator, against the references."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from typer.testing import CliRunner

from bench.synthetic import make_demo
from cxrbench.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_demo(tmp_path_factory.mktemp("demo"), n=40, seed=5)


def _run(*args: str) -> dict:
    out = Path(args[args.index("--out") + 1])
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_localization_equals_pycocotools(demo: dict[str, Path], tmp_path: Path) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    res = _run("score", "--task", "localization", "--gt", str(demo["gt"]), "--pred", str(demo["pred"]),
               "--out", str(tmp_path / "r.json"), "--bootstrap", "0")  # fmt: skip
    gt, pred = _lines(demo["gt"]), _lines(demo["pred"])
    labels = sorted({b["label"] for r in gt for b in r["boxes"]})
    cat = {name: k + 1 for k, name in enumerate(labels)}
    images = [
        {"id": i + 1, "width": r["image"]["width"], "height": r["image"]["height"]} for i, r in enumerate(gt)
    ]
    anns, dets = [], []
    for i, (g, p) in enumerate(zip(gt, pred, strict=True)):
        for b in g["boxes"]:
            x0, y0, x1, y1 = b["bbox"]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cat[b["label"]],
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})  # fmt: skip
        for b in p["boxes"]:
            x0, y0, x1, y1 = b["bbox"]
            dets.append({"image_id": i + 1, "category_id": cat[b["label"]], "bbox": [x0, y0, x1 - x0, y1 - y0],
                         "score": b["score"]})  # fmt: skip
    coco = COCO()
    coco.dataset = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": v, "name": k} for k, v in cat.items()],
    }
    coco.createIndex()
    evaluator = COCOeval(coco, coco.loadRes(dets), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert res["metrics"]["map_coco"]["value"] == pytest.approx(evaluator.stats[0], abs=1e-9)
    assert res["metrics"]["ap50"]["value"] == pytest.approx(evaluator.stats[1], abs=1e-9)


def test_segmentation_equals_numpy(demo: dict[str, Path], tmp_path: Path) -> None:
    res = _run("score", "--task", "segmentation", "--gt", str(demo["gt"]), "--pred", str(demo["pred"]),
               "--out", str(tmp_path / "r.json"), "--bootstrap", "50")  # fmt: skip
    gt, pred = _lines(demo["gt"]), _lines(demo["pred"])
    means = []
    for s in ("left lung", "right lung", "heart"):
        dices = []
        for g, p in zip(gt, pred, strict=True):
            a = (
                mask_utils.decode({"size": g["masks"][s]["size"], "counts": g["masks"][s]["counts"].encode()})
                > 0
            )
            b = (
                mask_utils.decode({"size": p["masks"][s]["size"], "counts": p["masks"][s]["counts"].encode()})
                > 0
            )
            dices.append(2 * (a & b).sum() / (a.sum() + b.sum()))
        assert res["per_label"]["dice"][s] == pytest.approx(np.mean(dices), abs=1e-12)
        means.append(np.mean(dices))
    assert res["metrics"]["dice_mean"]["value"] == pytest.approx(np.mean(means), abs=1e-12)
    assert res["conventions"]  # the empty-mask rule is written down
    assert "exclude" in json.dumps(res["settings"])


def test_report_nlg_and_ce(demo: dict[str, Path], tmp_path: Path) -> None:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    from bench.metrics.clinical_efficacy import ce_metrics
    from bench.metrics.labeler import LABELSETS, label_reports
    from bench.metrics.report import tokenize

    res = _run("score", "--task", "report", "--gt", str(demo["gt"]), "--pred", str(demo["pred"]),
               "--out", str(tmp_path / "r.json"), "--bootstrap", "100", "--no-meteor")  # fmt: skip
    refs = [r["report"] for r in _lines(demo["gt"])]
    hyps = [r["report"] for r in _lines(demo["pred"])]
    ref_tok, hyp_tok = tokenize(refs), tokenize(hyps)
    gts = {i: [" ".join(t)] for i, t in enumerate(ref_tok)}
    out = {i: [" ".join(t)] for i, t in enumerate(hyp_tok)}
    bleu, _ = Bleu(4).compute_score(gts, out, verbose=0)
    for k in range(4):
        assert res["metrics"][f"bleu{k + 1}"]["value"] == pytest.approx(bleu[k], abs=1e-9)
    assert res["metrics"]["rouge_l"]["value"] == pytest.approx(Rouge().compute_score(gts, out)[0], abs=1e-9)
    assert res["metrics"]["cider"]["value"] == pytest.approx(Cider().compute_score(gts, out)[0], abs=1e-9)
    ce = ce_metrics(label_reports(refs), label_reports(hyps), LABELSETS["chexpert"])
    assert res["metrics"]["ce_micro_f1"]["value"] == pytest.approx(ce["ce_micro_f1"], abs=1e-12)
    assert res["metrics"]["meteor"]["value"] is None and "meteor" in res["notes"]["unavailable"]
    assert (
        res["metrics"]["bertscore_f1"]["value"] is None
        and "--bertscore-model" in res["notes"]["unavailable"]["bertscore_f1"]
    )
    assert res["conventions"]["clinical_efficacy"]["labelset"] == "chexpert"


def test_compare_identical_and_different(demo: dict[str, Path], tmp_path: Path) -> None:
    worse = tmp_path / "worse.jsonl"
    rng = np.random.default_rng(0)
    with worse.open("w") as handle:
        for r in _lines(demo["pred"]):
            r["labels"] = {k: float(rng.random()) for k in r["labels"]}
            handle.write(json.dumps(r) + "\n")
    base = ["compare", "--task", "classification", "--gt", str(demo["gt"]), "--bootstrap", "200",
            "--permutations", "200"]  # fmt: skip
    same = _run(
        *base, "--pred-a", str(demo["pred"]), "--pred-b", str(demo["pred"]), "--out", str(tmp_path / "s.json")
    )
    c = same["comparisons"]["auc_macro"]
    assert c["diff"] == 0 and c["approximate_randomization"]["p_value"] == 1.0
    diff = _run(
        *base, "--pred-a", str(demo["pred"]), "--pred-b", str(worse), "--out", str(tmp_path / "d.json")
    )
    c = diff["comparisons"]["auc_macro"]
    assert c["diff"] > 0.2
    assert c["approximate_randomization"]["p_value"] == pytest.approx(1 / 201)
    assert c["paired_bootstrap"]["ci95"][0] > 0
    assert all(row is None or 0 <= row["p_holm"] <= 1 for row in diff["paired_auc"]["per_label"].values())


def test_label_reports_csv(tmp_path: Path) -> None:
    from bench.metrics.labeler import LABELSETS, label_reports

    reports = ["No pleural effusion. Heart size is enlarged.", "Possible right lower lobe pneumonia.", ""]
    src = tmp_path / "reports.jsonl"
    src.write_text("".join(json.dumps({"id": f"r{i}", "report": t}) + "\n" for i, t in enumerate(reports)))
    out = tmp_path / "labels.csv"
    result = runner.invoke(
        app, ["label-reports", "--in", str(src), "--out", str(out), "--labelset", "chexpert"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["id", *LABELSETS["chexpert"]]
    expected = label_reports(reports)
    for row, values in zip(rows[1:], expected, strict=True):
        assert row[1:] == ["" if np.isnan(v) else str(int(v)) for v in values]
    assert rows[1][rows[0].index("Cardiomegaly")] == "1"
    assert rows[1][rows[0].index("Pleural Effusion")] == "0"
    assert rows[2][rows[0].index("Pneumonia")] == "-1"
    src.write_text('{"id": "r0"}\n')
    bad = runner.invoke(app, ["label-reports", "--in", str(src), "--out", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2 and "reports.jsonl:1" in bad.output and not (tmp_path / "x.csv").exists()
