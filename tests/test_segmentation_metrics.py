"""Segmentation metrics vs numpy, pycocotools, a brute-force / MONAI-style HD95 and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from scipy import ndimage
from scipy.spatial.distance import cdist

from bench.metrics.bootstrap import bootstrap_indices, percentile_ci
from bench.metrics.segmentation import (
    decode_mask,
    encode_mask,
    hd95_from_rles,
    polygon_to_rle,
    score_segmentation,
    segmentation_per_image,
)

# ----------------------------------------------------------------------------- references


def numpy_dice_iou(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    inter = np.logical_and(gt, pred).sum()
    union = np.logical_or(gt, pred).sum()
    return 2.0 * inter / (gt.sum() + pred.sum()), inter / union


def monai_style_hd95(gt: np.ndarray, pred: np.ndarray, spacing=None) -> float:
    """MONAI get_mask_edges + get_surface_distance + percentile, written with scipy on the full image."""
    edges_gt = ndimage.binary_erosion(gt) ^ gt
    edges_pred = ndimage.binary_erosion(pred) ^ pred
    d_pred = ndimage.distance_transform_edt(~edges_gt, sampling=spacing)[edges_pred]
    d_gt = ndimage.distance_transform_edt(~edges_pred, sampling=spacing)[edges_gt]
    return max(np.percentile(d_pred, 95), np.percentile(d_gt, 95))


def brute_hd95(gt: np.ndarray, pred: np.ndarray, spacing=(1.0, 1.0)) -> float:
    """Pairwise distances between edge pixels; an edge pixel has a 4-neighbour outside the mask or image."""

    def edges(mask: np.ndarray) -> np.ndarray:
        h, w = mask.shape
        out = []
        for r, c in np.argwhere(mask):
            neighbours = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
            if any(not (0 <= y < h and 0 <= x < w) or not mask[y, x] for y, x in neighbours):
                out.append((r, c))
        return np.array(out, dtype=float) * np.asarray(spacing)

    pairwise = cdist(edges(gt), edges(pred))
    return max(np.percentile(pairwise.min(axis=1), 95), np.percentile(pairwise.min(axis=0), 95))


def random_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Mixture of noise and blobs, often touching the image border."""
    if rng.random() < 0.5:
        return rng.random(shape) < rng.uniform(0.05, 0.9)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
    ry, rx = rng.uniform(2, shape[0]), rng.uniform(2, shape[1])
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1


def nonempty_random_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    mask = random_mask(rng, shape)
    mask[rng.integers(shape[0]), rng.integers(shape[1])] = True
    return mask


# ----------------------------------------------------------------------------- helpers


def test_encode_decode_roundtrip_and_str_counts():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 13), (64, 48)]:
        for mask in [np.zeros(shape, bool), np.ones(shape, bool), rng.random(shape) < 0.4]:
            rle = encode_mask(mask)
            assert isinstance(rle["counts"], str) and rle["size"] == list(shape)
            np.testing.assert_array_equal(decode_mask(rle), mask)
            assert coco_mask.area(rle) == mask.sum()


def test_uncompressed_list_counts_are_accepted():
    rng = np.random.default_rng(6)
    gt, pred = rng.random((9, 11)) < 0.5, rng.random((9, 11)) < 0.5
    flat = gt.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))  # run boundaries, first run = zeros
    uncompressed = {"size": [9, 11], "counts": np.diff(np.r_[0, change]).tolist()}
    assert sum(uncompressed["counts"]) == gt.size
    scores = segmentation_per_image([uncompressed], [encode_mask(pred)], hd95=False)
    assert abs(scores.dice[0] - numpy_dice_iou(gt, pred)[0]) <= 1e-12


def test_polygon_to_rle_rectangle_forms_and_union():
    # COCO rasterises an integer rectangle (x0, y0)-(x1, y1) to rows y0..y1-1, cols x0..x1-1.
    expected = np.zeros((20, 30), bool)
    expected[3:11, 5:17] = True
    pairs = [(5, 3), (17, 3), (17, 11), (5, 11)]
    flat = [v for p in pairs for v in p]
    np.testing.assert_array_equal(decode_mask(polygon_to_rle(pairs, 20, 30)), expected)
    np.testing.assert_array_equal(decode_mask(polygon_to_rle(flat, 20, 30)), expected)
    second = [20, 12, 28, 12, 28, 18, 20, 18]
    union = decode_mask(polygon_to_rle([flat, second], 20, 30))
    np.testing.assert_array_equal(union, expected | decode_mask(polygon_to_rle(second, 20, 30)))
    with pytest.raises(ValueError):
        polygon_to_rle([1, 2, 3, 4], 20, 30)


