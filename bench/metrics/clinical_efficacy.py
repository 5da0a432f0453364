"""Clinical efficacy (CE) metrics: label agreement between reference and generated reports.

Matches the R2Gen lineage (zhjohnchan/R2Gen `compute_ce.py` + `modules/metrics.py::compute_mlc`):
labels of both reports come from a report labeler; blank (NaN) and uncertain (-1) are set to 0, so a
label is positive iff its value is 1; then scikit-learn `precision_score` / `recall_score` /
`f1_score` with `average="micro"` (over all report x label pairs) and `average="macro"` (mean of the
per-label scores; macro F1 is the mean of per-label F1s, not the F1 of macro P and R). Zero division
gives 0, as sklearn's default (`zero_division="warn"`, which returns 0) and `zero_division=0` do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CE5_LABELS: list[str] = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]
CE_METRIC_NAMES: tuple[str, ...] = (
    "ce_micro_precision",
    "ce_micro_recall",
    "ce_micro_f1",
    "ce_macro_precision",
    "ce_macro_recall",
    "ce_macro_f1",
)


def binarize(labels: np.ndarray) -> np.ndarray:
    """1 where the value is exactly 1, else 0 (negative, uncertain and blank/NaN are all 0)."""
    return (np.asarray(labels, dtype=np.float64) == 1.0).astype(np.int64)


def _select(
    ref_labels: np.ndarray, hyp_labels: np.ndarray, label_names: Sequence[str], subset: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    ref, hyp = np.asarray(ref_labels), np.asarray(hyp_labels)
    if ref.shape != hyp.shape or ref.ndim != 2 or ref.shape[1] != len(label_names):
        raise ValueError(
            f"label arrays must both be (n, {len(label_names)}); got {ref.shape} and {hyp.shape}"
        )
    names = list(label_names)
    if subset is None:
        return ref, hyp, names
    missing = [s for s in subset if s not in names]
    if missing:
        raise ValueError(f"labels {missing} not in label_names")
    cols = [names.index(s) for s in subset]
    return ref[:, cols], hyp[:, cols], list(subset)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (sklearn zero_division=0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _scores(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Six CE metrics from per-label counts with labels on the last axis (any leading batch shape)."""
    tp_all, fp_all, fn_all = tp.sum(-1), fp.sum(-1), fn.sum(-1)
    return {
        "ce_micro_precision": _ratio(tp_all, tp_all + fp_all),
        "ce_micro_recall": _ratio(tp_all, tp_all + fn_all),
        "ce_micro_f1": _ratio(2 * tp_all, 2 * tp_all + fp_all + fn_all),
        "ce_macro_precision": _ratio(tp, tp + fp).mean(-1),
        "ce_macro_recall": _ratio(tp, tp + fn).mean(-1),
        "ce_macro_f1": _ratio(2 * tp, 2 * tp + fp + fn).mean(-1),
    }


def ce_metrics(
    ref_labels: np.ndarray,
    hyp_labels: np.ndarray,
    label_names: list[str],
    subset: Sequence[str] | None = None,
) -> dict[str, float]:
    """CE precision / recall / F1 (micro and macro) plus per-label scores.

    `ref_labels`, `hyp_labels`: (n_reports, n_labels) with 1 / 0 / -1 / NaN, columns named by
    `label_names`. `subset` restricts to those columns (e.g. `CE5_LABELS`). Per-label scores are
    returned as `ce_precision/<label>`, `ce_recall/<label>`, `ce_f1/<label>`.
    """
    ref, hyp, names = _select(ref_labels, hyp_labels, label_names, subset)
    ref_pos, hyp_pos = binarize(ref), binarize(hyp)
    tp = (ref_pos & hyp_pos).sum(0)
    fp = ((1 - ref_pos) & hyp_pos).sum(0)
    fn = (ref_pos & (1 - hyp_pos)).sum(0)
    out = {name: float(value) for name, value in _scores(tp, fp, fn).items()}
    precision, recall, f1 = _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)
    for i, label in enumerate(names):
        out[f"ce_precision/{label}"] = float(precision[i])
        out[f"ce_recall/{label}"] = float(recall[i])
        out[f"ce_f1/{label}"] = float(f1[i])
    return out


def ce_bootstrap(
    ref_labels: np.ndarray,
    hyp_labels: np.ndarray,
    counts: np.ndarray,
    label_names: Sequence[str] | None = None,
    subset: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Per-replicate CE metrics, each an array of shape (B,).

    `counts` is (B, n) case multiplicities from `bench.metrics.bootstrap.bootstrap_counts`: replicate
    b is the report set where report i appears counts[b, i] times. `subset` needs `label_names`.
    """
    if subset is not None and label_names is None:
        raise ValueError("subset needs label_names")
    n_labels = np.asarray(ref_labels).shape[-1]
    names = list(label_names) if label_names is not None else [str(i) for i in range(n_labels)]
    ref, hyp, _ = _select(ref_labels, hyp_labels, names, subset)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] != ref.shape[0]:
        raise ValueError(f"counts must be (B, {ref.shape[0]}); got {counts.shape}")
    ref_pos, hyp_pos = binarize(ref), binarize(hyp)
    tp = counts @ (ref_pos & hyp_pos)
    fp = counts @ ((1 - ref_pos) & hyp_pos)
    fn = counts @ (ref_pos & (1 - hyp_pos))
    return _scores(tp, fp, fn)
