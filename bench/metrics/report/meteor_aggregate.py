"""METEOR 1.5's scoring formula in numpy, applied to the sufficient statistics the jar returns for ``SCORE``.

The jar's ``EVAL`` line scores every segment from its statistics and then scores the *sum* of all statistics
(``MeteorStats.addStats`` then ``MeteorScorer.computeMetrics`` in METEOR 1.5). Summing is linear, so the corpus
score of a bootstrap replicate is the multiplicity-weighted sum of the per-case statistics followed by the
formula below: one (B, n) x (n, 21) product for all replicates instead of one jar round trip each.

Statistics line (21 numbers, word counts for the default "rank" task): test length, reference length, test
function words, reference function words; for each of the 4 stages (exact, stem, synonym, paraphrase): test
content matches, reference content matches, test function-word matches, reference function-word matches;
then chunks, test word matches, reference word matches.

Scoring with alpha, beta, gamma, delta and module weights w_s (English, rank task, as ``-l en -norm`` runs):
    weighted length   L_t = delta (len_t - fn_t) + (1 - delta) fn_t                     (same for reference)
    weighted matches  M_t = sum_s [content_t,s w_s delta] + sum_s [function_t,s w_s (1 - delta)]
    P = M_t / L_t,  R = M_r / L_r,  Fmean = 1 / ((1 - alpha) / P + alpha / R)
    frag = 0 if every word of both sides is matched in a single chunk, else chunks / ((words_t + words_r) / 2)
    score = max(Fmean (1 - gamma frag^beta), 0), and 0 where any step divides 0 by 0 (NaN in Java)
Summing skips the chunks of segments that are a perfect single-chunk match (``addStats`` does so, which keeps
identical pairs from adding fragmentation to the corpus).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast, overload

import numpy as np

# MeteorConfiguration for "-l en" (task "rank", the default for supported languages); the jar prints them in its
# header: "Parameters: 0.85 0.2 0.6 0.75", "Weights: 1.0 0.6 0.8 0.6" (exact stem synonym paraphrase).
ALPHA = 0.85
BETA = 0.2
GAMMA = 0.6
DELTA = 0.75
MODULE_WEIGHTS = (1.0, 0.6, 0.8, 0.6)

N_STAGES = 4
N_STATS = 4 + 4 * N_STAGES + 3
TEST_LEN, REF_LEN, TEST_FN, REF_FN = 0, 1, 2, 3
CHUNKS, TEST_WORD_MATCHES, REF_WORD_MATCHES = N_STATS - 3, N_STATS - 2, N_STATS - 1


def _stage_column(stage: int, offset: int) -> int:
    """Column of (test content, reference content, test function, reference function)[offset] of `stage`."""
    return 4 + 4 * stage + offset


def parse_stats(stats: Sequence[str]) -> np.ndarray:
    """(n, 21) float64 matrix of the jar's ``SCORE`` statistics lines."""
    matrix = np.array([line.split() for line in stats], dtype=np.float64).reshape(len(stats), -1)
    if matrix.shape[1] != N_STATS:
        raise ValueError(f"METEOR statistics lines have {matrix.shape[1]} numbers, expected {N_STATS}")
    return matrix


def _total_matches(stats: np.ndarray, side: int) -> np.ndarray:
    content = sum(stats[..., _stage_column(s, side)] for s in range(N_STAGES))
    function = sum(stats[..., _stage_column(s, side + 2)] for s in range(N_STAGES))
    return cast(np.ndarray, content + function)  # sum() starts at int 0; the terms are arrays


def _is_perfect_single_chunk(stats: np.ndarray) -> np.ndarray:
    return (
        (_total_matches(stats, 0) == stats[..., TEST_LEN])
        & (_total_matches(stats, 1) == stats[..., REF_LEN])
        & (stats[..., CHUNKS] == 1)
    )


def meteor_scores(stats: np.ndarray) -> np.ndarray:
    """METEOR score of each row of (..., 21) statistics (a segment's, or a sum of segments')."""
    stats = np.asarray(stats, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Accumulated stage by stage in the jar's order so results agree to the last bit where possible.
        weighted = []
        for side in (0, 1):
            matches = np.zeros(stats.shape[:-1])
            for s, w in enumerate(MODULE_WEIGHTS):
                matches = matches + stats[..., _stage_column(s, side)] * w * DELTA
            for s, w in enumerate(MODULE_WEIGHTS):
                matches = matches + stats[..., _stage_column(s, side + 2)] * w * (1.0 - DELTA)
            length, function_words = stats[..., side], stats[..., side + 2]
            weighted.append(matches / (DELTA * (length - function_words) + (1.0 - DELTA) * function_words))
        precision, recall = weighted
        f_mean = 1.0 / ((1.0 - ALPHA) / precision + ALPHA / recall)
        frag = stats[..., CHUNKS] / ((stats[..., TEST_WORD_MATCHES] + stats[..., REF_WORD_MATCHES]) / 2)
        frag = np.where(_is_perfect_single_chunk(stats), 0.0, frag)
        score = f_mean * (1.0 - GAMMA * np.power(frag, BETA))
    return np.where(np.isnan(score), 0.0, np.maximum(score, 0.0))


def summable_stats(stats: np.ndarray) -> np.ndarray:
    """Per-segment statistics as the jar adds them: chunks of perfect single-chunk segments set to 0."""
    out = np.array(stats, dtype=np.float64)
    out[_is_perfect_single_chunk(out), CHUNKS] = 0.0
    return out


@overload
def corpus_meteor(stats: np.ndarray, counts: None = None) -> float: ...


@overload
def corpus_meteor(stats: np.ndarray, counts: np.ndarray) -> np.ndarray: ...


def corpus_meteor(stats: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray | float:
    """Corpus METEOR of (n, 21) segment statistics, as the jar's final ``EVAL`` value.

    With `counts` (B, n) multiplicities, the (B,) scores of the corpora holding case i counts[b, i] times.
    """
    summable = summable_stats(stats)
    if counts is None:
        return float(meteor_scores(summable.sum(axis=0)))
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != summable.shape[0]:
        raise ValueError(f"counts must be (B, {summable.shape[0]}), got {counts.shape}")
    # Statistics are integer counts, so the float64 product is exact (below 2**53); row blocks bound the memory
    # of the float copy of `counts`.
    summed = np.empty((counts.shape[0], N_STATS))
    for start in range(0, counts.shape[0], 256):
        summed[start : start + 256] = counts[start : start + 256].astype(np.float64) @ summable
    return meteor_scores(summed)
