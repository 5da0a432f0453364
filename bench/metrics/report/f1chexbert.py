"""F1-CheXbert: micro/macro F1 between CheXbert labels of generated and reference reports.

As the reference package computes it (f1chexbert 0.0.2, `F1CheXbert.get_label` and `forward`, by J.-B. Delbrouck,
https://pypi.org/project/f1chexbert/): in "rrg" mode a head's class is 1 when CheXbert says positive (1) or
uncertain (3) and 0 when blank (0) or negative (2); the No Finding head's 1 is positive. The 14-label and the
5-label (Cardiomegaly, Edema, Consolidation, Atelectasis, Pleural Effusion) scores are scikit-learn's
`classification_report` on the (report x label) 0/1 matrices: micro F1 = 2 TP / (2 TP + FP + FN) over every
(report, label) pair; macro F1 = unweighted mean of the per-label F1s, a label absent from both sides counting
0 (zero division gives 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.metrics.report.chexbert import CHEXBERT_LABELS

CHEXBERT_LABELS_5 = ("Cardiomegaly", "Edema", "Consolidation", "Atelectasis", "Pleural Effusion")
LABEL_SETS = {"14": CHEXBERT_LABELS, "5": CHEXBERT_LABELS_5}
F1CHEXBERT_METRICS = tuple(f"f1chexbert_{avg}_{k}" for k in LABEL_SETS for avg in ("micro", "macro"))
MODES = ("rrg", "classification")


def classes_to_labels(classes: np.ndarray, mode: str = "rrg") -> np.ndarray:
    """CheXbert head classes (0 blank, 1 positive, 2 negative, 3 uncertain) to label values.

    "rrg": 1 for positive or uncertain, else 0 (int8). "classification": CheXbert's own label.py values, 1 / 0 / -1
    (uncertain) and NaN for blank (float64).
    """
    classes = np.asarray(classes)
    if mode == "rrg":
        return ((classes == 1) | (classes == 3)).astype(np.int8)
    if mode == "classification":
        values = np.full(classes.shape, np.nan)
        values[classes == 1] = 1.0
        values[classes == 2] = 0.0
        values[classes == 3] = -1.0
        return values
    raise ValueError(f"unknown CheXbert label mode {mode!r}; choose one of {', '.join(MODES)}")


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def label_counts(ref: np.ndarray, hyp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, L) per-report TP, FP, FN indicators of 0/1 label matrices."""
    ref, hyp = np.asarray(ref, dtype=bool), np.asarray(hyp, dtype=bool)
    return (ref & hyp).astype(np.float64), (~ref & hyp).astype(np.float64), (ref & ~hyp).astype(np.float64)


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Per-label precision/recall/F1 and micro/macro F1 from label totals (..., L), as classification_report."""
    precision = _divide(tp, tp + fp)
    recall = _divide(tp, tp + fn)
    f1 = _divide(2 * tp, 2 * tp + fp + fn)
    stp, sfp, sfn = tp.sum(axis=-1), fp.sum(axis=-1), fn.sum(axis=-1)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "micro": _divide(2 * stp, 2 * stp + sfp + sfn),
        "macro": f1.mean(axis=-1),
    }


def f1chexbert_scores(ref: np.ndarray, hyp: np.ndarray, labels: Sequence[str] = CHEXBERT_LABELS) -> dict:
    """Corpus values: `f1chexbert_{micro,macro}_{14,5}` and per-label precision/recall/F1/support of the 14."""
    ref, hyp = np.asarray(ref), np.asarray(hyp)
    tp, fp, fn = (c.sum(axis=0) for c in label_counts(ref, hyp))
    out: dict = {}
    for name, subset in LABEL_SETS.items():
        cols = [labels.index(label) for label in subset]
        scores = f1_from_counts(tp[cols], fp[cols], fn[cols])
        out[f"f1chexbert_micro_{name}"] = float(scores["micro"])
        out[f"f1chexbert_macro_{name}"] = float(scores["macro"])
    full = f1_from_counts(tp, fp, fn)
    for stat in ("precision", "recall", "f1"):
        out[stat] = {label: float(full[stat][j]) for j, label in enumerate(labels)}
    out["support"] = {label: int(ref[:, j].sum()) for j, label in enumerate(labels)}
    return out


def f1chexbert_replicates(
    ref: np.ndarray, hyp: np.ndarray, counts: np.ndarray, labels: Sequence[str] = CHEXBERT_LABELS
) -> dict[str, np.ndarray]:
    """(B,) replicates of each `F1CHEXBERT_METRICS` key and (B, 14) of per-label F1 ("f1"), for case
    multiplicities `counts` (B, n) (bench.metrics.bootstrap.bootstrap_counts, clusters drawn whole)."""
    weights = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = (weights @ c for c in label_counts(ref, hyp))
    out: dict[str, np.ndarray] = {}
    for name, subset in LABEL_SETS.items():
        cols = [labels.index(label) for label in subset]
        scores = f1_from_counts(tp[:, cols], fp[:, cols], fn[:, cols])
        out[f"f1chexbert_micro_{name}"] = scores["micro"]
        out[f"f1chexbert_macro_{name}"] = scores["macro"]
    out["f1"] = f1_from_counts(tp, fp, fn)["f1"]
    return out


def f1chexbert_value(
    ref: np.ndarray, hyp: np.ndarray, metric: str, labels: Sequence[str] = CHEXBERT_LABELS
) -> float:
    """One `F1CHEXBERT_METRICS` value of 0/1 label matrices (the paired tests' per-replicate statistic)."""
    if metric not in F1CHEXBERT_METRICS:
        raise ValueError(
            f"unknown F1-CheXbert metric {metric!r}; choose one of {', '.join(F1CHEXBERT_METRICS)}"
        )
    _, average, size = metric.split("_")
    cols = [labels.index(label) for label in LABEL_SETS[size]]
    tp, fp, fn = (c[:, cols].sum(axis=0) for c in label_counts(ref, hyp))
    return float(f1_from_counts(tp, fp, fn)[average])
