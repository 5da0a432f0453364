"""cxrbench classification: AUC / AP (macro and per label) with cluster-bootstrap CIs, optional calibration -- the numbers `cxrbench score --task classification` writes for the same cases.

Load offline from the installed package: ``evaluate.load(bench.evaluate_modules.path("classification"))``.
"""

import datasets
import evaluate

from bench.evaluate_modules.scoring import COMMON_ARGS_DESCRIPTION, metric_info, score_cases

_DESCRIPTION = """AUC / AP (macro and per label) with cluster-bootstrap CIs, optional calibration, computed by cxrbench (bench.run.score.build_results); see cxrbench's README metric table
and docs/formats.md for every convention."""

_KWARGS_DESCRIPTION = (
    """
Args:
    predictions (list of lists of float): per case, the predicted probability of each label (labels order).
    references (list of lists of 1 / 0 / None): per case, the ground truth of each label (None = unknown).
    labels (list of str or comma-separated str, required): the label of each column, as --labels.
    calibration (bool, default False): Brier, ECE, calibration slope / intercept, as --calibration.
    study_aggregate ("max" | "mean", default "max"): with level="study", as --study-aggregate.
"""
    + COMMON_ARGS_DESCRIPTION
)


class Classification(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            {
                "predictions": [datasets.Value("float64")],
                "references": [datasets.Value("float64")],
            },
        )

    def _compute(self, predictions, references, **options) -> dict:
        return score_cases("classification", predictions, references, options)
