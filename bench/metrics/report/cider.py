"""CIDEr-D exactly as pycocoevalcap's ``Cider`` (``cider_scorer.py``), vectorised with sparse matrices.

Conventions copied from cider_scorer.py: n = 1..4, sigma = 6, tf-idf vectors with idf = log(N) - log(max(1, df))
where df counts the *cases* (documents = all references of one case) containing the n-gram and N is the number of
cases; clipped similarity sum(min(v_hyp, v_ref) * v_ref) / (|v_hyp| |v_ref|); Gaussian length penalty on the
difference of *bigram counts* (cider_scorer.py adds term frequencies when ``n == 1``, i.e. for bigrams, so a
sentence's "length" is max(0, words - 1)); mean over n, mean over references, times 10; corpus = mean over cases.

Because idf >= 0, min(tf_h idf, tf_r idf) tf_r idf = idf^2 min(tf_h, tf_r) tf_r, so every replicate of the
bootstrap only needs new idf^2 weights: numerators and norms are sparse-matrix x weight products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bench.metrics.report.ngrams import NgramCounts

SIGMA = 6.0
MAX_N = 4


@dataclass(frozen=True)
class CiderData:
    """Weight-independent parts of CIDEr-D for one corpus (hypotheses and references share n-gram ids)."""

    n_cases: int
    ref_case: np.ndarray  # (n_refs,) case of each reference
    refs_per_case: np.ndarray  # (n_cases,)
    doc_ngrams: sp.csr_matrix  # (n_cases, G) 1 where the case's references contain the n-gram
    hyp_sq: list[sp.csr_matrix]  # per order: (n_cases, G_k) tf_h^2
    ref_sq: list[sp.csr_matrix]  # per order: (n_refs, G_k) tf_r^2
    clipped: list[sp.csr_matrix]  # per order: (n_refs, G_k) min(tf_h, tf_r) * tf_r
    order_columns: list[np.ndarray]  # per order: n-gram ids of that order
    length_penalty: np.ndarray  # (n_refs,) exp(-delta^2 / (2 sigma^2))


def prepare_cider(table: NgramCounts, n_cases: int, ref_case: np.ndarray) -> CiderData:
    """Split the table (first `n_cases` rows hypotheses, then references) into CIDEr-D building blocks."""
    hyp = table.counts[:n_cases]
    ref = table.counts[n_cases:].tocsr()
    ref_case = np.asarray(ref_case, dtype=np.int64)
    to_case = sp.csr_matrix(
        (np.ones(ref_case.size), (ref_case, np.arange(ref_case.size))), shape=(n_cases, ref_case.size)
    )
    doc = (to_case @ (ref > 0).astype(np.float64)).tocsr()
    doc.data[:] = 1.0
    hyp_on_refs = hyp[ref_case]
    clipped_all = hyp_on_refs.minimum(ref).multiply(ref).tocsc()
    hyp_sq_all = hyp.multiply(hyp).tocsc()
    ref_sq_all = ref.multiply(ref).tocsc()
    order_columns = [np.flatnonzero(table.order == k) for k in range(1, MAX_N + 1)]
    bigrams = np.maximum(table.lengths - 1, 0).astype(np.float64)
    delta = bigrams[:n_cases][ref_case] - bigrams[n_cases:]
    return CiderData(
        n_cases=n_cases,
        ref_case=ref_case,
        refs_per_case=np.bincount(ref_case, minlength=n_cases),
        doc_ngrams=doc,
        hyp_sq=[hyp_sq_all[:, c].tocsr() for c in order_columns],
        ref_sq=[ref_sq_all[:, c].tocsr() for c in order_columns],
        clipped=[clipped_all[:, c].tocsr() for c in order_columns],
        order_columns=order_columns,
        length_penalty=np.e ** (-(delta**2) / (2 * SIGMA**2)),
    )


def _case_scores(data: CiderData, idf_sq: np.ndarray) -> np.ndarray:
    """(n_cases, R) CIDEr-D per case for R weight vectors given as columns of `idf_sq` (G, R)."""
    n_refs = data.ref_case.size
    total = np.zeros((n_refs, idf_sq.shape[1]))
    for k in range(MAX_N):
        w = idf_sq[data.order_columns[k]]
        num = data.clipped[k] @ w
        norm_h = np.sqrt(data.hyp_sq[k] @ w)[data.ref_case]
        norm_r = np.sqrt(data.ref_sq[k] @ w)
        denom = norm_h * norm_r
        val = np.divide(num, denom, out=num.copy(), where=(norm_h != 0) & (norm_r != 0))
        total += val
    total *= data.length_penalty[:, None]
    per_case = np.zeros((data.n_cases, idf_sq.shape[1]))
    np.add.at(per_case, data.ref_case, total / MAX_N)
    return per_case / data.refs_per_case[:, None] * 10.0


def _idf_squared(doc_freq: np.ndarray, n_docs: float | np.ndarray) -> np.ndarray:
    """`n_docs`: the corpus size, or (chunk,) replicate sizes matching the columns of `doc_freq`."""
    idf = np.log(np.asarray(n_docs, dtype=np.float64)) - np.log(np.maximum(1.0, doc_freq))
    return idf * idf


def cider_per_case(data: CiderData) -> np.ndarray:
    """(n,) per-case CIDEr-D with document frequencies from this corpus; the corpus value is their mean."""
    doc_freq = np.asarray(data.doc_ngrams.sum(axis=0)).ravel()
    return _case_scores(data, _idf_squared(doc_freq, data.n_cases)[:, None])[:, 0]


def bootstrap_cider(data: CiderData, counts: np.ndarray, max_cells: int = 4_000_000) -> np.ndarray:
    """(B,) corpus CIDEr-D of each replicate, document frequencies recomputed on the replicate's references
    (a case drawn m times is m documents, as when pycocoevalcap is run on the resampled list)."""
    weights = np.asarray(counts, dtype=np.float64)
    n_boot = weights.shape[0]
    n_grams = data.doc_ngrams.shape[1]
    chunk = max(1, min(n_boot, max_cells // max(n_grams, 1)))
    doc_t = data.doc_ngrams.T.tocsr()
    out = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        w = weights[start : start + chunk]
        doc_freq = doc_t @ w.T  # (G, chunk)
        # A replicate of whole clusters need not hold n cases: its document count and mean are its own.
        sizes = w.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):  # a subgroup may be absent from a replicate: NaN
            per_case = _case_scores(data, _idf_squared(doc_freq, sizes))
            means = np.einsum("bn,nb->b", w, per_case) / sizes
        out[start : start + chunk] = np.where(sizes > 0, means, np.nan)
    return out
