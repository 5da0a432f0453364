"""Which way a metric is better, as tables use it: bold, row order and what a paired test can say.

The facts (families, targets, and why) live in the task table, `bench.tasks`; this module adds what only tables
need: the sort key of "best".
"""

from __future__ import annotations

from bench.tasks import CALIBRATION_FAMILIES, Direction, metric_family
from bench.tasks import metric_direction as table_direction

__all__ = [
    "CALIBRATION_FAMILIES",
    "Direction",
    "distance_to_best",
    "is_calibration_metric",
    "metric_direction",
]


def metric_direction(metric: str) -> Direction:
    """The task table's direction of `metric`, plugins loaded first (a plugin metric declares its own)."""
    from bench.plugins import load_plugins

    load_plugins()
    return table_direction(metric)


def is_calibration_metric(metric: str) -> bool:
    return metric_family(metric).startswith(CALIBRATION_FAMILIES)


def distance_to_best(value: float, lower_is_better: bool, target: float | None) -> float:
    """A number that is smallest for the best value: the sort key of row order and bold."""
    if target is not None:
        return abs(value - target)
    return value if lower_is_better else -value
