"""Broadcasting box overlap measures on xyxy boxes (last axis = x1, y1, x2, y2)."""

from __future__ import annotations

import numpy as np


def coco_iou(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU with pycocotools' arithmetic (maskApi.c `bbIou`, iscrowd=0), bit for bit.

    COCO boxes are xywh with the +0 pixel convention: the boxes are converted to w = x2 - x1 first and
    the right edge is recomputed as w + x1, exactly as pycocotools sees a box exported as xywh.
    """
    dx, dy, dw, dh = det[..., 0], det[..., 1], det[..., 2] - det[..., 0], det[..., 3] - det[..., 1]
    gx, gy, gw, gh = gt[..., 0], gt[..., 1], gt[..., 2] - gt[..., 0], gt[..., 3] - gt[..., 1]
    iw = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    ih = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    overlap = (iw > 0) & (ih > 0)
    inter = iw * ih
    union = dw * dh + gw * gh - inter
    return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.maximum(iw, 0.0) * np.maximum(ih, 0.0)


def _area(a: np.ndarray) -> np.ndarray:
    return (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union on xyxy boxes, continuous coordinates (+0 convention); 0 when union is 0."""
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def iobb(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Intersection over the predicted box's area (Wang et al. 2017's IoBB); 0 for an empty predicted box."""
    inter = _intersection(pred, gt)
    area = _area(pred)
    return np.where(area > 0, inter / np.where(area > 0, area, 1.0), 0.0)


def box_centres(pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (pred[..., 0] + pred[..., 2]) / 2, (pred[..., 1] + pred[..., 3]) / 2


def centre_in_ellipse(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Whether the predicted box's centre lies in the ellipse inscribed in the gt box, border included.

    As object-CXR's froc.py: ((x - cx) / a)^2 + ((y - cy) / b)^2 <= 1, so a degenerate ellipse (a or b = 0)
    is never hit (the division gives inf or nan).
    """
    x, y = box_centres(pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = (x - (gt[..., 0] + gt[..., 2]) / 2) / ((gt[..., 2] - gt[..., 0]) / 2)
        dy = (y - (gt[..., 1] + gt[..., 3]) / 2) / ((gt[..., 3] - gt[..., 1]) / 2)
        return dx**2 + dy**2 <= 1


def points_in_polygon(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """(n,) whether each (x, y) point lies inside the polygon or on its boundary (even-odd rule).

    The rule of scikit-image's `points_in_poly`, which object-CXR's froc.py calls: vertices and edges count
    as inside; the polygon closes itself (a repeated first vertex changes nothing).
    """
    px, py = points[:, 0:1], points[:, 1:2]
    x0, y0 = vertices[:, 0][None, :], vertices[:, 1][None, :]
    x1, y1 = np.roll(vertices[:, 0], -1)[None, :], np.roll(vertices[:, 1], -1)[None, :]
    cross = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
    dot = (px - x0) * (x1 - x0) + (py - y0) * (y1 - y0)
    on_edge = (cross == 0) & (dot >= 0) & (dot <= (x1 - x0) ** 2 + (y1 - y0) ** 2)
    straddles = (y0 > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    crossings = (straddles & (px < x_cross)).sum(axis=1)
    return (crossings % 2 == 1) | on_edge.any(axis=1)


def centre_in_box(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Whether the predicted box's centre lies inside the gt box, borders included (object-CXR's rule)."""
    cx = (pred[..., 0] + pred[..., 2]) / 2
    cy = (pred[..., 1] + pred[..., 3]) / 2
    return (gt[..., 0] <= cx) & (cx <= gt[..., 2]) & (gt[..., 1] <= cy) & (cy <= gt[..., 3])
