"""Localization metrics against pycocotools COCOeval, a plain VOC loop, object-CXR's FROC walk and hand cases."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices
from bench.metrics.localization import (
    FROC_FP_RATES,
    DetectionSet,
    coco,
    score_localization,
    weighted_localization_metrics,
)

TOL = 1e-9


# ----------------------------------------------------------------------------- synthetic data
def random_set(
    seed: int,
    n_images: int = 40,
    n_labels: int = 4,
    decimals: int | None = None,
    tiny: bool = False,
    absent: tuple[int, ...] = (),
    crowded: int = 0,
) -> DetectionSet:
    """Random gt boxes, jittered copies of them (some mislabelled) and random boxes; 30 % images no gt."""
    rng = np.random.default_rng(seed)
    present = [k for k in range(n_labels) if k not in absent]
    size = (0.05, 3.0) if tiny else (2.0, 80.0)
    out: dict[str, list] = {
        k: [] for k in ("gt_boxes", "gt_labels", "pred_boxes", "pred_labels", "pred_scores")
    }
    for i in range(n_images):
        n_gt = 0 if rng.random() < 0.3 else int(rng.integers(1, 5))
        xy = rng.uniform(0, 200, (n_gt, 2))
        gt = np.hstack([xy, xy + rng.uniform(*size, (n_gt, 2))])
        gt_lab = rng.choice(present, n_gt).astype(np.int64)
        boxes, labels = [], []
        for box, lab in zip(gt, gt_lab, strict=True):
            wh = np.tile(box[2:] - box[:2], 2)
            for _ in range(int(rng.integers(0, 4))):
                j = box + rng.normal(0, 0.12, 4) * wh
                boxes.append([min(j[0], j[2]), min(j[1], j[3]), max(j[0], j[2]), max(j[1], j[3])])
                labels.append(lab if rng.random() < 0.85 else int(rng.integers(n_labels)))
        n_rand = int(rng.integers(0, 8)) + (crowded if i % 7 == 0 else 0)
        xy = rng.uniform(0, 200, (n_rand, 2))
        boxes += list(np.hstack([xy, xy + rng.uniform(*size, (n_rand, 2))]))
        labels += list(rng.integers(0, n_labels, n_rand))
        order = rng.permutation(len(boxes))
        scores = rng.random(len(boxes))
        out["gt_boxes"].append(gt)
        out["gt_labels"].append(gt_lab)
        out["pred_boxes"].append(np.asarray(boxes, dtype=float).reshape(-1, 4)[order])
        out["pred_labels"].append(np.asarray(labels, dtype=np.int64)[order])
        out["pred_scores"].append(scores if decimals is None else np.round(scores, decimals))
    return DetectionSet([f"L{k}" for k in range(n_labels)], **out)


def resample(data: DetectionSet, idx: np.ndarray) -> DetectionSet:
    """The explicitly resampled corpus: duplicates become new images, in draw order."""
    fields = ("gt_boxes", "gt_labels", "pred_boxes", "pred_labels", "pred_scores")
    return DetectionSet(data.label_names, *[[getattr(data, f)[i] for i in idx] for f in fields])


def _records(data: DetectionSet):
    """(image, label, box, score|None) rows: gt then predictions, per image in input order."""
    gts = [
        (i, int(lab), [float(v) for v in box])
        for i in range(data.n_images)
        for box, lab in zip(data.gt_boxes[i], data.gt_labels[i], strict=True)
    ]
    preds = [
        (i, int(lab), [float(v) for v in box], float(s))
        for i in range(data.n_images)
        for box, lab, s in zip(data.pred_boxes[i], data.pred_labels[i], data.pred_scores[i], strict=True)
    ]
    return gts, preds


# ----------------------------------------------------------------------------- reference implementations
def coco_reference(data: DetectionSet) -> tuple[float, float, list, list]:
    """pycocotools COCOeval: (stats[0], stats[1], per-label AP50, per-label AP@[.5:.95]), None for -1."""
    gts, preds = _records(data)
    anns = []
    for i, lab, b in gts:
        w, h = b[2] - b[0], b[3] - b[1]
        anns.append(
            {"id": len(anns) + 1, "image_id": i + 1, "category_id": lab + 1, "bbox": [b[0], b[1], w, h]}
            | {"area": w * h, "iscrowd": 0}
        )
    dets = [
        {
            "image_id": i + 1,
            "category_id": lab + 1,
            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            "score": s,
        }
        for i, lab, b, s in preds
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": [{"id": i + 1} for i in range(data.n_images)],
            "categories": [{"id": k + 1, "name": n} for k, n in enumerate(data.label_names)],
            "annotations": anns,
        }
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    prec = ev.eval["precision"][:, :, :, 0, 2]  # (T, R, K), area all, maxDets 100
    k_range = range(len(data.label_names))
    per50 = [None if (prec[0, :, k] == -1).all() else prec[0, :, k].mean() for k in k_range]
    per = [None if (prec[:, :, k] == -1).all() else prec[:, :, k].mean() for k in k_range]
    return ev.stats[0], ev.stats[1], per50, per


def _iou(a: list[float], b: list[float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def voc_reference(data: DetectionSet, thr: float = 0.4) -> tuple[float | None, list]:
    """PASCAL VOC devkit voc_eval loop (all-point AP) with IoU >= thr, label by label."""
    gts, preds = _records(data)
    aps = []
    for k in range(len(data.label_names)):
        boxes = {}
        for i, lab, b in gts:
            if lab == k:
                boxes.setdefault(i, []).append(b)
        npos = sum(len(v) for v in boxes.values())
        if npos == 0:
            aps.append(None)
            continue
        used = {i: [False] * len(v) for i, v in boxes.items()}
        dets = sorted([p for p in preds if p[1] == k], key=lambda p: -p[3])
        tp, fp = np.zeros(len(dets)), np.zeros(len(dets))
        for d, (i, _, b, _) in enumerate(dets):
            ov = [_iou(b, g) for g in boxes.get(i, [])]
            if ov and max(ov) >= thr and not used[i][int(np.argmax(ov))]:
                used[i][int(np.argmax(ov))] = True
                tp[d] = 1
            else:
                fp[d] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        mrec = np.concatenate(([0.0], tp / npos, [1.0]))
        mpre = np.concatenate(([0.0], tp / np.maximum(tp + fp, np.finfo(np.float64).eps), [0.0]))
        for j in range(mpre.size - 1, 0, -1):
            mpre[j - 1] = max(mpre[j - 1], mpre[j])
        j = np.where(mrec[1:] != mrec[:-1])[0]
        aps.append(float(np.sum((mrec[j + 1] - mrec[j]) * mpre[j + 1])))
    valid = [a for a in aps if a is not None]
    return (float(np.mean(valid)) if valid else None), aps


def froc_reference(data: DetectionSet, label: int | None = None, rule: str = "center_in_box") -> float | None:
    """object-CXR froc.py's walk (points = box centres), label-aware; `label` restricts to one label."""
    gts, preds = _records(data)
    objects = [(n, i, lab, b) for n, (i, lab, b) in enumerate(gts) if label is None or lab == label]
    preds = sorted([p for p in preds if label is None or p[1] == label], key=lambda p: p[3], reverse=True)
    if not objects:
        return None

    def inside(b: list[float], o: list[float]) -> bool:
        if rule == "iou@0.5":
            return _iou(b, o) >= 0.5
        x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        return o[0] <= x <= o[2] and o[1] <= y <= o[3]

    hits, false_positives, idx, hit_ids, froc = 0, 0, 0, set(), []
    for i, lab, b, _ in preds:
        is_inside = False
        for n, oi, olab, o in objects:
            if oi == i and olab == lab and inside(b, o):
                is_inside = True
                if n not in hit_ids:
                    hits += 1
                    hit_ids.add(n)
        if not is_inside:
            false_positives += 1
        if false_positives / data.n_images >= FROC_FP_RATES[idx]:
            froc.append(hits / len(objects))
            idx += 1
            if len(froc) == len(FROC_FP_RATES):
                break
    if not froc:  # object-CXR raises here; documented choice: the final sensitivity
        froc.append(hits / len(objects))
    while len(froc) < len(FROC_FP_RATES):
        froc.append(froc[-1])
    return float(np.mean(froc))


