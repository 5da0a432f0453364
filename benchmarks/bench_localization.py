"""Time COCO mAP against pycocotools (and faster-coco-eval) on seeded synthetic boxes, plus the bootstrap.

.venv/bin/python benchmarks/bench_localization.py [--images 2000 --dets 20 --labels 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np

from bench.metrics.bootstrap import bootstrap_counts
from bench.metrics.localization import (
    FROC_FP_RATES,
    DetectionSet,
    flatten,
    score_localization,
    weighted_localization_metrics,
)
from bench.metrics.localization.coco import coco_average_precision, coco_matches


def synthetic(n_images: int, n_dets: int, n_labels: int, seed: int) -> DetectionSet:
    """0-4 gt boxes per image; n_dets predictions: jittered gt boxes (some mislabelled) plus random ones."""
    rng = np.random.default_rng(seed)
    gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores = [], [], [], [], []
    for _ in range(n_images):
        n_gt = int(rng.integers(0, 5))
        xy = rng.uniform(0, 900, (n_gt, 2))
        gt = np.hstack([xy, xy + rng.uniform(10, 200, (n_gt, 2))])
        lab = rng.integers(0, n_labels, n_gt)
        n_jit = min(n_dets, 2 * n_gt)
        src = rng.integers(0, max(n_gt, 1), n_jit)
        jit = (
            gt[src] + rng.normal(0, 0.1, (n_jit, 4)) * np.tile(gt[src, 2:] - gt[src, :2], 2) if n_gt else None
        )
        xy = rng.uniform(0, 900, (n_dets - n_jit, 2))
        rand = np.hstack([xy, xy + rng.uniform(10, 200, (n_dets - n_jit, 2))])
        boxes = rand if jit is None else np.vstack([jit, rand])
        boxes = np.hstack([np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])])
        jit_lab = (
            np.where(rng.random(n_jit) < 0.9, lab[src], rng.integers(0, n_labels, n_jit)) if n_gt else []
        )
        gt_boxes.append(gt)
        gt_labels.append(lab)
        pred_boxes.append(boxes)
        pred_labels.append(np.concatenate([jit_lab, rng.integers(0, n_labels, n_dets - n_jit)]).astype(int))
        pred_scores.append(rng.random(n_dets))
    names = [f"label{k}" for k in range(n_labels)]
    return DetectionSet(names, gt_boxes, gt_labels, pred_boxes, pred_labels, pred_scores)


def coco_dicts(data: DetectionSet) -> tuple[dict, list[dict]]:
    anns, dets = [], []
    for i in range(data.n_images):
        for b, lab in zip(data.gt_boxes[i], data.gt_labels[i], strict=True):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append(
                {"id": len(anns) + 1, "image_id": i + 1, "category_id": int(lab) + 1}
                | {"bbox": [float(b[0]), float(b[1]), w, h], "area": w * h, "iscrowd": 0}
            )
        for b, lab, s in zip(data.pred_boxes[i], data.pred_labels[i], data.pred_scores[i], strict=True):
            bbox = [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
            dets.append({"image_id": i + 1, "category_id": int(lab) + 1, "bbox": bbox, "score": float(s)})
    gt = {
        "images": [{"id": i + 1, "width": 1200, "height": 1200} for i in range(data.n_images)],
        "categories": [{"id": k + 1, "name": n} for k, n in enumerate(data.label_names)],
        "annotations": anns,
    }
    return gt, dets


def run_cocoeval(coco_cls, eval_cls, gt_dict: dict, dets: list[dict]) -> tuple[float, float, float]:
    """(seconds for evaluate+accumulate+summarize, AP@[.5:.95], AP50)."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco_cls()
        gt.dataset = gt_dict
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = eval_cls(gt, dt, "bbox")
        t0 = time.perf_counter()
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        return time.perf_counter() - t0, float(ev.stats[0]), float(ev.stats[1])