# ----------------------------------------------------------------------------- Dice / IoU


def test_dice_iou_equal_numpy_and_pycocotools_on_random_masks():
    rng = np.random.default_rng(1)
    n = 40
    gts = [random_mask(rng, (23, 31)) for _ in range(n)]
    preds = [random_mask(rng, (23, 31)) for _ in range(n)]
    preds[0] = gts[0].copy()  # identical-mask fast path
    scores = segmentation_per_image(
        [encode_mask(m) for m in gts], [encode_mask(m) for m in preds], empty_rule="one", hd95=False
    )
    for i, (g, p) in enumerate(zip(gts, preds, strict=True)):
        if not g.any() and not p.any():
            assert scores.dice[i] == 1.0 and scores.iou[i] == 1.0
            continue
        dice, iou = numpy_dice_iou(g, p)
        assert abs(scores.dice[i] - dice) <= 1e-12 and abs(scores.iou[i] - iou) <= 1e-12
        coco_iou = coco_mask.iou([encode_mask(p)], [encode_mask(g)], [0])[0, 0]
        assert abs(scores.iou[i] - coco_iou) <= 1e-12
    assert scores.dice[0] == 1.0


def test_structure_means_and_overall_means():
    rng = np.random.default_rng(2)
    shape = (16, 20)
    masks = {s: [(random_mask(rng, shape), random_mask(rng, shape)) for _ in range(12)] for s in ["a", "b"]}
    gt = {s: [encode_mask(g) for g, _ in pairs] for s, pairs in masks.items()}
    pred = {s: [encode_mask(p) for _, p in pairs] for s, pairs in masks.items()}
    result = score_segmentation(gt, pred, empty_rule="exclude", hd95=False)
    means = {}
    for s, pairs in masks.items():
        values = [numpy_dice_iou(g, p) for g, p in pairs if g.any() or p.any()]
        means[s] = np.mean(values, axis=0)
        assert abs(result.per_label["dice"][s] - means[s][0]) <= 1e-12
        assert abs(result.metrics[f"iou/{s}"].value - means[s][1]) <= 1e-12
    assert abs(result.metrics["dice_mean"].value - np.mean([m[0] for m in means.values()])) <= 1e-12
    assert abs(result.metrics["iou_mean"].value - np.mean([m[1] for m in means.values()])) <= 1e-12
    assert "hd95_px_mean" not in result.metrics and "hd95_px" not in result.per_label


# ----------------------------------------------------------------------------- HD95


def test_hd95_matches_bruteforce_and_monai_style_on_random_masks():
    rng = np.random.default_rng(3)
    for _ in range(30):
        shape = (int(rng.integers(3, 25)), int(rng.integers(3, 25)))
        gt, pred = nonempty_random_mask(rng, shape), nonempty_random_mask(rng, shape)
        spacing = (float(rng.uniform(0.2, 3)), float(rng.uniform(0.2, 3)))
        hd_px, hd_mm = hd95_from_rles(encode_mask(gt), encode_mask(pred), spacing)
        assert hd_px == pytest.approx(brute_hd95(gt, pred), abs=1e-9)
        assert hd_mm == pytest.approx(brute_hd95(gt, pred, spacing), abs=1e-9)
        assert hd_px == pytest.approx(monai_style_hd95(gt, pred), abs=1e-9)
        assert hd_mm == pytest.approx(monai_style_hd95(gt, pred, spacing), abs=1e-9)


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("axis", [0, 1])
def test_hd95_two_squares_offset_by_k(k: int, axis: int):
    # Square side s = 40, shifted by k along one axis. Directed distances (by symmetry both directions):
    # 2(s-k) shared top/bottom pixels at 0; top/bottom pixels before the overlap at k-c (c = 0..k-1);
    # the leading side's s-2 interior pixels at k; the trailing side's interior pixel at row r at
    # min(k, s-1-k, r, s-1-r). More than 5 % of the values equal the maximum k, so HD95 = k.
    s = 40
    distances = [0.0] * (2 * (s - k)) + [float(k - c) for c in range(k)] * 2 + [float(k)] * (s - 2)
    distances += [float(min(k, s - 1 - k, r, s - 1 - r)) for r in range(1, s - 1)]
    assert len(distances) == 4 * (s - 1)
    expected = np.percentile(distances, 95)
    assert expected == k
    gt = np.zeros((60, 70), bool)
    gt[5 : 5 + s, 8 : 8 + s] = True
    pred = np.roll(gt, k, axis=axis)
    spacing = (0.5, 2.0)
    hd_px, hd_mm = hd95_from_rles(encode_mask(gt), encode_mask(pred), spacing)
    assert hd_px == expected
    assert hd_mm == pytest.approx(k * spacing[axis], abs=1e-12)


