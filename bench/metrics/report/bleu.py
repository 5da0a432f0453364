"""Corpus BLEU-1..4 exactly as pycocoevalcap's ``Bleu(4)`` (``bleu_scorer.py``, option "closest").

Per case we keep the sufficient statistics (hypothesis length, closest reference length, guessed and
clipped-correct n-gram counts); the corpus score is computed from their sums, so a bootstrap replicate is a
multiplicity-weighted sum followed by the same formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.metrics.report.ngrams import NgramCounts, max_per_group

MAX_N = 4
# bleu_scorer.py: "small = 1e-9; tiny = 1e-15  ## so that if guess is 0 still return 0"
SMALL = 1e-9
TINY = 1e-15


@dataclass(frozen=True)
class BleuStats:
    """Per-case BLEU sufficient statistics: lengths (n,), guess/correct (n, 4)."""

    testlen: np.ndarray
    reflen: np.ndarray
    guess: np.ndarray
    correct: np.ndarray


def closest_ref_length(test_length: int, ref_lengths: Sequence[int]) -> int:
    """pycocoevalcap's "closest" rule: the reference length nearest the hypothesis, ties to the shorter."""
    return min((abs(length - test_length), length) for length in ref_lengths)[1]


def bleu_stats(table: NgramCounts, n_cases: int, ref_case: np.ndarray) -> BleuStats:
    """Statistics from an n-gram table whose first `n_cases` rows are hypotheses and the rest references.

    `ref_case[r]` is the case of reference row `n_cases + r`.
    """
    hyp = table.counts[:n_cases]
    ref_max = max_per_group(table.counts[n_cases:], ref_case, n_cases)
    clipped = hyp.minimum(ref_max)
    correct = np.asarray((clipped @ table.order_indicator()).todense()).astype(np.int64)
    correct = _pad_orders(correct, n_cases)
    testlen = table.lengths[:n_cases].astype(np.int64)
    guess = np.maximum(0, testlen[:, None] - np.arange(MAX_N)[None, :])
    ref_lengths = table.lengths[n_cases:]
    per_case_refs: list[list[int]] = [[] for _ in range(n_cases)]
    for case, length in zip(ref_case.tolist(), ref_lengths.tolist(), strict=True):
        per_case_refs[case].append(length)
    reflen = np.array(
        [closest_ref_length(t, refs) for t, refs in zip(testlen.tolist(), per_case_refs, strict=True)],
        dtype=np.int64,
    )
    return BleuStats(testlen=testlen, reflen=reflen, guess=guess, correct=correct)


def _pad_orders(matrix: np.ndarray, n_rows: int) -> np.ndarray:
    out = np.zeros((n_rows, MAX_N), dtype=np.int64)
    out[:, : matrix.shape[1]] = matrix[:, :MAX_N]
    return out


def corpus_bleu_from_sums(
    testlen: float, reflen: float, guess: Sequence[float], correct: Sequence[float]
) -> list[float]:
    """BLEU-1..4 from summed statistics, with bleu_scorer.py's float operations in the same order."""
    bleus = []
    bleu = 1.0
    for k in range(MAX_N):
        bleu *= float(correct[k] + TINY) / (guess[k] + SMALL)
        bleus.append(bleu ** (1.0 / (k + 1)))
    ratio = (testlen + TINY) / (reflen + SMALL)
    if ratio < 1:
        bleus = [b * math.exp(1 - 1 / ratio) for b in bleus]
    return bleus


def corpus_bleu(stats: BleuStats) -> list[float]:
    """Corpus BLEU-1..4 of all cases."""
    return corpus_bleu_from_sums(
        int(stats.testlen.sum()),
        int(stats.reflen.sum()),
        [int(x) for x in stats.guess.sum(axis=0)],
        [int(x) for x in stats.correct.sum(axis=0)],
    )


def bootstrap_bleu(stats: BleuStats, counts: np.ndarray) -> np.ndarray:
    """(B, 4) BLEU-1..4 of each replicate; `counts` is the (B, n) case-multiplicity matrix."""
    weights = np.asarray(counts, dtype=np.float64)
    testlen = weights @ stats.testlen.astype(np.float64)
    reflen = weights @ stats.reflen.astype(np.float64)
    guess = weights @ stats.guess.astype(np.float64)
    correct = weights @ stats.correct.astype(np.float64)
    out = np.empty((weights.shape[0], MAX_N))
    bleu = np.ones(weights.shape[0])
    for k in range(MAX_N):
        bleu = bleu * ((correct[:, k] + TINY) / (guess[:, k] + SMALL))
        out[:, k] = bleu ** (1.0 / (k + 1))
    ratio = (testlen + TINY) / (reflen + SMALL)
    brevity = np.where(ratio < 1, np.exp(1 - 1 / np.where(ratio < 1, ratio, 1.0)), 1.0)
    return out * brevity[:, None]
