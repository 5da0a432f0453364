"""Pair ground-truth and prediction records by id and turn them into the arrays the metrics take.

Every problem is raised as a RecordError naming the file and line it comes from.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.records import Box, Record, RecordError, read_records
from bench.tasks import TASKS


def task_value(record: Record, task: str) -> Any:
    """The record's value for `task`: its field, or `meta[key]` for tasks kept in meta (None when absent)."""
    spec = TASKS[task]
    if spec.in_meta:
        return (record.meta or {}).get(spec.meta_key)
    return getattr(record, spec.field)


@dataclass
class Aligned:
    """Ground truth records that take part in a task, each with its prediction record."""

    task: str
    gt_path: Path
    pred_path: Path
    gt: list[tuple[int, Record]]
    pred: list[tuple[int, Record]]

    @property
    def ids(self) -> list[str]:
        return [rec.id for _, rec in self.gt]


def align(task: str, gt_path: str | Path, pred_path: str | Path) -> Aligned:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(TASKS)}")
    field = TASKS[task].field
    gt_path, pred_path = Path(gt_path), Path(pred_path)
    gt_all = read_records(gt_path, "gt")
    pred_all = read_records(pred_path, "pred")
    gt_ids = {rec.id for _, rec in gt_all}
    for lineno, rec in pred_all:
        if rec.id not in gt_ids:
            raise RecordError(pred_path, lineno, f"id {rec.id!r} is not in the ground truth {gt_path.name}")
    gt = [(ln, rec) for ln, rec in gt_all if task_value(rec, task) is not None]
    if not gt:
        raise RecordError(
            gt_path, None, f"no record has a {field!r} field, so there is nothing to score for {task}"
        )
    pred_by_id = {rec.id: (ln, rec) for ln, rec in pred_all}
    pred = []
    for lineno, rec in gt:
        if rec.id not in pred_by_id:
            raise RecordError(
                pred_path,
                None,
                f"has no prediction for id {rec.id!r} (ground truth {gt_path.name} line {lineno})",
            )
        pred.append(pred_by_id[rec.id])
    return Aligned(task, gt_path, pred_path, gt, pred)


