"""Attribute characterisation: how well a model states the location and severity of the findings a report gives.

Input per case (image): the ground truth's and the prediction's `{finding: {"location": [...], "severity":
mild | moderate | severe | None, ...}}` (bench/datasets/attributes.py defines the terms). For each attribute
the scored items are the (case, finding) pairs whose ground truth gives that attribute (a non-empty location
list, a severity grade); the prediction's value for the same finding is compared (a finding the prediction
does not characterise, or characterises without that attribute, is a wrong answer).

- severity: one grade per item; accuracy = share of items with the right grade (= sklearn accuracy_score);
  macro-F1 = mean over the grades present in the scored ground truth of each grade's one-vs-rest F1
  (= sklearn f1_score(average="macro", labels=those grades); a missing prediction is in no grade's column).
- location: a set of terms per item; accuracy = share of items whose predicted set equals the ground truth's
  (exact match, = sklearn accuracy_score on indicator matrices); macro-F1 = mean over the terms present in the
  scored ground truth of each term's F1 over items (= sklearn f1_score(average="macro") on indicator matrices
  with labels=those terms). A predicted term the ground truth never uses adds no column but breaks exact match.

Bootstrap: cases (or clusters of cases, `clusters=`) are resampled with bench.metrics.bootstrap.bootstrap_counts,
so all findings of a drawn image enter a replicate together.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.datasets.attributes import LOCATIONS, SEVERITY_GRADES
from bench.metrics.bootstrap import bootstrap_counts, percentile_ci
from bench.metrics.types import MetricValue, TaskResult

ATTRIBUTES = ("location", "severity")
Attributes = Mapping[str, Mapping[str, Any]]  # finding -> {"location": [...], "severity": ...}

CONVENTIONS: dict[str, Any] = {
    "items": "per attribute, the (image, finding) pairs whose ground truth gives that attribute (a non-empty "
    "location list, a severity grade); the prediction's value for that finding is compared, a missing one is "
    "wrong; findings the ground truth does not characterise are not scored",
    "severity": "accuracy = share of items with the ground truth's grade (= sklearn accuracy_score); macro-F1 = "
    "mean one-vs-rest F1 over the grades present in the scored ground truth (= sklearn f1_score "
    "average='macro' with labels=those grades)",
    "location": "terms of bench.datasets.attributes; accuracy = share of items whose predicted term set equals "
    "the ground truth's (exact match, = sklearn accuracy_score on indicator matrices); macro-F1 = mean per-term "
    "F1 over the terms present in the scored ground truth (= sklearn f1_score average='macro', labels=those)",
    "bootstrap": "images (or their clusters: patients, studies) resampled with replacement via "
    "bench.metrics.bootstrap.bootstrap_counts, all findings of a drawn image together; 95 % percentile "
    "interval; in a replicate a grade / term without ground-truth items is left out of the macro mean",
    "per_label": "per_label['location_f1'][term], per_label['severity_f1'][grade]; supports in notes",
}


@dataclass(frozen=True)
class AttributeItems:
    """One attribute's scored items: case index, ground-truth and predicted value sets over `classes`."""

    case: np.ndarray  # (m,) int64, index of the item's case
    true: np.ndarray  # (m, K) bool indicator over classes
    pred: np.ndarray  # (m, K) bool indicator over classes
    exact: np.ndarray  # (m,) bool, predicted set == ground-truth set (terms outside classes included)
    classes: tuple[str, ...]
    unanswered: int  # items whose prediction gives no value


def _values(entry: Mapping[str, Any] | None, attribute: str) -> frozenset[str]:
    value = (entry or {}).get(attribute)
    if attribute == "location":
        return frozenset(value or ())
    return frozenset() if value is None else frozenset((value,))