def ours_map(data: DetectionSet, weights: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    t0 = time.perf_counter()
    flat = flatten(data)
    w = np.ones((1, flat.n_images)) if weights is None else weights
    ap = coco_average_precision(flat, coco_matches(flat), w)
    finite = np.isfinite(ap)
    maps = np.where(finite, ap, 0).sum(axis=(1, 2)) / finite.sum(axis=(1, 2))
    return time.perf_counter() - t0, maps


def object_cxr_like(n_images: int, seed: int) -> DetectionSet:
    """object-CXR-sized corpus: half the images with 1-3 objects (rectangle, ellipse or polygon), ~6 points each."""
    rng = np.random.default_rng(seed)
    gt_boxes, gt_shapes, pred_boxes, pred_scores = [], [], [], []
    for i in range(n_images):
        boxes, shapes = [], []
        for _ in range(int(rng.integers(1, 4)) if i % 2 else 0):
            cx, cy = rng.uniform(100, 1900, 2)
            kind = int(rng.integers(0, 3))
            if kind == 2:
                angles = np.sort(rng.uniform(0, 2 * np.pi, 8))
                vertices = np.stack([cx + 60 * np.cos(angles), cy + 60 * np.sin(angles)], axis=1)
                shapes.append(vertices)
                boxes.append([*vertices.min(axis=0), *vertices.max(axis=0)])
            else:
                boxes.append([cx - 40, cy - 30, cx + 40, cy + 30])
                shapes.append("ellipse" if kind else None)
        points = [rng.uniform(b[:2], b[2:]) for b in boxes for _ in range(2)] + list(
            rng.uniform(0, 2000, (4, 2))
        )
        gt_boxes.append(np.asarray(boxes, dtype=float).reshape(-1, 4))
        gt_shapes.append(shapes)
        pred_boxes.append(
            np.asarray([[x - 5, y - 5, x + 5, y + 5] for x, y in points], dtype=float).reshape(-1, 4)
        )
        pred_scores.append(rng.random(len(points)))
    zeros = [np.zeros(len(b), dtype=np.int64) for b in gt_boxes]
    pred_zeros = [np.zeros(len(b), dtype=np.int64) for b in pred_boxes]
    return DetectionSet(
        ["Foreign Object"], gt_boxes, zeros, pred_boxes, pred_zeros, pred_scores, gt_shapes=gt_shapes
    )


def froc_walk(data: DetectionSet) -> float:
    """object-CXR froc.py's algorithm, one point at a time (matplotlib's point-in-polygon for polygons)."""
    from matplotlib.path import Path as MplPath

    def inside(x: float, y: float, box: np.ndarray, shape: object) -> bool:
        if shape is None:
            return bool(box[0] <= x <= box[2] and box[1] <= y <= box[3])
        if isinstance(shape, str):
            ax, ay = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
            return bool(((x - box[0] - ax) / ax) ** 2 + ((y - box[1] - ay) / ay) ** 2 <= 1)
        return bool(MplPath(shape).contains_point((x, y)))

    points = sorted(
        ((float(s), i, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
         for i in range(data.n_images) for b, s in zip(data.pred_boxes[i], data.pred_scores[i], strict=True)),
        key=lambda p: p[0], reverse=True,
    )  # fmt: skip
    n_objects = sum(len(b) for b in data.gt_boxes)
    hit, fp, froc = set(), 0, []
    for _, i, x, y in points:
        found = [(i, k) for k, (b, s) in enumerate(zip(data.gt_boxes[i], data.gt_shapes[i], strict=True))
                 if inside(x, y, b, s)]  # fmt: skip
        hit.update(found)
        fp += not found
        if len(froc) < len(FROC_FP_RATES) and fp / data.n_images >= FROC_FP_RATES[len(froc)]:
            froc.append(len(hit) / n_objects)
    froc = froc or [len(hit) / n_objects]
    return float(np.mean(froc + [froc[-1]] * (len(FROC_FP_RATES) - len(froc))))


def bench_froc(n_images: int, n_boot: int, seed: int) -> None:
    data = object_cxr_like(n_images, seed)
    t0 = time.perf_counter()
    ref = froc_walk(data)
    t_ref = time.perf_counter() - t0
    ones = np.ones((1, data.n_images))
    t0 = time.perf_counter()
    ours = weighted_localization_metrics(data, ones, froc_hit="center_in_object").metrics["froc"][0]
    t_ours = time.perf_counter() - t0
    weights = np.vstack([ones, bootstrap_counts(data.n_images, n_boot, 0)])
    t0 = time.perf_counter()
    weighted_localization_metrics(data, weights, froc_hit="center_in_object")
    t_boot = time.perf_counter() - t0
    print(f"\n### object-CXR FROC, official hit rule (rectangles, ellipses, polygons): {n_images} images\n")
    print("| engine | time (s) | speed-up | FROC | abs diff |")
    print("|---|---|---|---|---|")
    print(f"| object-CXR froc.py algorithm, point by point | {t_ref:.3f} | 1.0x | {ref:.12f} | |")
    print(f"| cxrbench froc (center_in_object), all metrics | {t_ours:.3f} | {t_ref / t_ours:.1f}x | {ours:.12f} "
          f"| {abs(ours - ref):.1e} |")  # fmt: skip
    print(f"| cxrbench, all metrics + {n_boot} bootstrap replicates | {t_boot:.2f} | "
          f"{t_ref * (n_boot + 1) / t_boot:.0f}x vs the walk per replicate (extrapolated) | | |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--dets", type=int, default=20)
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--boot-images", type=int, default=500)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for our timings")
    ap.add_argument("--froc-images", type=int, default=1000, help="object-CXR dev has 1,000 images")
    args = ap.parse_args()
    bench_froc(args.froc_images, args.n_boot, args.seed)

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    data = synthetic(args.images, args.dets, args.labels, args.seed)
    gt_dict, dets = coco_dicts(data)
    t_ref, ref_map, ref_ap50 = run_cocoeval(COCO, COCOeval, gt_dict, dets)
    rows = [("pycocotools COCOeval", t_ref, ref_map)]
    try:
        import faster_coco_eval as fce

        t_fce, fce_map, _ = run_cocoeval(fce.COCO, fce.COCOeval_faster, gt_dict, dets)
        rows.append(("faster-coco-eval COCOeval_faster", t_fce, fce_map))
    except ImportError:
        pass
    t_ours = min(ours_map(data)[0] for _ in range(args.repeats))
    our_map = float(ours_map(data)[1][0])
    rows.append(("cxrbench map_coco (flatten+match+accumulate)", t_ours, our_map))
    t0 = time.perf_counter()
    full = score_localization(data)
    t_full = time.perf_counter() - t0
    rows.append(("cxrbench score_localization (all metrics)", t_full, full.metrics["map_coco"].value))

    print(f"\n### COCO AP@[.5:.95]: {args.images} images x {args.dets} predictions, {args.labels} labels\n")
    print("| engine | time (s) | speed-up vs pycocotools | AP@[.5:.95] | abs diff vs pycocotools |")
    print("|---|---|---|---|---|")
    for name, t, v in rows:
        print(f"| {name} | {t:.3f} | {t_ref / t:.1f}x | {v:.12f} | {abs(v - ref_map):.1e} |")

    small = synthetic(args.boot_images, args.dets, args.labels, args.seed + 1)
    g_small, d_small = coco_dicts(small)
    t_ref_small, ref_small, _ = run_cocoeval(COCO, COCOeval, g_small, d_small)
    weights = np.vstack([np.ones((1, small.n_images)), bootstrap_counts(small.n_images, args.n_boot, 0)])
    t_boot, maps = ours_map(small, weights)
    t0 = time.perf_counter()
    score_localization(small, n_boot=args.n_boot)
    t_boot_full = time.perf_counter() - t0
    print(f"\n### Bootstrap: {args.n_boot} replicates at {args.boot_images} images\n")
    print("| engine | time (s) | note |")
    print("|---|---|---|")
    print(
        f"| pycocotools, one run per replicate (extrapolated) | {t_ref_small * args.n_boot:.1f} | "
        f"{t_ref_small:.3f} s per run |"
    )
    print(
        f"| cxrbench map_coco, weighted replicates | {t_boot:.2f} | point |diff| vs pycocotools "
        f"{abs(maps[0] - ref_small):.1e} |"
    )
    print(f"| cxrbench score_localization, all metrics + CIs | {t_boot_full:.2f} | |")


if __name__ == "__main__":
    main()
