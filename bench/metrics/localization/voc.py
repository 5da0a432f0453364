"""VOC all-point interpolated AP at IoU >= 0.4 (the VinBigData Kaggle metric's convention).

The competition page specifies "PASCAL VOC 2010 mAP at IoU > 0.4"; its scoring code is not public. This
follows the PASCAL VOC devkit (`voc_eval`, VOC2010+ all-point AP) as also used by ZFTurbo's
`map_boxes` (github.com/ZFTurbo/Mean-Average-Precision-for-Boxes, popular in that competition):
per label, predictions in descending score order; each is compared with every gt box of its label on its
image, assigned to the one with the highest IoU (first on ties); it is a true positive if that IoU >= 0.4
and that gt box is not matched yet, otherwise a false positive (a duplicate of a matched gt is a false
positive even when another unmatched gt overlaps enough). AP = area under the monotone precision envelope,
sum over recall steps; mAP = mean over labels that have gt. IoU uses continuous coordinates (+0, no +1).
"""

from __future__ import annotations

import numpy as np

from bench.metrics.localization.boxes import iou
from bench.metrics.localization.data import FlatDetections, group_blocks

VOC_IOU_THRESHOLD = 0.4
_BLOCK_ELEMENTS = 4_000_000


def voc_true_positives(flat: FlatDetections, iou_threshold: float = VOC_IOU_THRESHOLD) -> np.ndarray:
    """(D,) bool per prediction (global order): true positive under the VOC greedy matching."""
    tp = np.zeros(flat.det_image.size, dtype=bool)
    for blk in group_blocks(flat, np.arange(flat.det_image.size)):
        n_groups, n_det = blk.det_idx.shape
        ious = iou(flat.det_box[blk.det_idx][:, :, None, :], flat.gt_box[blk.gt_idx][:, None, :, :])
        ious = np.where(blk.gt_valid[:, None, :], ious, -np.inf)
        taken = np.zeros(blk.gt_idx.shape, dtype=bool)
        hit = np.zeros((n_groups, n_det), dtype=bool)
        rows = np.arange(n_groups)
        for r in range(n_det):
            best = np.argmax(ious[:, r, :], axis=-1)
            ok = (ious[rows, r, best] >= iou_threshold) & ~taken[rows, best] & blk.det_valid[:, r]
            taken[rows, best] |= ok
            hit[:, r] = ok
        tp[blk.det_idx[blk.det_valid]] = hit[blk.det_valid]
    return tp


def voc_average_precision(flat: FlatDetections, true_pos: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, K) all-point AP per label and replicate; NaN for labels without gt in that replicate."""
    n_rep = weights.shape[0]
    ap = np.full((n_rep, flat.n_labels), np.nan)
    n_gt = weights @ flat.gt_count
    for k in range(flat.n_labels):
        sel = flat.det_label == k
        img = flat.det_image[sel]
        tp_pos = np.flatnonzero(true_pos[sel])
        step = max(1, _BLOCK_ELEMENTS // max(1, img.size))
        for lo in range(0, n_rep, step):
            w = weights[lo : lo + step, img]
            # only true positives move recall, and the envelope there is the best precision at a later
            # true positive (a false positive's precision is below the true positive's before it)
            seen = np.cumsum(w, axis=1)[:, tp_pos]
            w_tp = w[:, tp_pos]
            tp = np.cumsum(w_tp, axis=1)
            precision = tp / np.maximum(seen, np.finfo(np.float64).eps)
            env = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
            npos = n_gt[lo : lo + step, k]
            valid = npos > 0
            area = (w_tp * env).sum(axis=1) / np.where(valid, npos, 1.0)  # recall steps are w_i / npos
            ap[lo : lo + step, k] = np.where(valid, area, np.nan)
    return ap
