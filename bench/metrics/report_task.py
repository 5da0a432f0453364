"""The report-generation task: NLG metrics (pycocoevalcap's), METEOR, BERTScore and clinical efficacy in one result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.metrics.bootstrap import bootstrap_counts, percentile_ci, replicate_means
from bench.metrics.types import MetricValue, TaskResult

REPORT_METRICS = (
    "bleu1",
    "bleu2",
    "bleu3",
    "bleu4",
    "meteor",
    "rouge_l",
    "cider",
    "bertscore_f1",
)

CONVENTIONS = {
    "tokenizer": "pycocoevalcap PTBTokenizer output (CoreNLP PTB rules, lower-cased, punctuation tokens dropped), "
    "reimplemented in Python and tested equal to the Java tokenizer",
    "bleu": "pycocoevalcap Bleu(4): corpus-level clipped n-gram precision, 'closest' reference length, "
    "tiny=1e-15 / small=1e-9 smoothing constants",
    "rouge_l": "pycocoevalcap Rouge: LCS F-measure with beta=1.2 per report (best P and R over references), mean",
    "cider": "pycocoevalcap Cider (CIDEr-D): n=1..4, sigma=6, x10, document frequencies from the evaluated set's "
    "references (corpus-level, recomputed on every bootstrap replicate)",
    "meteor": "pycocoevalcap METEOR 1.5 jar (-l en -norm) on PTB-tokenised text; corpus value is the jar's "
    "aggregate over all segment statistics, not the mean of segment scores",
    "ci": "case bootstrap: reports resampled with replacement, corpus metric recomputed per replicate",
}


def _metric(value: float | None, reps: np.ndarray | None) -> MetricValue:
    if value is None or not np.isfinite(value):
        return MetricValue(None, None)
    return MetricValue(float(value), None if reps is None else percentile_ci(reps))


def score_report(
    refs: Sequence[str],
    hyps: Sequence[str],
    *,
    n_boot: int = 0,
    seed: int = 0,
    ce_labelset: str = "chexpert",
    bertscore_model: str | None = None,
    bertscore_layers: int | None = None,
    bertscore_idf: bool = False,
    bertscore_baseline: str | None = None,
    run_meteor: bool = True,
    run_meteor_nltk: bool = False,
    clusters: np.ndarray | None = None,
    per_case: dict[str, np.ndarray] | None = None,
) -> TaskResult:
    """`per_case`, when given, receives per-report values later scorers reuse (RadCliQ-v1: "bertscore_f1")."""
    from bench.metrics.clinical_efficacy import CE5_LABELS, CE_METRIC_NAMES, ce_bootstrap, ce_metrics
    from bench.metrics.labeler import LABELER_VERSION, LABELSETS, label_reports
    from bench.metrics.report import NlgCorpus

    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} generated reports")
    n = len(refs)
    counts = bootstrap_counts(n, n_boot, seed, clusters=clusters) if n_boot > 0 else None
    notes: dict[str, Any] = {"unavailable": {}}
    conventions: dict[str, Any] = dict(CONVENTIONS)
    metrics: dict[str, MetricValue] = {}

    corpus = NlgCorpus.from_texts(list(refs), list(hyps))
    nlg = corpus.metrics()
    nlg_reps = corpus.bootstrap(counts) if counts is not None else {}
    for key in ("bleu1", "bleu2", "bleu3", "bleu4"):
        metrics[key] = _metric(nlg[key], nlg_reps.get(key))

    metrics["meteor"] = MetricValue(None, None)
    if run_meteor:
        from bench.metrics.report.meteor import meteor, meteor_bootstrap

        result = meteor(list(refs), list(hyps))
        if result.available and result.value is not None:
            reps = meteor_bootstrap(result, counts) if counts is not None else None
            metrics["meteor"] = _metric(result.value, reps)
        else:
            notes["unavailable"]["meteor"] = result.reason
    else:
        notes["unavailable"]["meteor"] = "not requested (--no-meteor)"
    if run_meteor_nltk:  # opt-in: the key exists only when asked for (bench.metrics.report.meteor_nltk)
        from bench.metrics.report.meteor_nltk import meteor_nltk, meteor_nltk_bootstrap

        scored = meteor_nltk(list(refs), list(hyps))
        metrics["meteor_nltk"] = MetricValue(None, None)
        if scored.reason is not None:
            notes["unavailable"]["meteor_nltk"] = scored.reason
        elif scored.value is not None and scored.per_case is not None:
            reps = meteor_nltk_bootstrap(scored.per_case, counts) if counts is not None else None
            metrics["meteor_nltk"] = _metric(scored.value, reps)
            if per_case is not None:
                per_case["meteor_nltk"] = scored.per_case
            conventions["meteor_nltk"] = scored.conventions

    for key in ("rouge_l", "cider"):
        metrics[key] = _metric(nlg[key], nlg_reps.get(key))

    metrics["bertscore_f1"] = MetricValue(None, None)
    if bertscore_model is None:
        notes["unavailable"]["bertscore_f1"] = (
            "no BERTScore model given: pass --bertscore-model DIR (a local folder)"
        )
    else:
        from bench.metrics.report.bertscore import bertscore

        if bertscore_layers is None:
            raise ValueError(
                "BERTScore needs the layer to use: pass --bertscore-layers N with --bertscore-model"
            )
        f1, per_case_f1, bs_conventions = bertscore(
            list(refs),
            list(hyps),
            bertscore_model,
            bertscore_layers,
            idf=bertscore_idf,
            baseline_path=bertscore_baseline,
        )
        reps = replicate_means(counts, per_case_f1) if counts is not None else None
        metrics["bertscore_f1"] = _metric(f1, reps)
        if per_case is not None:
            per_case["bertscore_f1"] = per_case_f1
        conventions["bertscore"] = bs_conventions
        if bertscore_idf:
            conventions["bertscore"]["ci_note"] = (
                "idf weights from the full reference set, held fixed in the bootstrap"
            )

    if ce_labelset not in LABELSETS:
        raise ValueError(f"unknown CE label set {ce_labelset!r}; choose one of {sorted(LABELSETS)}")
    names = LABELSETS[ce_labelset]
    ref_labels = label_reports(list(refs), labelset=ce_labelset)
    hyp_labels = label_reports(list(hyps), labelset=ce_labelset)
    subsets: dict[str, Sequence[str] | None] = {"ce": None}
    if all(label in names for label in CE5_LABELS):
        subsets["ce5"] = CE5_LABELS
    per_label: dict[str, dict[str, float | None]] = {}
    for prefix, subset in subsets.items():
        values = ce_metrics(ref_labels, hyp_labels, names, subset=subset)
        reps_ce = (
            ce_bootstrap(ref_labels, hyp_labels, counts, names, subset=subset) if counts is not None else {}
        )
        for key in CE_METRIC_NAMES:
            metrics[prefix + key.removeprefix("ce")] = _metric(values[key], reps_ce.get(key))
        if prefix == "ce":
            for stat in ("precision", "recall", "f1"):
                per_label[f"ce_{stat}"] = {label: values[f"ce_{stat}/{label}"] for label in names}
    conventions["clinical_efficacy"] = {
        "labeler": LABELER_VERSION,
        "labelset": ce_labelset,
        "labels": names,
        "uncertain_rule": "a label is positive only when labelled 1; uncertain (-1), negative and unmentioned are "
        "negative (R2Gen lineage)",
        "averaging": "micro over all (report, label) pairs; macro = mean of per-label scores; zero division = 0",
        "subset_ce5": CE5_LABELS if "ce5" in subsets else None,
    }
    notes["ce_positive_rate"] = {
        "reference": float(np.mean(ref_labels == 1)) if n else None,
        "generated": float(np.mean(hyp_labels == 1)) if n else None,
    }
    if not notes["unavailable"]:
        del notes["unavailable"]
    return TaskResult(metrics=metrics, per_label=per_label, conventions=conventions, notes=notes)
