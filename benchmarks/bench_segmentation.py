"""Segmentation metrics: Dice/IoU from RLE vs numpy on decoded masks; HD95 vs a MONAI-style scipy reference.

python benchmarks/bench_segmentation.py [--images 500] [--size 512] [--hd-ref 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pycocotools import mask as coco_mask
from scipy import ndimage
from scipy.spatial.distance import cdist

from bench.metrics.segmentation import encode_mask, score_segmentation, segmentation_per_image

STRUCTURES = ("left lung", "right lung", "heart")


def blob(
    rng: np.random.Generator, size: int, centre: tuple[float, float], radii: tuple[float, float]
) -> np.ndarray:
    """Ellipse with a wobbly outline (seeded)."""
    yy, xx = np.ogrid[0:size, 0:size]
    angle = np.arctan2(yy - centre[0], xx - centre[1])
    wobble = 1 + 0.08 * np.sin(rng.integers(2, 7) * angle + rng.uniform(0, 6.3))
    return ((yy - centre[0]) / radii[0]) ** 2 + ((xx - centre[1]) / radii[1]) ** 2 < wobble**2


def make_masks(n_images: int, size: int, seed: int) -> tuple[dict, dict, dict, dict]:
    rng = np.random.default_rng(seed)
    layout = {  # (centre row, centre col, radius row, radius col) as fractions of the image size
        "left lung": (0.45, 0.70, 0.30, 0.15),
        "right lung": (0.45, 0.30, 0.30, 0.15),
        "heart": (0.60, 0.52, 0.13, 0.17),
    }
    gt_masks = {s: [] for s in STRUCTURES}
    pred_masks = {s: [] for s in STRUCTURES}
    for _ in range(n_images):
        for s, (cy, cx, ry, rx) in layout.items():
            centre = (cy * size, cx * size)
            radii = (ry * size, rx * size)
            gt_masks[s].append(blob(rng, size, centre, radii))
            jitter = rng.normal(0, 0.02 * size, 2)
            scale = rng.uniform(0.85, 1.15, 2)
            pred_masks[s].append(blob(rng, size, tuple(centre + jitter), tuple(radii * scale)))
    gt = {s: [encode_mask(m) for m in masks] for s, masks in gt_masks.items()}
    pred = {s: [encode_mask(m) for m in masks] for s, masks in pred_masks.items()}
    return gt, pred, gt_masks, pred_masks


def numpy_dice(gt_masks: dict, pred_masks: dict) -> dict[str, float]:
    return {
        s: float(
            np.mean(
                [
                    2.0 * np.count_nonzero(g & p) / (np.count_nonzero(g) + np.count_nonzero(p))
                    for g, p in zip(gt_masks[s], pred_masks[s], strict=True)
                ]
            )
        )
        for s in gt_masks
    }


def decode_then_numpy_dice(gt: dict, pred: dict) -> dict[str, float]:
    out = {}
    for s in gt:
        values = []
        for g_rle, p_rle in zip(gt[s], pred[s], strict=True):
            g, p = coco_mask.decode(g_rle).view(bool), coco_mask.decode(p_rle).view(bool)
            values.append(2.0 * np.count_nonzero(g & p) / (np.count_nonzero(g) + np.count_nonzero(p)))
        out[s] = float(np.mean(values))
    return out


def monai_style_hd95(gt: np.ndarray, pred: np.ndarray) -> float:
    """MONAI's algorithm: crop to the union bounding box (+1 margin), erosion XOR, EDT, percentiles."""
    rows, cols = np.flatnonzero((gt | pred).any(axis=1)), np.flatnonzero((gt | pred).any(axis=0))
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    gt, pred = np.pad(gt[crop], 1), np.pad(pred[crop], 1)
    edges_gt = ndimage.binary_erosion(gt) ^ gt
    edges_pred = ndimage.binary_erosion(pred) ^ pred
    d_pred = ndimage.distance_transform_edt(~edges_gt)[edges_pred]
    d_gt = ndimage.distance_transform_edt(~edges_pred)[edges_gt]
    return float(max(np.percentile(d_pred, 95), np.percentile(d_gt, 95)))


def brute_hd95(gt: np.ndarray, pred: np.ndarray) -> float:
    """All pairwise distances between the two edge sets."""
    edges_gt = np.argwhere(ndimage.binary_erosion(gt) ^ gt)
    edges_pred = np.argwhere(ndimage.binary_erosion(pred) ^ pred)
    pairwise = cdist(edges_gt, edges_pred)
    return float(max(np.percentile(pairwise.min(axis=1), 95), np.percentile(pairwise.min(axis=0), 95)))


def timed(fn, *args, repeats: int = 1, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--hd-ref", type=int, default=40, help="pairs timed with the MONAI-style reference")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    gt, pred, gt_masks, pred_masks = make_masks(args.images, args.size, args.seed)
    n_pairs = args.images * len(STRUCTURES)
    print(f"{args.images} images x {len(STRUCTURES)} structures x {args.size}^2 masks ({n_pairs} pairs)\n")

    ref, t_numpy = timed(numpy_dice, gt_masks, pred_masks, repeats=args.repeats)
    ref_dec, t_decode_numpy = timed(decode_then_numpy_dice, gt, pred, repeats=args.repeats)
    ours, t_ours = timed(score_segmentation, gt, pred, hd95=False, repeats=args.repeats)
    dice_diff = max(abs(ours.per_label["dice"][s] - ref[s]) for s in STRUCTURES)
    dice_diff = max(dice_diff, max(abs(ref_dec[s] - ref[s]) for s in STRUCTURES))

    hd_ours, t_hd = timed(
        lambda: {s: segmentation_per_image(gt[s], pred[s], structure=s).hd95_px for s in STRUCTURES}
    )
    subset = [(s, i) for i in range(min(args.hd_ref, args.images)) for s in STRUCTURES][: args.hd_ref]
    refs = {}
    for name, fn in [("MONAI-style scipy EDT", monai_style_hd95), ("brute-force pairwise", brute_hd95)]:
        values, seconds = timed(lambda fn=fn: [fn(gt_masks[s][i], pred_masks[s][i]) for s, i in subset])
        diff = max(abs(hd_ours[s][i] - v) for (s, i), v in zip(subset, values, strict=True))
        refs[name] = (seconds / len(subset) * n_pairs, diff)

    print(
        "| metric | reference | reference time (s) | cxrbench time (s) | ratio (ref / ours) | max abs diff |"
    )
    print("|---|---|---:|---:|---:|---:|")
    print(
        f"| Dice ({n_pairs} pairs) | numpy on decoded bool masks | {t_numpy:.3f} | {t_ours:.3f} "
        f"| {t_numpy / t_ours:.1f}x | {dice_diff:.1e} |"
    )
    print(
        f"| Dice ({n_pairs} pairs) | pycocotools decode + numpy | {t_decode_numpy:.3f} | {t_ours:.3f} "
        f"| {t_decode_numpy / t_ours:.1f}x | {dice_diff:.1e} |"
    )
    for name, (seconds, diff) in refs.items():
        print(
            f"| HD95 ({n_pairs} pairs) | {name} ({len(subset)} pairs timed, extrapolated) "
            f"| {seconds:.1f} | {t_hd:.2f} | {seconds / t_hd:.1f}x | {diff:.1e} |"
        )
    print("\n(cxrbench Dice time = full score_segmentation(hd95=False) from RLE, incl. validation and means)")


if __name__ == "__main__":
    main()
