"""cxrbench localization: COCO mAP@[.50:.95], AP50 and FROC of boxes -- the numbers `cxrbench score --task localization` writes for the same cases.

Load offline from the installed package: ``evaluate.load(bench.evaluate_modules.path("localization"))``.
"""

import datasets
import evaluate

from bench.evaluate_modules.scoring import COMMON_ARGS_DESCRIPTION, metric_info, score_cases

_DESCRIPTION = """COCO mAP@[.50:.95], AP50 and FROC of boxes, computed by cxrbench (bench.run.score.build_results); see cxrbench's README metric table
and docs/formats.md for every convention."""

_KWARGS_DESCRIPTION = (
    """
Args:
    predictions (list of lists of dict): per case, boxes {"label", "bbox": [x0, y0, x1, y1], "score"} in pixels.
    references (list of lists of dict): per case, boxes {"label", "bbox"}; [] = an image without findings.
    labels (list of str or comma-separated str, optional): label vocabulary, as --labels (default: all in references).
    froc_hit ("center_in_object" | "center_in_box" | "iou@0.5", default "center_in_object"): as --froc-hit.
"""
    + COMMON_ARGS_DESCRIPTION
)


class Localization(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            {
                "predictions": [
                    {
                        "label": datasets.Value("string"),
                        "bbox": [datasets.Value("float64")],
                        "score": datasets.Value("float64"),
                    }
                ],
                "references": [{"label": datasets.Value("string"), "bbox": [datasets.Value("float64")]}],
            },
        )

    def _compute(self, predictions, references, **options) -> dict:
        return score_cases("localization", predictions, references, options)
