"""Seeded synthetic ground truth + predictions for all four tasks in the record format (no images needed).

Used by the end-to-end scoring tests and benchmarks: labels with scores, boxes with jittered detections and false
positives, anatomy ellipses as RLE masks, and template reports whose findings agree with the labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from bench.records import write_records

FINDINGS = {
    "Cardiomegaly": ("the heart is enlarged", "heart size is normal"),
    "Pleural Effusion": ("small left pleural effusion", "no pleural effusion"),
    "Edema": ("mild pulmonary edema", "no pulmonary edema"),
    "Pneumothorax": ("small right apical pneumothorax", "no pneumothorax"),
    "Atelectasis": ("bibasilar atelectasis", "no atelectasis"),
}
BOX_LABELS = ["Nodule", "Mass", "Consolidation"]
STRUCTURES = ["left lung", "right lung", "heart"]
SIZE = 128


def _report(labels: dict[str, int]) -> str:
    findings = ". ".join(FINDINGS[name][0 if value else 1] for name, value in labels.items())
    impression = "no acute cardiopulmonary process" if not any(labels.values()) else "abnormal study"
    return f"FINDINGS: {findings}. IMPRESSION: {impression}."


def _ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def make_demo(out: Path, n: int = 120, seed: int = 0) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    gt, pred = [], []
    for i in range(n):
        rid = f"demo/{i:04d}"
        image = {"width": SIZE, "height": SIZE, "pixel_spacing_mm": [2.8, 2.8]}
        labels = {name: int(rng.random() < 0.3) for name in FINDINGS}
        scores = {k: float(np.clip(0.45 * v + 0.55 * rng.random(), 0, 1).round(3)) for k, v in labels.items()}
        boxes, pboxes = [], []
        for _ in range(rng.integers(0, 3)):
            x0, y0 = rng.uniform(5, 90, 2)
            w, h = rng.uniform(8, 30, 2)
            label = str(rng.choice(BOX_LABELS))
            boxes.append({"label": label, "bbox": [x0, y0, min(x0 + w, SIZE), min(y0 + h, SIZE)]})
            if rng.random() < 0.75:  # detected, with a jittered box
                j = rng.normal(0, 3, 4)
                bb = np.clip([x0 + j[0], y0 + j[1], x0 + w + j[2], y0 + h + j[3]], 0, SIZE)
                bb = [min(bb[0], bb[2]), min(bb[1], bb[3]), max(bb[0], bb[2]), max(bb[1], bb[3])]
                pboxes.append(
                    {"label": label, "bbox": [float(c) for c in bb], "score": float(rng.uniform(0.4, 1))}
                )
        for _ in range(rng.integers(0, 2)):  # false positives
            x0, y0 = rng.uniform(5, 90, 2)
            fp = [x0, y0, x0 + 15, y0 + 15]
            pboxes.append(
                {"label": str(rng.choice(BOX_LABELS)), "bbox": fp, "score": float(rng.uniform(0, 0.6))}
            )
        centres = {"left lung": (64, 92, 40, 20), "right lung": (64, 36, 40, 20), "heart": (80, 70, 18, 22)}
        masks, pmasks = {}, {}
        for s, (cy, cx, ry, rx) in centres.items():
            d = rng.normal(0, 2, 4)
            masks[s] = _rle(_ellipse(cy + d[0], cx + d[1], ry + d[2], rx + d[3]))
            e = rng.normal(0, 3, 4)
            pmasks[s] = _rle(_ellipse(cy + d[0] + e[0], cx + d[1] + e[1], ry + d[2] + e[2], rx + d[3] + e[3]))
        noisy = {k: (1 - v if rng.random() < 0.2 else v) for k, v in labels.items()}
        gt.append(
            {
                "id": rid,
                "image": image,
                "labels": labels,
                "boxes": boxes,
                "masks": masks,
                "report": _report(labels),
            }
        )
        pred.append(
            {
                "id": rid,
                "image": image,
                "labels": scores,
                "boxes": pboxes,
                "masks": pmasks,
                "report": _report(noisy),
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    write_records(out / "gt.jsonl", gt)
    write_records(out / "pred.jsonl", pred)
    return {"gt": out / "gt.jsonl", "pred": out / "pred.jsonl"}
