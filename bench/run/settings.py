"""`ScoreSettings`: everything besides the two files that changes a number of `cxrbench score` (the parameter
object that `score`, `run`, `suite`, `compare` and `verify` pass around; recorded in every results file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    meteor_nltk: bool = False  # NLTK's METEOR as metric `meteor_nltk` (needs WordNet); recorded only when on
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
    # Every metric per group of these ground-truth meta fields (bench.run.subgroups); "age_bin" bins meta.age by
    # `age_bins` edges (None: the decades-80 rule); No Finding counts as predicted at score >= the threshold.
    # Recorded only when subgroups are requested.
    subgroups: list[str] | None = None
    age_bins: list[float] | None = None
    nofinding_threshold: float = 0.5
    # A requested field no scored record carries: "error" (exit 2) or "skip" (recorded in the conventions; the
    # default of suites, whose benchmarks publish different metadata).
    subgroups_absent: str = "error"
    extra: dict[str, Any] = field(default_factory=dict)

    def subgroup_settings(self, task: str) -> dict[str, Any]:
        """The subgroup options as recorded (nothing without --subgroups, so other results stay byte-identical)."""
        if not self.subgroups:
            return {}
        recorded = {"subgroups": list(self.subgroups), "age_bins": self.age_bins or "decades-80"}
        if self.subgroups_absent != "error":
            recorded["subgroups_absent"] = self.subgroups_absent
        return recorded | (
            {"nofinding_threshold": self.nofinding_threshold} if task == "classification" else {}
        )

    def for_task(self, task: str) -> dict[str, Any]:
        common = {
            "bootstrap_replicates": self.n_boot,
            "seed": self.seed,
            "ci_level": 0.95,
            "cluster": self.cluster,
        } | self.subgroup_settings(task)
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
            | ({"meteor_nltk": True} if self.meteor_nltk else {})
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
