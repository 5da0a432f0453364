"""`--subgroups FIELD[,FIELD...]`: every metric per subgroup of a ground-truth `meta` field, with gaps and tests.

Writes the `subgroups` key of a results file (the format agreed with the tables / HTML report).
Groups come from `meta[FIELD]` of the scored ground-truth records (`age_bin` from `meta.age` by an age rule);
records without the field form the group "unknown". Values, CIs and gaps all come from one bootstrap matrix of the
whole test set at the overall results' cluster unit (bench.metrics.subgroups), computed by the task's engine
(bench.run.subgroup_tasks); metrics without an engine are scored by the task's scorer on the group's records.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.metrics.subgroups import (
    GAP_P_RULE,
    SMALL_MIN_CASES,
    SMALL_MIN_POSITIVES,
    Estimate,
    count_clusters,
    gaps_to_reference,
    is_small,
    pairwise_gaps,
    summary,
)
from bench.metrics.types import TaskResult
from bench.records import RecordError
from bench.run.align import Aligned

UNKNOWN = "unknown"
AGE_FIELD = "age_bin"
NO_FINDING = "No Finding"
DEFAULT_AGE_RULE = "decades-80"
AGE_RULES: dict[str, tuple[float, ...]] = {"decades-80": (0, 20, 40, 60, 80)}
SEYYED_KALANTARI = (
    "Seyyed-Kalantari et al. 2021, 'Underdiagnosis bias of artificial intelligence algorithms applied to chest "
    "radiographs in under-served patient populations', Nat Med 27:2176, doi:10.1038/s41591-021-01595-0"
)
AGE_SOURCE = "Seyyed-Kalantari et al. 2021, Nat Med 27:2176 (age groups 0-20, 20-40, 40-60, 60-80, 80+)"
UNDERDIAGNOSIS_DEFINITION = (
    "false-positive rate of No Finding: predicted No Finding (score >= threshold) among images with a finding "
    "(ground truth No Finding = 0; unknown excluded) (Seyyed-Kalantari et al. 2021)"
)
UNDERDIAGNOSIS_SOURCE = (
    f"{SEYYED_KALANTARI}; the authors' code (github.com/LalehSeyyed/Underdiagnosis_NatMed, CXP/false_pos_Neg_NF.py) "
    "computes FPR = #(predicted No Finding and true No Finding = 0) / #(true No Finding = 0) per subgroup, the "
    "prediction being score >= threshold (CXP/classification/predictions.py); the paper takes the threshold that "
    "maximises F1 on a validation set, here it is the stated --nofinding-threshold"
)


@dataclass(frozen=True)
class AgeBins:
    """Bin i holds edges[i] <= age < edges[i + 1], the last bin every age >= edges[-1]; ages below edges[0] form
    the bin "<edges[0]"."""

    rule: str
    edges: tuple[float, ...]
    source: str

    def _text(self, x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    @property
    def labels(self) -> list[str]:
        labels = [f"<{self._text(self.edges[0])}"] if self.edges[0] > 0 else []
        for lo, hi in zip(self.edges[:-1], self.edges[1:], strict=True):
            both_whole = float(lo).is_integer() and float(hi).is_integer()
            top = self._text(hi - 1) if both_whole else f"<{self._text(hi)}"
            labels.append(f"{self._text(lo)}-{top}")
        return [*labels, f"{self._text(self.edges[-1])}+"]

    def label(self, age: float) -> str:
        labels = self.labels
        offset = 1 if self.edges[0] > 0 else 0
        return labels[int(np.searchsorted(self.edges, age, side="right")) - 1 + offset]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "edges": [int(e) if float(e).is_integer() else e for e in self.edges],
            "labels": self.labels,
            "source": self.source,
            "bins": "lower edge <= age < next edge; the last bin holds every age >= its edge",
        }


def parse_age_edges(text: str) -> list[float]:
    """`--age-bins 0,40,60,80` -> [0, 40, 60, 80]; ValueError (one sentence) unless increasing numbers >= 0."""
    try:
        edges = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--age-bins {text!r}: give comma-separated ages in years, e.g. 0,40,60,80"
        ) from None
    if (
        not edges
        or any(not math.isfinite(e) or e < 0 for e in edges)
        or any(b <= a for a, b in zip(edges, edges[1:], strict=False))
    ):
        raise ValueError(f"--age-bins {text!r}: the edges must be increasing ages >= 0, e.g. 0,40,60,80")
    return [int(e) if e.is_integer() else e for e in edges]


def age_bins(edges: list[float] | None) -> AgeBins:
    if edges is None:
        return AgeBins(DEFAULT_AGE_RULE, AGE_RULES[DEFAULT_AGE_RULE], AGE_SOURCE)
    return AgeBins("explicit", tuple(edges), "--age-bins")


def _meta_text(value: Any) -> str:
    """A meta value as group text: strings as they are, other JSON scalars as JSON writes them."""
    return value if isinstance(value, str) else json.dumps(value)


def _age(data: Aligned, line: int, record: Any, value: Any) -> float:
    age = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        age = float(value)
    elif isinstance(value, str):
        try:
            age = float(value.strip())
        except ValueError:
            age = None
    if age is None or not math.isfinite(age) or age < 0:
        raise RecordError(
            data.gt_path, line, f"record {record.id!r}: meta.age {value!r} is not an age in years (>= 0)"
        )
    return age


def absent_fields(data: Aligned, fields: list[str]) -> dict[str, str]:
    """Requested fields that no scored ground-truth record carries, each with the sentence that says so."""
    carried = sorted(
        {key for _, record in data.gt for key, v in (record.meta or {}).items() if v is not None}
    )
    absent = {}
    for field in fields:
        key = "age" if field == AGE_FIELD else field
        if key not in carried:
            derived = " (age_bin is derived from meta.age)" if field == AGE_FIELD else ""
            absent[field] = (
                f"no scored ground-truth record carries meta.{key}, so --subgroups {field} has nothing to group "
                f"by{derived}; the records carry meta {', '.join(carried) or '(none)'}"
            )
    return absent


def check_fields(data: Aligned, fields: list[str]) -> None:
    """RecordError naming the ground-truth file when no scored record carries a requested field."""
    for reason in absent_fields(data, fields).values():
        raise RecordError(data.gt_path, None, reason)


def group_values(data: Aligned, field: str, bins: AgeBins) -> list[str]:
    """The group of every scored ground-truth record ("unknown" where meta lacks the field or holds null)."""
    out = []
    for line, record in data.gt:
        meta = record.meta or {}
        value = meta.get("age" if field == AGE_FIELD else field)
        if value is None:
            out.append(UNKNOWN)
        elif isinstance(value, dict | list):
            raise RecordError(
                data.gt_path,
                line,
                f"record {record.id!r}: meta.{field} is a {type(value).__name__}, not a value",
            )
        elif field == AGE_FIELD:
            out.append(bins.label(_age(data, line, record, value)))
        else:
            out.append(_meta_text(value))
    return out


def ordered_groups(values: list[str], field: str, bins: AgeBins) -> list[str]:
    """Groups sorted by their text (age bins in bin order), "unknown" last."""
    present = set(values)
    known = present - {UNKNOWN}
    order = [b for b in bins.labels if b in known] if field == AGE_FIELD else sorted(known)
    return order + ([UNKNOWN] if UNKNOWN in present else [])


def _fallback_scores(
    data: Aligned, rows: np.ndarray, settings: Any, clusters: np.ndarray | None, labels: list[str] | None
) -> TaskResult:
    """The task's scorer on the group's records alone, with the whole set's label vocabulary and clusters."""
    from bench.metrics.bootstrap import cluster_numbers
    from bench.run.scoring import ClusterUnit, score_aligned

    subset = Aligned(
        data.task, data.gt_path, data.pred_path, [data.gt[i] for i in rows], [data.pred[i] for i in rows]
    )
    sub_clusters = None if clusters is None else cluster_numbers(clusters[rows].tolist())
    unit = ClusterUnit(
        "image" if clusters is None else "cluster",
        sub_clusters,
        rows.size if sub_clusters is None else int(sub_clusters.max()) + 1,
    )
    return score_aligned(subset, replace(settings, labels=labels, subgroups=None), unit)


