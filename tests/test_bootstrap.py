"""The shared resampling: counts and indices are the same draws, and the CI helper is a plain percentile interval."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices, percentile_ci


@pytest.mark.parametrize(("n", "n_boot", "chunk"), [(1, 3, 64), (7, 130, 64), (50, 65, 8), (20, 1, 1)])
def test_counts_are_the_index_draws(n: int, n_boot: int, chunk: int) -> None:
    idx = bootstrap_indices(n, n_boot, seed=11)
    counts = bootstrap_counts(n, n_boot, seed=11, chunk_rows=chunk)
    expected = np.stack([np.bincount(row, minlength=n) for row in idx])
    np.testing.assert_array_equal(counts, expected)
    assert (counts.sum(axis=1) == n).all()


def test_percentile_ci() -> None:
    reps = np.arange(1001, dtype=float)
    assert percentile_ci(reps) == pytest.approx((25.0, 975.0))
    assert percentile_ci(np.array([np.nan, np.nan])) is None
    assert percentile_ci(np.array([np.nan, 1.0, 3.0])) == pytest.approx(
        np.percentile([1.0, 3.0], [2.5, 97.5])
    )