def test_hd95_identical_masks_is_zero_and_touching_border():
    mask = np.zeros((10, 10), bool)
    mask[:, :4] = True  # touches three image borders: they count as edges
    rle = encode_mask(mask)
    assert hd95_from_rles(rle, rle) == (0.0, None)
    other = np.zeros((10, 10), bool)
    other[:, :6] = True
    assert hd95_from_rles(rle, encode_mask(other))[0] == pytest.approx(brute_hd95(mask, other), abs=1e-12)


# ----------------------------------------------------------------------------- empty rules


def _empty(shape=(8, 8)) -> dict:
    return encode_mask(np.zeros(shape, bool))


def _square(shape=(8, 8), lo=2, hi=6) -> dict:
    mask = np.zeros(shape, bool)
    mask[lo:hi, lo:hi] = True
    return encode_mask(mask)


def test_empty_rules_and_counts():
    # images: both present (dice 1), both empty, gt empty + pred, gt + pred None (missed), gt not annotated
    gt = {"heart": [_square(), _empty(), _empty(), _square(), None]}
    pred = {"heart": [_square(), _empty(), _square(), None, _square()]}
    excl = score_segmentation(gt, pred, empty_rule="exclude")
    assert excl.per_label["dice"]["heart"] == pytest.approx(1 / 3)  # (1 + 0 + 0) / 3
    assert excl.per_label["hd95_px"]["heart"] == 0.0  # only the identical pair counts
    counts = excl.notes["counts"]["heart"]
    assert counts["both_empty"] == 1 and counts["gt_empty_pred_nonempty"] == 1
    assert counts["gt_nonempty_pred_empty"] == 1 and counts["gt_not_annotated"] == 1
    assert counts["dice_counted"] == 3 and counts["hd95_counted"] == 1
    assert excl.notes["hd95_excluded_one_empty"] == {"heart": 2}
    one = score_segmentation(gt, pred, empty_rule="one")
    assert one.per_label["dice"]["heart"] == pytest.approx(2 / 4)  # (1 + 1 + 0 + 0) / 4
    assert one.per_label["iou"]["heart"] == pytest.approx(2 / 4)
    assert one.per_label["hd95_px"]["heart"] == 0.0  # both-empty counts as HD95 = 0
    assert one.conventions["empty_rule"] == "one"
    diag = score_segmentation(gt, pred, empty_rule="one", hd95_one_empty="diagonal", spacing=[(1.0, 2.0)] * 5)
    assert diag.per_label["hd95_px"]["heart"] == pytest.approx(2 * math.hypot(8, 8) / 4)
    assert diag.per_label["hd95_mm"]["heart"] == pytest.approx(2 * math.hypot(8, 16) / 4)


def test_missing_structure_in_pred_is_empty_and_undefined_is_none():
    gt = {"left lung": [_square(), _square()], "heart": [_empty(), None]}
    result = score_segmentation(gt, {"clavicle": [None, None]}, empty_rule="exclude")
    assert result.per_label["dice"]["left lung"] == 0.0
    assert result.per_label["dice"]["heart"] is None and result.metrics["dice/heart"].value is None
    assert result.metrics["dice_mean"].value == 0.0  # heart has no counted image: not in the mean
    assert result.per_label["hd95_px"]["left lung"] is None
    assert result.metrics["hd95_px_mean"].value is None
    assert result.notes["pred_structures_not_in_gt_ignored"] == ["clavicle"]
    assert any("dice/heart" in reason for reason in result.notes["undefined"])


