"""Per-task replicate engines for subgroups: a group's metrics on its rows, for the data as given and for its
columns of the whole set's bootstrap multiplicities.

Every engine prepares the per-case inputs once for the whole aligned set, then scores a group with the same
functions (and the same label vocabulary) as the task's scorer, so a group's value equals `cxrbench score` run on
that group's records. Metrics an engine does not cover (model-based report metrics, calibration) are scored by
the fallback in bench.run.subgroups.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from bench.metrics.subgroups import Estimate
from bench.run.align import (
    Aligned,
    attribute_inputs,
    classification_arrays,
    detection_inputs,
    report_texts,
    segmentation_inputs,
)


class Engine(Protocol):
    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        """Metric name -> Estimate of the group `rows` ((B, len(rows)) multiplicities, or None)."""
        ...

    def positives(self, rows: np.ndarray) -> int | None:
        """The group's scarcest positives (small-group rule), or None where the task has no positives."""
        ...

    def per_label(self, rows: np.ndarray) -> dict[str, dict[str, float | None]] | None: ...


def _take(values: list[Any], rows: np.ndarray) -> list[Any]:
    return [values[i] for i in rows]


class ClassificationEngine:
    POSITIVES_RULE = "fewest positives over the labels scored on the whole set"

    def __init__(self, data: Aligned, labels: list[str] | None) -> None:
        self.y_true, self.y_score, self.labels = classification_arrays(data, labels)
        self._scored = (self.y_true == 1.0).any(axis=0) & (self.y_true == 0.0).any(axis=0)

    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        from bench.metrics.subgroups import classification_estimates

        estimates, _, _ = classification_estimates(self.y_true[rows], self.y_score[rows], counts)
        return estimates

    def positives(self, rows: np.ndarray) -> int | None:
        if not self._scored.any():
            return None
        return int((self.y_true[rows][:, self._scored] == 1.0).sum(axis=0).min())

    def per_label(self, rows: np.ndarray) -> dict[str, dict[str, float | None]]:
        from bench.metrics.subgroups import classification_estimates, finite_or_none

        y = self.y_true[rows]
        _, auc, ap = classification_estimates(y, self.y_score[rows], None)
        return {
            "auc": {name: finite_or_none(auc[j]) for j, name in enumerate(self.labels)},
            "ap": {name: finite_or_none(ap[j]) for j, name in enumerate(self.labels)},
            "n_pos": {name: float(np.sum(y[:, j] == 1.0)) for j, name in enumerate(self.labels)},
            "n_neg": {name: float(np.sum(y[:, j] == 0.0)) for j, name in enumerate(self.labels)},
        }

    def nofinding_fpr(
        self, rows: np.ndarray, counts: np.ndarray | None, label: str, threshold: float
    ) -> tuple[Estimate, int]:
        """False-positive rate of `label` (predicted at score >= threshold among images whose ground truth is
        0 for it, i.e. with a finding) and the number of such images."""
        from bench.metrics.subgroups import rate_estimate

        j = self.labels.index(label)
        with_finding = self.y_true[rows, j] == 0.0
        predicted = self.y_score[rows, j] >= threshold
        return rate_estimate(predicted, with_finding, counts), int(with_finding.sum())


class LocalizationEngine:
    POSITIVES_RULE = "ground-truth boxes"

    def __init__(self, data: Aligned, labels: list[str] | None, froc_hit: str) -> None:
        self.inputs = detection_inputs(data, labels)
        self.inputs.pop("ignored_pred_boxes")
        self.froc_hit = froc_hit

    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        from bench.metrics.localization import DetectionSet
        from bench.metrics.localization.score import weighted_localization_metrics

        subset = {
            key: value if key == "label_names" or value is None else _take(value, rows)
            for key, value in self.inputs.items()
        }
        weights = np.ones((1, rows.size))
        if counts is not None:
            weights = np.vstack([weights, counts])
        reps = weighted_localization_metrics(DetectionSet(**subset), weights, froc_hit=self.froc_hit)
        return {
            name: Estimate(float(v[0]), v[1:] if counts is not None else None)
            for name, v in reps.metrics.items()
        }

    def positives(self, rows: np.ndarray) -> int | None:
        return int(sum(len(self.inputs["gt_labels"][i]) for i in rows))

    def per_label(self, rows: np.ndarray) -> None:
        return None


