"""ChestX-ray14 box "accuracy" (Wang et al., CVPR 2017, Table 3): share of gt boxes localised.

For each ground-truth box, the model's box for that label on that image is its highest-scoring predicted
box of the same label (ties: first in input order). The gt box counts as localised when
IoU(pred, gt) >= T (`iou_acc@T`) or IoBB = area(pred ∩ gt) / area(pred) >= T (`iobb_acc@T`); with no
predicted box of that label on the image it is not localised. Overall = over all gt boxes; per label =
over that label's gt boxes (None without gt). Wang et al. state the criterion as exceeding T(IoU) /
T(IoBB) without saying whether equality counts; we count it (>=). IoU uses continuous coordinates (+0).
"""

from __future__ import annotations

import numpy as np

from bench.metrics.localization.boxes import iobb, iou
from bench.metrics.localization.data import FlatDetections

ACCURACY_THRESHOLDS = (0.1, 0.25, 0.5)


def top_box_overlaps(flat: FlatDetections) -> tuple[np.ndarray, np.ndarray]:
    """Per gt box: (IoU, IoBB) with the top-scoring same-label prediction on its image; -1 when none."""
    keys, first = np.unique(flat.det_key, return_index=True)  # global order => first = top score
    gt_key = flat.gt_key
    pos = np.minimum(np.searchsorted(keys, gt_key), max(keys.size - 1, 0))
    has = keys[pos] == gt_key if keys.size else np.zeros(gt_key.size, dtype=bool)
    ious = np.full(gt_key.size, -1.0)
    iobbs = np.full(gt_key.size, -1.0)
    if has.any():
        pred = flat.det_box[first[pos[has]]]
        ious[has] = iou(pred, flat.gt_box[has])
        iobbs[has] = iobb(pred, flat.gt_box[has])
    return ious, iobbs


def box_accuracy(flat: FlatDetections, localised: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """(overall (B,), per label (B, K)) share of gt boxes with `localised` True; NaN without gt."""
    hits = np.zeros((flat.n_images, flat.n_labels))
    np.add.at(hits, (flat.gt_image[localised], flat.gt_label[localised]), 1.0)
    num = weights @ hits
    den = weights @ flat.gt_count
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(den.sum(1) > 0, num.sum(1) / den.sum(1), np.nan)
        per_label = np.where(den > 0, num / den, np.nan)
    return overall, per_label
