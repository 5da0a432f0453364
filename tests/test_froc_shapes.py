"""object-CXR FROC with the official hit rule: a predicted point hits an object when it lies inside the annotated
rectangle, ellipse or polygon (jfhealthcare/object-CXR froc.py `inside_object`; docs/datasets/object-cxr.md).

The reference below is an independent, literal implementation of that published algorithm: one prediction at a
time in descending probability, matplotlib's `Path.contains_point` for polygons (the official code calls
scikit-image's `points_in_poly`; both apply the even-odd rule and agree off the boundary, where random shapes
never put a point), the ellipse formula as written in the official code.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from bench.metrics.localization import FROC_FP_RATES, DetectionSet, weighted_localization_metrics
from bench.metrics.localization.boxes import points_in_polygon


def _random_shapes(seed: int, n_images: int = 60) -> DetectionSet:
    rng = np.random.default_rng(seed)
    gt_boxes, gt_labels, gt_shapes, pred_boxes, pred_labels, pred_scores = [], [], [], [], [], []
    for _ in range(n_images):
        boxes, shapes = [], []
        for _ in range(0 if rng.random() < 0.4 else int(rng.integers(1, 4))):
            kind = int(rng.integers(0, 3))
            cx, cy = rng.uniform(40, 460, 2)
            if kind == 2:  # a star-shaped (possibly concave) polygon around (cx, cy)
                n = int(rng.integers(3, 9))
                angles = np.sort(rng.uniform(0, 2 * np.pi, n))
                radii = rng.uniform(5, 60, n)
                vertices = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
                shapes.append(vertices)
                boxes.append([*vertices.min(axis=0), *vertices.max(axis=0)])
            else:
                w, h = rng.uniform(4, 90, 2)
                boxes.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
                shapes.append("ellipse" if kind == 1 else None)
        preds = []
        for box in boxes:  # points near each object: many inside its box but outside its ellipse/polygon
            for _ in range(int(rng.integers(0, 5))):
                x, y = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
                preds.append([x - 3, y - 3, x + 3, y + 3])
        for _ in range(int(rng.integers(0, 6))):
            x, y = rng.uniform(3, 497, 2)
            preds.append([x - 3, y - 3, x + 3, y + 3])
        gt_boxes.append(np.asarray(boxes, dtype=float).reshape(-1, 4))
        gt_labels.append(np.zeros(len(boxes), dtype=np.int64))
        gt_shapes.append(shapes)
        pred_boxes.append(np.asarray(preds, dtype=float).reshape(-1, 4))
        pred_labels.append(np.zeros(len(preds), dtype=np.int64))
        pred_scores.append(rng.random(len(preds)))
    return DetectionSet(
        ["Foreign Object"], gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores, gt_shapes=gt_shapes
    )


@np.errstate(divide="ignore", invalid="ignore")
def _inside(x: float, y: float, box: np.ndarray, shape: object) -> bool:
    x1, y1, x2, y2 = (float(v) for v in box)
    if shape is None:
        return x1 <= x <= x2 and y1 <= y <= y2
    if isinstance(shape, str):
        xc, yc, ax, ay = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        return ((x - xc) / ax) ** 2 + ((y - yc) / ay) ** 2 <= 1
    return bool(MplPath(np.asarray(shape)).contains_point((x, y)))


def froc_official(data: DetectionSet) -> float:
    objects = [
        (i, n, box, shape)
        for i in range(data.n_images)
        for n, (box, shape) in enumerate(zip(data.gt_boxes[i], data.gt_shapes[i], strict=True))
    ]
    predictions = sorted(
        (
            (float(s), i, ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
            for i in range(data.n_images)
            for b, s in zip(data.pred_boxes[i], data.pred_scores[i], strict=True)
        ),
        key=lambda p: p[0],
        reverse=True,
    )
    hit: set[tuple[int, int]] = set()
    false_positives, froc = 0, []
    for _, i, (x, y) in predictions:
        inside_any = False
        for oi, n, box, shape in objects:
            if oi == i and _inside(x, y, box, shape):
                inside_any = True
                hit.add((oi, n))
        false_positives += not inside_any
        if len(froc) < len(FROC_FP_RATES) and false_positives / data.n_images >= FROC_FP_RATES[len(froc)]:
            froc.append(len(hit) / len(objects))
    froc = froc or [len(hit) / len(objects)]
    froc += [froc[-1]] * (len(FROC_FP_RATES) - len(froc))
    return float(np.mean(froc))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_froc_center_in_object_equals_the_official_walk(seed: int) -> None:
    data = _random_shapes(seed)
    got = weighted_localization_metrics(data, np.ones((1, data.n_images)), froc_hit="center_in_object")
    assert got.metrics["froc"][0] == pytest.approx(froc_official(data), abs=1e-12)


def test_bounding_box_rule_overstates_sensitivity_on_shapes() -> None:
    data = _random_shapes(7, n_images=120)
    ones = np.ones((1, data.n_images))
    by_object = weighted_localization_metrics(data, ones, froc_hit="center_in_object").metrics["froc"][0]
    by_box = weighted_localization_metrics(data, ones, froc_hit="center_in_box").metrics["froc"][0]
    assert by_box > by_object


def test_shapes_do_not_change_rectangles() -> None:
    data = _random_shapes(11)
    rect = DetectionSet(
        data.label_names,
        data.gt_boxes,
        data.gt_labels,
        data.pred_boxes,
        data.pred_labels,
        data.pred_scores,
        gt_shapes=[[None] * len(b) for b in data.gt_boxes],
    )
    ones = np.ones((1, data.n_images))
    a = weighted_localization_metrics(rect, ones, froc_hit="center_in_object").metrics["froc"][0]
    b = weighted_localization_metrics(rect, ones, froc_hit="center_in_box").metrics["froc"][0]
    assert a == b


def test_point_in_polygon_hand_cases() -> None:
    # A concave "L": the notch (3, 3) is outside; vertices and edges count as inside (scikit-image's rule).
    ell = np.array([[0, 0], [4, 0], [4, 2], [2, 2], [2, 4], [0, 4]], dtype=float)
    points = np.array(
        [[1, 1], [3, 3], [3, 1], [1, 3], [0, 0], [2, 3], [4, 1], [5, 1], [-0.1, 2]], dtype=float
    )
    assert points_in_polygon(points, ell).tolist() == [
        True,
        False,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_point_in_polygon_equals_matplotlib_off_the_boundary() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        n = int(rng.integers(3, 12))
        vertices = rng.uniform(0, 100, (n, 2))  # arbitrary, often self-intersecting: even-odd on both sides
        points = rng.uniform(-10, 110, (400, 2))
        want = MplPath(vertices).contains_points(points)
        assert (points_in_polygon(points, vertices) == want).all()


def test_ellipse_hand_case_and_degenerate_ellipse() -> None:
    gt = [np.array([[0.0, 0.0, 10.0, 4.0], [20.0, 20.0, 20.0, 30.0]])]
    # (9, 0.5) is inside the box but outside the inscribed ellipse; (5, 2) is its centre; the second object is a
    # zero-width ellipse, never hit (the official formula divides by zero).
    pred = [np.array([[8.0, -0.5, 10.0, 1.5], [4.0, 1.0, 6.0, 3.0], [19.0, 24.0, 21.0, 26.0]])]
    data = DetectionSet(
        ["x"],
        gt,
        [np.zeros(2, dtype=np.int64)],
        pred,
        [np.zeros(3, dtype=np.int64)],
        [np.array([0.9, 0.8, 0.7])],
        gt_shapes=[["ellipse", "ellipse"]],
    )
    got = weighted_localization_metrics(data, np.ones((1, 1)), froc_hit="center_in_object")
    assert got.metrics["froc"][0] == pytest.approx(froc_official(data), abs=1e-12)
    # one image: the first prediction (a false positive) records rate 1/8, each later one the next rate
    assert got.froc_sensitivity[0].tolist() == [0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