def accuracy_reference(data: DetectionSet, thr: float, use_iobb: bool = False) -> float | None:
    gts, preds = _records(data)
    correct = 0
    for i, lab, g in gts:
        top = None
        for pi, plab, b, s in preds:
            if pi == i and plab == lab and (top is None or s > top[1]):
                top = (b, s)
        if top is None:
            continue
        b = top[0]
        if use_iobb:
            iw, ih = min(b[2], g[2]) - max(b[0], g[0]), min(b[3], g[3]) - max(b[1], g[1])
            area = (b[2] - b[0]) * (b[3] - b[1])
            value = max(iw, 0) * max(ih, 0) / area if area > 0 else 0.0
        else:
            value = _iou(b, g)
        correct += value >= thr
    return correct / len(gts) if gts else None


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or np.isnan(a) or np.isnan(b):
        return (a is None or np.isnan(a)) and (b is None or np.isnan(b))
    return abs(a - b) <= TOL


def _point(data: DetectionSet, **kw):
    return weighted_localization_metrics(data, np.ones((1, data.n_images)), **kw)


# ----------------------------------------------------------------------------- COCO
COCO_CASES = {
    "plain": {},
    "score_ties": {"decimals": 1},
    "tiny_boxes": {"tiny": True},
    "absent_label_and_over_100_dets": {"absent": (1,), "crowded": 120, "decimals": 2},
    "few_images": {"n_images": 5},
}


