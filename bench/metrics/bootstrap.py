"""Case- and cluster-level bootstrap shared by every task, so one seed gives one set of resamples.

With `clusters` (one cluster number per case) whole clusters are drawn with replacement and every case takes its
cluster's multiplicity: the images of a patient (or study) enter a replicate together. Clusters are numbered in
order of first appearance (`cluster_numbers`), so when every cluster holds one case the draws, and every number
computed from them, are exactly those of the case-level bootstrap.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def cluster_numbers(keys: Sequence[Hashable]) -> np.ndarray:
    """(n,) int64 cluster number per case, 0, 1, 2, ... in order of first appearance."""
    numbers: dict[Hashable, int] = {}
    return np.fromiter((numbers.setdefault(k, len(numbers)) for k in keys), dtype=np.int64, count=len(keys))


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) int64 matrix of case indices drawn with replacement."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n), dtype=np.int64)


def bootstrap_counts(
    n: int, n_boot: int, seed: int, chunk_rows: int = 64, clusters: np.ndarray | None = None
) -> np.ndarray:
    """(n_boot, n) int32 multiplicities of each case in each replicate (same draws as `bootstrap_indices`).

    Drawn in row chunks from the same generator, which yields the same stream as one big draw, so memory stays
    at one (chunk_rows, n) index block. With `clusters` ((n,) numbers from `cluster_numbers`) the clusters are
    drawn and each case gets its cluster's count.
    """
    if clusters is not None:
        clusters = np.asarray(clusters, dtype=np.int64)
        if clusters.shape != (n,) or (n and (clusters.min() < 0)):
            raise ValueError(
                f"clusters must be ({n},) non-negative cluster numbers, got shape {clusters.shape}"
            )
        n_clusters = int(clusters.max()) + 1 if n else 0
        return bootstrap_counts(n_clusters, n_boot, seed, chunk_rows)[:, clusters]
    rng = np.random.default_rng(seed)
    counts = np.empty((n_boot, n), dtype=np.int32)
    offsets = (np.arange(chunk_rows, dtype=np.int64) * n)[:, None]
    for start in range(0, n_boot, chunk_rows):
        rows = min(chunk_rows, n_boot - start)
        idx = rng.integers(0, n, size=(rows, n), dtype=np.int64)
        idx += offsets[:rows]  # row r counts into bins r*n .. r*n + n - 1
        counts[start : start + rows] = np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n)
    return counts


def replicate_means(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(B,) mean of the per-case `values` over each replicate's drawn cases, `counts` @ values / `counts`.sum(1).

    A cluster bootstrap draws whole clusters, so a replicate need not hold n cases (nor does a subgroup's share of
    a replicate): dividing by n would pull every replicate mean towards the size of its draw. With an image-level
    bootstrap each row sums to n, and this is the plain mean. NaN for a replicate without cases."""
    weights = np.asarray(counts, dtype=np.float64)
    sizes = weights.sum(axis=1)
    return np.divide(weights @ values, sizes, out=np.full(sizes.shape, np.nan), where=sizes > 0)


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile interval over replicates (NaN replicates dropped); None when none is finite."""
    reps = np.asarray(replicates, dtype=float)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(reps, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)