def classification_arrays(
    data: Aligned, labels: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """y_true (n, L) with NaN for unknown, y_score (n, L); labels default to every label the ground truth names."""
    if labels is None:  # in order of first appearance
        labels = list(dict.fromkeys(itertools.chain.from_iterable(rec.labels or () for _, rec in data.gt)))
    if not labels:
        raise RecordError(data.gt_path, None, "ground-truth 'labels' are all empty: no label to score")
    y_true = _label_matrix([g.labels for _, g in data.gt], labels)
    y_score = _label_matrix([p.labels for _, p in data.pred], labels)
    missing = np.isnan(y_score) & ~np.isnan(y_true)
    if missing.any():
        i, j = np.argwhere(missing)[0]
        p_line, p = data.pred[i]
        raise RecordError(data.pred_path, p_line, f"record {p.id!r} has no score for label {labels[j]!r}")
    return y_true, y_score, labels


def _label_matrix(rows: list[dict[str, float | None] | None], labels: list[str]) -> np.ndarray:
    """(n, L) float array of each row's values for `labels`, NaN where a value is null or absent.

    numpy turns None into NaN under dtype=float; `itemgetter` picks a row's values in C, and only when some row
    lacks a label (KeyError) or has no labels (TypeError) are the rows rebuilt with dict.get."""
    pick = operator.itemgetter(*labels)
    try:
        values = [pick(row) for row in rows]  # type: ignore[arg-type]  # None: TypeError, handled below
    except (KeyError, TypeError):
        nan = float("nan")
        values = [
            [nan if (row is None or (v := row.get(name)) is None) else v for name in labels] for row in rows
        ]
    return np.array(values, dtype=float).reshape(len(rows), len(labels))


def _shape(box: Box) -> str | np.ndarray | None:
    if box.shape == "polygon" and box.points is not None:
        return np.asarray(box.points, dtype=float).reshape(-1, 2)
    return box.shape


def detection_inputs(data: Aligned, labels: list[str] | None = None) -> dict[str, Any]:
    """Per-image box arrays in original-image pixels; label vocabulary = ground-truth labels unless given."""
    if labels is None:
        seen: dict[str, None] = {}
        for _, rec in data.gt:
            for box in rec.boxes or []:
                seen.setdefault(box.label, None)
        labels = list(seen)
    index = {name: j for j, name in enumerate(labels)}
    gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores = [], [], [], [], []
    gt_shapes: list[list[str | np.ndarray | None]] = []
    ignored = 0
    for (_, g), (p_line, p) in zip(data.gt, data.pred, strict=True):
        if p.boxes is None:
            raise RecordError(
                data.pred_path, p_line, f"record {p.id!r} has no 'boxes' list (use [] for none)"
            )
        kept = [b for b in g.boxes or [] if b.label in index]
        gt_boxes.append(np.array([b.bbox for b in kept], dtype=float).reshape(-1, 4))
        gt_shapes.append([_shape(b) for b in kept])
        gt_labels.append(np.array([index[b.label] for b in kept], dtype=np.int64))
        if g.image is not None:
            w, h = g.image.width, g.image.height
            for k, b in enumerate(p.boxes):
                x0, y0, x1, y1 = b.bbox
                if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                    raise RecordError(
                        data.pred_path,
                        p_line,
                        f"record {p.id!r}: boxes[{k}] {list(b.bbox)} lies outside the {w}x{h} image",
                    )
        pk = [b for b in p.boxes if b.label in index]
        ignored += len(p.boxes) - len(pk)
        pred_boxes.append(np.array([b.bbox for b in pk], dtype=float).reshape(-1, 4))
        pred_labels.append(np.array([index[b.label] for b in pk], dtype=np.int64))
        pred_scores.append(np.array([b.score for b in pk], dtype=float))
    return {
        "label_names": labels,
        "gt_boxes": gt_boxes,
        "gt_labels": gt_labels,
        "pred_boxes": pred_boxes,
        "pred_labels": pred_labels,
        "pred_scores": pred_scores,
        "gt_shapes": gt_shapes if any(s is not None for shapes in gt_shapes for s in shapes) else None,
        "ignored_pred_boxes": ignored,
    }


def segmentation_inputs(data: Aligned) -> dict[str, Any]:
    """Per-structure lists of (gt RLE | None, pred RLE | None); a structure the prediction lacks is an empty mask."""
    structures: dict[str, None] = {}
    for _, rec in data.gt:
        for name in rec.masks or {}:
            structures.setdefault(name, None)
    gt: dict[str, list[dict | None]] = {s: [] for s in structures}
    pred: dict[str, list[dict | None]] = {s: [] for s in structures}
    spacing: list[tuple[float, float] | None] = []
    for (_, g), (p_line, p) in zip(data.gt, data.pred, strict=True):
        spacing.append(g.image.pixel_spacing_mm if g.image is not None else None)
        for s in structures:
            g_mask = (g.masks or {}).get(s)
            p_mask = (p.masks or {}).get(s)
            if g_mask is not None and p_mask is not None and tuple(p_mask.size) != tuple(g_mask.size):
                raise RecordError(
                    data.pred_path,
                    p_line,
                    f"record {p.id!r}: mask {s!r} has size {list(p_mask.size)}, ground truth has {list(g_mask.size)}",
                )
            gt[s].append(None if g_mask is None else g_mask.rle())
            pred[s].append(None if p_mask is None else p_mask.rle())
    return {"gt": gt, "pred": pred, "spacing": spacing}


def report_texts(data: Aligned) -> tuple[list[str], list[str]]:
    refs, hyps = [], []
    for (_, g), (p_line, p) in zip(data.gt, data.pred, strict=True):
        if p.report is None:
            raise RecordError(
                data.pred_path, p_line, f"record {p.id!r} has no 'report' (use \"\" for an empty one)"
            )
        refs.append(g.report or "")
        hyps.append(p.report)
    return refs, hyps


def attribute_inputs(data: Aligned) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ground-truth and predicted `meta.attributes` per case ({finding: {"location": [...], "severity": ...}}),
    checked for shape; a prediction without meta.attributes is an error (use {} for none)."""
    from bench.datasets.attributes import SEVERITY_GRADES

    def checked(path: Path, line: int, record: Record, what: str) -> dict[str, Any]:
        value = (record.meta or {}).get("attributes")
        if not isinstance(value, dict):
            raise RecordError(
                path, line, f"record {record.id!r} has no {what} meta.attributes mapping (use {{}} for none)"
            )
        for finding, entry in value.items():
            location = entry.get("location", []) if isinstance(entry, dict) else None
            severity = entry.get("severity") if isinstance(entry, dict) else None
            if not (
                isinstance(entry, dict)
                and isinstance(location, list)
                and all(isinstance(term, str) for term in location)
                and (severity is None or severity in SEVERITY_GRADES)
            ):
                raise RecordError(
                    path,
                    line,
                    f"record {record.id!r}: meta.attributes[{finding!r}] must be {{'location': [terms], "
                    f"'severity': {' | '.join(SEVERITY_GRADES)} | null}}, got {entry!r}",
                )
        return value

    gt = [checked(data.gt_path, line, g, "ground-truth") for line, g in data.gt]
    pred = [checked(data.pred_path, line, p, "predicted") for line, p in data.pred]
    return gt, pred
