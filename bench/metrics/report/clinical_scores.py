"""F1-CheXbert and RadCliQ-v1 added to a report `TaskResult` (called by `bench.run.score` after `score_report`).

Both use the same bootstrap multiplicities as every other report metric (`bootstrap_counts(n, B, seed, clusters)`),
so their CIs resample the declared cluster unit.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.bootstrap import percentile_ci, replicate_means
from bench.metrics.report.chexbert import CHEXBERT_LABELS, MAX_TOKENS, ChexbertOutput, ChexbertSpec
from bench.metrics.report.f1chexbert import (
    CHEXBERT_LABELS_5,
    F1CHEXBERT_METRICS,
    classes_to_labels,
    f1chexbert_replicates,
    f1chexbert_scores,
)
from bench.metrics.types import MetricValue, TaskResult

F1CHEXBERT_SOURCE = (
    "f1chexbert 0.0.2 (J.-B. Delbrouck, pypi.org/project/f1chexbert): F1CheXbert.get_label mode 'rrg' and "
    "forward's classification_report; CheXbert: Smit et al. 2020, github.com/stanfordmlgroup/CheXbert"
)


def _metric(value: float, reps: np.ndarray | None) -> MetricValue:
    if not np.isfinite(value):
        return MetricValue(None, None)
    return MetricValue(float(value), None if reps is None else percentile_ci(reps))


@contextmanager
def progress_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr when it is a terminal; a no-op callback otherwise."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda _k: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k: bar.advance(task, k)


def label_corpus(
    spec: ChexbertSpec, refs: Sequence[str], hyps: Sequence[str]
) -> tuple[Any, ChexbertOutput, ChexbertOutput]:
    """(loaded model, reference outputs, generated outputs); references come from the cache when there."""
    from bench.metrics.report.chexbert import load_chexbert, run_chexbert
    from bench.metrics.report.chexbert_cache import label_references

    loaded = load_chexbert(spec)
    with progress_bar(len(refs), "CheXbert: references") as advance:
        ref_out, _ = label_references(loaded, spec, refs, advance)
    with progress_bar(len(hyps), "CheXbert: generated reports") as advance:
        hyp_out = run_chexbert(loaded, hyps, spec.batch_size, advance)
    return loaded, ref_out, hyp_out


def chexbert_conventions(spec: ChexbertSpec, loaded: Any) -> dict[str, Any]:
    return {
        "checkpoint": Path(spec.checkpoint).name,
        "checkpoint_sha256": loaded.checkpoint_sha256,
        "tokenizer": Path(spec.tokenizer).name,
        "tokenizer_sha256": loaded.tokenizer_sha256,
        "encoder": loaded.config,
        "mode": "rrg",
        "mapping": "CheXbert heads 0 blank, 1 positive, 2 negative, 3 uncertain (No Finding: 0 blank, 1 positive); "
        "rrg: positive or uncertain -> 1, blank or negative -> 0",
        "labels_14": list(CHEXBERT_LABELS),
        "labels_5": list(CHEXBERT_LABELS_5),
        "averaging": "scikit-learn classification_report on (report x label) 0/1 matrices: micro F1 = 2TP / "
        "(2TP + FP + FN) over all pairs; macro = unweighted mean of per-label F1 (labels absent from both sides "
        "count 0); zero division 0",
        "text": "strip, newlines -> spaces, whitespace runs -> one space; BERT WordPiece with [CLS]/[SEP]; reports "
        f"over {MAX_TOKENS} tokens keep the first {MAX_TOKENS - 1} and a final [SEP]",
        "max_tokens": MAX_TOKENS,
        "device": spec.device.split(":")[0],
        "batch_size": spec.batch_size,
        "inference": "batched, reports sorted by length and padded with an attention mask",
        "source": F1CHEXBERT_SOURCE,
    }


def add_f1chexbert(
    result: TaskResult,
    spec: ChexbertSpec,
    refs: Sequence[str],
    hyps: Sequence[str],
    counts: np.ndarray | None,
    per_case: dict[str, np.ndarray],
) -> None:
    """f1chexbert_{micro,macro}_{14,5} with CIs, per-label P/R/F1 (+ F1 CIs); stores CheXbert vectors in per_case."""
    loaded, ref_out, hyp_out = label_corpus(spec, refs, hyps)
    ref_labels, hyp_labels = classes_to_labels(ref_out.classes), classes_to_labels(hyp_out.classes)
    per_case["chexbert_ref_labels"], per_case["chexbert_hyp_labels"] = ref_labels, hyp_labels
    per_case["chexbert_ref_cls"], per_case["chexbert_hyp_cls"] = ref_out.cls, hyp_out.cls
    values = f1chexbert_scores(ref_labels, hyp_labels)
    reps = f1chexbert_replicates(ref_labels, hyp_labels, counts) if counts is not None else {}
    for name in F1CHEXBERT_METRICS:
        result.metrics[name] = _metric(values[name], reps.get(name))
    for stat in ("precision", "recall", "f1"):
        result.per_label[f"f1chexbert_{stat}"] = values[stat]
    if "f1" in reps:
        cis = result.notes.setdefault("per_label_ci95", {})
        cis["f1chexbert_f1"] = {
            label: None if (ci := percentile_ci(reps["f1"][:, j])) is None else list(ci)
            for j, label in enumerate(CHEXBERT_LABELS)
        }
    result.conventions["f1chexbert"] = chexbert_conventions(spec, loaded)
    result.notes["f1chexbert_truncated"] = {
        "reference": ref_out.n_truncated,
        "generated": hyp_out.n_truncated,
    }
    result.notes["f1chexbert_support"] = values["support"]


def add_radcliq(
    result: TaskResult,
    refs: Sequence[str],
    hyps: Sequence[str],
    counts: np.ndarray | None,
    per_case: dict[str, np.ndarray],
    bertscore_settings: dict[str, Any] | None,
) -> None:
    """radcliq_v1 (and its s_emb input, chexbert_semb) when every input is there; otherwise a note naming the
    missing inputs. `bertscore_settings`: model_dir/num_layers/idf/baseline_path of the run's BERTScore."""
    from bench.metrics.report.radcliq import radcliq_bleu2, radcliq_v1, semb_scores

    n = len(refs)
    unavailable = result.notes.setdefault("unavailable", {})
    if "chexbert_ref_cls" in per_case:
        semb = semb_scores(per_case["chexbert_ref_cls"], per_case["chexbert_hyp_cls"])
        per_case["semb_score"] = semb
        reps = replicate_means(counts, semb) if counts is not None and n else None
        result.metrics["chexbert_semb"] = _metric(float(semb.mean()) if n else float("nan"), reps)
    missing = [
        why
        for key, why in (
            ("radgraph_combined", "RadGraph entity and relation F1 of the RadGraph v1 model (--radgraph)"),
            ("bertscore_f1", "BERTScore (--bertscore-model)"),
            ("semb_score", "CheXbert vectors (--chexbert)"),
        )
        if key not in per_case
    ]
    result.metrics["radcliq_v1"] = MetricValue(None, None)
    if missing:
        unavailable["radcliq_v1"] = "RadCliQ-v1 needs " + ", ".join(missing)
        return
    bertscore = per_case["bertscore_f1"]
    collapsed = [re.sub(r" +", " ", t) for t in (*refs, *hyps)]
    recomputed = collapsed != [*refs, *hyps] and bertscore_settings is not None
    if recomputed and bertscore_settings is not None:  # implied by recomputed; narrows the type
        from bench.metrics.report.bertscore import bertscore as run_bertscore

        _, bertscore, _ = run_bertscore(collapsed[:n], collapsed[n:], **bertscore_settings)
    bleu = radcliq_bleu2(refs, hyps)
    values = radcliq_v1(per_case["radgraph_combined"], bertscore, per_case["semb_score"], bleu)
    per_case["radcliq_v1"] = values
    reps = replicate_means(counts, values) if counts is not None and n else None
    result.metrics["radcliq_v1"] = _metric(float(values.mean()) if n else float("nan"), reps)
    result.conventions["radcliq_v1"] = {
        "definition": "sum_i coef_i * (x_i - mean_i) / scale_i + intercept per report, x = (radgraph_combined, "
        "bertscore, semb_score, bleu_score); corpus value = mean over reports; lower is better",
        "inputs_used": {
            "radgraph_combined": "(RadGraph entity F1 + relation F1) / 2 per report, from the RadGraph scorer",
            "bertscore": "this run's BERTScore F1 per report"
            + (" recomputed on texts with space runs collapsed" if recomputed else ""),
            "semb_score": "cosine of the CheXbert [CLS] vectors (chexbert_semb)",
            "bleu_score": "fast-bleu BLEU-2 on CXR-Report-Metric's prep_reports tokens (reimplemented)",
        },
        "bertscore": bertscore_published_check(bertscore_settings),
        "source": "Yu et al. 2023 (Patterns); github.com/rajpurkarlab/CXR-Report-Metric CXRMetric/run_eval.py and "
        "radcliq-v1.pkl at commit 9c9ecad",
    }


def bertscore_published_check(settings: dict[str, Any] | None) -> str:
    """Whether the run's BERTScore is the one RadCliQ-v1 was fitted on (distilroberta-base, layer 5, rescaled,
    no idf)."""
    if settings is None:
        return "unknown"
    import json

    config_file = Path(settings["model_dir"]) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    distilroberta = config.get("model_type") == "roberta" and config.get("num_hidden_layers") == 6
    published = settings.get("num_layers") == 5 and settings.get("baseline_path") and not settings.get("idf")
    if distilroberta and published:
        return "as published: a distilroberta-shaped model, layer 5, baseline-rescaled, no idf"
    return (
        "NOT the published input (distilroberta-base, layer 5, baseline-rescaled, no idf; config.py USE_IDF = "
        "False): this RadCliQ-v1 is not "
        "comparable with published values"
    )
