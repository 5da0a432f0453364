"""`cxrbench score`: ground-truth file + prediction file -> one results file.

Results files are deterministic: the same inputs and settings give byte-identical output (no timestamps here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.types import MetricValue, TaskResult
from bench.records import RecordError, atomic_write_text
from bench.run.align import (
    Aligned,
    align,
    attribute_inputs,
    classification_arrays,
    detection_inputs,
    report_texts,
    segmentation_inputs,
)
from bench.run.provenance import file_provenance, model_fingerprint, package_versions, sha256_text_lines

RESULTS_SCHEMA_VERSION = 1
TASKS = ("classification", "localization", "segmentation", "report", "attributes")


@dataclass
class ScoreSettings:
    """Everything besides the two files that changes a number; recorded in `settings`."""

    n_boot: int = 1000
    seed: int = 0
    labels: list[str] | None = None
    froc_hit: str = "center_in_object"
    empty_rule: str = "exclude"
    ce_labelset: str = "chexpert"
    bertscore_model: str | None = None
    bertscore_layers: int | None = None
    bertscore_idf: bool = False
    bertscore_baseline: str | None = None
    meteor: bool = True
    # F1-CheXbert / RadCliQ-v1: the authors' chexbert.pth and a local bert-base-uncased tokenizer folder.
    chexbert: str | None = None
    chexbert_tokenizer: str | None = None
    chexbert_batch_size: int = 32
    # Where reference labels are kept: never changes a number, so not recorded.
    chexbert_cache: str | None = None
    device: str = "cpu"
    # RadGraph F1: a local RadGraph model folder (bench.metrics.report.radgraph); the cache never changes a number.
    radgraph: str | None = None
    radgraph_batch_size: int = 16
    radgraph_cache: str | None = None
    # Resampling unit of every CI and test: "patient", "study", "image", or None = the coarsest unit the ground truth
    # carries (patient where records carry meta.patient, else study, else image); records without the key are
    # each their own cluster.
    cluster: str | None = None
    # Scoring level: "image", "study" (one case per study, bench.run.study_level), or None = study for reports whose
    # ground truth names every image's study, image otherwise. `study_aggregate` reduces a study's label scores.
    level: str | None = None
    study_aggregate: str = "max"
    # Classification: Brier, ECE, calibration slope / intercept with bootstrap CIs (bench.metrics.calibration).
    # Opt-in: the per-replicate logistic refits cost far more than the AUC / AP bootstrap on large test sets.
    calibration: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def for_task(self, task: str) -> dict[str, Any]:
        common = {
            "bootstrap_replicates": self.n_boot,
            "seed": self.seed,
            "ci_level": 0.95,
            "cluster": self.cluster,
        }
        if task == "classification":
            return {**common, "labels": self.labels, "calibration": self.calibration}
        if task == "localization":
            return {**common, "labels": self.labels, "froc_hit": self.froc_hit}
        if task == "segmentation":
            return {**common, "empty_rule": self.empty_rule}
        if task == "attributes":
            return common
        return (
            {
                **common,
                "ce_labelset": self.ce_labelset,
                "bertscore_model": self.bertscore_model,
                "bertscore_layers": self.bertscore_layers,
                "bertscore_idf": self.bertscore_idf,
                "bertscore_baseline": self.bertscore_baseline,
                "meteor": self.meteor,
            }
            | (
                {
                    "chexbert": self.chexbert,
                    "chexbert_tokenizer": self.chexbert_tokenizer,
                    "chexbert_batch_size": self.chexbert_batch_size,
                    "device": self.device,
                }
                if self.chexbert is not None
                else {}
            )
            | (
                {
                    "radgraph": self.radgraph,
                    "radgraph_batch_size": self.radgraph_batch_size,
                    "device": self.device,
                }
                if self.radgraph is not None
                else {}
            )
        )


CLUSTER_UNITS = ("patient", "study", "image")


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
    """Dispatch to the pure task scorer (imported lazily: some pull heavy libraries)."""
    cluster = cluster or resolve_cluster(data, settings.cluster)
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
        clusters=clusters,
        per_case=per_case,
    )
    if settings.bertscore_model is not None:
        result.conventions["bertscore"]["model_fingerprint"] = model_fingerprint(settings.bertscore_model)
    add_radgraph(result, data, refs, hyps, settings, clusters, per_case)
    add_clinical_scores(result, refs, hyps, settings, clusters, per_case, chexbert)
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

    if not Path(settings.chexbert).is_file():
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
    bertscore_settings = (
        {
            "model_dir": settings.bertscore_model,
            "num_layers": settings.bertscore_layers,
            "idf": settings.bertscore_idf,
            "baseline_path": settings.bertscore_baseline,
        }
        if settings.bertscore_model is not None
        else None
    )
    add_radcliq(result, refs, hyps, counts, per_case, bertscore_settings)
    if not result.notes.get("unavailable", True):
        del result.notes["unavailable"]


_TASK_PACKAGES = {
    "classification": (),
    "localization": (),
    "segmentation": ("pycocotools",),
    "report": ("bert-score", "transformers", "torch", "nltk"),
    "attributes": (),
}


# Ground-truth conventions an adapter records in `meta` (label rules, report sections): they change the numbers,
# so the results carry them.
GROUND_TRUTH_CONVENTIONS = {
    "classification": ("label_rules",),
    "report": ("report_sections",),
    "attributes": ("report_sections",),  # attributes are read from these report sections
}


def ground_truth_conventions(data: Aligned) -> dict[str, Any]:
    """The adapter's conventions found in the scored ground truth (distinct values; counts of report rules)."""
    found: dict[str, list[Any]] = {}
    rules: dict[str, int] = {}
    for _, record in data.gt:
        meta = record.meta or {}
        for key in GROUND_TRUTH_CONVENTIONS.get(data.task, ()):
            if key in meta and meta[key] not in found.setdefault(key, []):
                found[key].append(meta[key])
        if "report_rule" in meta and data.task == "report":
            rules[meta["report_rule"]] = rules.get(meta["report_rule"], 0) + 1
    out: dict[str, Any] = {key: values[0] if len(values) == 1 else values for key, values in found.items()}
    if rules:
        out["report_rule_counts"] = dict(sorted(rules.items()))
    return out


