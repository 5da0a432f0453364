"""ROUGE-L exactly as pycocoevalcap's ``Rouge`` (β = 1.2, best precision and best recall over references,
per-case F, then the mean), with the LCS computed bit-parallel (Allison–Dix / Hyyrö) on Python integers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BETA = 1.2


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for token in a:
        match = masks.get(token)
        if match:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def _rouge_tokens(tokens: Sequence[str]) -> Sequence[str]:
    # pycocoevalcap splits the joined caption on " ", so an empty caption is one empty token.
    return tokens if tokens else [""]


def rouge_l_case(hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """ROUGE-L F of one hypothesis against its references (``Rouge.calc_score``)."""
    if not refs:
        raise ValueError("ROUGE-L needs at least one reference per case")
    token_c = _rouge_tokens(hyp)
    prec_max = 0.0
    rec_max = 0.0
    for ref in refs:
        token_r = _rouge_tokens(ref)
        lcs = lcs_length(token_r, token_c)
        prec_max = max(prec_max, lcs / float(len(token_c)))
        rec_max = max(rec_max, lcs / float(len(token_r)))
    if prec_max != 0 and rec_max != 0:
        return ((1 + BETA**2) * prec_max * rec_max) / float(rec_max + BETA**2 * prec_max)
    return 0.0


def rouge_l_per_case(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]]) -> np.ndarray:
    """(n,) per-case ROUGE-L; the corpus value is their mean."""
    return np.array([rouge_l_case(h, r) for h, r in zip(hyps, refs, strict=True)], dtype=np.float64)
