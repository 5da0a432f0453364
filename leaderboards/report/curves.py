"""The numbers behind the report's plots, recomputed from a run's gt.jsonl and predictions.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.localization import DetectionSet, flatten
from bench.metrics.localization.coco import coco_average_precision, coco_matches
from bench.metrics.report import NlgCorpus
from bench.metrics.segmentation import segmentation_per_image
from bench.run.align import (
    align,
    classification_arrays,
    detection_inputs,
    report_texts,
    segmentation_inputs,
)


def binary_curve_points(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, np.ndarray]:
    """ROC and PR points at every distinct score threshold (as sklearn's roc_curve with
    drop_intermediate=False and precision_recall_curve, without importing sklearn: it is slow to load)."""
    order = np.argsort(-np.asarray(y_score, dtype=float), kind="mergesort")
    score, truth = np.asarray(y_score, dtype=float)[order], np.asarray(y_true, dtype=float)[order]
    last = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]  # end of each run of equal scores
    tps = np.cumsum(truth)[last]
    fps = (last + 1) - tps
    pos, neg = tps[-1], fps[-1]
    return {
        "fpr": np.r_[0.0, fps / neg],
        "tpr": np.r_[0.0, tps / pos],
        "precision": np.r_[1.0, tps / (tps + fps)],
        "recall": np.r_[0.0, tps / pos],
        "thresholds": score[last],
    }


def classification_data(
    gt: Path, pred: Path, settings: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return classification_arrays(align("classification", gt, pred), settings.get("labels"))


def detection_pr_curves(
    gt: Path, pred: Path, settings: dict[str, Any]
) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """label -> (recall, precision, AP50) with COCO matching at IoU 0.5 (pycocotools rules, maxDets 100).

    The curve is the raw cumulative precision/recall in score order; AP50 is COCO's 101-point interpolated
    area, so it equals the results file's per-label `ap50`.
    """
    inputs = detection_inputs(align("localization", gt, pred), settings.get("labels"))
    inputs.pop("ignored_pred_boxes")
    flat = flatten(DetectionSet(**inputs))
    matches = coco_matches(flat)
    ap50 = coco_average_precision(flat, matches, np.ones((1, flat.n_images)))[0, 0]
    kept_label = flat.det_label[matches.kept]
    n_gt = flat.gt_count.sum(axis=0)
    curves = {}
    for k, label in enumerate(inputs["label_names"]):
        if n_gt[k] == 0:
            continue
        hit = matches.matched[0, kept_label == k]
        tp = np.cumsum(hit)
        precision = tp / np.arange(1, hit.size + 1) if hit.size else np.zeros(0)
        recall = tp / n_gt[k]
        curves[label] = (np.r_[0.0, recall], np.r_[1.0, precision], float(ap50[k]))
    return curves


def dice_per_structure(gt: Path, pred: Path, settings: dict[str, Any]) -> dict[str, np.ndarray]:
    inputs = segmentation_inputs(align("segmentation", gt, pred))
    rule = settings.get("empty_rule", "exclude")
    return {
        s: segmentation_per_image(
            inputs["gt"][s], inputs["pred"][s], structure=s, empty_rule=rule, hd95=False
        ).dice
        for s in inputs["gt"]
    }


def report_per_case(gt: Path, pred: Path) -> dict[str, np.ndarray]:
    refs, hyps = report_texts(align("report", gt, pred))
    return NlgCorpus.from_texts(refs, hyps).per_case()