@pytest.mark.parametrize("case", COCO_CASES)
def test_coco_equals_pycocotools(case: str) -> None:
    data = random_set(11 + len(case), **COCO_CASES[case])
    stats0, stats1, per50, per = coco_reference(data)
    r = _point(data)
    assert abs(r.metrics["map_coco"][0] - stats0) <= TOL
    assert abs(r.metrics["ap50"][0] - stats1) <= TOL
    for k in range(len(data.label_names)):
        assert _close(r.per_label["ap50"][0, k], per50[k])
        assert _close(r.per_label["map_coco"][0, k], per[k])
    if case == "absent_label_and_over_100_dets":
        assert per50[1] is None and np.isnan(r.per_label["ap50"][0, 1])
        assert max(len(p) for p in data.pred_boxes) > 100


def test_label_with_gt_but_no_predictions_scores_zero() -> None:
    data = random_set(17)
    for i in range(data.n_images):
        keep = data.pred_labels[i] != 2
        data.pred_boxes[i], data.pred_labels[i] = data.pred_boxes[i][keep], data.pred_labels[i][keep]
        data.pred_scores[i] = data.pred_scores[i][keep]
    stats0, _, per50, _ = coco_reference(data)
    r = _point(data)
    assert per50[2] == 0.0 and r.per_label["ap50"][0, 2] == 0.0
    assert abs(r.metrics["map_coco"][0] - stats0) <= TOL
    assert r.per_label["ap40_voc"][0, 2] == 0.0 and r.per_label["froc"][0, 2] == 0.0


def test_coco_equal_iou_goes_to_the_last_gt() -> None:
    # the first box has IoU .5 with both halves; COCOeval gives it the *last* one (g2), so the second box,
    # which only overlaps g2, is a false positive at IoU .5 (first-gt matching would make it a TP)
    data = DetectionSet(
        ["x"],
        gt_boxes=[np.array([[0, 0, 10, 5], [0, 5, 10, 10]], float)],
        gt_labels=[np.array([0, 0])],
        pred_boxes=[np.array([[0, 0, 10, 10], [0, 5, 10, 10]], float)],
        pred_labels=[np.array([0, 0])],
        pred_scores=[np.array([0.9, 0.8])],
    )
    stats0, stats1, _, _ = coco_reference(data)
    r = _point(data)
    assert r.metrics["ap50"][0] == pytest.approx(stats1, abs=TOL)
    assert r.metrics["map_coco"][0] == pytest.approx(stats0, abs=TOL)
    assert stats1 < 0.75


