"""`cxrbench score`: ground-truth file + prediction file -> one results file.

Results files are deterministic: the same inputs and settings give byte-identical output (no timestamps here).
The settings are `bench.run.settings.ScoreSettings`; the per-task scoring is `bench.run.scoring`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.records import atomic_write_text
from bench.run.align import Aligned, align
from bench.run.gc_pause import cyclic_gc_paused
from bench.run.provenance import file_provenance, package_versions, sha256_text_lines
from bench.run.scoring import (  # noqa: F401  (re-exported: the names callers have used from here)
    CLUSTER_UNITS,
    ClusterUnit,
    chexbert_spec,
    radcliq_bertscore_settings,
    resolve_cluster,
    score_aligned,
)
from bench.run.settings import ScoreSettings

RESULTS_SCHEMA_VERSION = 1


_TASK_PACKAGES = {
    "classification": (),
    "localization": (),
    "segmentation": ("pycocotools",),
    "report": ("bert-score", "transformers", "torch", "nltk"),
    "attributes": (),
}


# Ground-truth conventions an adapter records in `meta` (label rules, report sections): they change the numbers,
# so the results carry them.
GROUND_TRUTH_CONVENTIONS = {
    "classification": ("label_rules",),
    "report": ("report_sections",),
    "attributes": ("report_sections",),  # attributes are read from these report sections
}


def ground_truth_conventions(data: Aligned) -> dict[str, Any]:
    """The adapter's conventions found in the scored ground truth (distinct values; counts of report rules)."""
    found: dict[str, list[Any]] = {}
    rules: dict[str, int] = {}
    for _, record in data.gt:
        meta = record.meta or {}
        for key in GROUND_TRUTH_CONVENTIONS.get(data.task, ()):
            if key in meta and meta[key] not in found.setdefault(key, []):
                found[key].append(meta[key])
        if "report_rule" in meta and data.task == "report":
            rules[meta["report_rule"]] = rules.get(meta["report_rule"], 0) + 1
    out: dict[str, Any] = {key: values[0] if len(values) == 1 else values for key, values in found.items()}
    if rules:
        out["report_rule_counts"] = dict(sorted(rules.items()))
    return out


@cyclic_gc_paused()
def build_results(
    task: str, gt_path: str | Path, pred_path: str | Path, settings: ScoreSettings
) -> dict[str, Any]:
    from bench.run.study_level import LEVELS, default_level, describe, to_study_level

    data = align(task, gt_path, pred_path)
    level = settings.level or default_level(data)
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: choose one of {', '.join(LEVELS)}")
    if level == "study":
        data = to_study_level(data, settings.study_aggregate)
    cluster = resolve_cluster(data, settings.cluster)
    groups = None
    if settings.subgroups:
        from bench.run.subgroups import absent_note, assign_groups, subgroup_results

        groups = assign_groups(data, settings)  # bad fields fail before scoring
    result = score_aligned(data, settings, cluster)
    subgroups = {}
    if groups:
        subgroups = {"subgroups": subgroup_results(data, settings, cluster, result, groups)}
    elif groups is not None:  # every requested field skipped as absent: said, never silently dropped
        subgroups = {"subgroups": {"conventions": {"fields": []} | absent_note(data, settings), "fields": {}}}
    result.conventions["level"] = describe(task, level, settings.study_aggregate)
    result.conventions["cluster"] = {
        "unit": cluster.unit,
        "n_clusters": cluster.n_clusters,
        "rule": "every bootstrap replicate draws whole clusters with replacement (all images of a drawn "
        f"{cluster.unit} together)"
        + (
            f"; {cluster.without_key} images without meta.{cluster.unit} are each their own cluster"
            if cluster.without_key
            else ""
        )
        if cluster.unit != "image"
        else "images are resampled as independent cases",
    }
    if ground_truth := ground_truth_conventions(data):
        result.conventions["ground_truth"] = ground_truth
    body = result.to_json()
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "task": task,
        "n": len(data.gt),
        "metrics": body["metrics"],
        "per_label": body["per_label"],
        "conventions": body["conventions"],
        "settings": settings.for_task(task)
        | {"cluster": cluster.unit, "n_clusters": cluster.n_clusters, "level": level}
        | (
            {"study_aggregate": settings.study_aggregate}
            if level == "study" and task == "classification"
            else {}
        ),
        "notes": body["notes"],
        "provenance": {
            "inputs": file_provenance({"gt": data.gt_path, "pred": data.pred_path}),
            "ids_sha256": sha256_text_lines(sorted(data.ids)),
            "versions": package_versions(_TASK_PACKAGES[task]),
            "seed": settings.seed,
        },
    } | subgroups


def results_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def score_files(
    task: str, gt_path: str | Path, pred_path: str | Path, out_path: str | Path, settings: ScoreSettings
) -> dict[str, Any]:
    """Score and write atomically: on any error nothing is written."""
    results = build_results(task, gt_path, pred_path, settings)
    atomic_write_text(out_path, results_json(results))
    return results
