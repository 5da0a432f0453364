"""Case-level bootstrap shared by every task, so one seed gives one set of resamples."""

from __future__ import annotations

import numpy as np


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) int64 matrix of case indices drawn with replacement."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n), dtype=np.int64)


def bootstrap_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) multiplicities of each case in each replicate (same draws as `bootstrap_indices`)."""
    idx = bootstrap_indices(n, n_boot, seed)
    offsets = (np.arange(n_boot, dtype=np.int64) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n)


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval over replicates (NaN replicates dropped); None when none is finite."""
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(reps, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)
