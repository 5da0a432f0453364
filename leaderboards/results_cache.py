"""Results files read once (with the hash of the bytes read), and a metric looked up in them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


class ResultsCache:
    """Results files read once, with the sha256 of the exact bytes read."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[dict[str, Any], str]] = {}

    def get(self, path: Path) -> tuple[dict[str, Any], str] | None:
        if path not in self._files:
            if not path.is_file():
                return None
            raw = path.read_bytes()
            self._files[path] = (json.loads(raw), hashlib.sha256(raw).hexdigest())
        return self._files[path]


def metric_from_results(
    results: dict[str, Any], metric: str
) -> tuple[float | None, list[float] | None, str, str | None]:
    """(value, ci95, metric path, reason-if-undefined) of a metric name, or of `stat/label` from per_label."""
    if metric in results.get("metrics", {}):
        entry = results["metrics"][metric]
        path = f"metrics.{metric}"
        value, ci = entry.get("value"), entry.get("ci95")
    else:
        stat, _, label = metric.partition("/")
        per_label = results.get("per_label", {}).get(stat, {})
        if not label or label not in per_label:
            return None, None, f"metrics.{metric}", f"metric {metric!r} is not in the results"
        path = f"per_label.{stat}.{label}"
        value = per_label[label]
        ci = results.get("notes", {}).get("per_label_ci95", {}).get(stat, {}).get(label)
    if value is None:
        return None, None, path, _undefined_reason(results, metric)
    return float(value), None if ci is None else [float(ci[0]), float(ci[1])], path, None


def _undefined_reason(results: dict[str, Any], metric: str) -> str:
    family = metric.split("/")[0].split("_")[0].rstrip("0123456789")
    notes = results.get("notes", {})
    hints = [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in notes.items() if family and family in k]
    detail = "; ".join(hints)[:240]
    return f"{metric} undefined in {results.get('task', '?')} results" + (f" ({detail})" if detail else "")
