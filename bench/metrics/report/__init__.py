"""Report-generation NLG metrics equal to pycocoevalcap 1.2 (BLEU-1..4, ROUGE-L, CIDEr-D, METEOR) and BERTScore.

Typical use::

    corpus = NlgCorpus.from_texts(refs, hyps)          # tokenises like pycocoevalcap's PTBTokenizer
    corpus.metrics()                                    # {"bleu1".."bleu4", "rouge_l", "cider"}
    corpus.bootstrap(bootstrap_counts(n, 1000, seed))   # same keys, (B,) arrays

`refs` holds one reference string per case, or a list of reference strings per case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.metrics.bootstrap import replicate_means
from bench.metrics.report.bertscore import BertScoreConventions, bertscore
from bench.metrics.report.bleu import BleuStats, bleu_stats, bootstrap_bleu, corpus_bleu
from bench.metrics.report.cider import CiderData, bootstrap_cider, cider_per_case, prepare_cider
from bench.metrics.report.meteor import MeteorResult, meteor, meteor_bootstrap
from bench.metrics.report.ngrams import count_ngrams, whitespace_tokens
from bench.metrics.report.rouge import rouge_l_per_case
from bench.metrics.report.tokenize import tokenize

NLG_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider")

__all__ = [
    "NLG_KEYS",
    "BertScoreConventions",
    "MeteorResult",
    "NlgCorpus",
    "bertscore",
    "meteor",
    "meteor_bootstrap",
    "nlg_bootstrap",
    "nlg_metrics",
    "normalise_refs",
    "tokenize",
]


def normalise_refs(refs: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    """One list of reference strings per case (a bare string is a single reference)."""
    out = [[r] if isinstance(r, str) else list(r) for r in refs]
    if any(len(r) == 0 for r in out):
        raise ValueError("every case needs at least one reference")
    return out


@dataclass(frozen=True)
class NlgCorpus:
    """Tokenised corpus with everything BLEU/ROUGE-L/CIDEr-D need, computed once."""

    n_cases: int
    bleu: BleuStats
    rouge_per_case: np.ndarray
    cider: CiderData

    @classmethod
    def from_tokens(cls, refs: Sequence[Sequence[Sequence[str]]], hyps: Sequence[Sequence[str]]) -> NlgCorpus:
        """From already tokenised text: `refs[i]` is a list of token lists, `hyps[i]` a token list."""
        if len(refs) != len(hyps):
            raise ValueError(f"{len(refs)} reference sets but {len(hyps)} hypotheses")
        if any(len(r) == 0 for r in refs):
            raise ValueError("every case needs at least one reference")
        n = len(hyps)
        ref_case = np.repeat(np.arange(n), [len(r) for r in refs])
        sentences = [whitespace_tokens(h) for h in hyps] + [whitespace_tokens(t) for r in refs for t in r]
        table = count_ngrams(sentences)
        return cls(
            n_cases=n,
            bleu=bleu_stats(table, n, ref_case),
            rouge_per_case=rouge_l_per_case(hyps, refs),
            cider=prepare_cider(table, n, ref_case),
        )

    @classmethod
    def from_texts(cls, refs: Sequence[str] | Sequence[Sequence[str]], hyps: Sequence[str]) -> NlgCorpus:
        """From raw text, tokenised as pycocoevalcap's PTBTokenizer does (see `tokenize`)."""
        ref_lists = normalise_refs(refs)
        flat_tokens = tokenize([t for r in ref_lists for t in r])
        grouped, start = [], 0
        for r in ref_lists:
            grouped.append(flat_tokens[start : start + len(r)])
            start += len(r)
        return cls.from_tokens(grouped, tokenize(hyps))

    def per_case(self) -> dict[str, np.ndarray]:
        """Per-case ROUGE-L and CIDEr-D (their means are the corpus values; BLEU is corpus-level only)."""
        return {"rouge_l": self.rouge_per_case.copy(), "cider": cider_per_case(self.cider)}

    def metrics(self) -> dict[str, float]:
        """Corpus values keyed by `NLG_KEYS`; NaN for an empty corpus."""
        if self.n_cases == 0:
            return dict.fromkeys(NLG_KEYS, float("nan"))
        bleus = corpus_bleu(self.bleu)
        out = {f"bleu{k + 1}": float(b) for k, b in enumerate(bleus)}
        out["rouge_l"] = float(np.mean(self.rouge_per_case))
        out["cider"] = float(np.mean(cider_per_case(self.cider)))
        return out

    def bootstrap(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """(B,) replicate values per key; `counts` is `bench.metrics.bootstrap.bootstrap_counts(n, B, seed)`."""
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[1] != self.n_cases:
            raise ValueError(f"counts must be (B, {self.n_cases}), got {counts.shape}")
        bleus = bootstrap_bleu(self.bleu, counts)
        out = {f"bleu{k + 1}": bleus[:, k] for k in range(bleus.shape[1])}
        out["rouge_l"] = replicate_means(counts, self.rouge_per_case)
        out["cider"] = bootstrap_cider(self.cider, counts)
        return out


def nlg_metrics(refs: Sequence[str] | Sequence[Sequence[str]], hyps: Sequence[str]) -> dict[str, float]:
    """BLEU-1..4, ROUGE-L and CIDEr-D of raw-text hypotheses against references, as pycocoevalcap."""
    return NlgCorpus.from_texts(refs, hyps).metrics()


def nlg_bootstrap(
    refs: Sequence[str] | Sequence[Sequence[str]], hyps: Sequence[str], counts: np.ndarray
) -> dict[str, np.ndarray]:
    """Bootstrap replicates (B,) of every `nlg_metrics` key for a (B, n) multiplicity matrix."""
    return NlgCorpus.from_texts(refs, hyps).bootstrap(counts)