def _vocabulary(engine: Any) -> list[str] | None:
    if hasattr(engine, "labels"):
        return list(engine.labels)
    inputs = getattr(engine, "inputs", None)
    return list(inputs["label_names"]) if inputs is not None else None


def _field_results(
    field: str,
    values: list[str],
    bins: AgeBins,
    engine: Any,
    counts: np.ndarray | None,
    overall: dict[str, Estimate],
    fallback: list[str],
    data: Aligned,
    settings: Any,
    clusters: np.ndarray | None,
) -> dict[str, Any]:
    labels = np.asarray(values, dtype=object)
    names = list(overall)
    groups, estimates = [], {}
    for group in ordered_groups(values, field, bins):
        rows = np.flatnonzero(labels == group)
        sub_counts = None if counts is None else counts[:, rows]
        est = {k: v for k, v in engine.estimates(rows, sub_counts).items() if k in overall}
        own_ci: dict[str, list[float] | None] = {}
        if fallback:
            scored = _fallback_scores(data, rows, settings, clusters, _vocabulary(engine))
            for name in fallback:
                metric = scored.metrics.get(name)
                value = None if metric is None else metric.value
                ci95 = None if metric is None else metric.ci95
                est[name] = Estimate(np.nan if value is None else value, None)
                own_ci[name] = list(map(float, ci95)) if value is not None and ci95 is not None else None
        # a metric undefined on the whole set (e.g. not requested) is undefined in every group
        for name in names:
            est.setdefault(name, Estimate(np.nan))
        estimates[group] = est
        entry: dict[str, Any] = {
            "value": group,
            "n": int(rows.size),
            "n_clusters": count_clusters(clusters, rows),
            "small": is_small(int(rows.size), engine.positives(rows)),
            "metrics": {},
        }
        for name in names:
            entry["metrics"][name] = summary(est[name])
            if name in own_ci:
                entry["metrics"][name]["ci"] = own_ci[name]
        per_label = engine.per_label(rows)
        if per_label is not None:
            entry["per_label"] = per_label
        groups.append(entry)
    for name in names:
        tests = gaps_to_reference({g["value"]: estimates[g["value"]][name] for g in groups}, overall[name])
        for entry in groups:
            entry.setdefault("gap_to_overall", {})[name] = tests[entry["value"]]
    pairwise = []
    for name in names:
        for test in pairwise_gaps([(g["value"], estimates[g["value"]][name]) for g in groups]):
            pairwise.append(
                {
                    "a": test["a"],
                    "b": test["b"],
                    "metric": name,
                    **{k: test[k] for k in ("gap", "ci", "p", "p_holm")},
                }
            )
    out: dict[str, Any] = {"groups": groups, "pairwise": pairwise}
    if data.task == "classification" and NO_FINDING in engine.labels:
        out["underdiagnosis"] = _underdiagnosis(
            engine, labels, [g["value"] for g in groups], counts, settings
        )
    return out


