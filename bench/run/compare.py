"""`cxrbench compare`: paired significance tests between two prediction files on the same ground truth."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BadInputError
from bench.metrics.extra import ExtraMetric, paired_inputs, registered_metrics, task_arguments
from bench.records import RecordError, atomic_write_text
from bench.run.align import (
    Aligned,
    align,
    classification_arrays,
    detection_inputs,
    report_texts,
    segmentation_inputs,
)
from bench.run.gc_pause import cyclic_gc_paused
from bench.run.provenance import file_provenance, package_versions, sha256_text_lines
from bench.run.settings import ScoreSettings
from bench.tasks import CALIBRATION_FAMILIES, TASKS, default_of, metric_direction, metric_family

CaseFn = Callable[[Any, Any], float]
PAIRED_CALIBRATION = ("brier_macro", "ece_macro")  # classification calibration metrics `compare` tests
MODEL_PACKAGES = ("bert-score", "transformers", "torch")


def _check_same_cases(a: Aligned, b: Aligned) -> None:
    if a.ids != b.ids:
        raise RecordError(
            b.pred_path, None, "does not cover the same ground-truth cases as prediction file A"
        )


def _classification(a: Aligned, b: Aligned, labels: list[str] | None) -> tuple[Any, Any, Any, Callable]:
    from bench.metrics.classification import score_classification

    y_true, s_a, names = classification_arrays(a, labels)
    _, s_b, _ = classification_arrays(b, names)

    def factory(metric: str) -> CaseFn:
        if (
            metric in PAIRED_CALIBRATION
        ):  # Brier / ECE (lower is better), recomputed on each replicate's cases
            from bench.metrics.calibration import score_calibration

            return lambda g, p: _value(score_calibration(g, p, names, n_boot=0, seed=0, fits=False), metric)
        if metric_family(metric).startswith(CALIBRATION_FAMILIES):
            raise ValueError(
                f"no paired test of {metric}: calibration slope and intercept are best closest to their ideal value "
                f"(1 and 0), so A - B says nothing about which is better; compare {', '.join(PAIRED_CALIBRATION)}"
            )
        return lambda g, p: _value(score_classification(g, p, names, n_boot=0, seed=0), metric)

    return y_true, s_a, s_b, factory


class _MacroAucReplicates:
    """Replicates of auc_macro without re-sorting per replicate (the counts trick of `classification`).

    Bootstrap: each replicate is a vector of case multiplicities (`bootstrap_counts`, clusters drawn whole) over
    each system's label buckets, sorted once. Randomization: the A and B scores of every case are pooled (2n cases,
    sorted once) and a permutation is a 0/1 weight on either copy of each case: A' takes B's copy where swapped,
    B' the other one. The Mann-Whitney counts are integers either way, so each replicate's AUC, and its macro
    mean, is exactly that of `score_classification` on the explicitly resampled / swapped cases: the same numbers
    as the generic loop, B times fewer sorts. (AP would only equal it to rounding, so ap_macro takes the loop.)
    """

    METRICS = ("auc_macro",)

    def __init__(self, y_true: np.ndarray, s_a: np.ndarray, s_b: np.ndarray) -> None:
        self.y_true, self.s_a, self.s_b = y_true, s_a, s_b

    def bootstrap(self, n_boot: int, seed: int, clusters: np.ndarray | None) -> np.ndarray:
        """(n_boot,) replicate differences auc_macro(A) - auc_macro(B)."""
        from bench.metrics.bootstrap import bootstrap_counts
        from bench.metrics.classification import _bucket_labels, _replicates

        if n_boot == 0:
            return np.empty(0)
        counts = bootstrap_counts(self.y_true.shape[0], n_boot, seed, clusters=clusters)
        auc_a, _ = _replicates(_bucket_labels(self.y_true, self.s_a), counts)
        auc_b, _ = _replicates(_bucket_labels(self.y_true, self.s_b), counts)
        return _macro(auc_a) - _macro(auc_b)

    def randomization(self, n_perm: int, seed: int, clusters: np.ndarray | None) -> np.ndarray:
        """(n_perm,) differences auc_macro(A') - auc_macro(B') of the swapped systems."""
        from bench.metrics.classification import _bucket_labels, _replicates
        from bench.metrics.significance import randomization_swaps

        if n_perm == 0:
            return np.empty(0)
        pooled = _bucket_labels(np.vstack([self.y_true, self.y_true]), np.vstack([self.s_a, self.s_b]))
        diffs = []
        for swap in randomization_swaps(self.y_true.shape[0], n_perm, seed, clusters, chunk_rows=128):
            keep = ~swap
            auc_a, _ = _replicates(pooled, np.concatenate([keep, swap], axis=1))
            auc_b, _ = _replicates(pooled, np.concatenate([swap, keep], axis=1))
            diffs.append(_macro(auc_a) - _macro(auc_b))
        return np.concatenate(diffs)


def _macro(values: np.ndarray) -> np.ndarray:
    """(B,) mean over each row's finite entries, as `score_classification` takes it (NaN where none is)."""
    out = np.full(values.shape[0], np.nan)
    finite = np.isfinite(values)
    full = finite.all(axis=1)
    out[full] = values[full].mean(axis=1)
    for r in np.flatnonzero(~full & finite.any(axis=1)):  # replicates that lost a label: rare
        out[r] = values[r, finite[r]].mean()
    return out