def attribute_items(
    gt: Sequence[Attributes | None], pred: Sequence[Attributes | None], attribute: str
) -> AttributeItems:
    """The items of `attribute` over cases aligned by position (gt[i] and pred[i] are the same image)."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"attribute {attribute!r}: choose one of {', '.join(ATTRIBUTES)}")
    if len(gt) != len(pred):
        raise ValueError(f"{len(gt)} ground-truth cases but {len(pred)} predictions")
    cases, truths, guesses = [], [], []
    for i, (g, p) in enumerate(zip(gt, pred, strict=True)):
        for finding, entry in (g or {}).items():
            truth = _values(entry, attribute)
            if truth:
                cases.append(i)
                truths.append(truth)
                guesses.append(_values((p or {}).get(finding), attribute))
    order = LOCATIONS if attribute == "location" else SEVERITY_GRADES
    present = set().union(*truths) if truths else set()
    classes = tuple(c for c in order if c in present) + tuple(sorted(present - set(order)))
    index = {c: k for k, c in enumerate(classes)}
    true = np.zeros((len(truths), len(classes)), dtype=bool)
    guess = np.zeros_like(true)
    for row, (truth, guessed) in enumerate(zip(truths, guesses, strict=True)):
        true[row, [index[c] for c in truth]] = True
        guess[row, [index[c] for c in guessed if c in index]] = True
    return AttributeItems(
        case=np.asarray(cases, dtype=np.int64),
        true=true,
        pred=guess,
        exact=np.array([t == p for t, p in zip(truths, guesses, strict=True)], dtype=bool),
        classes=classes,
        unanswered=sum(not p for p in guesses),
    )


@dataclass(frozen=True)
class _CaseSums:
    """Per-case sums of the items' counts, so a replicate is one product with its case multiplicities."""

    tp: np.ndarray  # (n, K)
    fp: np.ndarray
    fn: np.ndarray
    exact: np.ndarray  # (n,)
    items: np.ndarray  # (n,)

    @classmethod
    def of(cls, items: AttributeItems, n: int) -> _CaseSums:
        def by_case(values: np.ndarray) -> np.ndarray:
            out = np.zeros((n, *values.shape[1:]))
            np.add.at(out, items.case, values)
            return out

        t, p = items.true, items.pred
        ones = np.ones(items.case.size)
        return cls(by_case(t & p), by_case(~t & p), by_case(t & ~p), by_case(items.exact), by_case(ones))


def _accuracy_f1(sums: _CaseSums, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B,) accuracy and (B, K) per-class F1 for (B, n) case multiplicities; F1 NaN where a class has no item."""
    tp, fp, fn = weights @ sums.tp, weights @ sums.fp, weights @ sums.fn
    support = tp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (weights @ sums.exact) / (weights @ sums.items)
        f1 = np.where(support > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return accuracy, f1


def _nanmean(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        return np.nanmean(values, axis=1)


def score_attributes(
    gt: Sequence[Attributes | None],
    pred: Sequence[Attributes | None],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    clusters: np.ndarray | None = None,
) -> TaskResult:
    """Accuracy and macro-F1 of location and severity (module docstring), with bootstrap 95 % CIs."""
    n = len(gt)
    counts = bootstrap_counts(n, n_boot, seed, clusters=clusters).astype(float) if n_boot > 0 else None
    metrics: dict[str, MetricValue] = {}
    per_label: dict[str, dict[str, float | None]] = {}
    notes: dict[str, Any] = {"items": {}, "unanswered_items": {}, "support": {}}
    for attribute in ATTRIBUTES:
        items = attribute_items(gt, pred, attribute)
        m = items.case.size
        notes["items"][attribute] = m
        notes["unanswered_items"][attribute] = items.unanswered
        notes["support"][attribute] = dict(zip(items.classes, items.true.sum(axis=0).tolist(), strict=True))
        if m == 0:
            metrics[f"{attribute}_accuracy"] = MetricValue(None)
            metrics[f"{attribute}_macro_f1"] = MetricValue(None)
            notes.setdefault("undefined", {})[attribute] = f"no ground-truth finding gives a {attribute}"
            continue
        sums = _CaseSums.of(items, n)
        accuracy, f1 = _accuracy_f1(sums, np.ones((1, n)))
        per_label[f"{attribute}_f1"] = dict(zip(items.classes, f1[0].tolist(), strict=True))
        accuracy_ci = f1_ci = None
        if counts is not None:
            boot_accuracy, boot_f1 = _accuracy_f1(sums, counts)
            accuracy_ci, f1_ci = percentile_ci(boot_accuracy), percentile_ci(_nanmean(boot_f1))
        metrics[f"{attribute}_accuracy"] = MetricValue(float(accuracy[0]), accuracy_ci)
        metrics[f"{attribute}_macro_f1"] = MetricValue(float(_nanmean(f1)[0]), f1_ci)
    return TaskResult(metrics=metrics, per_label=per_label, conventions=dict(CONVENTIONS), notes=notes)