class SegmentationEngine:
    POSITIVES_RULE = None

    def __init__(self, data: Aligned, empty_rule: str) -> None:
        from bench.metrics.segmentation import segmentation_per_image

        inputs = segmentation_inputs(data)
        self.values: dict[str, dict[str, np.ndarray]] = {}
        for structure, gt_rles in inputs["gt"].items():
            scores = segmentation_per_image(
                gt_rles,
                inputs["pred"].get(structure),
                structure=structure,
                spacing=inputs["spacing"],
                empty_rule=empty_rule,
            )
            self.values[structure] = {
                name: values
                for name, values in (
                    ("dice", scores.dice),
                    ("iou", scores.iou),
                    ("hd95_px", scores.hd95_px),
                    ("hd95_mm", scores.hd95_mm),
                )
                if values is not None
            }

    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        from bench.metrics.segmentation import _mean_and_replicates, _mean_over_structures

        weights = None if counts is None else counts.astype(np.float64)
        out: dict[str, Estimate] = {}
        for name in ("dice", "iou", "hd95_px", "hd95_mm"):
            means: list[float | None] = []
            reps_list: list[np.ndarray | None] = []
            for structure, values in self.values.items():
                if name not in values:
                    means.append(None)
                    reps_list.append(None)
                    continue
                mean, reps = _mean_and_replicates(values[name][rows], weights)
                means.append(mean)
                reps_list.append(reps)
                out[f"{name}/{structure}"] = Estimate(np.nan if mean is None else mean, reps)
            mean, reps = _mean_over_structures(means, reps_list)
            out[f"{name}_mean"] = Estimate(np.nan if mean is None else mean, reps)
        return out

    def positives(self, rows: np.ndarray) -> None:
        return None

    def per_label(self, rows: np.ndarray) -> None:
        return None


class AttributesEngine:
    POSITIVES_RULE = None

    def __init__(self, data: Aligned) -> None:
        self.gt, self.pred = attribute_inputs(data)

    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        from bench.metrics.attributes import ATTRIBUTES, _accuracy_f1, _CaseSums, _nanmean, attribute_items

        gt, pred = _take(self.gt, rows), _take(self.pred, rows)
        weights = None if counts is None else counts.astype(np.float64)
        out: dict[str, Estimate] = {}
        for attribute in ATTRIBUTES:
            items = attribute_items(gt, pred, attribute)
            if items.case.size == 0:
                out[f"{attribute}_accuracy"] = out[f"{attribute}_macro_f1"] = Estimate(np.nan)
                continue
            sums = _CaseSums.of(items, rows.size)
            accuracy, f1 = _accuracy_f1(sums, np.ones((1, rows.size)))
            boot_accuracy = boot_f1 = None
            if weights is not None:
                boot_accuracy, boot_f1 = _accuracy_f1(sums, weights)
                boot_f1 = _nanmean(boot_f1)
            out[f"{attribute}_accuracy"] = Estimate(float(accuracy[0]), boot_accuracy)
            out[f"{attribute}_macro_f1"] = Estimate(float(_nanmean(f1)[0]), boot_f1)
        return out

    def positives(self, rows: np.ndarray) -> None:
        return None

    def per_label(self, rows: np.ndarray) -> None:
        return None