def _underdiagnosis(
    engine: Any, labels: np.ndarray, order: list[str], counts: np.ndarray | None, settings: Any
) -> dict[str, Any]:
    threshold = float(settings.nofinding_threshold)
    rates, rows_out = [], []
    for group in order:
        rows = np.flatnonzero(labels == group)
        est, n_with = engine.nofinding_fpr(
            rows, None if counts is None else counts[:, rows], NO_FINDING, threshold
        )
        rates.append((group, est))
        s = summary(est)
        rows_out.append({"value": group, "fpr": s["value"], "ci": s["ci"], "n_with_finding": n_with})
    return {
        "label": NO_FINDING,
        "threshold": threshold,
        "definition": UNDERDIAGNOSIS_DEFINITION,
        "groups": rows_out,
        "pairwise": pairwise_gaps(rates),
    }


def subgroup_results(
    data: Aligned, settings: Any, cluster: Any, result: TaskResult, values: dict[str, list[str]]
) -> dict[str, Any]:
    """The results' `subgroups` key for the groups `values` (field -> group of every record, `assign_groups`)."""
    from bench.metrics.bootstrap import bootstrap_counts
    from bench.run.subgroup_tasks import PerCaseMeans, make_engine

    bins = age_bins(settings.age_bins)
    n = len(data.gt)
    engine: Any = make_engine(data, settings)
    if result.per_case:
        engine = PerCaseMeans(engine, result.per_case, n)
    counts = (
        bootstrap_counts(n, settings.n_boot, settings.seed, clusters=cluster.clusters)
        if settings.n_boot
        else None
    )
    everyone = np.arange(n)
    covered = engine.estimates(everyone, counts)
    overall: dict[str, Estimate] = {}
    fallback, no_gap = [], {}
    for name, metric in result.metrics.items():
        if name in covered:
            overall[name] = covered[name]
        else:
            overall[name] = Estimate(np.nan if metric.value is None else metric.value, None)
            if metric.value is not None:
                fallback.append(name)
                no_gap[name] = (
                    "no joint-replicate engine for this metric: each group's value and CI are the task scorer's on "
                    "the group's records alone (its own draws of the group's clusters); gaps have a value but no "
                    "CI or test"
                )
    fields = {
        field: _field_results(
            field, group_list, bins, engine, counts, overall, fallback, data, settings, cluster.clusters
        )
        for field, group_list in values.items()
    }
    return {
        "conventions": _conventions(data, settings, cluster, bins, list(values), engine, no_gap)
        | absent_note(data, settings),
        "fields": fields,
    }


