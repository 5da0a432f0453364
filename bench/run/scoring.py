"""Per-task scoring of aligned records: the resampling unit, then the pure task scorer (imported lazily: some pull
heavy libraries), plus the model-based report scores (RadGraph F1, F1-CheXbert, RadCliQ-v1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.types import MetricValue, TaskResult
from bench.records import RecordError
from bench.run.align import (
    Aligned,
    attribute_inputs,
    classification_arrays,
    detection_inputs,
    report_texts,
    segmentation_inputs,
)
from bench.run.provenance import model_fingerprint
from bench.run.settings import ScoreSettings
from bench.tasks import OPTIONS

CLUSTER_UNITS = OPTIONS["cluster"].choices


@dataclass(frozen=True)
class ClusterUnit:
    unit: str
    clusters: np.ndarray | None  # (n,) cluster numbers in gt order; None for images
    n_clusters: int
    without_key: int = 0  # records lacking the key: each its own cluster


def resolve_cluster(data: Aligned, requested: str | None) -> ClusterUnit:
    """The resampling unit of the scored ground truth (see `ScoreSettings.cluster`); RecordError when the ground
    truth does not carry the requested key or one study maps to two patients."""
    from bench.metrics.bootstrap import cluster_numbers

    if requested is not None and requested not in CLUSTER_UNITS:
        raise ValueError(f"cluster unit {requested!r}: choose one of {', '.join(CLUSTER_UNITS)}")
    metas = [(line, record, record.meta or {}) for line, record in data.gt]
    study_patient: dict[Any, tuple[Any, int]] = {}
    for line, record, meta in metas:
        study, patient = meta.get("study"), meta.get("patient")
        if study is not None and patient is not None:
            first = study_patient.setdefault(study, (patient, line))
            if first[0] != patient:
                raise RecordError(
                    data.gt_path,
                    line,
                    f"record {record.id!r}: study {study!r} belongs to patient {first[0]!r} at line {first[1]} "
                    f"but to {patient!r} here: a study is one patient's",
                )
    unit = requested
    if unit is None:
        unit = next(
            (k for k in ("patient", "study") if any(m.get(k) is not None for *_, m in metas)), "image"
        )
    if unit == "image":
        return ClusterUnit("image", None, len(metas))
    if metas and all(meta.get(unit) is None for *_, meta in metas):
        line, record, _ = metas[0]
        raise RecordError(
            data.gt_path,
            line,
            f"record {record.id!r} has no meta.{unit}, nor has any other ground-truth record: --cluster {unit} "
            f"needs it (this dataset's adapter does not provide it; use --cluster image)",
        )
    # A record without the key (a publisher that names the patient of most images only) is its own cluster.
    keys = [(unit, str(m[unit])) if m.get(unit) is not None else ("record", str(r.id)) for _, r, m in metas]
    clusters = cluster_numbers(keys)
    without = sum(1 for *_, m in metas if m.get(unit) is None)
    return ClusterUnit(unit, clusters, int(clusters.max()) + 1 if clusters.size else 0, without)


def score_aligned(data: Aligned, settings: ScoreSettings, cluster: ClusterUnit | None = None) -> TaskResult:
    """The task's built-in metrics, then those plugins registered for it (bench.metrics.extra), on the same draws."""
    from bench.metrics.extra import add_extra_metrics

    cluster = cluster or resolve_cluster(data, settings.cluster)
    result = _score_builtin(data, settings, cluster)
    add_extra_metrics(result, data, settings, cluster.clusters)
    return result


def _score_builtin(data: Aligned, settings: ScoreSettings, cluster: ClusterUnit) -> TaskResult:
    """Dispatch to the pure task scorer (imported lazily: some pull heavy libraries)."""
    clusters = cluster.clusters
    if data.task == "classification":
        from bench.metrics.classification import score_classification

        y_true, y_score, labels = classification_arrays(data, settings.labels)
        result = score_classification(
            y_true, y_score, labels, n_boot=settings.n_boot, seed=settings.seed, clusters=clusters
        )
        scored = y_score[~np.isnan(y_score)]
        binary = scored.size > 0 and bool(np.isin(scored, (0.0, 1.0)).all())
        result.notes["score_type"] = "binary" if binary else "continuous"
        if binary:
            result.conventions["binary_scores"] = (
                "every predicted score is 0 or 1 (e.g. parsed text answers): per-label AUC is then (TPR + TNR) / 2 "
                "at that one threshold and AP is that of a single operating point; not comparable with AUCs of "
                "continuous scores"
            )
        if not settings.calibration:
            return result
        from bench.metrics.calibration import add_calibration

        add_calibration(
            result,
            y_true,
            y_score,
            labels,
            binary=binary,
            n_boot=settings.n_boot,
            seed=settings.seed,
            clusters=clusters,
        )
        return result
    if data.task == "localization":
        from bench.metrics.localization import DetectionSet, score_localization

        inputs = detection_inputs(data, settings.labels)
        ignored = inputs.pop("ignored_pred_boxes")
        result = score_localization(
            DetectionSet(**inputs),
            n_boot=settings.n_boot,
            seed=settings.seed,
            froc_hit=settings.froc_hit,
            clusters=clusters,
        )
        result.notes["predicted_boxes_with_labels_outside_vocabulary"] = ignored
        return result
    if data.task == "segmentation":
        from bench.metrics.segmentation import score_segmentation

        inputs = segmentation_inputs(data)
        return score_segmentation(
            inputs["gt"],
            inputs["pred"],
            spacing=inputs["spacing"],
            empty_rule=settings.empty_rule,
            n_boot=settings.n_boot,
            seed=settings.seed,
            clusters=clusters,
        )
    if data.task == "attributes":
        from bench.metrics.attributes import score_attributes

        gt, pred = attribute_inputs(data)
        return score_attributes(gt, pred, n_boot=settings.n_boot, seed=settings.seed, clusters=clusters)
    from bench.metrics.report_task import score_report

    refs, hyps = report_texts(data)
    # Bad CheXbert paths fail here, before any metric is computed.
    chexbert = chexbert_spec(settings) if settings.chexbert is not None else None
    per_case: dict[str, np.ndarray] = {}
    result = score_report(
        refs,
        hyps,
        n_boot=settings.n_boot,
        seed=settings.seed,
        ce_labelset=settings.ce_labelset,
        bertscore_model=settings.bertscore_model,
        bertscore_layers=settings.bertscore_layers,
        bertscore_idf=settings.bertscore_idf,
        bertscore_baseline=settings.bertscore_baseline,
        run_meteor=settings.meteor,
        run_meteor_nltk=settings.meteor_nltk,
        clusters=clusters,
        per_case=per_case,
    )
    if settings.bertscore_model is not None:
        result.conventions["bertscore"]["model_fingerprint"] = model_fingerprint(settings.bertscore_model)
    add_radgraph(result, data, refs, hyps, settings, clusters, per_case)
    add_clinical_scores(result, refs, hyps, settings, clusters, per_case, chexbert)
    result.per_case = per_case
    return result