class ReportEngine:
    """BLEU-1..4, ROUGE-L, CIDEr-D (document frequencies from the group's references, as the scorer on the
    group's records) and clinical efficacy; texts are tokenised and labelled once."""

    POSITIVES_RULE = None

    def __init__(self, data: Aligned, ce_labelset: str) -> None:
        from bench.metrics.clinical_efficacy import CE5_LABELS
        from bench.metrics.labeler import LABELSETS, label_reports
        from bench.metrics.report import normalise_refs, tokenize

        refs, hyps = report_texts(data)
        ref_lists = normalise_refs(refs)
        flat = tokenize([t for r in ref_lists for t in r])
        self.ref_tokens, start = [], 0
        for r in ref_lists:
            self.ref_tokens.append(flat[start : start + len(r)])
            start += len(r)
        self.hyp_tokens = tokenize(hyps)
        self.names = LABELSETS[ce_labelset]
        self.ref_labels = label_reports(list(refs), labelset=ce_labelset)
        self.hyp_labels = label_reports(list(hyps), labelset=ce_labelset)
        self.subsets: dict[str, Any] = {"ce": None}
        if all(label in self.names for label in CE5_LABELS):
            self.subsets["ce5"] = CE5_LABELS

    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        from bench.metrics.clinical_efficacy import CE_METRIC_NAMES, ce_bootstrap, ce_metrics
        from bench.metrics.report import NlgCorpus

        corpus = NlgCorpus.from_tokens(_take(self.ref_tokens, rows), _take(self.hyp_tokens, rows))
        values = corpus.metrics()
        reps = corpus.bootstrap(counts) if counts is not None else {}
        out = {key: Estimate(float(value), reps.get(key)) for key, value in values.items()}
        ref, hyp = self.ref_labels[rows], self.hyp_labels[rows]
        for prefix, subset in self.subsets.items():
            ce = ce_metrics(ref, hyp, self.names, subset=subset)
            ce_reps = ce_bootstrap(ref, hyp, counts, self.names, subset=subset) if counts is not None else {}
            for key in CE_METRIC_NAMES:
                out[prefix + key.removeprefix("ce")] = Estimate(float(ce[key]), ce_reps.get(key))
        return out

    def positives(self, rows: np.ndarray) -> None:
        return None

    def per_label(self, rows: np.ndarray) -> None:
        return None


class PerCaseMeans:
    """Metrics that are the mean of per-case values the overall scoring already computed (BERTScore F1, RadGraph
    F1, CheXbert s_emb, RadCliQ-v1, METEOR-NLTK): a group's value is the mean over its rows and its replicates the
    means over its drawn rows (`replicate_means` on the shared draws), so no model runs again per group."""

    def __init__(self, engine: Engine, per_case: dict[str, np.ndarray], n: int) -> None:
        from bench.run.compare_report import PER_REPORT_KEYS

        self.engine = engine
        self.values = {
            metric: np.asarray(per_case[key], dtype=float)
            for metric, key in PER_REPORT_KEYS.items()
            if key in per_case and np.shape(per_case[key]) == (n,)
        }
        labels = ("chexbert_ref_labels", "chexbert_hyp_labels")
        self.chexbert = (
            tuple(np.asarray(per_case[k]) for k in labels) if all(k in per_case for k in labels) else None
        )

    def __getattr__(self, name: str) -> Any:  # POSITIVES_RULE, labels, ...: the task engine's
        if name == "engine":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.engine, name)

    def estimates(self, rows: np.ndarray, counts: np.ndarray | None) -> dict[str, Estimate]:
        from bench.metrics.bootstrap import replicate_means
        from bench.metrics.report.f1chexbert import (
            F1CHEXBERT_METRICS,
            f1chexbert_replicates,
            f1chexbert_scores,
        )

        out = self.engine.estimates(rows, counts)
        for metric, values in self.values.items():
            group = values[rows]
            value = float(group.mean()) if group.size else float("nan")
            out[metric] = Estimate(value, None if counts is None else replicate_means(counts, group))
        if self.chexbert is not None and rows.size:
            # F1-CheXbert from the labels CheXbert gave each report once: counts summed per group and replicate
            ref, hyp = self.chexbert[0][rows], self.chexbert[1][rows]
            values_f1 = f1chexbert_scores(ref, hyp)
            reps = f1chexbert_replicates(ref, hyp, counts) if counts is not None else {}
            for metric in F1CHEXBERT_METRICS:
                out[metric] = Estimate(values_f1[metric], reps.get(metric))
        return out

    def positives(self, rows: np.ndarray) -> int | None:
        return self.engine.positives(rows)

    def per_label(self, rows: np.ndarray) -> dict[str, dict[str, float | None]] | None:
        return self.engine.per_label(rows)


def make_engine(data: Aligned, settings: Any) -> Engine:
    """The task's engine for `data` with the `ScoreSettings` that change its numbers."""
    if data.task == "classification":
        return ClassificationEngine(data, settings.labels)
    if data.task == "localization":
        return LocalizationEngine(data, settings.labels, settings.froc_hit)
    if data.task == "segmentation":
        return SegmentationEngine(data, settings.empty_rule)
    if data.task == "attributes":
        return AttributesEngine(data)
    return ReportEngine(data, settings.ce_labelset)
