"""Input type of the localization metrics and its flattened, score-sorted internal form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DetectionSet:
    """Ground-truth and predicted boxes of one corpus, one list entry per image.

    Boxes are float xyxy (x1 <= x2, y1 <= y2) in original-image pixels; labels index `label_names`.
    Images without ground-truth boxes are part of the set: their predictions are false positives.
    """

    label_names: list[str]
    gt_boxes: list[np.ndarray]  # per image (k, 4)
    gt_labels: list[np.ndarray]  # per image (k,)
    pred_boxes: list[np.ndarray]  # per image (m, 4)
    pred_labels: list[np.ndarray]  # per image (m,)
    pred_scores: list[np.ndarray]  # per image (m,)
    # Optional annotated shape of each gt box (object-CXR): None = the rectangle, "ellipse" = inscribed in the
    # box, or a (v, 2) array of polygon vertices. Only the FROC hit rule "center_in_object" reads it.
    gt_shapes: list[list[str | np.ndarray | None]] | None = None

    @property
    def n_images(self) -> int:
        return len(self.gt_boxes)


@dataclass(frozen=True)
class FlatDetections:
    """All boxes of a `DetectionSet` concatenated.

    Predictions are in the one global order every metric uses: score descending, ties broken by image
    order and then by input order within the image (a stable sort of the concatenation, which is what
    pycocotools' mergesort, object-CXR's `sorted` and a VOC stable sort all produce). Restricted to
    one image (or one image and label) this is that image's own score order.
    """

    n_images: int
    n_labels: int
    det_image: np.ndarray  # (D,) int64
    det_label: np.ndarray  # (D,) int64
    det_score: np.ndarray  # (D,) float64
    det_box: np.ndarray  # (D, 4) float64 xyxy
    gt_image: np.ndarray  # (G,) int64, image order then input order
    gt_label: np.ndarray  # (G,) int64
    gt_box: np.ndarray  # (G, 4) float64 xyxy
    gt_count: np.ndarray  # (n_images, n_labels) int64 ground-truth boxes per image and label
    gt_kind: np.ndarray | None = None  # (G,) int8: 0 rectangle, 1 ellipse, 2 polygon (None: all rectangles)
    gt_polygons: dict[int, np.ndarray] = field(default_factory=dict)  # gt index -> (v, 2) vertices

    @property
    def det_key(self) -> np.ndarray:
        return self.det_image * self.n_labels + self.det_label

    @property
    def gt_key(self) -> np.ndarray:
        return self.gt_image * self.n_labels + self.gt_label


def _boxes(x: np.ndarray, what: str, i: int) -> np.ndarray:
    b = np.asarray(x, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{what}[{i}] must have shape (n, 4), got {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError(f"{what}[{i}] has non-finite coordinates")
    if (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
        raise ValueError(f"{what}[{i}] has boxes with x2 < x1 or y2 < y1 (boxes must be xyxy)")
    return b


def _labels(x: np.ndarray, n: int, n_labels: int, what: str, i: int) -> np.ndarray:
    lab = np.asarray(x).reshape(-1)
    if lab.size != n:
        raise ValueError(f"{what}[{i}] has {lab.size} labels for {n} boxes")
    if lab.size and (not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0 or lab.max() >= n_labels):
        raise ValueError(f"{what}[{i}] must hold integer indices into label_names")
    return lab.astype(np.int64)


def flatten(data: DetectionSet) -> FlatDetections:
    """Validate `data` and concatenate it into the global score order."""
    n = data.n_images
    k = len(data.label_names)
    lists = (data.gt_labels, data.pred_boxes, data.pred_labels, data.pred_scores)
    if any(len(x) != n for x in lists):
        raise ValueError("gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores need one entry per image")
    if n == 0:
        raise ValueError("DetectionSet has no images")
    gt_box, gt_lab, gt_img, det_box, det_lab, det_score, det_img = [], [], [], [], [], [], []
    for i in range(n):
        gb = _boxes(data.gt_boxes[i], "gt_boxes", i)
        pb = _boxes(data.pred_boxes[i], "pred_boxes", i)
        ps = np.asarray(data.pred_scores[i], dtype=np.float64).reshape(-1)
        if ps.size != len(pb) or not np.isfinite(ps).all():
            raise ValueError(f"pred_scores[{i}] must hold one finite score per predicted box")
        gt_box.append(gb)
        gt_lab.append(_labels(data.gt_labels[i], len(gb), k, "gt_labels", i))
        gt_img.append(np.full(len(gb), i, dtype=np.int64))
        det_box.append(pb)
        det_lab.append(_labels(data.pred_labels[i], len(pb), k, "pred_labels", i))
        det_score.append(ps)
        det_img.append(np.full(len(pb), i, dtype=np.int64))
    gt_kind, gt_polygons = _shapes(data, [len(b) for b in gt_box])
    scores = np.concatenate(det_score)
    order = np.argsort(-scores, kind="stable")
    g_img, g_lab = np.concatenate(gt_img), np.concatenate(gt_lab)
    gt_count = np.zeros((n, k), dtype=np.int64)
    np.add.at(gt_count, (g_img, g_lab), 1)
    return FlatDetections(
        n_images=n,
        n_labels=k,
        det_image=np.concatenate(det_img)[order],
        det_label=np.concatenate(det_lab)[order],
        det_score=scores[order],
        det_box=np.concatenate(det_box)[order],
        gt_image=g_img,
        gt_label=g_lab,
        gt_box=np.concatenate(gt_box),
        gt_count=gt_count,
        gt_kind=gt_kind,
        gt_polygons=gt_polygons,
    )


SHAPE_KINDS = {None: 0, "ellipse": 1}


def _shapes(data: DetectionSet, n_gt: list[int]) -> tuple[np.ndarray | None, dict[int, np.ndarray]]:
    if data.gt_shapes is None:
        return None, {}
    if len(data.gt_shapes) != len(n_gt):
        raise ValueError("gt_shapes needs one entry per image")
    kinds: list[int] = []
    polygons: dict[int, np.ndarray] = {}
    for i, (shapes, n) in enumerate(zip(data.gt_shapes, n_gt, strict=True)):
        if len(shapes) != n:
            raise ValueError(f"gt_shapes[{i}] has {len(shapes)} shapes for {n} boxes")
        for shape in shapes:
            if isinstance(shape, np.ndarray):
                vertices = np.asarray(shape, dtype=np.float64)
                if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
                    raise ValueError(f"gt_shapes[{i}]: a polygon needs (v >= 3, 2) vertices")
                polygons[len(kinds)] = vertices
                kinds.append(2)
            elif shape in SHAPE_KINDS:
                kinds.append(SHAPE_KINDS[shape])
            else:
                raise ValueError(f"gt_shapes[{i}]: unknown shape {shape!r} (None, 'ellipse' or vertices)")
    return np.asarray(kinds, dtype=np.int8), polygons


@dataclass(frozen=True)
class GroupBlock:
    """(image, label) groups holding both predictions and ground truth, padded to equal sizes.

    Rows are groups; `det_idx[p]` lists the group's predictions in global (score) order, `gt_idx[p]` its
    ground-truth boxes in input order. Padding entries point at index 0 and are False in the masks.
    """

    det_idx: np.ndarray  # (P, Dmax) into FlatDetections' prediction arrays
    det_valid: np.ndarray  # (P, Dmax) bool
    gt_idx: np.ndarray  # (P, Gmax) into FlatDetections' ground-truth arrays
    gt_valid: np.ndarray  # (P, Gmax) bool


def group_blocks(flat: FlatDetections, det_subset: np.ndarray) -> Iterator[GroupBlock]:
    """Blocks over the (image, label) groups of `det_subset` (prediction indices, ascending) that have gt.

    Groups are bucketed by the next power of two of their prediction and gt counts so that one crowded
    image does not pad every other group to its size.
    """
    d_keys = flat.det_key[det_subset]
    d_order = np.argsort(d_keys, kind="stable")
    d_sorted = det_subset[d_order]
    d_uniq, d_start, d_count = np.unique(d_keys[d_order], return_index=True, return_counts=True)
    g_keys = flat.gt_key
    g_order = np.argsort(g_keys, kind="stable")
    g_uniq, g_start, g_count = np.unique(g_keys[g_order], return_index=True, return_counts=True)
    _, ia, ib = np.intersect1d(d_uniq, g_uniq, assume_unique=True, return_indices=True)
    if ia.size == 0:
        return
    n_det, n_gt = d_count[ia], g_count[ib]
    bucket = np.ceil(np.log2(n_det)).astype(np.int64) * 64 + np.ceil(np.log2(n_gt)).astype(np.int64)
    for b in np.unique(bucket):
        sel = bucket == b
        det_idx, det_valid = _padded(d_start[ia][sel], n_det[sel], d_sorted)
        gt_idx, gt_valid = _padded(g_start[ib][sel], n_gt[sel], g_order)
        yield GroupBlock(det_idx, det_valid, gt_idx, gt_valid)


def _padded(start: np.ndarray, count: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = np.arange(int(count.max()))
    valid = width[None, :] < count[:, None]
    pos = np.where(valid, start[:, None] + width[None, :], 0)
    return members[pos], valid
