"""Blinding audit: can a text classifier tell the AI report from the original after harmonisation?

A reader who can tell which report is the AI's is no longer blind, whatever the randomisation does. Before a study
is built, a classifier is trained to do exactly that, on the harmonised texts readers will see:

- features: TF-IDF of character 2-5-grams within word boundaries (wording, spelling, punctuation, formatting)
  plus length features (characters, words, sentences, mean word length; standardised);
- model: L2 logistic regression (scikit-learn, liblinear, C = 1);
- validation: ``GroupKFold`` (5 folds, repeated 3 times with different case-to-fold draws) with one group per
  case, so the two reports of a case are never split between training and test folds (otherwise the model could
  learn a case's content, not its source);
- score: the mean of the 15 per-fold AUCs (AI = positive class; 0.5 = indistinguishable) with the 95 % corrected
  repeated k-fold t interval of Nadeau & Bengio (2003, "Inference for the generalization error", Machine
  Learning 52:239-281) as applied to repeated k-fold by Bouckaert & Frank (2004, PAKDD, "Evaluating the
  replicability of significance tests for comparing learning algorithms"): variance of the fold AUCs times
  (1/J + n_test/n_train), t with J - 1 degrees of freedom (J = 15 folds). Unlike a bootstrap of the out-of-fold
  scores over cases (also reported, ``ci95_case_bootstrap``), it carries the variability of the training folds:
  measured on same-distribution corpora with templated text, the case bootstrap excluded 0.5 in one of four null
  replicates (AUC 0.39, CI 0.33-0.45) where this interval covered it.

The build stops when the CI's lower bound exceeds ``DISTINGUISHABLE_LOWER_BOUND`` = 0.6. Why 0.6 and a lower bound:
readers see both reports of a case side by side, and the AUC is the chance that the classifier ranks a random AI
report above a random original, i.e. about how often a reader using the same cue would pick the AI report in a
forced choice. A lower bound above 0.6 means that, with 95 % confidence, the texts carry a cue right at least 60 %
of the time: enough to move every reader's preference, and far beyond what chance gives (null corpora of 100-160
cases gave intervals about +-0.08 wide around 0.44-0.56). A bound at 0.5 would stop large studies for cues too faint to use (AUC 0.53
at 2000 cases), and a point-estimate rule would stop small studies on noise. Weaker cues are left to the
end-of-study blinding check (readers' own guesses, ``readerstudy.analysis.bias.blinding_check``). The build can be
forced with ``--allow-distinguishable``; the override is recorded with the audit.

Studies under ``MIN_CASES`` cases are not audited (recorded as skipped): five folds need at least two cases each.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.errors import FailedError

DISTINGUISHABLE_LOWER_BOUND = 0.6
MIN_CASES = 10
N_SPLITS = 5
N_REPEATS = 3
N_BOOT = 2000
CI_LEVEL = 0.95
METHOD = (
    "logistic regression on character 2-5-gram TF-IDF (char_wb, sublinear tf) + standardised length features; "
    f"{N_SPLITS}-fold GroupKFold repeated {N_REPEATS} times, one group per case; mean per-fold AUC (AI positive) "
    "with the corrected repeated k-fold t interval (Nadeau & Bengio 2003; Bouckaert & Frank 2004)"
)


class BlindingAuditError(FailedError, ValueError):
    """The AI and original reports are clearly distinguishable after harmonisation."""

    def __init__(self, audit: dict[str, Any]) -> None:
        self.audit = audit
        super().__init__(
            f"blinding audit failed: a text classifier tells the AI report from the original with AUC "
            f"{audit['auc']:.3f} (95 % CI {audit['ci95'][0]:.3f}-{audit['ci95'][1]:.3f}, lower bound above "
            f"{audit['threshold_ci_lower']}) after harmonisation; make the two sources' texts alike or pass "
            "--allow-distinguishable to build anyway (the override is recorded)"
        )


def seed_from(value: str | int) -> int:
    """A numpy seed from a protocol seed (any string)."""
    return int.from_bytes(hashlib.sha256(f"blinding-audit:{value}".encode()).digest()[:4], "big")


def length_features(texts: Sequence[str]) -> np.ndarray:
    """Per text: log characters, log words, log sentences, mean word length."""
    rows = []
    for text in texts:
        words = text.split()
        sentences = [s for s in re.split(r"[.!?]+", text) if s.strip()]
        rows.append(
            [
                np.log1p(len(text)),
                np.log1p(len(words)),
                np.log1p(len(sentences)),
                float(np.mean([len(w) for w in words])) if words else 0.0,
            ]
        )
    return np.asarray(rows, dtype=float).reshape(len(texts), 4)


def make_classifier() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    features = FeatureUnion(
        [
            (
                "ngrams",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False),
            ),
            (
                "lengths",
                Pipeline([("raw", FunctionTransformer(length_features)), ("scale", StandardScaler())]),
            ),
        ]
    )
    return Pipeline(
        [("features", features), ("model", LogisticRegression(C=1.0, solver="liblinear", max_iter=2000))]
    )


def cross_validate(
    ai_texts: Sequence[str], original_texts: Sequence[str], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-fold AUCs, AI scores, original scores): scores are out-of-fold decision values averaged over repeats."""
    from sklearn.model_selection import GroupKFold

    n = len(ai_texts)
    n_splits = min(N_SPLITS, n)
    texts = np.asarray(list(ai_texts) + list(original_texts), dtype=object)
    labels = np.r_[np.ones(n, int), np.zeros(n, int)]
    rng = np.random.default_rng(seed)
    fold_aucs, summed = [], np.zeros(2 * n)
    for _ in range(N_REPEATS):
        case_group = rng.permutation(n)  # a fresh case-to-fold draw per repeat, independent of case order
        groups = np.r_[case_group, case_group]
        for train, test in GroupKFold(n_splits=n_splits).split(texts, labels, groups):
            scores = make_classifier().fit(texts[train], labels[train]).decision_function(texts[test])
            summed[test] += scores
            positive = labels[test] == 1
            fold_aucs.append(pairwise_wins(scores[positive], scores[~positive]).mean())
    mean_scores = summed / N_REPEATS
    return np.asarray(fold_aucs), mean_scores[:n], mean_scores[n:]


