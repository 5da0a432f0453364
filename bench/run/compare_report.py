"""Model-based report metrics in `cxrbench compare`: BERTScore F1, F1-CheXbert, RadGraph F1, CheXbert s_emb and
RadCliQ-v1 of both systems, and NLTK's METEOR (`meteor_nltk`, a mean of per-report scores like them).

Each model runs once per system over the reports, through the same functions `cxrbench score` calls
(`bertscore`, `label_corpus`, `add_radgraph_scores`, `add_radcliq`), so A's and B's values equal `score` on A's
and B's files. Every such metric except F1-CheXbert is the mean of fixed per-report values (RadCliQ-v1: Yu et al.
2023, Patterns; github.com/rajpurkarlab/CXR-Report-Metric scores each report and the corpus value is their mean),
so a resampled or swapped set is scored by re-averaging its cases' values; F1-CheXbert is recomputed from the cases'
CheXbert labels. No model runs per replicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bench.metrics.report.f1chexbert import F1CHEXBERT_METRICS
from bench.metrics.report.radgraph_rewards import REWARD_LEVELS

# bench.metrics.report.radgraph.RADGRAPH_KEYS, spelled out here because that module imports torch.
RADGRAPH_KEYS = tuple(f"radgraph_f1_{level}" for level in REWARD_LEVELS)

# Means of per-report values, with the `per_case` key `cxrbench score` stores each under.
PER_REPORT_KEYS = {
    "bertscore_f1": "bertscore_f1",
    **{key: key for key in RADGRAPH_KEYS},
    "chexbert_semb": "semb_score",
    "radcliq_v1": "radcliq_v1",
    "meteor_nltk": "meteor_nltk",  # no model: WordNet, found as `score --meteor-nltk` finds it
}
PER_REPORT_METRICS = tuple(PER_REPORT_KEYS)
MODEL_METRICS = (*PER_REPORT_METRICS, *F1CHEXBERT_METRICS)
RADCLIQ_INPUTS = ("bertscore", "chexbert", "radgraph")
_ASK = {
    "bertscore": "the BERTScore model: pass --bertscore-model DIR --bertscore-layers N",
    "chexbert": "the CheXbert labeller: pass --chexbert PATH/chexbert.pth --chexbert-tokenizer DIR",
    "radgraph": "the RadGraph model: pass --radgraph DIR (a local folder)",
}
CaseFn = Callable[[Any, Any], float]


class CaseItem(NamedTuple):
    """One case of one system: the text-metric item, its per-report model values (`PER_REPORT_METRICS` order,
    NaN where not computed) and its CheXbert rrg labels (None without CheXbert)."""

    inner: Any
    values: np.ndarray
    labels: np.ndarray | None


@dataclass
class ModelScores:
    """A's and B's per-report values (keys as `cxrbench score`'s per_case), CheXbert labels (reference, A, B),
    what could not be computed and why, and the conventions / settings of the models that ran."""

    per_case: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
    labels: list[np.ndarray] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    conventions: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _input_of(metric: str) -> tuple[str, ...]:
    if metric == "radcliq_v1":
        return RADCLIQ_INPUTS
    if metric == "bertscore_f1":
        return ("bertscore",)
    if metric in RADGRAPH_KEYS:
        return ("radgraph",)
    if metric in F1CHEXBERT_METRICS or metric == "chexbert_semb":
        return ("chexbert",)
    return ()


def default_metrics(headline: Sequence[str], settings: Any) -> list[str]:
    """compare's report metrics without --metrics: the headline, each model-based score whose model is given
    (BERTScore F1, micro F1-CheXbert over the 14 labels, partial RadGraph F1), and RadCliQ-v1 (reported
    unavailable, with the reason, when an input is missing)."""
    given = [
        ("bertscore_f1", settings.bertscore_model),
        ("f1chexbert_micro_14", settings.chexbert),
        ("radgraph_f1_partial", settings.radgraph),
    ]
    return [*headline, *(metric for metric, option in given if option is not None), "radcliq_v1"]


def check_options(settings: Any, needed: set[str]) -> Any:
    """The paths of the `needed` models checked before any runs (one sentence naming the option); the CheXbert
    settings as a `ChexbertSpec` (None unless CheXbert is needed). A model no metric asks for is not looked at,
    as before (the leaderboards pass every recorded model with each column's one metric)."""
    from bench.run.scoring import chexbert_spec

    spec = chexbert_spec(settings) if "chexbert" in needed else None
    if spec is not None and not Path(spec.tokenizer).is_dir():
        raise FileNotFoundError(
            f"CheXbert tokenizer folder {spec.tokenizer!r} not found: pass --chexbert-tokenizer DIR (a local "
            "bert-base-uncased folder with vocab.txt)."
        )
    if "bertscore" in needed:
        if not (Path(settings.bertscore_model) / "config.json").is_file():
            raise FileNotFoundError(
                f"BERTScore model folder {settings.bertscore_model!r} not found (no config.json): pass "
                "--bertscore-model DIR (a local Hugging Face model folder)."
            )
        if settings.bertscore_layers is None:
            raise ValueError(
                "BERTScore needs the layer to use: pass --bertscore-layers N with --bertscore-model"
            )
    if (
        "bertscore" in needed
        and settings.bertscore_baseline
        and not Path(settings.bertscore_baseline).is_file()
    ):
        raise FileNotFoundError(
            f"BERTScore baseline file {settings.bertscore_baseline!r} not found: pass --bertscore-baseline FILE "
            "(an existing rescale file)."
        )
    if "radgraph" in needed and not Path(settings.radgraph).is_dir():
        raise FileNotFoundError(
            f"RadGraph model folder {settings.radgraph!r} not found: pass --radgraph DIR (a local RadGraph model "
            "folder with config.json, vocabulary/ and weights.th)."
        )
    return spec


def needed_inputs(metrics: Sequence[str], settings: Any) -> set[str]:
    """The models the metrics need; a requested metric whose model is not given is an error, except RadCliQ-v1,
    which is then reported unavailable (its given inputs still run, so the reason is `score`'s)."""
    given = {
        "bertscore": settings.bertscore_model is not None,
        "chexbert": settings.chexbert is not None,
        "radgraph": settings.radgraph is not None,
    }
    needed: set[str] = set()
    for metric in metrics:
        inputs = _input_of(metric)
        missing = [name for name in inputs if not given[name]]
        if missing and metric != "radcliq_v1":
            raise ValueError(f"{metric} needs {_ASK[missing[0]]}")
        needed.update(name for name in inputs if given[name])
    return needed


def model_scores(
    refs: Sequence[str],
    hyps: tuple[Sequence[str], Sequence[str]],
    metrics: Sequence[str],
    settings: Any,
    spec: Any,
    names: tuple[Sequence[str], Sequence[str]] | None = None,
) -> ModelScores:
    """Run the models `metrics` need on A's and B's reports (`settings`: a `ScoreSettings`; `spec`: its
    `ChexbertSpec`, from `check_options`; `names`: per system, the case names RadGraph errors quote)."""
    from bench.metrics.report.clinical_scores import add_radcliq
    from bench.metrics.types import TaskResult
    from bench.run.scoring import radcliq_bertscore_settings

    needed = needed_inputs(metrics, settings)
    scores = ModelScores(per_case=({}, {}))
    if "chexbert" in needed:
        _run_chexbert(scores, refs, hyps, spec)
    if "radgraph" in needed:
        _run_radgraph(scores, refs, hyps, settings, names)
    if "bertscore" in needed:
        _run_bertscore(scores, refs, hyps, settings)
    if "meteor_nltk" in metrics:
        _run_meteor_nltk(scores, refs, hyps)
    if "radcliq_v1" in metrics:
        scratch = [TaskResult(metrics={}), TaskResult(metrics={})]
        for result, hyp, per_case in zip(scratch, hyps, scores.per_case, strict=True):
            add_radcliq(result, refs, hyp, None, per_case, radcliq_bertscore_settings(settings))
        reason = (
            scratch[0].notes.get("unavailable", {}).get("radcliq_v1")
        )  # the same inputs are missing for B
        if reason is not None:
            scores.unavailable["radcliq_v1"] = reason
        else:
            # Only whether BERTScore was recomputed on space-collapsed texts can differ between A and B.
            conv_a, conv_b = (result.conventions["radcliq_v1"] for result in scratch)
            scores.conventions["radcliq_v1"] = conv_a if conv_a == conv_b else {"a": conv_a, "b": conv_b}
    return scores


def _run_chexbert(
    scores: ModelScores, refs: Sequence[str], hyps: tuple[Sequence[str], ...], spec: Any
) -> None:
    """CheXbert of the references (cached as for score), A's and B's reports: labels and [CLS] vectors."""
    from bench.metrics.report.chexbert import run_chexbert
    from bench.metrics.report.clinical_scores import chexbert_conventions, label_corpus, progress_bar
    from bench.metrics.report.f1chexbert import classes_to_labels
    from bench.metrics.report.radcliq import semb_scores
    from bench.run.provenance import sha256_file

    loaded, ref_out, a_out = label_corpus(spec, refs, hyps[0])
    with progress_bar(len(hyps[1]), "CheXbert: reports of B") as advance:
        b_out = run_chexbert(loaded, hyps[1], spec.batch_size, advance)
    scores.labels = [classes_to_labels(out.classes) for out in (ref_out, a_out, b_out)]
    for per_case, out in zip(scores.per_case, (a_out, b_out), strict=True):
        per_case["chexbert_ref_cls"], per_case["chexbert_hyp_cls"] = ref_out.cls, out.cls
        per_case["semb_score"] = semb_scores(ref_out.cls, out.cls)
    scores.conventions["f1chexbert"] = chexbert_conventions(spec, loaded)
    scores.settings |= {
        "chexbert": Path(spec.checkpoint).name,
        "chexbert_sha256": sha256_file(spec.checkpoint),
        "chexbert_tokenizer": Path(spec.tokenizer).name,
        "chexbert_tokenizer_sha256": loaded.tokenizer_sha256,
        "chexbert_mode": "rrg",
        "device": spec.device,
    }


def _run_radgraph(
    scores: ModelScores,
    refs: Sequence[str],
    hyps: tuple[Sequence[str], ...],
    settings: Any,
    names: tuple[Sequence[str], Sequence[str]] | None,
) -> None:
    """RadGraph rewards (and RadCliQ's radgraph_combined for the v1 model) of A and B, as `score` adds them."""
    from bench.metrics.report.radgraph_task import add_radgraph_scores
    from bench.metrics.types import TaskResult

    for k, (hyp, per_case) in enumerate(zip(hyps, scores.per_case, strict=True)):
        scratch = TaskResult(metrics={})
        add_radgraph_scores(
            scratch,
            refs,
            hyp,
            settings.radgraph,
            counts=None,
            device=settings.device,
            batch_size=settings.radgraph_batch_size,
            cache_dir=settings.radgraph_cache,
            ref_names=None if names is None else names[k],
            per_case=per_case,
        )
    conventions = scratch.conventions["radgraph"]
    scores.conventions["radgraph"] = conventions
    scores.settings |= {
        "radgraph": Path(settings.radgraph).name,
        "radgraph_sha256": conventions["model_sha256"],
        "radgraph_batch_size": settings.radgraph_batch_size,
        "device": settings.device,
    }


def _run_bertscore(
    scores: ModelScores, refs: Sequence[str], hyps: tuple[Sequence[str], ...], settings: Any
) -> None:
    """Per-report BERTScore F1 of A and B, called exactly as `score_report` calls it."""
    from bench.metrics.report.bertscore import bertscore
    from bench.run.provenance import model_fingerprint, sha256_file

    for hyp, per_case in zip(hyps, scores.per_case, strict=True):
        _, per_case["bertscore_f1"], conventions = bertscore(
            list(refs),
            list(hyp),
            settings.bertscore_model,
            settings.bertscore_layers,
            idf=settings.bertscore_idf,
            baseline_path=settings.bertscore_baseline,
        )
    fingerprint = model_fingerprint(settings.bertscore_model)
    scores.conventions["bertscore"] = conventions | {"model_fingerprint": fingerprint}
    baseline = settings.bertscore_baseline
    scores.settings |= {
        "bertscore_model": Path(settings.bertscore_model).name,
        "bertscore_model_fingerprint": fingerprint,
        "bertscore_layers": settings.bertscore_layers,
        "bertscore_idf": settings.bertscore_idf,
        "bertscore_baseline": None if baseline is None else Path(baseline).name,
        "bertscore_baseline_sha256": None if baseline is None else sha256_file(baseline),
    }


def _run_meteor_nltk(scores: ModelScores, refs: Sequence[str], hyps: tuple[Sequence[str], ...]) -> None:
    """Per-report NLTK METEOR of A and B, as `score --meteor-nltk` computes it; unavailable without WordNet."""
    from bench.metrics.report.meteor_nltk import meteor_nltk

    for hyp, per_case in zip(hyps, scores.per_case, strict=True):
        scored = meteor_nltk(list(refs), list(hyp))
        if scored.reason is not None or scored.per_case is None:
            scores.unavailable["meteor_nltk"] = scored.reason or "no per-report scores"
            return
        per_case["meteor_nltk"] = scored.per_case
        scores.conventions["meteor_nltk"] = scored.conventions


def with_model_scores(
    gt: list[Any], pred_a: list[Any], pred_b: list[Any], factory: Callable[[str], CaseFn], scores: ModelScores
) -> tuple[list[CaseItem], list[CaseItem], list[CaseItem], Callable[[str], CaseFn]]:
    """The report task's compare inputs with each case's model values attached: a per-report metric of a
    resampled or swapped set is the mean of its cases' values, F1-CheXbert is recomputed from their labels, other
    metrics go to `factory` unchanged."""
    n = len(gt)

    def rows(per_case: dict[str, np.ndarray]) -> np.ndarray:
        columns = [per_case.get(key) for key in PER_REPORT_KEYS.values()]
        return np.stack(
            [np.full(n, np.nan) if c is None else np.asarray(c, dtype=np.float64) for c in columns], axis=1
        ).reshape(n, len(columns))

    def pack(items: list[Any], values: np.ndarray, role: int) -> list[CaseItem]:
        labels = scores.labels[role] if scores.labels is not None else [None] * n
        return [CaseItem(*case) for case in zip(items, values, labels, strict=True)]

    blank = np.full((n, len(PER_REPORT_KEYS)), np.nan)

    def wrapped(metric: str) -> CaseFn:
        if metric in PER_REPORT_METRICS:
            k = PER_REPORT_METRICS.index(metric)
            return lambda _g, p: (
                float(np.mean(np.array([x.values[k] for x in p]))) if len(p) else float("nan")
            )
        if metric in F1CHEXBERT_METRICS:
            from bench.metrics.report.f1chexbert import f1chexbert_value

            return lambda g, p: f1chexbert_value(
                np.stack([x.labels for x in g]), np.stack([x.labels for x in p]), metric
            )
        inner = factory(metric)
        return lambda g, p: inner([x.inner for x in g], [x.inner for x in p])

    return (
        pack(gt, blank, 0),
        pack(pred_a, rows(scores.per_case[0]), 1),
        pack(pred_b, rows(scores.per_case[1]), 2),
        wrapped,
    )


def add_model_scores(
    a: Any,
    b: Any,
    gt: list[Any],
    pred_a: list[Any],
    pred_b: list[Any],
    factory: Callable[[str], CaseFn],
    metrics: Sequence[str],
    settings: Any,
) -> tuple[list[Any], list[Any], list[Any], Callable[[str], CaseFn], ModelScores]:
    """`compare`'s report inputs (`a`, `b`: the aligned files) with the model-based values the metrics need:
    paths and metric names are checked first, then each model runs once per system."""
    from bench.run.align import report_texts

    spec = check_options(settings, needed_inputs(metrics, settings))
    for metric in metrics:
        if metric not in MODEL_METRICS:
            factory(metric)  # an unknown name fails before any model runs
    if not any(metric in MODEL_METRICS for metric in metrics):
        return gt, pred_a, pred_b, factory, ModelScores(per_case=({}, {}))
    refs, hyps_a = report_texts(a)
    hyps_b = report_texts(b)[1]
    names_a, names_b = (
        [f"{record.id!r} ({data.gt_path.name} / {data.pred_path.name})" for _, record in data.gt]
        for data in (a, b)
    )
    scores = model_scores(refs, (hyps_a, hyps_b), metrics, settings, spec, (names_a, names_b))
    return (*with_model_scores(gt, pred_a, pred_b, factory, scores), scores)
