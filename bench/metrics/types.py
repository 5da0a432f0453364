"""The one output shape every task scorer returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MetricValue:
    """A corpus-level metric with an optional 95 % confidence interval.

    `value` is None when the metric is undefined (e.g. no label has both classes);
    the reason then goes into `TaskResult.notes`.
    """

    value: float | None
    ci95: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _clean(self.value),
            "ci95": None if self.ci95 is None else [_clean(self.ci95[0]), _clean(self.ci95[1])],
        }


@dataclass
class TaskResult:
    """What a task scorer returns; `bench.run.score` adds settings and provenance."""

    metrics: dict[str, MetricValue]
    per_label: dict[str, dict[str, float | None]] = field(default_factory=dict)
    conventions: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    # Per-case values behind mean-of-cases metrics (e.g. "bertscore_f1": (n,) array), for subgroup replicates;
    # never written to the results file.
    per_case: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {k: v.to_json() for k, v in self.metrics.items()},
            "per_label": {m: {k: _clean(v) for k, v in d.items()} for m, d in self.per_label.items()},
            "conventions": self.conventions,
            "notes": self.notes,
        }


def _clean(x: float | None) -> float | None:
    """JSON has no NaN/inf: undefined numbers are written as null."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