def test_hd95_mm_needs_spacing_for_every_annotated_image():
    gt = {"a": [_square(), _square(), None], "b": [_square(), _square(), _square()]}
    pred = {"a": [_square(lo=1), _square(), None], "b": [_square(lo=3), _square(), _square()]}
    result = score_segmentation(gt, pred, spacing=[(0.5, 0.5), (0.5, 0.5), None])
    assert "hd95_mm/a" in result.metrics and "hd95_mm/b" not in result.metrics
    assert "hd95_mm_mean" not in result.metrics
    assert result.per_label["hd95_mm"]["a"] == pytest.approx(result.per_label["hd95_px"]["a"] * 0.5)
    no_spacing = score_segmentation(gt, pred)
    assert "hd95_mm" not in no_spacing.per_label and "hd95_mm_mean" not in no_spacing.metrics


# ----------------------------------------------------------------------------- validation


def test_size_mismatch_names_structure_and_image():
    gt = {"right lung": [_square(), _square((8, 8))]}
    pred = {"right lung": [_square(), _square((8, 9))]}
    with pytest.raises(ValueError, match=r"'right lung', image 1"):
        score_segmentation(gt, pred)


@pytest.mark.parametrize(
    ("kwargs", "gt", "pred"),
    [
        ({"empty_rule": "zero"}, {"a": [None]}, {}),
        ({"hd95_one_empty": "inf"}, {"a": [None]}, {}),
        ({}, {"a": [None], "b": [None, None]}, {}),
        ({}, {"a": [None, None]}, {"a": [None]}),
        ({"spacing": [(1.0, 1.0)]}, {"a": [None, None]}, {}),
        ({"spacing": [(1.0, -1.0)]}, {"a": [None]}, {}),
        ({}, {"a": [{"counts": "x"}]}, {}),
    ],
)
def test_invalid_inputs_raise(kwargs, gt, pred):
    with pytest.raises(ValueError):
        score_segmentation(gt, pred, **kwargs)


# ----------------------------------------------------------------------------- bootstrap


def test_bootstrap_equals_resampling_images():
    rng = np.random.default_rng(4)
    n, shape, n_boot, seed = 25, (12, 14), 200, 7
    masks = {s: [(random_mask(rng, shape), random_mask(rng, shape)) for _ in range(n)] for s in ["x", "y"]}
    gt = {s: [encode_mask(g) for g, _ in pairs] for s, pairs in masks.items()}
    pred = {s: [encode_mask(p) for _, p in pairs] for s, pairs in masks.items()}
    gt["y"][3] = None  # not annotated: never counted
    result = score_segmentation(gt, pred, empty_rule="exclude", n_boot=n_boot, seed=seed, hd95=False)

    per_image = {}
    for s, pairs in masks.items():
        values = [numpy_dice_iou(g, p)[0] if (g.any() or p.any()) else np.nan for g, p in pairs]
        per_image[s] = np.array(values)
    per_image["y"][3] = np.nan
    replicates = {s: [] for s in masks}
    for idx in bootstrap_indices(n, n_boot, seed):
        for s in masks:
            replicates[s].append(np.nanmean(per_image[s][idx]))
    for s in masks:
        assert result.metrics[f"dice/{s}"].ci95 == pytest.approx(
            percentile_ci(np.array(replicates[s])), abs=1e-12
        )
    overall = (np.array(replicates["x"]) + np.array(replicates["y"])) / 2
    assert result.metrics["dice_mean"].ci95 == pytest.approx(percentile_ci(overall), abs=1e-12)
    assert score_segmentation(gt, pred, hd95=False).metrics["dice_mean"].ci95 is None


# ----------------------------------------------------------------------------- real masks


@pytest.mark.realdata
def test_real_lung_masks_against_references(shared_data):
    from PIL import Image

    mask_dir = shared_data / "segmentation" / "covid_v7labs_lungs" / "masks"
    paths = sorted(mask_dir.glob("*.png"))[:3]
    if not paths:
        pytest.skip("no lung masks")
    rng = np.random.default_rng(5)
    for path in paths:
        gt = np.asarray(Image.open(path).convert("L")) == 255
        pred = ndimage.binary_erosion(np.roll(gt, int(rng.integers(-6, 7)), axis=1), iterations=3)
        spacing = (0.7, 0.6)
        scores = segmentation_per_image([encode_mask(gt)], [encode_mask(pred)], spacing=[spacing])
        dice, iou = numpy_dice_iou(gt, pred)
        assert abs(scores.dice[0] - dice) <= 1e-12 and abs(scores.iou[0] - iou) <= 1e-12
        assert scores.hd95_px[0] == pytest.approx(monai_style_hd95(gt, pred), abs=1e-9)
        assert scores.hd95_mm[0] == pytest.approx(monai_style_hd95(gt, pred, spacing), abs=1e-9)
