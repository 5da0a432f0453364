"""Qualitative examples: a few images with their true and predicted boxes / contours and both reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.segmentation import decode_mask
from bench.records import Record, read_records
from leaderboards.report.figures import example_figure

MAX_PRED_BOXES = 5
MAX_IMAGE_SIDE = 512  # pixels drawn; larger images are subsampled (the plot is small anyway)


@dataclass
class Example:
    id: str
    figure: str | None  # data URI; None when the record has neither boxes nor masks
    source: str  # "image file <path>" or why a blank canvas was drawn
    reference_report: str | None
    generated_report: str | None


def _size(gt: Record, pred: Record | None) -> tuple[int, int] | None:
    if gt.image is not None:
        return gt.image.width, gt.image.height
    for rec in (gt, pred):
        for mask in ((rec.masks or {}) if rec is not None else {}).values():
            if mask is not None:
                return int(mask.size[1]), int(mask.size[0])
    return None


def _pixels(gt: Record, dataset_root: str | None, size: tuple[int, int]) -> tuple[np.ndarray | None, str]:
    rel = (gt.meta or {}).get("path")
    if not rel:
        return None, "blank canvas (the ground truth names no image file)"
    path = Path(rel) if Path(rel).is_absolute() or dataset_root is None else Path(dataset_root) / rel
    if not path.is_file():
        return None, f"blank canvas ({path} is not on this machine)"
    from bench.datasets.io import load_image

    try:
        pixels = load_image(path)
    except Exception as exc:  # any unreadable image still gets its canvas
        return None, f"blank canvas ({path} could not be read: {exc})"
    if pixels.shape[::-1] != size:
        return (
            None,
            f"blank canvas ({path} is {pixels.shape[1]}x{pixels.shape[0]}, records say {size[0]}x{size[1]})",
        )
    step = -(-max(pixels.shape) // MAX_IMAGE_SIDE)
    return pixels[::step, ::step], f"image file {path}"


def _decoded(rec: Record | None) -> dict[str, np.ndarray]:
    if rec is None:
        return {}
    return {name: decode_mask(m.rle()) for name, m in (rec.masks or {}).items() if m is not None}


def build_examples(run_dir: Path, manifest: dict[str, Any], count: int = 3) -> list[Example]:
    """The first `count` records (gt order) that carry boxes, masks or a report in the ground truth."""
    dataset = manifest.get("dataset")
    root = dataset.get("root") if isinstance(dataset, dict) else None
    preds = {rec.id: rec for _, rec in read_records(run_dir / "predictions.jsonl", "pred")}
    examples: list[Example] = []
    for _, gt in read_records(run_dir / "gt.jsonl", "gt"):
        if len(examples) == count:
            break
        pred = preds.get(gt.id)
        if gt.boxes is None and gt.masks is None and gt.report is None:
            continue
        figure, source = None, "no boxes or masks to draw"
        size = _size(gt, pred)
        if (gt.boxes is not None or gt.masks is not None) and size is not None:
            pixels, source = _pixels(gt, root, size)
            pred_boxes = sorted((pred.boxes or []) if pred else [], key=lambda b: -(b.score or 0.0))
            figure = example_figure(
                pixels,
                size,
                [(b.label, b.bbox) for b in gt.boxes or []],
                [(b.label, b.bbox, b.score or 0.0) for b in pred_boxes[:MAX_PRED_BOXES]],
                _decoded(gt),
                _decoded(pred),
                gt.id,
            )
        examples.append(Example(gt.id, figure, source, gt.report, None if pred is None else pred.report))
    return examples
