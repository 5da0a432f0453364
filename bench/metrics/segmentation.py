"""Anatomical segmentation metrics (Dice, IoU, HD95) on COCO RLE masks, with explicit empty-mask rules.

Dice and IoU come from areas and intersections computed on the RLEs by pycocotools (no decoding).
HD95 follows MONAI's ``compute_hausdorff_distance(percentile=95, directed=False)``: edges are
``mask XOR binary_erosion(mask)`` (4-connected cross, zero outside the image), distances are exact
Euclidean distances from each edge pixel of one mask to the nearest edge pixel of the other, HD95 is the
larger of the two directed 95th percentiles. Only the union bounding box of the two masks is examined, and
nearest edges come from a k-d tree instead of a full-image distance transform (same numbers, far faster).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from pycocotools import mask as coco_mask
from scipy.spatial import cKDTree

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.types import MetricValue, TaskResult
from bench.tasks import OPTIONS

Rle = dict
Spacing = tuple[float, float]

EMPTY_RULES = OPTIONS["empty_rule"].choices
HD95_ONE_EMPTY_RULES = ("exclude", "diagonal")

# Per-image status codes.
NOT_ANNOTATED = 0  # gt is None: structure not annotated for this image, not scored
BOTH_EMPTY = 1
FALSE_POSITIVE = 2  # gt empty, prediction non-empty
MISSED = 3  # gt non-empty, prediction empty or missing
BOTH_PRESENT = 4
STATUS_NAMES = {
    NOT_ANNOTATED: "gt_not_annotated",
    BOTH_EMPTY: "both_empty",
    FALSE_POSITIVE: "gt_empty_pred_nonempty",
    MISSED: "gt_nonempty_pred_empty",
    BOTH_PRESENT: "both_nonempty",
}


# ----------------------------------------------------------------------------- helpers


def encode_mask(mask: np.ndarray) -> Rle:
    """2-D boolean array -> COCO RLE dict with ``counts`` as str (JSON-friendly)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"encode_mask expects a 2-D array, got shape {mask.shape}")
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: Rle) -> np.ndarray:
    """COCO RLE dict (counts str or bytes) -> (H, W) boolean array."""
    return coco_mask.decode(_checked_rle(rle)).astype(bool)