def assign_groups(data: Aligned, settings: Any) -> dict[str, list[str]]:
    """Field -> group of every scored record; RecordError (naming the ground-truth file) for a field no record
    carries or a meta value that cannot be grouped. Runs before any scoring."""
    fields = list(dict.fromkeys(settings.subgroups))
    if settings.subgroups_absent == "skip":
        absent = absent_fields(data, fields)
        fields = [field for field in fields if field not in absent]
    else:
        check_fields(data, fields)
    bins = age_bins(settings.age_bins)
    return {field: group_values(data, field, bins) for field in fields}


def absent_note(data: Aligned, settings: Any) -> dict[str, Any]:
    """`absent_fields` for the conventions when requested fields were skipped (subgroups_absent="skip")."""
    if settings.subgroups_absent != "skip":
        return {}
    absent = absent_fields(data, list(dict.fromkeys(settings.subgroups)))
    return {"absent_fields": absent} if absent else {}


def _conventions(
    data: Aligned,
    settings: Any,
    cluster: Any,
    bins: AgeBins,
    fields: list[str],
    engine: Any,
    no_gap: dict[str, str],
) -> dict[str, Any]:
    unit = cluster.unit
    out: dict[str, Any] = {"fields": fields}
    if AGE_FIELD in fields:
        out["age_bin"] = bins.to_json()
    out |= {
        "cluster": unit,
        "bootstrap_replicates": settings.n_boot,
        "seed": settings.seed,
        "ci_level": 0.95,
        "replicates": "one (B, n) matrix of multiplicities for the whole test set (bench.metrics.bootstrap."
        f"bootstrap_counts with the overall results' seed and {unit} clusters: the overall CI's own draws); a "
        "group's replicate b is its metric on its columns of row b (a drawn cluster brings all its images, in "
        "whichever group they are); a group's CI is the 95 % percentile interval of its replicates",
        "gap_test": "gap = metric(group) - metric(overall) or metric(a) - metric(b) on the same draws for all "
        f"groups (paired by design); 95 % percentile interval of the replicate gaps; {GAP_P_RULE}",
        "multiplicity": "Holm within each field and metric: once over the gaps to overall (one per group), once "
        "over the pairwise gaps (one per pair); the underdiagnosis pairwise gaps are one family per field",
        "small_group": {
            "min_cases": SMALL_MIN_CASES,
            "min_positives": SMALL_MIN_POSITIVES,
            "positives": engine.POSITIVES_RULE or "not counted for this task (cases only)",
            "meaning": "reported, flagged small; never dropped",
        },
        "missing": "records without the meta field (or with null) form the group 'unknown' (reported like any "
        "group); a meta value is grouped by its text (non-strings as JSON writes them)",
    }
    if no_gap:
        out["no_gap_test"] = no_gap
    if data.task == "classification":
        out["underdiagnosis"] = {
            "label": NO_FINDING,
            "threshold": float(settings.nofinding_threshold),
            "definition": UNDERDIAGNOSIS_DEFINITION,
            "source": UNDERDIAGNOSIS_SOURCE,
            "present": NO_FINDING in engine.labels,
        }
    return out
