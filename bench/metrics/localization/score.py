"""Lesion-localization scorer: COCO mAP, VOC AP@0.4, box accuracy and FROC, with image-bootstrap CIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.localization.accuracy import ACCURACY_THRESHOLDS, box_accuracy, top_box_overlaps
from bench.metrics.localization.coco import MAX_DETS, coco_average_precision, coco_matches
from bench.metrics.localization.data import DetectionSet, FlatDetections, flatten
from bench.metrics.localization.froc import (
    DEFAULT_HIT_RULE,
    FROC_FP_RATES,
    HIT_RULES,
    froc_hits,
    froc_sensitivities,
)
from bench.metrics.localization.voc import VOC_IOU_THRESHOLD, voc_average_precision, voc_true_positives
from bench.metrics.types import MetricValue, TaskResult

CONVENTIONS: dict[str, Any] = {
    "boxes": "input xyxy in original-image pixels; COCO metrics see them as xywh (w = x2 - x1)",
    "map_coco": "COCO AP@[.50:.95]: pycocotools COCOeval bbox, 101-point interpolated precision, "
    f"maxDets={MAX_DETS} per image and label, area range all, iscrowd 0, IoU +0 pixel convention; "
    "mean over (IoU threshold, label) cells of labels with gt",
    "ap50": "COCOeval AP at IoU 0.50 (101-point); per label = COCOeval precision[0, :, k, all, 100] mean",
    "ap40_voc": f"VOC all-point interpolated AP at IoU >= {VOC_IOU_THRESHOLD} (VinBigData convention): per "
    "label, predictions by descending score, each assigned to its highest-IoU gt box (first on ties), TP "
    "if IoU >= 0.4 and that gt is unmatched, else FP; area under the monotone precision envelope; no "
    "maxDets; IoU +0 convention; mean over labels with gt",
    "iou_acc": "ChestX-ray14 box accuracy (Wang et al. 2017): share of gt boxes whose label's top-scoring "
    "predicted box on the same image has IoU >= T (no prediction = miss); overall over all gt boxes",
    "iobb_acc": "as iou_acc with IoBB = area(pred ∩ gt) / area(pred) >= T",
    "accuracy_thresholds": list(ACCURACY_THRESHOLDS),
    "froc": "object-CXR FROC (jfhealthcare/object-CXR froc.py): mean sensitivity at the fp/image rates below; "
    "predictions walked by descending score; a prediction hits every same-label gt box it lies in (hit "
    "rule below), each object counted once; a prediction in no gt box is a false positive; sensitivity "
    "recorded when FP/n_images first reaches each rate (one rate per prediction); rates never reached "
    "repeat the last recorded value (or the final sensitivity if none is reached); overall = one pooled "
    "class-aware curve, per label = that label's predictions and objects only",
    "froc_fp_rates": list(FROC_FP_RATES),
    "score_ties": "predictions with equal scores keep image order, then input order (stable sort), as "
    "pycocotools' mergesort and object-CXR's sorted() do",
    "labels_without_gt": "COCOeval reports -1 for them: per-label values are None and they are left out of "
    "every mean; their predictions still count as false positives in the pooled FROC",
    "bootstrap": "images resampled with replacement via bench.metrics.bootstrap.bootstrap_counts; matching is "
    "per image so it is computed once and each replicate reweights predictions and gt boxes by their "
    "image's multiplicity (equal to rerunning the metric on the resampled images when no scores tie); a "
    "label without gt in a replicate is left out of that replicate's means; 95 % percentile interval",
    "per_label_ci": "per-label 95 % CIs in notes['per_label_ci95'][metric][label] as [lo, hi]",
}


_HIT_RULE_TEXT = {
    "center_in_object": "center_in_object: the predicted box's centre lies inside the annotated object — its "
    "rectangle, the ellipse inscribed in its box, or its polygon, borders included (object-CXR froc.py's "
    "inside_object; rectangles where no shape is recorded)",
    "center_in_box": "center_in_box: the predicted box's centre lies in the gt box, borders included "
    "(object-CXR scores predicted points this way)",
    "iou@0.5": "iou@0.5: IoU(pred, gt) >= 0.5 (+0 convention)",
}


@dataclass(frozen=True)
class LocalizationReplicates:
    """Metric values per weight row: `metrics[name]` is (B,), `per_label[name]` is (B, n_labels)."""

    metrics: dict[str, np.ndarray]
    per_label: dict[str, np.ndarray]
    froc_sensitivity: np.ndarray  # (B, len(FROC_FP_RATES)), pooled over labels


def _nanmean(x: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    finite = np.isfinite(x)
    count = finite.sum(axis=axis)
    total = np.where(finite, x, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def weighted_localization_metrics(
    data: DetectionSet | FlatDetections, weights: np.ndarray, *, froc_hit: str = DEFAULT_HIT_RULE
) -> LocalizationReplicates:
    """All localization metrics for each row of `weights` (B, n_images) of integer image multiplicities.

    A row of ones is the data as given; rows of `bootstrap_counts` are bootstrap replicates.
    """
    if froc_hit not in HIT_RULES:
        raise ValueError(f"froc hit rule must be one of {HIT_RULES}, got {froc_hit!r}")
    flat = data if isinstance(data, FlatDetections) else flatten(data)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != flat.n_images:
        raise ValueError(f"weights must have shape (B, {flat.n_images})")
    metrics: dict[str, np.ndarray] = {}
    per_label: dict[str, np.ndarray] = {}

    coco_ap = coco_average_precision(flat, coco_matches(flat), weights)  # (B, T, K)
    metrics["map_coco"] = _nanmean(coco_ap, axis=(1, 2))
    metrics["ap50"] = _nanmean(coco_ap[:, 0, :], axis=1)
    per_label["map_coco"] = _nanmean(coco_ap, axis=1)
    per_label["ap50"] = coco_ap[:, 0, :]

    voc_ap = voc_average_precision(flat, voc_true_positives(flat), weights)
    metrics["ap40_voc"] = _nanmean(voc_ap, axis=1)
    per_label["ap40_voc"] = voc_ap

    ious, iobbs = top_box_overlaps(flat)
    for name, overlap in (("iou_acc", ious), ("iobb_acc", iobbs)):
        for t in ACCURACY_THRESHOLDS:
            overall, by_label = box_accuracy(flat, overlap >= t, weights)
            metrics[f"{name}@{t:g}"] = overall
            per_label[f"{name}@{t:g}"] = by_label

    is_fp, new_hits = froc_hits(flat, froc_hit)
    n_gt = weights @ flat.gt_count
    sens = froc_sensitivities(is_fp, new_hits, flat.det_image, weights, n_gt.sum(axis=1))
    metrics["froc"] = sens.mean(axis=1)
    per_label["froc"] = np.full((weights.shape[0], flat.n_labels), np.nan)
    for k in range(flat.n_labels):
        sel = flat.det_label == k
        sens_k = froc_sensitivities(is_fp[sel], new_hits[sel], flat.det_image[sel], weights, n_gt[:, k])
        per_label["froc"][:, k] = sens_k.mean(axis=1)
    return LocalizationReplicates(metrics=metrics, per_label=per_label, froc_sensitivity=sens)


def _value(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def score_localization(
    data: DetectionSet,
    *,
    n_boot: int = 0,
    seed: int = 0,
    froc_hit: str = DEFAULT_HIT_RULE,
    clusters: np.ndarray | None = None,
) -> TaskResult:
    """Localization metrics of `data` with 95 % image-bootstrap CIs when `n_boot` > 0."""
    flat = flatten(data)
    weights = np.ones((1, flat.n_images))
    if n_boot > 0:
        weights = np.vstack([weights, bootstrap_counts(flat.n_images, n_boot, seed, clusters=clusters)])
    reps = weighted_localization_metrics(flat, weights, froc_hit=froc_hit)
    names = data.label_names

    metrics = {
        name: MetricValue(_value(v[0]), percentile_ci(v[1:]) if n_boot > 0 else None)
        for name, v in reps.metrics.items()
    }
    per_label = {
        name: {label: _value(v[0, k]) for k, label in enumerate(names)} for name, v in reps.per_label.items()
    }
    has_gt = flat.gt_count.sum(axis=0) > 0
    has_pred = np.bincount(flat.det_label, minlength=flat.n_labels) > 0
    notes: dict[str, Any] = {
        "n_images": flat.n_images,
        "n_gt_boxes": int(flat.gt_label.size),
        "n_pred_boxes": int(flat.det_label.size),
        "n_gt_boxes_per_label": {
            label: int(c) for label, c in zip(names, flat.gt_count.sum(axis=0), strict=True)
        },
        "labels_without_gt": [label for label, g in zip(names, has_gt, strict=True) if not g],
        "labels_with_predictions_but_no_gt": [
            label for label, g, p in zip(names, has_gt, has_pred, strict=True) if p and not g
        ],
        "froc_sensitivity": {
            f"{r:g}": _value(s) for r, s in zip(FROC_FP_RATES, reps.froc_sensitivity[0], strict=True)
        },
    }
    if notes["labels_without_gt"]:
        notes["labels_skipped"] = (
            "labels without gt boxes are undefined (None) for every per-label metric and excluded from means"
        )
    if not has_gt.any():
        notes["undefined"] = "no ground-truth boxes at all: every metric is undefined"
    if n_boot > 0:
        notes["n_boot"] = n_boot
        notes["seed"] = seed
        notes["per_label_ci95"] = {
            name: {label: percentile_ci(v[1:, k]) for k, label in enumerate(names)}
            for name, v in reps.per_label.items()
        }
    return TaskResult(
        metrics=metrics,
        per_label=per_label,
        conventions=CONVENTIONS | {"froc_hit_rule": _HIT_RULE_TEXT[froc_hit]},
        notes=notes,
    )
