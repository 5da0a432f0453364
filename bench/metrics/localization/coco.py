"""COCO bbox AP (pycocotools COCOeval rules) with per-image matching done once and weighted accumulation.

Matching (COCOeval.evaluateImg) depends only on one image and label, so it is computed once. A bootstrap
replicate is then a vector of image multiplicities: every prediction and gt box of image i counts w_i
times and precision/recall become weighted cumulative sums in the global score order. With integer
multiplicities this equals COCOeval on the explicitly resampled image list (absent score ties; see
`FlatDetections` for the tie order of the point estimate, which does match COCOeval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.metrics.localization.boxes import coco_iou
from bench.metrics.localization.data import FlatDetections, group_blocks

# The exact expressions of pycocotools.cocoeval.Params.setDetParams, so the floats compare identically.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = 100
_BLOCK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class CocoMatches:
    kept: np.ndarray  # (n,) prediction indices (global order) within the top MAX_DETS of their image+label
    matched: np.ndarray  # (T, n) bool: prediction matched a gt box at IOU_THRESHOLDS[t]


def _rank_within_group(keys: np.ndarray) -> np.ndarray:
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    start = np.ones(keys.size, dtype=bool)
    start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(keys.size), 0))
    rank = np.empty(keys.size, dtype=np.int64)
    rank[order] = np.arange(keys.size) - first
    return rank


def coco_matches(flat: FlatDetections) -> CocoMatches:
    """COCOeval.evaluateImg for area 'all', maxDets 100, iscrowd 0, all IoU thresholds, all images."""
    kept = np.flatnonzero(_rank_within_group(flat.det_key) < MAX_DETS)
    matched = np.zeros((IOU_THRESHOLDS.size, flat.det_image.size), dtype=bool)
    # COCOeval compares against min(t, 1 - 1e-10); a gt is taken if IoU >= that bound.
    thr = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[None, :, None]
    for blk in group_blocks(flat, kept):
        n_groups, n_det = blk.det_idx.shape
        n_gt = blk.gt_idx.shape[1]
        ious = coco_iou(flat.det_box[blk.det_idx][:, :, None, :], flat.gt_box[blk.gt_idx][:, None, :, :])
        ious = np.where(blk.gt_valid[:, None, :], ious, -1.0)
        taken = np.zeros((n_groups, thr.size, n_gt), dtype=bool)
        hit = np.zeros((n_groups, thr.size, n_det), dtype=bool)
        gt_pos = np.arange(n_gt)
        for r in range(n_det):
            iou_r = ious[:, None, r, :]
            candidate = (iou_r >= thr) & ~taken
            score = np.where(candidate, iou_r, -1.0)
            # COCOeval keeps the *last* gt reaching the running maximum (`if iou < best: continue`).
            best = n_gt - 1 - np.argmax(score[..., ::-1], axis=-1)
            ok = candidate.any(axis=-1) & blk.det_valid[:, r, None]
            taken |= (gt_pos == best[..., None]) & ok[..., None]
            hit[:, :, r] = ok
        rows, cols = np.nonzero(blk.det_valid)
        matched[:, blk.det_idx[rows, cols]] = hit[rows, :, cols].T
    return CocoMatches(kept=kept, matched=matched[:, kept])


def _thresholds_covered(recall: np.ndarray) -> np.ndarray:
    """`searchsorted(RECALL_THRESHOLDS, recall, side="right")`: how many recall thresholds are <= each value.

    The thresholds are j/100 up to rounding, so floor(100 x) + 1 is off by at most one; one comparison in
    each direction against the actual threshold values makes it exact.
    """
    guess = np.clip(np.floor(recall * 100).astype(np.int64) + 1, 0, RECALL_THRESHOLDS.size)
    guess += _THR_ABOVE[guess] <= recall
    guess -= _THR_BELOW[guess] > recall
    return guess


_THR_ABOVE = np.append(RECALL_THRESHOLDS, np.inf)  # _THR_ABOVE[g] = the (g+1)-th threshold
_THR_BELOW = np.insert(RECALL_THRESHOLDS, 0, -np.inf)  # _THR_BELOW[g] = the g-th threshold


def _precision_at_recall_thresholds(recall: np.ndarray, envelope: np.ndarray) -> np.ndarray:
    """Row-wise `envelope[searchsorted(recall, RECALL_THRESHOLDS, 'left')]`, 0 past the end (as COCOeval).

    `covered[i]` = number of recall thresholds <= recall[i]; threshold r is read at the first i with
    covered[i] > r. Because the envelope is non-increasing, that value is the largest envelope value
    among positions whose `covered` exceeds r, i.e. a reversed running max over `covered` buckets.
    """
    rows, n = recall.shape
    out = np.zeros((rows, RECALL_THRESHOLDS.size + 1))
    if n:
        covered = _thresholds_covered(recall)
        changed = np.empty(covered.shape, dtype=bool)
        changed[:, 0] = covered[:, 0] > 0
        changed[:, 1:] = covered[:, 1:] > covered[:, :-1]
        r_idx, c_idx = np.nonzero(changed)
        out[r_idx, covered[r_idx, c_idx]] = envelope[r_idx, c_idx]
    out = np.maximum.accumulate(out[:, ::-1], axis=1)[:, ::-1]
    return out[:, 1:]


def coco_average_precision(flat: FlatDetections, matches: CocoMatches, weights: np.ndarray) -> np.ndarray:
    """(B, T, K) COCOeval precision averaged over recall thresholds; NaN where a label has no gt (COCO -1).

    `weights` is (B, n_images): image multiplicities per replicate (a row of ones = the data as given).
    Only true-positive positions are evaluated: recall changes only there, and the precision envelope
    at a true positive is the maximum precision over later true positives (a false positive's precision
    is below that of the true positive before it). Precision there is tp / (all predictions so far +
    eps), where "all so far" = the cumulative weight, exactly COCOeval's fp + tp.
    """
    n_rep = weights.shape[0]
    n_thr = IOU_THRESHOLDS.size
    ap = np.full((n_rep, n_thr, flat.n_labels), np.nan)
    n_gt = weights @ flat.gt_count  # (B, K)
    kept_label = flat.det_label[matches.kept]
    kept_image = flat.det_image[matches.kept]
    for k in range(flat.n_labels):
        sel = kept_label == k
        m = matches.matched[:, sel]
        img = kept_image[sel]
        tp_pos = [np.flatnonzero(m[t]) for t in range(n_thr)]
        step = max(1, _BLOCK_ELEMENTS // max(1, img.size))
        for lo in range(0, n_rep, step):
            npig = n_gt[lo : lo + step, k]
            valid = npig > 0
            w = weights[lo : lo + step, img]
            seen = np.cumsum(w, axis=1)
            for t in range(n_thr):
                w_tp = w[:, tp_pos[t]]
                tp = np.cumsum(w_tp, axis=1)
                pr = tp / (seen[:, tp_pos[t]] + np.spacing(1))
                env = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
                rc = tp / np.where(valid, npig, 1.0)[:, None]
                mean_q = _precision_at_recall_thresholds(rc, env).mean(axis=1)
                ap[lo : lo + step, t, k] = np.where(valid, mean_q, np.nan)
    return ap
