"""object-CXR FROC: mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4, 8 false positives per image.

Mirrors `froc.py` of the object-CXR challenge (github.com/jfhealthcare/object-CXR; mirrored in
hlk-1135/object-CXR). There a prediction is a point with a probability; for boxes we use the box
centre. Predictions are walked in descending probability (Python's stable `sorted`). A prediction
hits every gt object (of its label, here) that contains the point, borders included; each object counts
once, on its first hit. A prediction inside no object is a false positive; one inside only already-hit
objects is neither. After each prediction, if FP / n_images >= the next rate, the current sensitivity
(hits / n_objects) is recorded for that rate; at most one rate is recorded per prediction (this matters
only for fewer than 8 images). Rates never reached take the last recorded sensitivity (object-CXR pads
with `froc[-1]`); when no rate is reached at all the script fails, and we use the final sensitivity.
Hit rules: "center_in_object" (default, the official one) tests the centre against the annotated object itself —
rectangle, ellipse inscribed in its box, or polygon (scikit-image's `points_in_poly`: border included) — as
`DetectionSet.gt_shapes` gives it; "center_in_box" against the object's bounding box (overstates sensitivity for
ellipses and polygons); "iou@0.5" replaces "contains the centre" by "IoU >= 0.5", all else equal.
With several labels the overall FROC is class-aware and pooled: one curve over all predictions, a hit
needs the same label, false positives of every label count per image, sensitivity over all gt objects.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.localization.boxes import (
    box_centres,
    centre_in_box,
    centre_in_ellipse,
    iou,
    points_in_polygon,
)
from bench.metrics.localization.data import FlatDetections, GroupBlock, group_blocks
from bench.tasks import OPTIONS, default_of

FROC_FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
HIT_RULES = OPTIONS["froc_hit"].choices
DEFAULT_HIT_RULE = default_of("froc_hit")
_BLOCK_ELEMENTS = 2_000_000


def _centre_in_object(flat: FlatDetections, blk: GroupBlock, det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    inside = centre_in_box(det, gt)
    if flat.gt_kind is None:
        return inside
    kind = flat.gt_kind[blk.gt_idx][:, None, :]
    inside = np.where(kind == 1, centre_in_ellipse(det, gt), inside)
    for p, j in zip(*np.nonzero(blk.gt_valid & (flat.gt_kind[blk.gt_idx] == 2)), strict=True):
        cx, cy = box_centres(flat.det_box[blk.det_idx[p]])
        inside[p, :, j] = points_in_polygon(np.stack([cx, cy], axis=1), flat.gt_polygons[blk.gt_idx[p, j]])
    return inside


def froc_hits(flat: FlatDetections, hit_rule: str = DEFAULT_HIT_RULE) -> tuple[np.ndarray, np.ndarray]:
    """Per prediction (global order): (is_false_positive (D,) bool, newly_hit_objects (D,) int64)."""
    if hit_rule not in HIT_RULES:
        raise ValueError(f"froc hit rule must be one of {HIT_RULES}, got {hit_rule!r}")
    n_det = flat.det_image.size
    is_fp = np.ones(n_det, dtype=bool)
    new_hits = np.zeros(n_det, dtype=np.int64)
    for blk in group_blocks(flat, np.arange(n_det)):
        det = flat.det_box[blk.det_idx][:, :, None, :]
        gt = flat.gt_box[blk.gt_idx][:, None, :, :]
        if hit_rule == "center_in_object":
            inside = _centre_in_object(flat, blk, det, gt)
        elif hit_rule == "center_in_box":
            inside = centre_in_box(det, gt)
        else:
            inside = iou(det, gt) >= 0.5
        inside &= blk.det_valid[:, :, None] & blk.gt_valid[:, None, :]
        first_hit = inside & (np.cumsum(inside, axis=1) == 1)
        # the stubs type any(axis=...) as a scalar or an array (they do not track ndim); inside is 3-D
        is_fp[blk.det_idx[blk.det_valid]] = ~inside.any(axis=2)[blk.det_valid]  # type: ignore[index]
        new_hits[blk.det_idx[blk.det_valid]] = first_hit.sum(axis=2)[blk.det_valid]
    return is_fp, new_hits


def _min_fp_count(rate: float, n_images: int) -> int:
    """Smallest false-positive count F with F / n_images >= rate, in float arithmetic as object-CXR."""
    f = int(np.ceil(rate * n_images))
    while f > 0 and (f - 1) / n_images >= rate:
        f -= 1
    while f / n_images < rate:
        f += 1
    return f


def froc_sensitivities(
    is_fp: np.ndarray,
    new_hits: np.ndarray,
    det_image: np.ndarray,
    weights: np.ndarray,
    n_objects: np.ndarray,
    fp_rates: tuple[float, ...] = FROC_FP_RATES,
) -> np.ndarray:
    """(B, len(fp_rates)) sensitivities per row of `weights` (B, n_images); NaN where there are no objects.

    A prediction whose image has multiplicity w stands for w adjacent identical predictions (from w
    copies of the image), so the object-CXR walk is replayed on that expanded list without building it.
    """
    n_rep, n_images = weights.shape
    out = np.full((n_rep, len(fp_rates)), np.nan)
    f_stars = [_min_fp_count(rate, n_images) for rate in fp_rates]
    step = max(1, _BLOCK_ELEMENTS // max(1, det_image.size))
    for lo in range(0, n_rep, step):
        w = weights[lo : lo + step, det_image].astype(np.int64)
        out[lo : lo + step] = _replay(is_fp, new_hits, w, f_stars)
    n_obj = np.asarray(n_objects, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_obj[:, None] > 0, out / n_obj[:, None], np.nan)


def _replay(is_fp: np.ndarray, new_hits: np.ndarray, w: np.ndarray, f_stars: list[int]) -> np.ndarray:
    """Hit counts recorded at each rate for (b, D) prediction multiplicities `w` in global order."""
    n_rep, n_det = w.shape
    hits_out = np.full((n_rep, len(f_stars)), np.nan)
    if n_det == 0:
        hits_out[:] = 0.0
        return hits_out
    end = np.cumsum(w, axis=1)  # expanded positions [end - w, end) belong to prediction i
    fp_end = np.cumsum(w * is_fp, axis=1)
    hit_end = np.cumsum(w * new_hits, axis=1)
    rows = np.arange(n_rep)
    # row-wise searchsorted on the monotone rows via one flat search: row r is shifted by r * big
    big = int(end[:, -1].max()) + max(f_stars) + 2
    shift = rows * big
    fp_flat = (fp_end + shift[:, None]).ravel()
    end_flat = (end + shift[:, None]).ravel()
    prev_pos = np.full(n_rep, -1, dtype=np.int64)
    reached = np.ones(n_rep, dtype=bool)
    for j, f_star in enumerate(f_stars):
        # the prediction whose copies bring the FP count to f_star
        at = np.searchsorted(fp_flat, shift + f_star, side="left") - rows * n_det
        reached &= at < n_det
        at = np.minimum(at, n_det - 1)
        first = end[rows, at] - w[rows, at] + (f_star - (fp_end[rows, at] - w[rows, at] * is_fp[at])) - 1
        pos = np.maximum(first, prev_pos + 1)  # object-CXR records at most one rate per prediction
        reached &= pos < end[:, -1]
        if not reached.any():
            break
        at = np.searchsorted(end_flat, shift + np.where(reached, pos, 0), side="right") - rows * n_det
        at = np.minimum(at, n_det - 1)
        before = hit_end[rows, at] - w[rows, at] * new_hits[at]
        copies = pos - (end[rows, at] - w[rows, at]) + 1
        hits_out[:, j] = np.where(reached, before + copies * new_hits[at], np.nan)
        prev_pos = pos
    # never-reached rates repeat the last recorded value; with none recorded, the final sensitivity
    hits_out[:, 0] = np.where(np.isnan(hits_out[:, 0]), hit_end[:, -1], hits_out[:, 0])
    for j in range(1, len(f_stars)):
        hits_out[:, j] = np.where(np.isnan(hits_out[:, j]), hits_out[:, j - 1], hits_out[:, j])
    return hits_out