def test_recall_threshold_bucketing_equals_searchsorted() -> None:
    """The arithmetic bucketing of recall values must equal COCOeval's searchsorted, at the thresholds too."""
    thr = coco.RECALL_THRESHOLDS
    ratios = [k / n for n in range(1, 301) for k in range(n + 1)]
    x = np.concatenate([thr, np.nextafter(thr, -1.0), np.nextafter(thr, 2.0), ratios])
    x = np.clip(x, 0.0, 1.0)[None, :]
    assert (coco._thresholds_covered(x) == np.searchsorted(thr, x, side="right")).all()


def test_coco_nontrivial_values() -> None:
    """Guard against a vacuous parity: the random sets give mid-range APs."""
    r = _point(random_set(3))
    assert 0.1 < r.metrics["map_coco"][0] < r.metrics["ap50"][0] < 0.95


# ----------------------------------------------------------------------------- VOC AP@0.4
def _hand_set() -> DetectionSet:
    """Hand case: image 0 has G1, G2; image 1 has G3; five predictions of one label."""
    return DetectionSet(
        ["x"],
        gt_boxes=[np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float), np.array([[0, 0, 10, 10]], float)],
        gt_labels=[np.array([0, 0]), np.array([0])],
        pred_boxes=[
            np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 24, 10]], float),
            np.array([[50, 50, 60, 60], [0, 0, 10, 8]], float),
        ],
        pred_labels=[np.array([0, 0, 0]), np.array([0, 0])],
        pred_scores=[np.array([0.9, 0.8, 0.5]), np.array([0.7, 0.6])],
    )


def test_voc_hand_case() -> None:
    # order TP(G1) FP(dup) FP(miss) TP(G3, IoU .8) TP(G2, IoU exactly .4); npos 3
    # precision 1, 1/2, 1/3, 2/4, 3/5 -> envelope at TPs 1, .6, .6 -> AP = (1 + .6 + .6) / 3
    r = _point(_hand_set())
    assert r.metrics["ap40_voc"][0] == pytest.approx(2.2 / 3, abs=TOL)


def test_voc_duplicate_of_matched_best_gt_is_false_positive() -> None:
    # second box overlaps H1 best (.82, taken) and H2 enough (.54): VOC counts it FP -> AP .5, not 1
    data = DetectionSet(
        ["x"],
        gt_boxes=[np.array([[0, 0, 10, 10], [4, 0, 14, 10]], float)],
        gt_labels=[np.array([0, 0])],
        pred_boxes=[np.array([[0, 0, 10, 10], [1, 0, 11, 10]], float)],
        pred_labels=[np.array([0, 0])],
        pred_scores=[np.array([0.95, 0.94])],
    )
    assert _point(data).metrics["ap40_voc"][0] == pytest.approx(0.5, abs=TOL)


@pytest.mark.parametrize("case", ["plain", "score_ties", "tiny_boxes", "absent_label_and_over_100_dets"])
def test_voc_equals_reference_loop(case: str) -> None:
    data = random_set(5 + len(case), **COCO_CASES[case])
    mean_ap, aps = voc_reference(data)
    r = _point(data)
    assert _close(r.metrics["ap40_voc"][0], mean_ap)
    for k, ap in enumerate(aps):
        assert _close(r.per_label["ap40_voc"][0, k], ap)


# ----------------------------------------------------------------------------- box accuracy
def test_accuracy_hand_case() -> None:
    # top box on image 0 is the 0.9 one (hits G1 only); on image 1 the 0.7 one misses G3
    r = _point(_hand_set())
    assert r.metrics["iou_acc@0.1"][0] == pytest.approx(1 / 3, abs=TOL)
    assert r.metrics["iobb_acc@0.5"][0] == pytest.approx(1 / 3, abs=TOL)


@pytest.mark.parametrize("thr", [0.1, 0.25, 0.5])
def test_accuracy_equals_reference_loop(thr: float) -> None:
    data = random_set(21, absent=(2,))
    r = _point(data)
    assert _close(r.metrics[f"iou_acc@{thr:g}"][0], accuracy_reference(data, thr))
    assert _close(r.metrics[f"iobb_acc@{thr:g}"][0], accuracy_reference(data, thr, use_iobb=True))
    assert np.isnan(r.per_label[f"iou_acc@{thr:g}"][0, 2])


