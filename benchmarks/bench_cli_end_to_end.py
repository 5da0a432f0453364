"""`cxrbench score` end to end (process start to results file) vs a scikit-learn bootstrap loop, same run.

Writes a seeded 20,000-image x 14-label ground truth and prediction file, times the CLI as a subprocess (best of
--repeats, with and without engine threads), times scikit-learn's `roc_auc_score` (AUC only, as
bench_classification.py) and `average_precision_score` over the same bootstrap draws (bench.metrics.bootstrap; the
fastest of --ref-reps replicates times --n-boot, the loop's best case as the CLI's is its best run; the two sides
interleaved in --repeats rounds), checks the macro AUC and its CI against
scikit-learn, and prints the ratios, also with the engine on one thread (CXRBENCH_THREADS=1). Also times
`cxrbench --help`.

    .venv/bin/python benchmarks/bench_cli_end_to_end.py --ref-reps 20
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_classification import make_data, sklearn_replicate
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.metrics.bootstrap import bootstrap_indices
from bench.metrics.threads import available_cpus


def write_files(folder: Path, y_true: np.ndarray, y_score: np.ndarray, patients: int | None) -> None:
    names = [f"label_{j}" for j in range(y_true.shape[1])]
    with open(folder / "gt.jsonl", "w") as gt, open(folder / "pred.jsonl", "w") as pred:
        for i in range(y_true.shape[0]):
            labels = {k: None if np.isnan(v) else int(v) for k, v in zip(names, y_true[i], strict=True)}
            record = {"id": f"img{i:05d}", "labels": labels}
            if patients:
                record["meta"] = {"patient": f"p{i % patients}"}
            gt.write(json.dumps(record) + "\n")
            scores = dict(zip(names, map(float, y_score[i]), strict=True))
            pred.write(json.dumps({"id": f"img{i:05d}", "labels": scores}) + "\n")


def best_time(command: list[str], repeats: int, env: dict[str, str] | None = None) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def replicate_time(y_true: np.ndarray, y_score: np.ndarray, draws: np.ndarray, metric) -> float:
    """The fastest of scikit-learn's per-replicate times over `draws`."""
    best = float("inf")
    for rows in draws:
        start = time.perf_counter()
        sklearn_replicate(y_true, y_score, rows, metric)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=14)
    parser.add_argument("--n-boot", type=int, default=1_000)
    parser.add_argument(
        "--ref-reps", type=int, default=20, help="scikit-learn replicates timed; the fastest times --n-boot"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cli = shutil.which("cxrbench", path=str(Path(sys.executable).parent)) or "cxrbench"
    # The CLI as `make` leaves it (the Makefile's bytecode target), so its start does not include compiling sources.
    root = Path(__file__).resolve().parent.parent
    for package in ("bench", "cxrbench"):
        compileall.compile_dir(root / package, quiet=1)

    y_true, y_score = make_data(args.n, args.labels, args.seed, unknown_frac=0.05, decimals=None)
    indices = bootstrap_indices(args.n, args.n_boot, args.seed)
    per_round = max(1, min(args.ref_reps, args.n_boot) // args.repeats)
    # Rounds interleave both sides, so a noisy minute on a shared machine falls on both. Every replicate is the same
    # work, so the fastest one times n_boot is the loop's best case, as the CLI's best run is its own.
    ours = one_thread = auc_rep = ap_rep = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_files(folder, y_true, y_score, patients=None)
        command = [cli, "score", "--task", "classification", "--gt", str(folder / "gt.jsonl")]
        command += ["--pred", str(folder / "pred.jsonl"), "--out", str(folder / "results.json")]
        command += ["--bootstrap", str(args.n_boot), "--seed", str(args.seed), "--cluster", "image"]
        for r in range(args.repeats):
            ours = min(ours, best_time(command, 1))
            one_thread = min(one_thread, best_time(command, 1, env=os.environ | {"CXRBENCH_THREADS": "1"}))
            draws = indices[r * per_round : (r + 1) * per_round]
            auc_rep = min(auc_rep, replicate_time(y_true, y_score, draws, roc_auc_score))
            ap_rep = min(ap_rep, replicate_time(y_true, y_score, draws, average_precision_score))
        results = json.loads((folder / "results.json").read_text())
    help_time = best_time([cli, "--help"], 5)
    ref_reps = per_round * args.repeats
    auc_only = auc_rep * args.n_boot
    same_work = auc_only + ap_rep * args.n_boot

    full = np.arange(args.n)
    sk_macro = float(np.nanmean(sklearn_replicate(y_true, y_score, full, roc_auc_score)))
    ours_macro = results["metrics"]["auc_macro"]["value"]
    print(
        f"macro AUC: cxrbench {ours_macro:.12f}  scikit-learn {sk_macro:.12f}  |diff| {abs(ours_macro - sk_macro):.1e}"
    )
    print()
    print("| path | time | ratio |")
    print("|---|---:|---:|")
    print(
        f"| scikit-learn loop, AUC only, {args.n_boot} replicates (fastest of {ref_reps} x {args.n_boot}) | "
        f"{auc_only:.1f} s | 1 |"
    )
    print(f"| scikit-learn loop, AUC and AP (what `score` reports), same draws | {same_work:.1f} s | 1 |")
    print(
        f"| `cxrbench score` end to end (best of {args.repeats}) | {ours:.2f} s | "
        f"**{auc_only / ours:.0f}x** AUC-only, **{same_work / ours:.0f}x** same work |"
    )
    print(
        f"| same, `CXRBENCH_THREADS=1` (no engine threads) | {one_thread:.2f} s | "
        f"**{auc_only / one_thread:.0f}x** AUC-only, **{same_work / one_thread:.0f}x** same work |"
    )
    print(f"| `cxrbench --help` (best of 5) | {help_time:.3f} s | |")
    print(f"\n{available_cpus()} CPUs available to the engine's threads (default: all of them)")


if __name__ == "__main__":
    main()
