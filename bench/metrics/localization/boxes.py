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


def centre_in_box(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Whether the predicted box's centre lies inside the gt box, borders included (object-CXR's rule)."""
    cx = (pred[..., 0] + pred[..., 2]) / 2
    cy = (pred[..., 1] + pred[..., 3]) / 2
    return (gt[..., 0] <= cx) & (cx <= gt[..., 2]) & (gt[..., 1] <= cy) & (cy <= gt[..., 3])