# ----------------------------------------------------------------------------- FROC
def test_froc_hand_case() -> None:
    # 2 images; image 0 has A, B; image 1 none. Walk: hit A; FP (1/2 fp/img -> record .5 at 1/8);
    # inside A again (neither; one rate per prediction -> record .5 at 1/4); hit B (record 1 at 1/2);
    # FP (1 fp/img -> record 1 at 1); rates 2, 4, 8 never reached -> repeat 1.  FROC = 6/7.
    data = DetectionSet(
        ["x"],
        gt_boxes=[np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.zeros((0, 4))],
        gt_labels=[np.array([0, 0]), np.array([], dtype=int)],
        pred_boxes=[np.array([[4, 4, 6, 6], [3, 3, 7, 7], [24, 24, 26, 26]], float), np.ones((2, 4))],
        pred_labels=[np.array([0, 0, 0]), np.array([0, 0])],
        pred_scores=[np.array([0.9, 0.7, 0.6]), np.array([0.8, 0.5])],
    )
    r = _point(data)
    assert r.froc_sensitivity[0] == pytest.approx([0.5, 0.5, 1, 1, 1, 1, 1], abs=TOL)
    assert r.metrics["froc"][0] == pytest.approx(6 / 7, abs=TOL)


@pytest.mark.parametrize(
    ("seed", "kw", "rule"),
    [
        (31, {}, "center_in_box"),
        (32, {"decimals": 1, "absent": (3,)}, "center_in_box"),
        (33, {"n_images": 5}, "center_in_box"),
        (34, {"crowded": 30}, "iou@0.5"),
    ],
)
def test_froc_equals_object_cxr_walk(seed: int, kw: dict, rule: str) -> None:
    data = random_set(seed, **kw)
    r = _point(data, froc_hit=rule)
    assert _close(r.metrics["froc"][0], froc_reference(data, rule=rule))
    for k in range(len(data.label_names)):
        assert _close(r.per_label["froc"][0, k], froc_reference(data, label=k, rule=rule))


def test_froc_unknown_hit_rule() -> None:
    with pytest.raises(ValueError, match="hit rule"):
        score_localization(_hand_set(), froc_hit="centre")


# ----------------------------------------------------------------------------- bootstrap
def test_weighted_replicates_equal_references_on_resampled_images() -> None:
    data = random_set(41, n_images=30, crowded=105)
    counts = bootstrap_counts(data.n_images, 3, seed=7)
    draws = bootstrap_indices(data.n_images, 3, seed=7)
    reps = weighted_localization_metrics(data, counts)
    for b in range(2):
        res = resample(data, draws[b])
        stats0, stats1, per50, _ = coco_reference(res)
        assert abs(reps.metrics["map_coco"][b] - stats0) <= TOL
        assert abs(reps.metrics["ap50"][b] - stats1) <= TOL
        for k in range(len(data.label_names)):
            assert _close(reps.per_label["ap50"][b, k], per50[k])
        assert _close(reps.metrics["ap40_voc"][b], voc_reference(res)[0])
        assert _close(reps.metrics["froc"][b], froc_reference(res))
        assert _close(reps.metrics["iou_acc@0.25"][b], accuracy_reference(res, 0.25))
        assert _close(reps.metrics["iobb_acc@0.5"][b], accuracy_reference(res, 0.5, use_iobb=True))


def test_weighted_froc_replays_one_rate_per_prediction_with_few_images() -> None:
    """With < 8 images a weighted prediction can cross several rates; the replay must match the walk."""
    data = random_set(43, n_images=4)
    counts = bootstrap_counts(data.n_images, 6, seed=3)
    draws = bootstrap_indices(data.n_images, 6, seed=3)
    reps = weighted_localization_metrics(data, counts)
    for b in range(6):
        assert _close(reps.metrics["froc"][b], froc_reference(resample(data, draws[b])))


