"""Case-level bootstrap shared by every task, so one seed gives one set of resamples."""

from __future__ import annotations

import numpy as np


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) int64 matrix of case indices drawn with replacement."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n), dtype=np.int64)


def bootstrap_counts(n: int, n_boot: int, seed: int, chunk_rows: int = 64) -> np.ndarray:
    """(n_boot, n) int32 multiplicities of each case in each replicate (same draws as `bootstrap_indices`).

    Drawn in row chunks from the same generator, which yields the same stream as one big draw, so memory stays
    at one (chunk_rows, n) index block.
    """
    rng = np.random.default_rng(seed)
    counts = np.empty((n_boot, n), dtype=np.int32)
    offsets = (np.arange(chunk_rows, dtype=np.int64) * n)[:, None]
    for start in range(0, n_boot, chunk_rows):
        rows = min(chunk_rows, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n), dtype=np.int64)
        flat = np.bincount((idx + offsets[:rows]).ravel(), minlength=rows * n)
        counts[start : start + rows] = flat.reshape(rows, n)
    return counts


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval over replicates (NaN replicates dropped); None when none is finite."""
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(reps, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)
