"""Fast rule-based radiology report labeler (CheXpert / ChestX-ray14 label sets).

Phrase matching plus clause-scoped negation and uncertainty rules, in the spirit of NegBio and
the CheXpert labeler, without a parser: pure Python, thousands of reports per second.

Values: 1.0 positive, 0.0 negative, -1.0 uncertain, NaN not mentioned. Several mentions of one
label are combined like the CheXpert labeler's aggregator: any positive -> 1, else any uncertain
-> -1, else 0.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

import numpy as np

from bench.labelsets import CHESTXRAY14, CHEXPERT_14

from .lexicon import Lexicon, load_lexicon
from .rules import NEGATIVE, POSITIVE, UNCERTAIN, classify_anatomy, classify_finding, mask_pseudo_negations
from .text import prepare

__all__ = ["LABELER_VERSION", "LABELSETS", "label_report", "label_reports"]

LABELER_VERSION = "cxrbench-rules-1.0"

LABELSETS: dict[str, list[str]] = {
    "chexpert": list(CHEXPERT_14),
    "chestxray14": list(CHESTXRAY14),
}

_NO_FINDING = "No Finding"
_SUPPORT_DEVICES = "Support Devices"
_CARDIOMEGALY = "Cardiomegaly"
_HEART_FAILURE_TERMS = ("chf", "heart failure")
_WORD_TAIL = re.compile(r"\w*")


def _combine(values: list[float]) -> float:
    """The CheXpert aggregator: 1 beats -1 beats 0."""
    if POSITIVE in values:
        return POSITIVE
    if UNCERTAIN in values:
        return UNCERTAIN
    return NEGATIVE


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _mention_values(sentences: list[str], lexicon: Lexicon) -> dict[str, list[float]]:
    """label -> values of its mentions (chexpert's heart-failure rule applied)."""
    found: dict[str, list[float]] = {}
    options = lexicon.options
    # Phrases never span a newline, so one scan of the joined text finds every sentence's mentions.
    text = "\n".join(sentences)
    starts = list(accumulate((len(s) + 1 for s in sentences[:-1]), initial=0))
    masked: dict[int, str] = {}

    def locate(span: tuple[int, int]) -> tuple[str, int, int]:
        """(masked sentence, start, end) with the end moved to the end of the word ("atelecta|sis")."""
        index = bisect_right(starts, span[0]) - 1
        if index not in masked:
            masked[index] = mask_pseudo_negations(sentences[index])
        offset = starts[index]
        end = _WORD_TAIL.match(text, span[1]).end()  # type: ignore[union-attr]  # \w* always matches
        return masked[index], span[0] - offset, end - offset

    for label in lexicon.patterns:
        if not label.may_occur_in(text):
            continue
        excluded = [m.span() for m in label.exclude.finditer(text)] if label.exclude else []
        finding_spans: list[tuple[int, int]] = []
        for pattern, always_uncertain in ((label.findings, False), (label.uncertain, True)):
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                span = match.span()
                if excluded and _overlaps(span, excluded):
                    continue
                finding_spans.append(span)
                value = classify_finding(*locate(span), options)
                if always_uncertain and value == POSITIVE:
                    value = UNCERTAIN
                found.setdefault(label.name, []).append(value)
                if (
                    value != NEGATIVE
                    and options.heart_failure_adds_uncertain_cardiomegaly
                    and match.group(0) in _HEART_FAILURE_TERMS
                ):
                    found.setdefault(_CARDIOMEGALY, []).append(UNCERTAIN)
        if label.anatomy is None:
            continue
        for match in label.anatomy.finditer(text):
            span = match.span()
            if _overlaps(span, excluded) or _overlaps(span, finding_spans):
                continue
            anatomy_value = classify_anatomy(*locate(span), options)
            if anatomy_value is not None:
                found.setdefault(label.name, []).append(anatomy_value)
    return found


def label_report(report: str, labelset: str = "chexpert") -> list[float]:
    """Label one report; see `label_reports`."""
    lexicon = load_lexicon(labelset)
    found = _mention_values(prepare(report), lexicon)
    row = [_combine(found[name]) if name in found else math.nan for name in lexicon.labels]
    if _NO_FINDING in lexicon.labels:
        # CheXpert: No Finding = 1 unless some finding other than support devices is positive/uncertain.
        has_finding = any(
            name not in (_SUPPORT_DEVICES,) and (POSITIVE in values or UNCERTAIN in values)
            for name, values in found.items()
        )
        row[lexicon.labels.index(_NO_FINDING)] = math.nan if has_finding else POSITIVE
    return row


def label_reports(reports: Sequence[str], labelset: str = "chexpert") -> np.ndarray:
    """(n, 14) float64 labels: 1 positive, 0 negative, -1 uncertain, NaN not mentioned.

    Columns follow `LABELSETS[labelset]`. Only image-describing sections are read: text under
    Indication / History / Comparison / Technique headers is ignored.
    """
    if labelset not in LABELSETS:
        raise ValueError(f"unknown labelset {labelset!r}; choose from {sorted(LABELSETS)}")
    out = np.full((len(reports), len(LABELSETS[labelset])), np.nan, dtype=np.float64)
    for i, report in enumerate(reports):
        out[i] = label_report(report, labelset)
    return out
