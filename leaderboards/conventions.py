"""One footnote per column: the conventions (from the results file) that change that metric's number."""

from __future__ import annotations

import re
from typing import Any

# Conventions that apply to every metric of a task, besides the metric's own entry.
TASK_WIDE = {
    "classification": ("unknown_labels", "macro", "ground_truth"),
    "localization": ("boxes",),
    "segmentation": ("empty_rule", "both_empty", "one_empty", "aggregation"),
    "report": ("tokenizer", "ground_truth"),
}
# Metric families whose convention entry has another name.
ALIASES = {"ce": "clinical_efficacy", "ce5": "clinical_efficacy", "hd95_px": "hd95"}
_HEX = re.compile(r"^[0-9a-f]{40,}$")


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, str):
        if _HEX.match(value):
            return value[:12] + "…"
        if value.startswith("/"):
            return value.rstrip("/").rsplit("/", 1)[
                -1
            ]  # local paths: the folder name, not the machine layout
    return str(value)


def metric_convention_keys(task: str, metric: str, conventions: dict[str, Any]) -> list[str]:
    family = metric.split("/")[0]
    head = family.split("_")[0]
    wanted = []
    for key in conventions:
        excluded = (task == "report" and head in ("ce", "ce5", "bertscore")) or (
            key == "macro" and "/" in metric
        )
        task_wide = key in TASK_WIDE.get(task, ()) and not excluded
        own = family == key or family.startswith(key) or (key.startswith(family) and len(family) >= 3)
        aliased = key in (ALIASES.get(head), ALIASES.get(family.removesuffix("_mean")))
        if task_wide or own or aliased:
            wanted.append(key)
    return wanted


def convention_footnote(task: str, metric: str, results: dict[str, Any]) -> str:
    conventions = results.get("conventions", {})
    settings = results.get("settings", {})
    parts = [
        f"{key}: {_compact(conventions[key])}" for key in metric_convention_keys(task, metric, conventions)
    ]
    replicates = settings.get("bootstrap_replicates")
    if replicates:
        unit = settings.get("cluster") or "image"
        clusters = f" ({settings['n_clusters']} {unit}s)" if "n_clusters" in settings else ""
        parts.append(
            f"95 % CI: bootstrap over {unit}s{clusters}, {replicates} replicates, seed {settings.get('seed')}"
        )
    if settings.get("level") == "study":
        parts.append(f"one case per study: {conventions.get('level', 'study level')}")
    else:
        parts.append("no bootstrap CI")
    return f"{task} · {metric} — " + "; ".join(parts)