def _localization(
    a: Aligned, b: Aligned, labels: list[str] | None, froc_hit: str
) -> tuple[Any, Any, Any, Callable]:
    from bench.metrics.localization import DetectionSet, score_localization

    in_a = detection_inputs(a, labels)
    in_b = detection_inputs(b, in_a["label_names"])
    names = in_a["label_names"]
    shapes = in_a["gt_shapes"] or [[None] * len(boxes) for boxes in in_a["gt_boxes"]]
    gt = list(zip(in_a["gt_boxes"], in_a["gt_labels"], shapes, strict=True))

    def per_case(inputs: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return list(zip(inputs["pred_boxes"], inputs["pred_labels"], inputs["pred_scores"], strict=True))

    def factory(metric: str) -> CaseFn:
        def fn(g: list, p: list) -> float:
            data = DetectionSet(
                label_names=names,
                gt_boxes=[x[0] for x in g],
                gt_labels=[x[1] for x in g],
                gt_shapes=[x[2] for x in g],
                pred_boxes=[x[0] for x in p],
                pred_labels=[x[1] for x in p],
                pred_scores=[x[2] for x in p],
            )
            return _value(score_localization(data, n_boot=0, seed=0, froc_hit=froc_hit), metric)

        return fn

    return gt, per_case(in_a), per_case(in_b), factory


def _segmentation(a: Aligned, b: Aligned, empty_rule: str) -> tuple[Any, Any, Any, Callable]:
    """Segmentation metrics are means of per-image values: compute those once, then tests reuse them."""
    from bench.metrics.segmentation import segmentation_per_image

    in_a, in_b = segmentation_inputs(a), segmentation_inputs(b)
    structures = list(in_a["gt"])
    stats = ("dice", "iou", "hd95_px")

    def per_image(inputs: dict[str, Any]) -> np.ndarray:
        """(n, n_stats, n_structures), NaN where an image does not count."""
        columns = []
        for s in structures:
            scores = segmentation_per_image(
                in_a["gt"][s], inputs["pred"][s], structure=s, spacing=in_a["spacing"], empty_rule=empty_rule
            )
            columns.append(np.stack([getattr(scores, k) for k in stats], axis=1))
        return np.stack(columns, axis=2)

    def factory(metric: str) -> CaseFn:
        stat, _, structure = metric.partition("/")
        stat = stat.removesuffix("_mean")
        if stat not in stats or (structure and structure not in structures):
            known = [f"{k}_mean" for k in stats] + [f"{k}/{s}" for k in stats for s in structures]
            raise ValueError(f"unknown metric {metric!r}; compare supports {known}")
        k = stats.index(stat)

        def fn(_g: Any, p: np.ndarray) -> float:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.nanmean(p[:, k, :], axis=0)
            if structure:
                return float(means[structures.index(structure)])
            return float(np.nanmean(means)) if np.isfinite(means).any() else float("nan")

        return fn

    gt = np.zeros(len(a.gt))
    return gt, per_image(in_a), per_image(in_b), factory


def _report(a: Aligned, b: Aligned, ce_labelset: str) -> tuple[Any, Any, Any, Callable]:
    """Tokens and CE labels are computed once per report; each test replicate re-aggregates the corpus metric.
    The model-based metrics are added by `bench.run.compare_report.with_model_scores`."""
    from bench.metrics.clinical_efficacy import CE5_LABELS, CE_METRIC_NAMES, ce_metrics
    from bench.metrics.labeler import LABELSETS, label_reports
    from bench.metrics.report import NLG_KEYS, NlgCorpus, tokenize
    from bench.run.compare_report import MODEL_METRICS

    refs, hyps_a = report_texts(a)
    _, hyps_b = report_texts(b)
    names = LABELSETS[ce_labelset]

    def items(texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        return list(zip(tokenize(texts), label_reports(texts, labelset=ce_labelset), strict=True))

    ce_names = {prefix + key.removeprefix("ce"): key for key in CE_METRIC_NAMES for prefix in ("ce", "ce5")}

    def factory(metric: str) -> CaseFn:
        if metric in NLG_KEYS:
            return lambda g, p: NlgCorpus.from_tokens([[x[0]] for x in g], [x[0] for x in p]).metrics()[
                metric
            ]
        if metric in ce_names:
            subset = CE5_LABELS if metric.startswith("ce5") else None
            key = ce_names[metric]
            return lambda g, p: ce_metrics(
                np.stack([x[1] for x in g]), np.stack([x[1] for x in p]), names, subset=subset
            )[key]
        raise ValueError(
            f"compare supports the report metrics {[*NLG_KEYS, *ce_names, *MODEL_METRICS]}; "
            f"{metric!r} is not one of them (METEOR 1.5 is not re-run per replicate; NLTK's meteor_nltk is)"
        )

    return items(refs), items(hyps_a), items(hyps_b), factory


def _value(result: Any, metric: str) -> float:
    if metric not in result.metrics:
        raise ValueError(f"unknown metric {metric!r}; this task reports {sorted(result.metrics)}")
    value = result.metrics[metric].value
    return float("nan") if value is None else float(value)


def task_inputs(
    a: Aligned,
    b: Aligned,
    *,
    labels: list[str] | None = None,
    froc_hit: str = default_of("froc_hit"),
    empty_rule: str = default_of("empty_rule"),
    ce_labelset: str = default_of("ce_labelset"),
) -> tuple[Any, Any, Any, Callable[[str], CaseFn]]:
    """Per-case ground truth, A's and B's per-case predictions, and metric name -> metric(gt, pred) of a task
    (the report task's text metrics; `compare_files` adds the model-based ones)."""
    if a.task == "classification":
        return _classification(a, b, labels)
    if a.task == "localization":
        return _localization(a, b, labels, froc_hit)
    if a.task == "segmentation":
        return _segmentation(a, b, empty_rule)
    return _report(a, b, ce_labelset)


@cyclic_gc_paused()
def compare_files(
    task: str,
    gt_path: str | Path,
    pred_a_path: str | Path,
    pred_b_path: str | Path,
    out_path: str | Path,
    *,
    metrics: list[str] | None = None,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: int = 0,
    labels: list[str] | None = None,
    froc_hit: str = default_of("froc_hit"),
    empty_rule: str = default_of("empty_rule"),
    ce_labelset: str = default_of("ce_labelset"),
    cluster: str | None = None,
    level: str | None = None,
    study_aggregate: str = "max",
    chexbert: str | None = None,
    chexbert_tokenizer: str | None = None,
    chexbert_batch_size: int = 32,
    chexbert_cache: str | None = None,
    device: str = "cpu",
    radgraph: str | None = None,
    radgraph_batch_size: int = 16,
    radgraph_cache: str | None = None,
    bertscore_model: str | None = None,
    bertscore_layers: int | None = None,
    bertscore_idf: bool = False,
    bertscore_baseline: str | None = None,
) -> dict[str, Any]:
    """Paired tests of A against B; `cluster` is the resampling / swapping unit ("patient", "study", "image", or
    None for the coarsest unit the ground truth carries), resolved as `cxrbench score` does; `level` "image" or
    "study" (None: as `cxrbench score` chooses, bench.run.study_level). The report models' options are
    `cxrbench score`'s (`ScoreSettings`); a model runs only when a metric asks for it
    (bench.run.compare_report), and RadCliQ-v1 with an input missing is listed under "unavailable"."""
    from bench.metrics.significance import (
        approximate_randomization,
        paired_bootstrap,
        paired_bootstrap_result,
        randomization_result,
    )
    from bench.run.scoring import resolve_cluster
    from bench.run.study_level import LEVELS, default_level, to_study_level

    comparable = [name for name, spec in TASKS.items() if spec.paired_test]
    if task not in comparable:
        raise ValueError(
            f"paired comparison is not defined for {task!r}; compare one of {', '.join(comparable)}"
        )
    a = align(task, gt_path, pred_a_path)
    b = align(task, gt_path, pred_b_path)
    _check_same_cases(a, b)
    level = level or default_level(a)
    if level not in LEVELS:
        raise ValueError(f"level {level!r}: choose one of {', '.join(LEVELS)}")
    if level == "study":
        a, b = to_study_level(a, study_aggregate), to_study_level(b, study_aggregate)
    unit = resolve_cluster(a, cluster)
    clusters = unit.clusters
    named = None if clusters is None else unit.unit
    models = None
    if task == "report":
        from bench.run.compare_report import add_model_scores, default_metrics

        report_settings = ScoreSettings(
            ce_labelset=ce_labelset,
            bertscore_model=bertscore_model,
            bertscore_layers=bertscore_layers,
            bertscore_idf=bertscore_idf,
            bertscore_baseline=bertscore_baseline,
            chexbert=chexbert,
            chexbert_tokenizer=chexbert_tokenizer,
            chexbert_batch_size=chexbert_batch_size,
            chexbert_cache=chexbert_cache,
            device=device,
            radgraph=radgraph,
            radgraph_batch_size=radgraph_batch_size,
            radgraph_cache=radgraph_cache,
        )
        metrics = metrics or default_metrics(TASKS[task].headline, report_settings)
    metrics = list(metrics or TASKS[task].headline)
    task_options = {"froc_hit": froc_hit, "empty_rule": empty_rule, "ce_labelset": ce_labelset}
    gt, pa, pb, factory = task_inputs(
        a, b, labels=labels, froc_hit=froc_hit, empty_rule=empty_rule, ce_labelset=ce_labelset
    )
    extras = {name: metric for name, metric in registered_metrics(task).items() if name in metrics}
    if task == "report":
        built_in = [metric for metric in metrics if metric not in extras]
        gt, pa, pb, factory, models = add_model_scores(a, b, gt, pa, pb, factory, built_in, report_settings)
    extra_inputs = _extra_inputs(extras, a, b, labels, factory, (gt, pa))

    fast = _MacroAucReplicates(gt, pa, pb) if task == "classification" else None
    comparisons: dict[str, Any] = {}
    unavailable = models.unavailable if models is not None else {}
    for metric in metrics:
        if metric in unavailable:
            continue
        m_gt, m_a, m_b, fn = extra_inputs.get(metric) or (gt, pa, pb, factory(metric))
        value_a, value_b = float(fn(m_gt, m_a)), float(fn(m_gt, m_b))
        if fast is not None and metric in fast.METRICS:
            diff = value_a - value_b
            reps = fast.bootstrap(n_boot, seed, clusters)
            boot = paired_bootstrap_result(diff, reps, n_boot=n_boot, seed=seed, unit=named)
            perm_diffs = fast.randomization(n_perm, seed, clusters)
            perm = randomization_result(diff, perm_diffs, n_perm=n_perm, seed=seed, unit=named)
        else:
            boot = paired_bootstrap(
                fn, m_gt, m_a, m_b, n_boot=n_boot, seed=seed, clusters=clusters, unit=unit.unit
            )
            perm = approximate_randomization(
                fn, m_gt, m_a, m_b, n_perm=n_perm, seed=seed, clusters=clusters, unit=unit.unit
            )
        comparisons[metric] = {
            "a": _finite(value_a),
            "b": _finite(value_b),
            "diff": _finite(boot["diff"]),
            "paired_bootstrap": {
                "ci95": boot["ci95"],
                "p_value": _finite(boot["p"]),
                "n_finite_replicates": boot["n_finite_replicates"],  # the p-value's floor is 2 / (this + 1)
                "method": boot["method"],
            },
            "approximate_randomization": {"p_value": _finite(perm["p"]), "method": perm["method"]},
        } | ({"lower_is_better": True} if metric_direction(metric).lower_is_better else {})
    results: dict[str, Any] = {
        "task": task,
        "n": len(a.gt),
        "diff_definition": "A - B",
        "comparisons": comparisons,
        "settings": {
            "bootstrap_replicates": n_boot,
            "permutations": n_perm,
            "seed": seed,
            "labels": labels,
            "cluster": unit.unit,
            "n_clusters": unit.n_clusters,
            "level": level,
        }
        | {name: task_options[name] for name in TASKS[task].options}  # e.g. froc_hit: they change its numbers
        | ({"study_aggregate": study_aggregate} if level == "study" and task == "classification" else {})
        | ({"cluster_without_key": unit.without_key} if unit.without_key else {})
        | (_radgraph_record(radgraph, device) if radgraph is not None and task == "report" else {})
        | (models.settings if models is not None else {}),
        "provenance": {
            "inputs": file_provenance({"gt": gt_path, "pred_a": pred_a_path, "pred_b": pred_b_path}),
            "ids_sha256": sha256_text_lines(sorted(a.ids)),
            "versions": package_versions(MODEL_PACKAGES if models is not None and models.conventions else ()),
        },
    }
    if unavailable:
        results["unavailable"] = dict(unavailable)
    if models is not None and models.conventions:
        results["conventions"] = models.conventions
    if extras:  # the code that made the numbers, as in `score`'s results
        results.setdefault("conventions", {})["extra_metrics"] = {
            name: metric.provenance() for name, metric in extras.items()
        }
    if task == "classification":
        results["paired_auc"] = paired_auc_per_label(
            gt, pa, pb, factory_names(a, labels), clusters, unit.unit
        )
    atomic_write_text(out_path, json.dumps(results, indent=2, allow_nan=False, default=_json_default) + "\n")
    return results


def _extra_inputs(
    extras: dict[str, ExtraMetric],
    a: Aligned,
    b: Aligned,
    labels: list[str] | None,
    factory: Callable[[str], CaseFn],
    built_in_inputs: tuple[Any, Any],
) -> dict[str, tuple[Any, Any, Any, CaseFn]]:
    """Per requested plugin metric (bench.metrics.extra) the paired tests' inputs; BadInputError for a plugin that
    took the name of a built-in metric, as `score` gives."""
    if not extras:
        return {}
    for name, metric in extras.items():
        try:
            factory(name)(*built_in_inputs)
        except ValueError:  # not a built-in name: the plugin's
            continue
        raise BadInputError(
            f"extra metric {name!r} ({metric.module}:{metric.qualname}) has the name of a built-in "
            f"{a.task} metric: register it under another name"
        )
    settings = ScoreSettings(labels=labels)
    first, second = task_arguments(a, settings), task_arguments(b, settings)
    return {name: paired_inputs(metric, first, second) for name, metric in extras.items()}


def _radgraph_record(model_dir: str, device: str) -> dict[str, Any]:
    from bench.metrics.report.radgraph import RadGraphScorer

    folder = RadGraphScorer.load(model_dir, device=device).folder
    return {"radgraph": folder.path.name, "radgraph_sha256": folder.fingerprint, "device": device}


def factory_names(a: Aligned, labels: list[str] | None) -> list[str]:
    return classification_arrays(a, labels)[2]


def paired_auc_test(
    y: np.ndarray, s_a: np.ndarray, s_b: np.ndarray, clusters: np.ndarray | None
) -> tuple[float, float, float, float, float]:
    """(auc_a, auc_b, diff, z, p) of one label (NaN y = unknown, dropped): DeLong's paired test for independent
    images (`clusters` None), Obuchowski's clustered one otherwise (DeLong's when every cluster has one image)."""
    known = ~np.isnan(y)
    if clusters is None:
        from bench.metrics.significance import delong_paired_test

        return delong_paired_test(y[known], s_a[known], s_b[known])
    from bench.metrics.clustered_auc import clustered_auc_paired

    r = clustered_auc_paired(y[known], s_a[known], s_b[known], clusters[known])
    return r.auc_a, r.auc_b, r.diff, r.z, r.p


def paired_auc_per_label(
    y_true: np.ndarray,
    s_a: np.ndarray,
    s_b: np.ndarray,
    names: list[str],
    clusters: np.ndarray | None = None,
    unit: str = "image",
) -> dict[str, Any]:
    """Paired AUC test per label (`paired_auc_test`), Holm-adjusted across labels."""
    from bench.metrics.significance import holm

    rows: dict[str, Any] = {}
    pvalues = []
    for j, name in enumerate(names):
        y = y_true[~np.isnan(y_true[:, j]), j]
        if y.size == 0 or y.min() == y.max():
            rows[name] = None
            pvalues.append(float("nan"))
            continue
        auc_a, auc_b, diff, z, p = paired_auc_test(y_true[:, j], s_a[:, j], s_b[:, j], clusters)
        rows[name] = {"auc_a": auc_a, "auc_b": auc_b, "diff": diff, "z": _finite(z), "p_value": _finite(p)}
        pvalues.append(p)
    adjusted = holm(pvalues)
    for name, p_adj in zip(names, adjusted, strict=True):
        if rows[name] is not None:
            rows[name]["p_holm"] = _finite(p_adj)
    method = (
        "DeLong et al. 1988 paired test (fast, Sun & Xu 2014); Holm across labels"
        if clusters is None
        else f"Obuchowski 1997 clustered paired AUC test (each {unit} one cluster; equals DeLong for clusters of "
        "one image); Holm across labels"
    )
    return {"method": method, "per_label": rows}


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
