"""Study-level scoring: one case per study where the ground truth is per study (MIMIC-CXR reports and labels).

MIMIC-CXR keeps every view of a study, and its report and CheXpert labels belong to the study, so scoring per image
counts a study's reference as often as it has images. At study level:

- report: the study's report is scored once, against the prediction for one image chosen by a named view rule
  (`frontal_first`: the first PA image, else the first AP, else the study's first image, in ground-truth order);
- classification: each label's score is aggregated over the study's images (`max` or `mean`), the label is the
  study's (images of a study that disagree on a label are an error, naming the line).

The study's record keeps the meta (patient, study) of its first image, so clusters still apply.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.records import Record, RecordError
from bench.run.align import Aligned
from bench.tasks import OPTIONS

LEVELS = OPTIONS["level"].choices
AGGREGATES = OPTIONS["study_aggregate"].choices
VIEW_RULE = "frontal_first"
VIEW_RANK = {"PA": 0, "AP": 1}


def default_level(data: Aligned) -> str:
    """Study for reports whose ground truth names the study of every image; image otherwise."""
    if data.task == "report" and all((rec.meta or {}).get("study") is not None for _, rec in data.gt):
        return "study"
    return "image"


def describe(task: str, level: str, aggregate: str) -> str:
    if level == "image":
        return "one case per image"
    if task == "report":
        return (
            "one case per study (meta.study): the study's report against the prediction for its first PA image, "
            "else its first AP image, else its first image (rule frontal_first)"
        )
    return f"one case per study (meta.study): each label's score is the {aggregate} over the study's images"


def _groups(data: Aligned) -> dict[Any, list[int]]:
    groups: dict[Any, list[int]] = {}
    for i, (line, rec) in enumerate(data.gt):
        study = (rec.meta or {}).get("study")
        if study is None:
            raise RecordError(
                data.gt_path,
                line,
                f"record {rec.id!r} has no meta.study: study-level scoring needs it (use --level image)",
            )
        groups.setdefault(str(study), []).append(i)
    return groups


def to_study_level(data: Aligned, aggregate: str = "max") -> Aligned:
    """The aligned data with one (ground truth, prediction) pair per study (see the module doc)."""
    if data.task not in ("report", "classification"):
        raise ValueError(f"study-level scoring is defined for report and classification, not {data.task}")
    if aggregate not in AGGREGATES:
        raise ValueError(f"study aggregate {aggregate!r}: choose one of {', '.join(AGGREGATES)}")
    gt: list[tuple[int, Record]] = []
    pred: list[tuple[int, Record]] = []
    for study, members in _groups(data).items():
        first_line, first = data.gt[members[0]]
        field = "report" if data.task == "report" else "labels"
        for i in members[1:]:
            line, rec = data.gt[i]
            if getattr(rec, field) != getattr(first, field):
                raise RecordError(
                    data.gt_path,
                    line,
                    f"record {rec.id!r}: its {field} differs from that of its study {study!r} at line {first_line}",
                )
        if data.task == "report":
            chosen = min(
                members, key=lambda i: (VIEW_RANK.get(str((data.gt[i][1].meta or {}).get("view")), 2), i)
            )
            p_line, p = data.pred[chosen]
            gt.append((first_line, first.model_copy(update={"id": study})))
            pred.append((p_line, p.model_copy(update={"id": study})))
            continue
        scores: dict[str, list[float]] = {}
        for i in members:
            for name, value in (data.pred[i][1].labels or {}).items():
                # prediction records are read as kind "pred", which rejects a None score (records._check_kind)
                assert value is not None
                scores.setdefault(name, []).append(value)
        reduce = np.max if aggregate == "max" else np.mean
        labels = {name: float(reduce(values)) for name, values in scores.items()}
        p_line, p = data.pred[members[0]]
        gt.append((first_line, first.model_copy(update={"id": study})))
        pred.append((p_line, p.model_copy(update={"id": study, "labels": labels})))
    return Aligned(data.task, data.gt_path, data.pred_path, gt, pred)