def corrected_t_interval(fold_aucs: np.ndarray, n_splits: int, level: float = CI_LEVEL) -> list[float]:
    """Nadeau-Bengio corrected repeated k-fold interval of the mean: var * (1/J + n_test/n_train), t(J - 1)."""
    from scipy import stats

    j = len(fold_aucs)
    variance = float(np.var(fold_aucs, ddof=1)) * (1.0 / j + 1.0 / (n_splits - 1))
    half = float(stats.t.ppf(0.5 + level / 2.0, j - 1)) * variance**0.5
    mean = float(np.mean(fold_aucs))
    return [max(0.0, mean - half), min(1.0, mean + half)]


def pairwise_wins(ai_scores: np.ndarray, original_scores: np.ndarray) -> np.ndarray:
    """wins[i, j] = 1 if AI report i scores above original j, 0.5 on a tie, else 0 (Mann-Whitney kernel)."""
    diff = ai_scores[:, None] - original_scores[None, :]
    return (diff > 0).astype(float) + 0.5 * (diff == 0)


def bootstrap_auc_ci(wins: np.ndarray, n_boot: int, seed: int, level: float = CI_LEVEL) -> list[float]:
    """Percentile CI of the AUC, resampling cases (a case's AI and original report stay together).

    A resample with case counts w has AUC = w' W w / (sum w)^2 over the full win matrix W.
    """
    n = wins.shape[0]
    rng = np.random.default_rng(seed)
    aucs = np.empty(n_boot)
    for start in range(0, n_boot, 500):
        draws = rng.integers(0, n, size=(min(500, n_boot - start), n))
        counts = np.zeros((draws.shape[0], n))
        np.add.at(counts, (np.arange(draws.shape[0])[:, None], draws), 1.0)
        aucs[start : start + draws.shape[0]] = np.einsum("bi,ij,bj->b", counts, wins, counts) / n**2
    alpha = (1.0 - level) / 2.0
    return [float(np.quantile(aucs, alpha)), float(np.quantile(aucs, 1.0 - alpha))]


def run_blinding_audit(
    ai_texts: Sequence[str],
    original_texts: Sequence[str],
    *,
    seed: int = 0,
    n_boot: int = N_BOOT,
    threshold: float = DISTINGUISHABLE_LOWER_BOUND,
) -> dict[str, Any]:
    """The audit as a JSON-ready dict: status "passed", "distinguishable" or "skipped", AUC, CI, settings."""
    if len(ai_texts) != len(original_texts):
        raise ValueError("the audit needs one AI and one original report per case")
    n = len(ai_texts)
    base: dict[str, Any] = {
        "n_cases": n,
        "threshold_ci_lower": threshold,
        "method": METHOD,
        "n_splits": min(N_SPLITS, n),
        "n_boot": n_boot,
        "seed": seed,
    }
    reason = None
    if n < MIN_CASES:
        reason = f"{n} case(s): the audit needs at least {MIN_CASES}"
    elif not any(t.strip() for t in [*ai_texts, *original_texts]):
        reason = "no report text is left after harmonisation"
    if reason:
        return {**base, "status": "skipped", "reason": reason, "auc": None, "ci95": None}
    fold_aucs, ai_scores, original_scores = cross_validate(ai_texts, original_texts, seed)
    wins = pairwise_wins(ai_scores, original_scores)
    ci = corrected_t_interval(fold_aucs, base["n_splits"])
    return {
        **base,
        "status": "distinguishable" if ci[0] > threshold else "passed",
        "auc": float(np.mean(fold_aucs)),
        "ci95": ci,
        "n_repeats": N_REPEATS,
        "fold_aucs": [float(a) for a in fold_aucs],
        "auc_pooled_out_of_fold": float(wins.mean()),
        "ci95_case_bootstrap": bootstrap_auc_ci(wins, n_boot, seed),
        "pairs_ranked_correctly": float(np.mean(np.diag(wins))),
        "ai_shorter_share": float(
            np.mean([len(a) < len(o) for a, o in zip(ai_texts, original_texts, strict=True)])
        ),
    }


def describe(audit: dict[str, Any]) -> str:
    """One line for the build log and the report."""
    if audit["status"] == "skipped":
        return f"blinding audit skipped: {audit['reason']}"
    lo, hi = audit["ci95"]
    verdict = {
        "passed": f"passed (CI lower bound not above {audit['threshold_ci_lower']})",
        "distinguishable": f"DISTINGUISHABLE (CI lower bound above {audit['threshold_ci_lower']})",
    }[audit["status"]]
    override = "; built anyway with --allow-distinguishable" if audit.get("override") else ""
    return (
        f"blinding audit: AI vs original text classifier AUC {audit['auc']:.3f} (95 % CI {lo:.3f}-{hi:.3f}, "
        f"{audit['n_cases']} cases, {audit['n_splits']}-fold grouped CV x {audit.get('n_repeats', 1)}): "
        f"{verdict}{override}"
    )
