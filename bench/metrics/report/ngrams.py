"""Integer n-gram counting shared by BLEU and CIDEr-D (one sparse count matrix for a whole corpus)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class NgramCounts:
    """Counts of every 1..max_n-gram of every sentence, n-grams numbered densely across the corpus.

    `counts[s, g]` is how often n-gram `g` occurs in sentence `s`; `order[g]` is its length (1..max_n);
    `lengths[s]` is the sentence length in tokens.
    """

    counts: sp.csr_matrix
    order: np.ndarray
    lengths: np.ndarray

    def order_indicator(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """(n_ngrams, max_n) matrix with `weights[g]` (default 1) in the column of n-gram g's order."""
        n_grams = self.order.size
        data = np.ones(n_grams) if weights is None else np.asarray(weights, dtype=float)
        max_n = int(self.order.max()) if n_grams else 1
        return sp.csr_matrix((data, (np.arange(n_grams), self.order - 1)), shape=(n_grams, max_n))


def whitespace_tokens(tokens: Sequence[str]) -> list[str]:
    """What ``" ".join(tokens).split()`` gives: pycocoevalcap's BLEU/CIDEr split on all Unicode whitespace,
    so a CoreNLP token holding a non-breaking space ("2\\u00a01/2") counts as two words there."""
    return " ".join(tokens).split()


def count_ngrams(sentences: Sequence[Sequence[str]], max_n: int = 4) -> NgramCounts:
    """Sparse n-gram counts for `sentences` (lists of tokens), n = 1..max_n."""
    flat_tokens = list(itertools.chain.from_iterable(sentences))
    vocab = {token: i for i, token in enumerate(dict.fromkeys(flat_tokens))}
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    n_sent = len(sentences)
    flat = np.fromiter(map(vocab.__getitem__, flat_tokens), dtype=np.int64, count=len(flat_tokens))
    sent_of = np.repeat(np.arange(n_sent, dtype=np.int64), lengths)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if n_sent else np.zeros(0, dtype=np.int64)
    pos_in_sent = np.arange(flat.size, dtype=np.int64) - np.repeat(starts, lengths)
    remaining = np.repeat(lengths, lengths) - pos_in_sent  # tokens from this position to the sentence end

    rows, cols, orders = [], [], []
    offset = 0
    vocab_size = max(len(vocab), 1)
    prefix_ids = flat  # dense id of the (k-1)-gram starting at each position (valid where remaining >= k-1)
    for k in range(1, max_n + 1):
        if k == 1:
            keys = flat
        else:
            next_token = np.zeros_like(flat)
            next_token[: flat.size - (k - 1)] = flat[k - 1 :]
            keys = prefix_ids * vocab_size + next_token
        valid = remaining >= k
        uniq, local = np.unique(keys[valid], return_inverse=True)
        prefix_ids = np.zeros_like(flat)
        prefix_ids[valid] = local
        rows.append(sent_of[valid])
        cols.append(local + offset)
        orders.append(np.full(uniq.size, k, dtype=np.int64))
        offset += uniq.size
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    counts = sp.csr_matrix((np.ones(row.size, dtype=np.float64), (row, col)), shape=(n_sent, offset))
    counts.sum_duplicates()
    return NgramCounts(counts=counts, order=np.concatenate(orders), lengths=lengths)


def max_per_group(matrix: sp.csr_matrix, group: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """Element-wise maximum of the rows of `matrix` that share a group (rows -> `n_groups` rows)."""
    if group.size == n_groups and np.array_equal(np.sort(group), np.arange(n_groups)):
        return matrix[np.argsort(group)].tocsr()  # one row per group: nothing to take the maximum of
    coo = matrix.tocoo()
    if coo.nnz == 0:
        return sp.csr_matrix((n_groups, matrix.shape[1]))
    g = group[coo.row]
    key = g * matrix.shape[1] + coo.col
    order = np.lexsort((-coo.data, key))
    key_sorted = key[order]
    first = np.concatenate(([True], key_sorted[1:] != key_sorted[:-1]))
    keep = order[first]
    return sp.csr_matrix((coo.data[keep], (g[keep], coo.col[keep])), shape=(n_groups, matrix.shape[1]))
