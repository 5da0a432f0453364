"""Real NIH ChestX-ray14 labels with the reproduce-chexnet model's predictions: `cxrbench score` equals sklearn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from cxrbench.cli import app

pytestmark = pytest.mark.realdata
FINDINGS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
            "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]  # fmt: skip


def test_chexnet_reference_predictions_on_621_nih_images(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "classification" / "nih_chexnet_starter_621"
    labels = pd.read_csv(folder / "labels.csv")
    preds = pd.read_csv(folder / "reference_preds_reproduce_chexnet.csv").set_index("Image Index")
    gt, pred = tmp_path / "gt.jsonl", tmp_path / "pred.jsonl"
    with gt.open("w") as g, pred.open("w") as p:
        for row in labels.itertuples(index=False):
            rid = row.image
            image = {"width": int(row.orig_width), "height": int(row.orig_height)}
            g.write(
                json.dumps({"id": rid, "image": image, "labels": {f: int(getattr(row, f)) for f in FINDINGS}})
            )
            g.write("\n")
            scores = {f: float(preds.loc[rid, f"prob_{f}"]) for f in FINDINGS}
            p.write(json.dumps({"id": rid, "labels": scores}) + "\n")
    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--task",
            "classification",
            "--gt",
            str(gt),
            "--pred",
            str(pred),
            "--out",
            str(out),
            "--bootstrap",
            "300",
            "--quiet",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text())
    assert res["n"] == 621
    aucs = []
    for f in FINDINGS:
        y, s = labels[f].to_numpy(), preds.loc[labels["image"], f"prob_{f}"].to_numpy()
        aucs.append(roc_auc_score(y, s))
        assert res["per_label"]["auc"][f] == pytest.approx(aucs[-1], abs=1e-12)
        assert res["per_label"]["ap"][f] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert res["metrics"]["auc_macro"]["value"] == pytest.approx(np.mean(aucs), abs=1e-12)
    lo, hi = res["metrics"]["auc_macro"]["ci95"]
    assert lo < np.mean(aucs) < hi and hi - lo < 0.1
