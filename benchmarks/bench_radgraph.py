"""RadGraph throughput on CPU: cxrbench's batched inference against the `radgraph` package's one-report loop.

Both run the same random-weight model folder with a full-size configuration (BERT-base: 12 layers, hidden 768,
vocabulary 31090 as SciBERT's; DyGIE heads as the RadGraph v1 config: span width 8, feed-forward 2 x 150, span
width features 20) on the same synthetic reports, and the graphs are checked equal. Prints Markdown with reports/s
and the ratio. Needs the `radgraph` package (dev extra); nothing is downloaded.

    .venv/bin/python benchmarks/bench_radgraph.py [--reports 48] [--batch-size 16] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

SENTENCES = [
    "No acute cardiopulmonary abnormality.",
    "Mild cardiomegaly with small left pleural effusion.",
    "Endotracheal tube terminates 2 cm above the carina.",
    "Bibasilar opacities likely represent atelectasis, although aspiration is not excluded.",
    "The lungs are clear without focal consolidation, pneumothorax or pleural effusion.",
    "Heart size is normal. Mediastinal contours are unremarkable.",
    "Left-sided PICC terminates at the cavo-atrial junction.",
    "Unchanged mild pulmonary edema, no radiographic evidence of pneumonia.",
    "Moderate hiatal hernia is again noted.",
    "Right upper lobe nodule measuring 5 mm; recommend follow-up CT in 6-12 months.",
    "Degenerative changes of the thoracic spine.",
    "Status post median sternotomy and CABG.",
]


def synthetic_reports(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(SENTENCES, rng.randint(3, 8))) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    torch.set_num_threads(args.threads)
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    from bench.metrics.report.radgraph import RadGraphScorer
    from bench.metrics.report.radgraph_fixture import write_bert_folder, write_random_radgraph
    from bench.metrics.report.radgraph_text import report_words

    # radgraph 0.1.18 still calls these transformers-4 tokenizer methods (BERT forms)
    if not hasattr(PreTrainedTokenizerBase, "encode_plus"):
        PreTrainedTokenizerBase.encode_plus = lambda self, *a, **k: self(*a, **k)
    if not hasattr(PreTrainedTokenizerBase, "build_inputs_with_special_tokens"):
        PreTrainedTokenizerBase.build_inputs_with_special_tokens = lambda self, a, b=None: [
            self.cls_token_id,
            *a,
            self.sep_token_id,
        ]
    import radgraph.radgraph as package

    package.download_model = lambda **k: (_ for _ in ()).throw(RuntimeError("no downloads"))
    reports = synthetic_reports(args.reports)
    words = sorted({w.lower() for r in reports for w in report_words(r, "radgraph")})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bert = write_bert_folder(
            root / "bert", words, hidden=768, layers=12, heads=12, intermediate=3072, vocab_size=31090
        )
        model = write_random_radgraph(root / "cache" / "radgraph", bert, ner_bias=-0.5)
        n_words = sum(len(report_words(r, "radgraph")) for r in reports)
        print(
            f"## RadGraph on CPU ({args.reports} reports, {n_words / args.reports:.0f} words each on average, "
            f"{args.threads} threads, full-size random weights)\n"
        )
        scorer = RadGraphScorer.load(model, batch_size=args.batch_size, cache_dir=root / "graph-cache")
        scorer.graphs(reports[:2])  # warm-up outside the timing
        scorer._memory.clear()
        start = time.perf_counter()
        ours = scorer.graphs(reports)
        ours_s = time.perf_counter() - start

        reference = package.RadGraph(model_type="radgraph", model_cache_dir=str(root / "cache"), cuda=-1)
        reference(reports[:2])
        start = time.perf_counter()
        theirs = reference(reports)
        theirs_s = time.perf_counter() - start
        equal = ours == [theirs[str(k)] for k in range(len(reports))]
        print("| implementation | seconds | reports/s |\n|---|---:|---:|")
        print(
            f"| cxrbench (batch {args.batch_size}, sorted by length) | {ours_s:.1f} | {len(reports) / ours_s:.2f} |"
        )
        print(
            f"| radgraph 0.1.18 RadGraph (one report per forward) | {theirs_s:.1f} | {len(reports) / theirs_s:.2f} |"
        )
        print(
            f"\nratio (cxrbench / radgraph): {theirs_s / ours_s:.2f}x; graphs equal: {equal}; "
            f"entities per report: {sum(len(g['entities']) for g in ours) / len(ours):.1f}"
        )


if __name__ == "__main__":
    main()