def polygon_to_rle(polygon_xy: Sequence, height: int, width: int) -> Rle:
    """Rasterise a polygon the COCO way (``frPyObjects``) into one RLE.

    ``polygon_xy`` is a flat ``[x1, y1, x2, y2, ...]``, a list of ``(x, y)`` pairs, or a list of flat
    polygons (COCO ``segmentation`` style, merged as a union).
    """
    items = list(polygon_xy)
    if not items:
        raise ValueError("polygon_to_rle: empty polygon")
    if np.ndim(items[0]) == 0:
        polygons = [[float(v) for v in items]]
    elif len(items[0]) == 2:
        polygons = [[float(v) for point in items for v in point]]
    else:
        polygons = [[float(v) for v in poly] for poly in items]
    for poly in polygons:
        if len(poly) < 6 or len(poly) % 2:
            raise ValueError(f"polygon_to_rle: a polygon needs >= 3 (x, y) points, got {len(poly)} numbers")
    merged = coco_mask.merge(coco_mask.frPyObjects(polygons, int(height), int(width)))
    counts = merged["counts"]
    return {
        "size": [int(height), int(width)],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def _checked_rle(rle: object) -> Rle:
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise ValueError(f"not a COCO RLE dict with 'size' and 'counts': {type(rle).__name__}")
    return rle if isinstance(rle, dict) else dict(rle)


# ----------------------------------------------------------------------------- HD95


def _edge_pixels(mask: np.ndarray) -> np.ndarray:
    """(N, 2) row/col coordinates of ``mask XOR binary_erosion(mask)`` (cross element, zero border)."""
    padded = np.pad(mask, 1)
    interior = (
        padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    )
    return np.argwhere(mask & ~interior)


def _symmetric_percentile_distance(edges_a: np.ndarray, edges_b: np.ndarray, percentile: float) -> float:
    dist_a_to_b, _ = cKDTree(edges_b, balanced_tree=False, compact_nodes=False).query(edges_a)
    dist_b_to_a, _ = cKDTree(edges_a, balanced_tree=False, compact_nodes=False).query(edges_b)
    return float(max(np.percentile(dist_a_to_b, percentile), np.percentile(dist_b_to_a, percentile)))


def hd95_from_rles(
    gt_rle: Rle, pred_rle: Rle, spacing: Spacing | None = None, percentile: float = 95.0
) -> tuple[float, float | None]:
    """(HD95 in pixels, HD95 in mm or None) between two non-empty RLE masks of the same size."""
    gt_box, pred_box = coco_mask.toBbox(gt_rle), coco_mask.toBbox(pred_rle)  # x, y, w, h
    col0, row0 = int(min(gt_box[0], pred_box[0])), int(min(gt_box[1], pred_box[1]))
    col1 = int(max(gt_box[0] + gt_box[2], pred_box[0] + pred_box[2]))
    row1 = int(max(gt_box[1] + gt_box[3], pred_box[1] + pred_box[3]))
    both = coco_mask.decode([gt_rle, pred_rle])[row0:row1, col0:col1].view(bool)
    gt_edges, pred_edges = _edge_pixels(both[:, :, 0]), _edge_pixels(both[:, :, 1])
    hd_px = _symmetric_percentile_distance(gt_edges, pred_edges, percentile)
    if spacing is None:
        return hd_px, None
    scale = np.asarray(spacing, dtype=float)
    hd_mm = _symmetric_percentile_distance(gt_edges * scale, pred_edges * scale, percentile)
    return hd_px, hd_mm


# ----------------------------------------------------------------------------- per image


@dataclass
class PerImageScores:
    """One structure's per-image values; NaN where the image does not count for that metric."""

    status: np.ndarray  # int8 status codes (see STATUS_NAMES)
    dice: np.ndarray
    iou: np.ndarray
    hd95_px: np.ndarray
    hd95_mm: np.ndarray | None  # None unless spacing is known for every annotated image


def _prepared(rle: object, structure: str, index: int, role: str) -> tuple[Rle, tuple[int, int]]:
    """Checked RLE (uncompressed list counts are compressed) and its (H, W)."""
    try:
        checked = _checked_rle(rle)
        height, width = int(checked["size"][0]), int(checked["size"][1])
        if isinstance(checked["counts"], list):
            checked = coco_mask.frPyObjects(checked, height, width)
        return checked, (height, width)
    except (ValueError, TypeError, IndexError) as err:
        raise ValueError(f"structure {structure!r}, image {index}: bad {role} RLE ({err})") from err


def segmentation_per_image(
    gt_rles: Sequence[Rle | None],
    pred_rles: Sequence[Rle | None] | None,
    *,
    structure: str = "",
    spacing: Sequence[Spacing | None] | None = None,
    empty_rule: str = "exclude",
    hd95: bool = True,
    hd95_one_empty: str = "exclude",
) -> PerImageScores:
    """Per-image Dice / IoU / HD95 for one structure (see `score_segmentation` for the rules)."""
    _check_rules(empty_rule, hd95_one_empty)
    n = len(gt_rles)
    _validate_spacing(spacing, n)
    pred_rles = [None] * n if pred_rles is None else pred_rles
    if len(pred_rles) != n:
        raise ValueError(f"structure {structure!r}: {len(pred_rles)} predictions for {n} gt images")
    status = np.zeros(n, dtype=np.int8)
    dice, iou, hd_px, hd_mm = (np.full(n, np.nan) for _ in range(4))
    for i, (gt_rle, pred_rle) in enumerate(zip(gt_rles, pred_rles, strict=True)):
        if gt_rle is None:
            continue
        gt_rle, (height, width) = _prepared(gt_rle, structure, i, "gt")
        gt_area = int(coco_mask.area(gt_rle))
        pred_area = 0
        if pred_rle is not None:
            pred_rle, pred_size = _prepared(pred_rle, structure, i, "pred")
            if pred_size != (height, width):
                raise ValueError(
                    f"structure {structure!r}, image {i}: gt size {[height, width]} != pred size {list(pred_size)}"
                )
            pred_area = int(coco_mask.area(pred_rle))
        px_spacing = None if spacing is None else spacing[i]
        if gt_area == 0 and pred_area == 0:
            status[i] = BOTH_EMPTY
            if empty_rule == "one":
                dice[i] = iou[i] = 1.0
                hd_px[i] = hd_mm[i] = 0.0
            continue
        if gt_area == 0 or pred_area == 0:
            status[i] = FALSE_POSITIVE if gt_area == 0 else MISSED
            dice[i] = iou[i] = 0.0
            if hd95_one_empty == "diagonal":
                hd_px[i] = float(np.hypot(height, width))
                if px_spacing is not None:
                    hd_mm[i] = float(np.hypot(height * px_spacing[0], width * px_spacing[1]))
            continue
        status[i] = BOTH_PRESENT
        assert pred_rle is not None  # pred_area > 0
        if gt_rle["counts"] == pred_rle["counts"]:
            inter = gt_area
        else:
            inter = int(coco_mask.area(coco_mask.merge([gt_rle, pred_rle], intersect=True)))
        dice[i] = 2.0 * inter / (gt_area + pred_area)
        iou[i] = inter / (gt_area + pred_area - inter)
        if hd95 and inter == gt_area == pred_area:  # identical masks
            hd_px[i] = hd_mm[i] = 0.0
        elif hd95:
            hd_px[i], mm = hd95_from_rles(gt_rle, pred_rle, px_spacing)
            if mm is not None:
                hd_mm[i] = mm
    annotated = status != NOT_ANNOTATED
    has_mm = spacing is not None and all(spacing[int(i)] is not None for i in np.flatnonzero(annotated))
    if not hd95:
        hd_px[:] = np.nan
    return PerImageScores(status, dice, iou, hd_px, hd_mm if (hd95 and has_mm) else None)


# ----------------------------------------------------------------------------- corpus scorer


def _check_rules(empty_rule: str, hd95_one_empty: str) -> None:
    if empty_rule not in EMPTY_RULES:
        raise ValueError(f"empty_rule must be one of {EMPTY_RULES}, got {empty_rule!r}")
    if hd95_one_empty not in HD95_ONE_EMPTY_RULES:
        raise ValueError(f"hd95_one_empty must be one of {HD95_ONE_EMPTY_RULES}, got {hd95_one_empty!r}")


def _validate_spacing(spacing: Sequence[Spacing | None] | None, n_images: int) -> None:
    if spacing is None:
        return
    if len(spacing) != n_images:
        raise ValueError(f"spacing has {len(spacing)} entries for {n_images} images")
    for i, item in enumerate(spacing):
        if item is None:
            continue
        values = np.asarray(item, dtype=float)
        if values.shape != (2,) or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"image {i}: spacing must be (row_mm, col_mm) > 0, got {item!r}")