def add_radgraph(
    result: TaskResult,
    data: Aligned,
    refs: list[str],
    hyps: list[str],
    settings: ScoreSettings,
    clusters: np.ndarray | None,
    per_case: dict[str, np.ndarray],
) -> None:
    """radgraph_f1_{simple,partial,complete} with --radgraph (bench.metrics.report.radgraph_task)."""
    from bench.metrics.bootstrap import bootstrap_counts
    from bench.metrics.report.radgraph_task import add_radgraph_scores

    n_boot = settings.n_boot if settings.radgraph is not None else 0
    add_radgraph_scores(
        result,
        refs,
        hyps,
        settings.radgraph,
        counts=bootstrap_counts(len(refs), n_boot, settings.seed, clusters=clusters) if n_boot > 0 else None,
        device=settings.device,
        batch_size=settings.radgraph_batch_size,
        cache_dir=settings.radgraph_cache,
        ref_names=[f"{record.id!r} ({data.gt_path.name} / {data.pred_path.name})" for _, record in data.gt],
        per_case=per_case,
    )


def chexbert_spec(settings: ScoreSettings) -> Any:
    """The CheXbert settings as a `ChexbertSpec`; a missing checkpoint or tokenizer folder names its option."""
    from bench.metrics.report.chexbert import ChexbertSpec

    if settings.chexbert is None or not Path(settings.chexbert).is_file():
        raise FileNotFoundError(
            f"CheXbert checkpoint {settings.chexbert!r} not found: pass --chexbert PATH/chexbert.pth (the authors' "
            "file)."
        )
    if settings.chexbert_tokenizer is None:
        raise ValueError(
            "--chexbert needs the BERT tokenizer CheXbert was trained with: pass --chexbert-tokenizer DIR "
            "(a local bert-base-uncased folder)."
        )
    return ChexbertSpec(
        checkpoint=settings.chexbert,
        tokenizer=settings.chexbert_tokenizer,
        device=settings.device,
        batch_size=settings.chexbert_batch_size,
        cache_dir=settings.chexbert_cache,
    )


def add_clinical_scores(
    result: TaskResult,
    refs: list[str],
    hyps: list[str],
    settings: ScoreSettings,
    clusters: np.ndarray | None,
    per_case: dict[str, np.ndarray],
    chexbert: Any = None,
) -> None:
    """F1-CheXbert (with a `ChexbertSpec`) and RadCliQ-v1 (when all its inputs are there), on the same bootstrap draws
    as the other report metrics."""
    from bench.metrics.bootstrap import bootstrap_counts
    from bench.metrics.report.clinical_scores import add_f1chexbert, add_radcliq
    from bench.metrics.report.f1chexbert import F1CHEXBERT_METRICS

    counts = (
        bootstrap_counts(len(refs), settings.n_boot, settings.seed, clusters=clusters)
        if settings.n_boot > 0
        else None
    )
    if chexbert is not None:
        add_f1chexbert(result, chexbert, refs, hyps, counts, per_case)
    else:
        for name in F1CHEXBERT_METRICS:
            result.metrics[name] = MetricValue(None, None)
        result.notes.setdefault("unavailable", {})["f1chexbert"] = (
            "no CheXbert checkpoint given: pass --chexbert PATH/chexbert.pth --chexbert-tokenizer DIR"
        )
    add_radcliq(result, refs, hyps, counts, per_case, radcliq_bertscore_settings(settings))
    if not result.notes.get("unavailable", True):
        del result.notes["unavailable"]


def radcliq_bertscore_settings(settings: ScoreSettings) -> dict[str, Any] | None:
    """The run's BERTScore as `add_radcliq` takes it (None without --bertscore-model); `compare` passes the same."""
    if settings.bertscore_model is None:
        return None
    return {
        "model_dir": settings.bertscore_model,
        "num_layers": settings.bertscore_layers,
        "idf": settings.bertscore_idf,
        "baseline_path": settings.bertscore_baseline,
    }
