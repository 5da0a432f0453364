"""cxrbench report: BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D, BERTScore, clinical efficacy (CE) and the optional model-based scores -- the numbers `cxrbench score --task report` writes for the same cases.

Load offline from the installed package: ``evaluate.load(bench.evaluate_modules.path("report"))``.
"""

import datasets
import evaluate

from bench.evaluate_modules.scoring import COMMON_ARGS_DESCRIPTION, metric_info, score_cases

_DESCRIPTION = """BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D, BERTScore, clinical efficacy (CE) and the optional model-based scores, computed by cxrbench (bench.run.score.build_results); see cxrbench's README metric table
and docs/formats.md for every convention."""

_KWARGS_DESCRIPTION = (
    """
Args:
    predictions (list of str): generated reports.
    references (list of str): reference reports.
    ce_labelset ("chexpert" | "chestxray14", default "chexpert"): as --ce-labelset.
    bertscore_model, bertscore_layers, bertscore_idf, bertscore_baseline: as the --bertscore-* options.
    meteor (bool, default True): METEOR 1.5 (Java), as --meteor / --no-meteor.
    meteor_nltk (bool, default False): NLTK's METEOR as metric meteor_nltk (needs WordNet), as --meteor-nltk.
    chexbert, chexbert_tokenizer, chexbert_batch_size, chexbert_cache, device: as the --chexbert* / --device options.
    radgraph, radgraph_batch_size: as --radgraph / --radgraph-batch-size.
"""
    + COMMON_ARGS_DESCRIPTION
)


class Report(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return metric_info(
            _DESCRIPTION,
            _KWARGS_DESCRIPTION,
            {"predictions": datasets.Value("string"), "references": datasets.Value("string")},
        )

    def _compute(self, predictions, references, **options) -> dict:
        return score_cases("report", predictions, references, options)