def build_results(
    task: str, gt_path: str | Path, pred_path: str | Path, settings: ScoreSettings
) -> dict[str, Any]:
    from bench.run.study_level import LEVELS, default_level, describe, to_study_level

    data = align(task, gt_path, pred_path)
    level = settings.level or default_level(data)
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: choose one of {', '.join(LEVELS)}")
    if level == "study":
        data = to_study_level(data, settings.study_aggregate)
    cluster = resolve_cluster(data, settings.cluster)
    result = score_aligned(data, settings, cluster)
    result.conventions["level"] = describe(task, level, settings.study_aggregate)
    result.conventions["cluster"] = {
        "unit": cluster.unit,
        "n_clusters": cluster.n_clusters,
        "rule": "every bootstrap replicate draws whole clusters with replacement (all images of a drawn "
        f"{cluster.unit} together)"
        + (
            f"; {cluster.without_key} images without meta.{cluster.unit} are each their own cluster"
            if cluster.without_key
            else ""
        )
        if cluster.unit != "image"
        else "images are resampled as independent cases",
    }
    if ground_truth := ground_truth_conventions(data):
        result.conventions["ground_truth"] = ground_truth
    body = result.to_json()
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "task": task,
        "n": len(data.gt),
        "metrics": body["metrics"],
        "per_label": body["per_label"],
        "conventions": body["conventions"],
        "settings": settings.for_task(task)
        | {"cluster": cluster.unit, "n_clusters": cluster.n_clusters, "level": level}
        | (
            {"study_aggregate": settings.study_aggregate}
            if level == "study" and task == "classification"
            else {}
        ),
        "notes": body["notes"],
        "provenance": {
            "inputs": file_provenance({"gt": data.gt_path, "pred": data.pred_path}),
            "ids_sha256": sha256_text_lines(sorted(data.ids)),
            "versions": package_versions(_TASK_PACKAGES[task]),
            "seed": settings.seed,
        },
    }


def results_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def score_files(
    task: str, gt_path: str | Path, pred_path: str | Path, out_path: str | Path, settings: ScoreSettings
) -> dict[str, Any]:
    """Score and write atomically: on any error nothing is written."""
    results = build_results(task, gt_path, pred_path, settings)
    atomic_write_text(out_path, results_json(results))
    return results
