"""One footnote per column: the conventions (from the results file) that change that metric's number."""

from __future__ import annotations

import re
from typing import Any

from leaderboards.directions import is_calibration_metric

# Conventions that apply to every metric of a task, besides the metric's own entry.
TASK_WIDE = {
    "classification": ("unknown_labels", "macro", "ground_truth"),
    "localization": ("boxes",),
    "segmentation": ("empty_rule", "both_empty", "one_empty", "aggregation"),
    "report": ("tokenizer", "ground_truth"),
}
# Metric families whose convention entry has another name.
ALIASES = {
    "ce": "clinical_efficacy",
    "ce5": "clinical_efficacy",
    "hd95_px": "hd95",
    "brier": "calibration",
    "ece": "calibration",
}
# The entries of results.conventions.calibration (bench.metrics.calibration.conventions) that change each number.
CALIBRATION_ENTRIES = {
    "brier": ("brier",),
    "ece": ("ece",),
    "calibration_slope": ("calibration_slope", "logit_clip", "slope_undefined"),
    "calibration_intercept": ("calibration_intercept", "logit_clip", "slope_undefined"),
}
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
            key == "macro" and ("/" in metric or is_calibration_metric(metric))
        )
        task_wide = key in TASK_WIDE.get(task, ()) and not excluded
        own = family == key or family.startswith(key) or (key.startswith(family) and len(family) >= 3)
        aliased = key in (ALIASES.get(head), ALIASES.get(family.removesuffix("_mean")))
        if task_wide or own or aliased:
            wanted.append(key)
    return wanted


def _calibration_entries(metric: str, entry: Any) -> Any:
    """Only what changes this calibration metric (the whole entry is a dozen sentences)."""
    if not isinstance(entry, dict) or "skipped" in entry:
        return entry
    family = metric.split("/")[0]
    wanted = next((keys for name, keys in CALIBRATION_ENTRIES.items() if family.startswith(name)), ())
    wanted += () if "/" in metric else ("macro",)
    return {key: entry[key] for key in wanted if key in entry}


def convention_footnote(task: str, metric: str, results: dict[str, Any]) -> str:
    conventions = results.get("conventions", {})
    settings = results.get("settings", {})
    parts = [
        f"{key}: {_compact(_calibration_entries(metric, conventions[key]) if key == 'calibration' else conventions[key])}"
        for key in metric_convention_keys(task, metric, conventions)
    ]
    replicates = settings.get("bootstrap_replicates")
    if replicates:
        unit = settings.get("cluster") or "image"
        clusters = f" ({settings['n_clusters']} {unit}s)" if "n_clusters" in settings else ""
        parts.append(
            f"95 % CI: bootstrap over {unit}s{clusters}, {replicates} replicates, seed {settings.get('seed')}"
        )
    else:
        parts.append("no bootstrap CI")
    if settings.get("level") == "study":
        parts.append(f"one case per study: {conventions.get('level', 'study level')}")
    return f"{task} · {metric} — " + "; ".join(parts)


_FAMILY_WORDS = {
    "table": "all tests of the table",
    "task": "the tests of each task",
    "column": "the tests of each column",
}


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def significance_footnote(sig: Any, cells: list[Any]) -> str | None:
    """The significance note of a table: Holm family, replicates per family and why, tests that cannot fire.

    `sig` is the spec's Significance, `cells` the table's cells (those with a `test`)."""
    tested = [c for c in cells if c.test is not None]
    if sig.test == "none" or not tested:
        return None
    with_p = [c for c in tested if c.test.p_value is not None]
    families: dict[str, tuple[int, int | None]] = {}
    for cell in with_p:
        families[cell.test.family or "table"] = (cell.test.family_size or 0, cell.test.replicates)
    permutation = sig.test == "approximate_randomization"
    symbol, floor = ("P", "1/(P+1)") if permutation else ("B", "2/(B+1)")
    minimum = sig.n_perm if permutation else sig.n_boot
    parts = [
        f"† Holm family: {_FAMILY_WORDS.get(sig.family, sig.family)}; † where the Holm-adjusted p < α = {sig.alpha:g}."
    ]
    if families:
        sizes = [m for m, _ in families.values()]
        replicates = [b for _, b in families.values() if b is not None]
        parts.append(
            f"Resampling tests draw the smallest {symbol} (at least {minimum}, at most {sig.max_replicates}) for which "
            f"the smallest attainable Holm-adjusted p, m·{floor}, is below α/{sig.resolution:g}: "
            f"m = {_span(sizes)} tests per family"
            + (f", {symbol} = {_span(replicates)}" if replicates else "")
            + "; analytic tests (DeLong / Obuchowski for per-label AUC) have no floor."
        )
    stuck = [c for c in with_p if c.test.min_adjusted_p is not None and c.test.min_adjusted_p >= sig.alpha]
    if stuck:
        names = ", ".join(f"{c.row} × {c.column}" for c in stuck[:4]) + (" …" if len(stuck) > 4 else "")
        parts.append(
            f"{len(stuck)} test(s) cannot reach p < α whatever the data ({names}; reasons in cells.json)."
        )
    untested = len(tested) - len(with_p)
    if untested:
        parts.append(f"{untested} adjacent pair(s) not tested (reasons in cells.json).")
    return " ".join(parts)
