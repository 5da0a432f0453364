"""RadGraph F1 in `cxrbench score` (metrics with cluster-bootstrap CIs) and `cxrbench compare` (paired tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.metrics.report.radgraph import RADGRAPH_KEYS

RADGRAPH_CI = "per-report rewards are fixed; each bootstrap replicate re-averages them over the drawn cases"


def add_radgraph_scores(
    result: Any,
    refs: Sequence[str],
    hyps: Sequence[str],
    model_dir: str | None,
    *,
    counts: np.ndarray | None,
    device: str = "cpu",
    batch_size: int = 16,
    cache_dir: str | None = None,
    ref_names: Sequence[str] | None = None,
    per_case: dict[str, np.ndarray] | None = None,
) -> None:
    """radgraph_f1_{simple,partial,complete} into `result` (a TaskResult); `counts` are the (B, n) bootstrap
    multiplicities the other report metrics use. `per_case` receives the per-report rewards and RadCliQ-v1's
    `radgraph_combined`."""
    from bench.metrics.bootstrap import percentile_ci
    from bench.metrics.report.radgraph import RadGraphScorer
    from bench.metrics.types import MetricValue

    if model_dir is None:
        for key in RADGRAPH_KEYS:
            result.metrics[key] = MetricValue(None, None)
        result.notes.setdefault("unavailable", {})["radgraph_f1"] = (
            "no RadGraph model given: pass --radgraph DIR (a local RadGraph model folder)"
        )
        return
    scorer = RadGraphScorer.load(model_dir, device=device, batch_size=batch_size, cache_dir=cache_dir)
    scored = scorer.f1(list(refs), list(hyps), names=ref_names, progress=True)
    means = scored.means()
    n = len(refs)
    for k, key in enumerate(RADGRAPH_KEYS):
        value = means[key]
        if not np.isfinite(value):
            result.metrics[key] = MetricValue(None, None)
            continue
        reps = counts.astype(np.float64) @ scored.per_case[:, k] / n if counts is not None else None
        result.metrics[key] = MetricValue(float(value), None if reps is None else percentile_ci(reps))
    result.conventions["radgraph"] = scored.conventions | {"ci": RADGRAPH_CI}
    result.notes["radgraph"] = scored.notes
    if per_case is not None:
        for k, key in enumerate(RADGRAPH_KEYS):
            per_case[key] = scored.per_case[:, k].copy()
        if scorer.folder.dataset == "radgraph":  # RadCliQ-v1 was fitted on the RadGraph v1 model's graphs
            per_case["radgraph_combined"] = scorer.combined(list(refs), list(hyps))


def with_radgraph(
    gt: list[Any],
    pred_a: list[Any],
    pred_b: list[Any],
    factory: Callable[[str], Callable[[Any, Any], float]],
    refs: Sequence[str],
    hyps_a: Sequence[str],
    hyps_b: Sequence[str],
    model_dir: str | None,
    *,
    device: str = "cpu",
    batch_size: int = 16,
    cache_dir: str | None = None,
) -> tuple[list[Any], list[Any], list[Any], Callable[[str], Callable[[Any, Any], float]]]:
    """The report task's compare inputs with each case's RadGraph rewards attached: radgraph_f1_* of a resampled
    or swapped set is the mean of its cases' rewards (the corpus value is that mean), other metrics go to
    `factory` unchanged."""
    from bench.metrics.report.radgraph import RadGraphScorer

    if model_dir is None:
        raise ValueError(
            "radgraph_f1_* metrics need the RadGraph model: pass --radgraph DIR (a local folder)"
        )
    scorer = RadGraphScorer.load(model_dir, device=device, batch_size=batch_size, cache_dir=cache_dir)
    rewards_a = scorer.f1(list(refs), list(hyps_a), progress=True).per_case
    rewards_b = scorer.f1(list(refs), list(hyps_b), progress=True).per_case
    zeros = np.zeros((len(refs), 3))

    def pack(items: list[Any], rewards: np.ndarray) -> list[tuple[Any, np.ndarray]]:
        return list(zip(items, rewards, strict=True))

    def wrapped(metric: str) -> Callable[[Any, Any], float]:
        if metric in RADGRAPH_KEYS:
            k = RADGRAPH_KEYS.index(metric)
            return lambda _g, p: float(np.mean([x[1][k] for x in p])) if len(p) else float("nan")
        inner = factory(metric)
        return lambda g, p: inner([x[0] for x in g], [x[0] for x in p])

    return pack(gt, zeros), pack(pred_a, rewards_a), pack(pred_b, rewards_b), wrapped
