"""Lesion-localization (detection) metrics equal to pycocotools / VOC / object-CXR, with fast bootstrap.

    result = score_localization(DetectionSet(label_names, gt_boxes, gt_labels, pred_boxes, pred_labels,
                                             pred_scores), n_boot=1000, seed=0, froc_hit="center_in_object")

Metrics: map_coco, ap50, ap40_voc, iou_acc@{0.1,0.25,0.5}, iobb_acc@{0.1,0.25,0.5}, froc (see
`CONVENTIONS`). `weighted_localization_metrics` gives the raw per-replicate arrays for given image weights.
"""

from bench.metrics.localization.data import DetectionSet, FlatDetections, flatten
from bench.metrics.localization.froc import FROC_FP_RATES, HIT_RULES
from bench.metrics.localization.score import (
    CONVENTIONS,
    LocalizationReplicates,
    score_localization,
    weighted_localization_metrics,
)

__all__ = [
    "CONVENTIONS",
    "FROC_FP_RATES",
    "HIT_RULES",
    "DetectionSet",
    "FlatDetections",
    "LocalizationReplicates",
    "flatten",
    "score_localization",
    "weighted_localization_metrics",
]
