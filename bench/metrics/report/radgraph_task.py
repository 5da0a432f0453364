"""RadGraph F1 in `cxrbench score` (metrics with cluster-bootstrap CIs) and `cxrbench compare` (paired tests)."""

from __future__ import annotations

from collections.abc import Sequence
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
    from bench.metrics.bootstrap import percentile_ci, replicate_means
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
    for k, key in enumerate(RADGRAPH_KEYS):
        value = means[key]
        if not np.isfinite(value):
            result.metrics[key] = MetricValue(None, None)
            continue
        reps = replicate_means(counts, scored.per_case[:, k]) if counts is not None else None
        result.metrics[key] = MetricValue(float(value), None if reps is None else percentile_ci(reps))
    result.conventions["radgraph"] = scored.conventions | {"ci": RADGRAPH_CI}
    result.notes["radgraph"] = scored.notes
    if per_case is not None:
        for k, key in enumerate(RADGRAPH_KEYS):
            per_case[key] = scored.per_case[:, k].copy()
        if scorer.folder.dataset == "radgraph":  # RadCliQ-v1 was fitted on the RadGraph v1 model's graphs
            per_case["radgraph_combined"] = scorer.combined(list(refs), list(hyps))