# ----------------------------------------------------------------------------- scorer output
def test_score_localization_result() -> None:
    data = random_set(51, absent=(1,))
    res = score_localization(data, n_boot=50, seed=2)
    expected = {"map_coco", "ap50", "ap40_voc", "froc"} | {
        f"{m}@{t}" for m in ("iou_acc", "iobb_acc") for t in ("0.1", "0.25", "0.5")
    }
    assert set(res.metrics) == expected
    point = _point(data)
    for name, mv in res.metrics.items():
        assert mv.value == pytest.approx(point.metrics[name][0], abs=TOL)
        lo, hi = mv.ci95
        assert lo <= hi
    assert res.per_label["ap50"]["L1"] is None and res.notes["labels_without_gt"] == ["L1"]
    assert res.per_label["ap50"]["L0"] is not None
    assert (
        score_localization(data, n_boot=50, seed=2).metrics["map_coco"].ci95 == res.metrics["map_coco"].ci95
    )
    assert score_localization(data).metrics["froc"].ci95 is None
    assert res.to_json()["metrics"]["map_coco"]["value"] == res.metrics["map_coco"].value


def test_no_ground_truth_gives_undefined_metrics() -> None:
    data = DetectionSet(
        ["x"],
        gt_boxes=[np.zeros((0, 4))],
        gt_labels=[np.array([], dtype=int)],
        pred_boxes=[np.array([[0, 0, 1, 1]], float)],
        pred_labels=[np.array([0])],
        pred_scores=[np.array([0.3])],
    )
    res = score_localization(data, n_boot=5)
    assert all(mv.value is None and mv.ci95 is None for mv in res.metrics.values())
    assert "undefined" in res.notes


def test_invalid_boxes_rejected() -> None:
    data = _hand_set()
    data.pred_boxes[0] = np.array([[10, 0, 0, 10], [0, 0, 1, 1], [0, 0, 1, 1]], float)
    with pytest.raises(ValueError, match="xyxy"):
        score_localization(data)


# ----------------------------------------------------------------------------- real boxes
CHESTX_DET10 = Path("/work/shared/data/detection/annotations_only/chestx_det10/test.json.gz")


@pytest.mark.realdata
@pytest.mark.skipif(not CHESTX_DET10.exists(), reason="ChestX-Det10 annotations not available")
def test_chestx_det10_boxes_with_integer_jitter_equal_pycocotools() -> None:
    """Real ChestX-Det10 test-split boxes (integer pixels, many images without boxes) as ground truth;
    predictions are integer-rounded jittered copies plus random boxes with 2-decimal (tied) scores."""
    records = json.loads(gzip.decompress(CHESTX_DET10.read_bytes()))
    names = sorted({s for r in records for s in r["syms"]})
    rng = np.random.default_rng(0)
    out: dict[str, list] = {
        k: [] for k in ("gt_boxes", "gt_labels", "pred_boxes", "pred_labels", "pred_scores")
    }
    for r in records:
        gt = np.asarray(r["boxes"], dtype=float).reshape(-1, 4)
        lab = np.array([names.index(s) for s in r["syms"]], dtype=np.int64)
        jit = np.round(gt + rng.normal(0, 0.1, gt.shape) * np.tile(gt[:, 2:] - gt[:, :2], 2))
        jit = np.hstack([np.minimum(jit[:, :2], jit[:, 2:]), np.maximum(jit[:, :2], jit[:, 2:])])
        xy = rng.integers(0, 900, (3, 2))
        rand = np.hstack([xy, xy + rng.integers(5, 300, (3, 2))]).astype(float)
        out["gt_boxes"].append(gt)
        out["gt_labels"].append(lab)
        out["pred_boxes"].append(np.vstack([jit, rand]))
        out["pred_labels"].append(np.concatenate([lab, rng.integers(0, len(names), 3)]))
        out["pred_scores"].append(np.round(rng.random(len(gt) + 3), 2))
    data = DetectionSet(names, **out)
    stats0, stats1, per50, _ = coco_reference(data)
    r = _point(data)
    assert abs(r.metrics["map_coco"][0] - stats0) <= TOL
    assert abs(r.metrics["ap50"][0] - stats1) <= TOL
    assert all(_close(r.per_label["ap50"][0, k], per50[k]) for k in range(len(names)))
    assert _close(r.metrics["ap40_voc"][0], voc_reference(data)[0])
    assert 0.1 < stats0 < stats1 < 0.9