def _mean_and_replicates(
    values: np.ndarray, counts: np.ndarray | None
) -> tuple[float | None, np.ndarray | None]:
    """Mean over finite entries, and its bootstrap replicates as count-weighted means (NaN if empty)."""
    finite = np.isfinite(values)
    mean = float(values[finite].mean()) if finite.any() else None
    if counts is None:
        return mean, None
    numerator = counts @ np.where(finite, values, 0.0)
    denominator = counts @ finite.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return mean, numerator / denominator


def _mean_over_structures(
    means: list[float | None], replicates: list[np.ndarray | None]
) -> tuple[float | None, np.ndarray | None]:
    defined = [i for i, m in enumerate(means) if m is not None]
    if not defined:
        return None, None
    mean = float(np.mean([means[i] for i in defined]))
    if replicates[defined[0]] is None:
        return mean, None
    # one `counts` serves every structure, so a defined mean has replicates whenever the first one does
    stacked = np.stack(cast(list[np.ndarray], [replicates[i] for i in defined]))
    finite = np.isfinite(stacked)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = np.where(finite, stacked, 0.0).sum(axis=0) / finite.sum(axis=0)
    return mean, reps


def score_segmentation(
    gt: Mapping[str, Sequence[Rle | None]],
    pred: Mapping[str, Sequence[Rle | None]],
    *,
    spacing: Sequence[Spacing | None] | None = None,
    empty_rule: str = "exclude",
    hd95: bool = True,
    hd95_one_empty: str = "exclude",
    n_boot: int = 0,
    seed: int = 0,
    clusters: np.ndarray | None = None,
) -> TaskResult:
    """Dice / IoU / HD95 per structure and their means over structures.

    ``gt[structure][i]`` / ``pred[structure][i]`` are COCO RLE dicts for image ``i`` (every structure lists
    the same images). ``gt`` None: structure not annotated for that image -> not scored (prediction ignored).
    ``pred`` None, or a structure absent from ``pred``: empty prediction. ``spacing[i]`` = (row_mm, col_mm).
    ``empty_rule`` for gt and prediction both empty: "exclude" (not counted) or "one" (Dice = IoU = 1,
    HD95 = 0). Exactly one empty: Dice = IoU = 0; HD95 excluded (``hd95_one_empty="exclude"``, counted in
    notes) or the image diagonal (``"diagonal"``: hypot(H, W) pixels, in mm with the spacing).
    """
    _check_rules(empty_rule, hd95_one_empty)
    lengths = {structure: len(rles) for structure, rles in gt.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"every structure must list the same images; lengths per structure: {lengths}")
    n_images = next(iter(lengths.values()), 0)
    _validate_spacing(spacing, n_images)
    counts = None
    if n_boot > 0 and n_images > 0:
        counts = bootstrap_counts(n_images, n_boot, seed, clusters=clusters).astype(float)

    metric_names = ["dice", "iou"] + (["hd95_px", "hd95_mm"] if hd95 else [])
    per_label: dict[str, dict[str, float | None]] = {name: {} for name in metric_names}
    metrics: dict[str, MetricValue] = {}
    structure_means: dict[str, list[float | None]] = {name: [] for name in metric_names}
    structure_reps: dict[str, list[np.ndarray | None]] = {name: [] for name in metric_names}
    case_counts: dict[str, dict[str, int]] = {}
    notes: dict[str, object] = {}
    undefined: list[str] = []

    for structure, gt_rles in gt.items():
        scores = segmentation_per_image(
            gt_rles,
            pred.get(structure),
            structure=structure,
            spacing=spacing,
            empty_rule=empty_rule,
            hd95=hd95,
            hd95_one_empty=hd95_one_empty,
        )
        case_counts[structure] = {
            name: int(np.sum(scores.status == code)) for code, name in STATUS_NAMES.items()
        }
        case_counts[structure]["dice_counted"] = int(np.isfinite(scores.dice).sum())
        if hd95:
            case_counts[structure]["hd95_counted"] = int(np.isfinite(scores.hd95_px).sum())
        values = {
            "dice": scores.dice,
            "iou": scores.iou,
            "hd95_px": scores.hd95_px,
            "hd95_mm": scores.hd95_mm,
        }
        for name in metric_names:
            value = values[name]
            if value is None:  # hd95_mm without spacing for every annotated image
                structure_means[name].append(None)
                structure_reps[name].append(None)
                continue
            mean, reps = _mean_and_replicates(value, counts)
            structure_means[name].append(mean)
            structure_reps[name].append(reps)
            per_label[name][structure] = mean
            if mean is None:
                undefined.append(f"{name}/{structure}: no image counts (see counts)")
            ci = None if reps is None or mean is None else percentile_ci(reps)
            metrics[f"{name}/{structure}"] = MetricValue(mean, ci)

    for name in metric_names:
        means, reps_list = structure_means[name], structure_reps[name]
        if name == "hd95_mm":
            known_px = [m is not None for m in structure_means["hd95_px"]]
            if not any(m is not None for m in means) or any(
                px and m is None for px, m in zip(known_px, means, strict=True)
            ):
                if spacing is not None:
                    undefined.append(
                        "hd95_mm_mean: spacing unknown for some annotated image of some structure"
                    )
                continue
        mean, reps = _mean_over_structures(means, reps_list)
        if mean is None:
            undefined.append(f"{name}_mean: no structure has a defined {name}")
        metrics[f"{name}_mean"] = MetricValue(mean, None if reps is None else percentile_ci(reps))
    if not hd95 or not per_label.get("hd95_mm"):
        per_label.pop("hd95_mm", None)

    ignored = [s for s in pred if s not in gt]
    if ignored:
        notes["pred_structures_not_in_gt_ignored"] = ignored
    notes["counts"] = case_counts
    if hd95 and hd95_one_empty == "exclude":
        notes["hd95_excluded_one_empty"] = {
            s: c["gt_empty_pred_nonempty"] + c["gt_nonempty_pred_empty"] for s, c in case_counts.items()
        }
    if undefined:
        notes["undefined"] = undefined
    conventions = {
        "input": "COCO RLE per structure per image; gt None = structure not annotated (image not scored for it); "
        "pred None or structure missing in pred = empty prediction",
        "empty_rule": empty_rule,
        "both_empty": "excluded from dice/iou/hd95 means"
        if empty_rule == "exclude"
        else "dice = iou = 1, hd95 = 0",
        "one_empty": "dice = iou = 0; hd95 "
        + (
            "undefined, excluded from the hd95 mean"
            if hd95_one_empty == "exclude"
            else "= image diagonal hypot(H, W)"
        ),
        "dice": "2|G∩P| / (|G|+|P|) per image from RLE areas (pycocotools area / merge(intersect=True))",
        "iou": "|G∩P| / |G∪P| per image (equals pycocotools.mask.iou)",
        "hd95": "MONAI compute_hausdorff_distance(percentile=95, directed=False): edges = mask XOR "
        "binary_erosion(mask) (cross element, zero border); exact Euclidean edge-to-nearest-edge distances; "
        "max of the two directed 95th percentiles (linear interpolation)",
        "hd95_mm": "spacing (row_mm, col_mm) as distance sampling; reported per structure only when spacing "
        "is known for every annotated image of it",
        "aggregation": "per-structure mean over counted images; *_mean = unweighted mean over structures "
        "with a defined value",
        "bootstrap": "images resampled (bootstrap_counts); per-image values fixed, replicate = count-weighted "
        "means; structures without counted images in a replicate are skipped in that replicate's *_mean",
    }
    return TaskResult(metrics=metrics, per_label=per_label, conventions=conventions, notes=notes)
