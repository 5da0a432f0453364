"""cxrbench segmentation: Dice and HD95 per structure -- the numbers `cxrbench score --task segmentation` writes for the same cases.

Load offline from the installed package: ``evaluate.load(bench.evaluate_modules.path("segmentation"))``.
"""

import datasets
import evaluate

from bench.evaluate_modules.scoring import COMMON_ARGS_DESCRIPTION, metric_info, score_cases

_DESCRIPTION = """Dice and HD95 per structure, computed by cxrbench (bench.run.score.build_results); see cxrbench's README metric table
and docs/formats.md for every convention."""

_KWARGS_DESCRIPTION = (
    """
Args:
    predictions (list of lists of dict): per case, masks {"structure", "size": [H, W], "counts"} (COCO RLE,
        compressed string); a structure left out is an empty mask.
    references (list of lists of dict): per case, the annotated structures in the same form (left out = not
        annotated for that image).
    empty_rule ("exclude" | "one", default "exclude"): both-empty masks, as --empty-rule.
    pixel_spacing_mm (list of [row_mm, col_mm] or None per case, optional): HD95 in mm where given.
"""
    + COMMON_ARGS_DESCRIPTION
)


class Segmentation(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            {
                "predictions": [
                    {
                        "structure": datasets.Value("string"),
                        "size": [datasets.Value("int64")],
                        "counts": datasets.Value("string"),
                    }
                ],
                "references": [
                    {
                        "structure": datasets.Value("string"),
                        "size": [datasets.Value("int64")],
                        "counts": datasets.Value("string"),
                    }
                ],
            },
        )

    def _compute(self, predictions, references, **options) -> dict:
        return score_cases("segmentation", predictions, references, options)
