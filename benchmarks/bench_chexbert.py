"""F1-CheXbert labelling throughput: batched, length-sorted inference against f1chexbert 0.0.2's one-report loop.

Both label the same synthetic radiology reports with the same random-weight CheXbert of full BERT-base size
(vocab 30522, hidden 768, 12 layers, 12 heads, intermediate 3072, 14 heads) saved in the authors' chexbert.pth
format; the labels are checked equal, then reports/s and the ratio are printed as Markdown.

    .venv/bin/python benchmarks/bench_chexbert.py [--n 100] [--batch-size 32] [--device cpu] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import synthetic_reports  # noqa: E402

from bench.metrics.report.chexbert import ChexbertSpec, load_chexbert, run_chexbert  # noqa: E402
from bench.metrics.report.chexbert_random import write_random_chexbert  # noqa: E402
from bench.metrics.report.f1chexbert import classes_to_labels  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100, help="reports labelled by each side")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-reference", action="store_true", help="time ours only")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    reports = [" ".join(tokens) for tokens in synthetic_reports(args.n, args.seed)]
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint, tokenizer = write_random_chexbert(
            scratch, reports, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, vocab_size=30522, encoder_std=0.02, head_std=1.0,
        )  # fmt: skip
        size_mb = checkpoint.stat().st_size / 2**20
        loaded = load_chexbert(ChexbertSpec(str(checkpoint), str(tokenizer), device=args.device))
        run_chexbert(loaded, reports[:4], args.batch_size)  # warm-up
        start = time.perf_counter()
        ours = run_chexbert(loaded, reports, args.batch_size)
        t_ours = time.perf_counter() - start
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        tokens = ours.n_tokens
        print(
            f"{args.n} synthetic reports ({tokens.mean():.0f} WordPiece tokens on average, max {tokens.max()}), "
            f"BERT-base-size random CheXbert ({size_mb:.0f} MiB), device {args.device}, "
            f"{torch.get_num_threads()} torch threads\n"
        )
        print("| labeller | reports/s | seconds | labels equal |")
        print("|---|---:|---:|---|")
        print(
            f"| cxrbench (batch {args.batch_size}, length-sorted) | {args.n / t_ours:.1f} | {t_ours:.2f} | |"
        )
        if args.no_reference:
            return
        from bench.metrics.report.chexbert_reference import local_f1chexbert

        with local_f1chexbert(checkpoint, tokenizer, device=args.device) as reference:
            reference.get_label(reports[0])  # warm-up
            start = time.perf_counter()
            with torch.inference_mode():
                theirs = np.array([reference.get_label(r.strip()) for r in reports])
            t_ref = time.perf_counter() - start
        equal = bool(np.array_equal(classes_to_labels(ours.classes), theirs))
        print(f"| f1chexbert 0.0.2 (one report per forward) | {args.n / t_ref:.1f} | {t_ref:.2f} | {equal} |")
        print(f"\nspeed-up: {t_ref / t_ours:.1f}x")
        if not equal:
            raise SystemExit("labels differ from the reference package")


if __name__ == "__main__":
    main()
