"""RadCliQ-v1 (Yu et al. 2023, "Evaluating progress in automatic chest X-ray radiology report generation",
Patterns 4(9); code github.com/rajpurkarlab/CXR-Report-Metric, `CXRMetric/run_eval.py`, commit 9c9ecad).

Per report, with x = (radgraph_combined, bertscore, semb_score, bleu_score) in that order (`COLS` there):

    RadCliQ-v1 = sum_i coef_i * (x_i - mean_i) / scale_i + intercept

the `CompositeMetric` pickled in `CXRMetric/radcliq-v1.pkl` (a StandardScaler fitted on 160 samples, then a
linear model; the constants below are its stored float64 values, read field by field). Lower is better: it
estimates the number of errors a radiologist would find. The inputs, as that file computes them:

- radgraph_combined: (RadGraph entity F1 + RadGraph relation F1) / 2 of the report (`add_radgraph_col`);
- bertscore: BERTScore F1 with distilroberta-base (bert-score's default layer 5), baseline-rescaled, on texts with
  runs of spaces collapsed (`add_bertscore_col`);
- semb_score: cosine similarity of the CheXbert final-layer [CLS] vectors of the two reports (`add_semb_col`,
  `CheXbert/src/encode.py`);
- bleu_score: BLEU-2 of the report against its reference by fast-bleu 0.0.90 (`BLEU([ref], {"bigram": (1/2, 1/2)})`,
  default smoothing 1 = NLTK method1) on `prep_reports` tokens: lower-case, "." -> " .", split on single spaces,
  empty strings dropped (`add_bleu_col`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

RADCLIQ_V1_INPUTS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")
RADCLIQ_V1_MEAN = (0.5379231241355762, 0.6175725628125001, 0.7647942121140658, 0.44738335396242174)
RADCLIQ_V1_SCALE = (0.3028258411486429, 0.22430938459304575, 0.2539439110169773, 0.2989271671041838)
RADCLIQ_V1_COEFS = (-0.37708368261038905, -0.37030009974480316, -0.25261621789593225, 4.315048405024756e-12)
RADCLIQ_V1_INTERCEPT = 2.466552561323256e-10


def radcliq_v1(
    radgraph_combined: np.ndarray, bertscore: np.ndarray, semb_score: np.ndarray, bleu_score: np.ndarray
) -> np.ndarray:
    """(n,) RadCliQ-v1 per report from the four (n,) per-report component arrays (lower is better)."""
    x = np.stack(
        [np.asarray(a, dtype=np.float64) for a in (radgraph_combined, bertscore, semb_score, bleu_score)],
        axis=1,
    )
    if x.ndim != 2:
        raise ValueError("RadCliQ-v1 inputs must be four (n,) arrays of per-report values")
    normalised = (x - np.asarray(RADCLIQ_V1_MEAN)) / np.asarray(RADCLIQ_V1_SCALE)
    return normalised @ np.asarray(RADCLIQ_V1_COEFS) + RADCLIQ_V1_INTERCEPT


def prep_report(report: str) -> list[str]:
    """CXR-Report-Metric's `prep_reports` for one report."""
    return [t for t in str(report).lower().replace(".", " .").split(" ") if t != ""]


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu2_fast_bleu(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """fast-bleu 0.0.90's BLEU-2 of one tokenised hypothesis against one reference (smoothing function 1)."""
    ref, hyp = list(reference), list(hypothesis)
    log_sum = 0.0
    for n in (1, 2):
        counts, max_counts = _ngrams(hyp, n), _ngrams(ref, n)
        denominator = max(1, sum(counts.values()))
        numerator = sum(min(c, max_counts[g]) for g, c in counts.items())
        if n == 1 and numerator == 0:
            return 0.0
        precision = numerator / denominator if numerator else 0.1 / denominator
        log_sum += 0.5 * math.log(precision)
    if len(hyp) > len(ref):
        penalty = 1.0
    elif len(hyp) == 0:
        penalty = 0.0
    else:
        penalty = math.exp(1 - len(ref) / len(hyp))
    return penalty * math.exp(log_sum)


def radcliq_bleu2(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """(n,) RadCliQ's BLEU-2 input, report by report."""
    return np.array(
        [bleu2_fast_bleu(prep_report(r), prep_report(h)) for r, h in zip(refs, hyps, strict=True)]
    )


def semb_scores(ref_cls: np.ndarray, hyp_cls: np.ndarray) -> np.ndarray:
    """(n,) cosine similarity of CheXbert [CLS] vectors, in float32 as `add_semb_col` computes it."""
    out = np.empty(len(ref_cls), dtype=np.float64)
    for i, (label, pred) in enumerate(zip(np.asarray(ref_cls), np.asarray(hyp_cls), strict=True)):
        out[i] = (label * pred).sum() / (np.linalg.norm(label) * np.linalg.norm(pred))
    return out
