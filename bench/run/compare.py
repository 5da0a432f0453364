"""`cxrbench compare`: paired significance tests between two prediction files on the same ground truth."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.records import RecordError, atomic_write_text
from bench.run.align import (
    Aligned,
    align,
    classification_arrays,
    detection_inputs,
    report_texts,
    segmentation_inputs,
)
from bench.run.provenance import file_provenance, package_versions, sha256_text_lines

HEADLINE = {
    "classification": ["auc_macro"],
    "localization": ["map_coco"],
    "segmentation": ["dice_mean"],
    "report": ["bleu4", "cider", "ce_micro_f1"],
}
CaseFn = Callable[[Any, Any], float]


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


def _report(a: Aligned, b: Aligned, ce_labelset: str, chexbert: Any = None) -> tuple[Any, Any, Any, Callable]:
    """Tokens, CE labels and (with a `ChexbertSpec`) CheXbert labels are computed once per report; each test
    replicate re-aggregates the corpus metric."""
    from bench.metrics.clinical_efficacy import CE5_LABELS, CE_METRIC_NAMES, ce_metrics
    from bench.metrics.labeler import LABELSETS, label_reports
    from bench.metrics.report import NLG_KEYS, NlgCorpus, tokenize
    from bench.metrics.report.f1chexbert import F1CHEXBERT_METRICS, f1chexbert_value

    refs, hyps_a = report_texts(a)
    _, hyps_b = report_texts(b)
    names = LABELSETS[ce_labelset]
    chexbert_labels = _chexbert_labels(chexbert, refs, hyps_a, hyps_b)

    def items(texts: list[str], role: int) -> list[tuple[list[str], np.ndarray, np.ndarray | None]]:
        labels = chexbert_labels[role] if chexbert_labels else [None] * len(texts)
        return list(zip(tokenize(texts), label_reports(texts, labelset=ce_labelset), labels, strict=True))

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
        if metric in F1CHEXBERT_METRICS:
            if not chexbert_labels:
                raise ValueError(
                    f"{metric} needs the CheXbert labeller: pass --chexbert PATH/chexbert.pth --chexbert-tokenizer DIR"
                )
            return lambda g, p: f1chexbert_value(
                np.stack([x[2] for x in g]), np.stack([x[2] for x in p]), metric
            )
        raise ValueError(
            f"compare supports the report metrics {[*NLG_KEYS, *ce_names, *F1CHEXBERT_METRICS]}; "
            f"{metric!r} is not one of them (METEOR and BERTScore are not re-run per permutation)"
        )

    return items(refs, 0), items(hyps_a, 1), items(hyps_b, 2), factory


def _chexbert_labels(spec: Any, refs: list[str], hyps_a: list[str], hyps_b: list[str]) -> list[Any] | None:
    """rrg 0/1 CheXbert labels of the references (cached as for score), A's and B's reports; None without spec."""
    if spec is None:
        return None
    from bench.metrics.report.chexbert import run_chexbert
    from bench.metrics.report.clinical_scores import label_corpus, progress_bar
    from bench.metrics.report.f1chexbert import classes_to_labels

    loaded, ref_out, a_out = label_corpus(spec, refs, hyps_a)
    with progress_bar(len(hyps_b), "CheXbert: reports of B") as advance:
        b_out = run_chexbert(loaded, hyps_b, spec.batch_size, advance)
    return [list(classes_to_labels(out.classes)) for out in (ref_out, a_out, b_out)]


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
    froc_hit: str = "center_in_object",
    empty_rule: str = "exclude",
    ce_labelset: str = "chexpert",
    chexbert: Any = None,
) -> tuple[Any, Any, Any, Callable[[str], CaseFn]]:
    """Per-case ground truth, A's and B's per-case predictions, and metric name -> metric(gt, pred) of a task;
    `chexbert` (a `ChexbertSpec`) makes the report task's f1chexbert_* metrics available."""
    if a.task == "classification":
        return _classification(a, b, labels)
    if a.task == "localization":
        return _localization(a, b, labels, froc_hit)
    if a.task == "segmentation":
        return _segmentation(a, b, empty_rule)
    return _report(a, b, ce_labelset, chexbert)


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
    froc_hit: str = "center_in_object",
    empty_rule: str = "exclude",
    ce_labelset: str = "chexpert",
    cluster: str | None = None,
    level: str | None = None,
    study_aggregate: str = "max",
    chexbert: str | None = None,
    chexbert_tokenizer: str | None = None,
    chexbert_batch_size: int = 32,
    chexbert_cache: str | None = None,
    device: str = "cpu",
    radgraph: str | None = None,
) -> dict[str, Any]:
    """Paired tests of A against B; `cluster` is the resampling / swapping unit ("patient", "study", "image", or
    None for the coarsest unit the ground truth carries), resolved as `cxrbench score` does; `level` "image" or
    "study" (None: as `cxrbench score` chooses, bench.run.study_level). `chexbert` and `chexbert_tokenizer`
    (as for `cxrbench score`) are needed for the f1chexbert_* metrics; the labeller runs only when one is asked."""
    from bench.metrics.significance import (
        approximate_randomization,
        paired_bootstrap,
        paired_bootstrap_result,
        randomization_result,
    )
    from bench.run.score import resolve_cluster
    from bench.run.study_level import LEVELS, default_level, to_study_level

    if task not in HEADLINE:
        raise ValueError(
            f"paired comparison is not defined for {task!r}; compare one of {', '.join(HEADLINE)}"
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
    chexbert_spec = None
    if chexbert is not None and task == "report" and any(m.startswith("f1chexbert") for m in metrics or ()):
        from bench.run.score import ScoreSettings
        from bench.run.score import chexbert_spec as make_spec

        chexbert_spec = make_spec(
            ScoreSettings(
                chexbert=chexbert,
                chexbert_tokenizer=chexbert_tokenizer,
                chexbert_batch_size=chexbert_batch_size,
                chexbert_cache=chexbert_cache,
                device=device,
            )
        )
    gt, pa, pb, factory = task_inputs(
        a,
        b,
        labels=labels,
        froc_hit=froc_hit,
        empty_rule=empty_rule,
        ce_labelset=ce_labelset,
        chexbert=chexbert_spec,
    )
    if task == "report" and any(m.startswith("radgraph_f1_") for m in metrics or ()):
        from bench.metrics.report.radgraph_task import with_radgraph

        refs, hyps_a = report_texts(a)
        gt, pa, pb, factory = with_radgraph(
            gt, pa, pb, factory, refs, hyps_a, report_texts(b)[1], radgraph, device=device
        )

    fast = _MacroAucReplicates(gt, pa, pb) if task == "classification" else None
    comparisons: dict[str, Any] = {}
    for metric in metrics or HEADLINE[task]:
        fn = factory(metric)
        value_a, value_b = float(fn(gt, pa)), float(fn(gt, pb))
        if fast is not None and metric in fast.METRICS:
            diff = value_a - value_b
            reps = fast.bootstrap(n_boot, seed, clusters)
            boot = paired_bootstrap_result(diff, reps, n_boot=n_boot, seed=seed, unit=named)
            perm_diffs = fast.randomization(n_perm, seed, clusters)
            perm = randomization_result(diff, perm_diffs, n_perm=n_perm, seed=seed, unit=named)
        else:
            boot = paired_bootstrap(
                fn, gt, pa, pb, n_boot=n_boot, seed=seed, clusters=clusters, unit=unit.unit
            )
            perm = approximate_randomization(
                fn, gt, pa, pb, n_perm=n_perm, seed=seed, clusters=clusters, unit=unit.unit
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
        }
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
        | ({"study_aggregate": study_aggregate} if level == "study" and task == "classification" else {})
        | ({"cluster_without_key": unit.without_key} if unit.without_key else {})
        | (_chexbert_record(chexbert_spec) if chexbert_spec is not None else {})
        | (_radgraph_record(radgraph, device) if radgraph is not None and task == "report" else {}),
        "provenance": {
            "inputs": file_provenance({"gt": gt_path, "pred_a": pred_a_path, "pred_b": pred_b_path}),
            "ids_sha256": sha256_text_lines(sorted(a.ids)),
            "versions": package_versions(),
        },
    }
    if task == "classification":
        results["paired_auc"] = paired_auc_per_label(
            gt, pa, pb, factory_names(a, labels), clusters, unit.unit
        )
    atomic_write_text(out_path, json.dumps(results, indent=2, allow_nan=False, default=_json_default) + "\n")
    return results


def _chexbert_record(spec: Any) -> dict[str, Any]:
    from bench.run.provenance import sha256_file

    return {
        "chexbert": Path(spec.checkpoint).name,
        "chexbert_sha256": sha256_file(spec.checkpoint),
        "chexbert_tokenizer": Path(spec.tokenizer).name,
        "chexbert_mode": "rrg",
        "device": spec.device,
    }


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
