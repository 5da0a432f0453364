"""Bootstrap CI for multi-label AUC: scikit-learn in a Python loop vs bench.metrics.classification.

Same synthetic data, same seeded resamples (bench.metrics.bootstrap) for both; checks the point estimates
and the replicates agree with sklearn, then prints a Markdown table.

    .venv/bin/python benchmarks/bench_classification.py --ref-reps 100
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices
from bench.metrics.classification import bootstrap_auc_ap, per_label_auc_ap, score_classification


def make_data(n: int, n_labels: int, seed: int, unknown_frac: float, decimals: int | None):
    rng = np.random.default_rng(seed)
    prevalence = rng.uniform(0.02, 0.4, n_labels)
    y_true = (rng.random((n, n_labels)) < prevalence).astype(np.float64)
    logits = rng.normal(size=(n, n_labels)) + 1.5 * y_true
    y_score = 1.0 / (1.0 + np.exp(-logits))
    if decimals is not None:
        y_score = np.round(y_score, decimals)
    y_true[rng.random((n, n_labels)) < unknown_frac] = np.nan
    return y_true, y_score


def sklearn_replicate(y_true: np.ndarray, y_score: np.ndarray, idx: np.ndarray, metric) -> np.ndarray:
    out = np.full(y_true.shape[1], np.nan)
    yy, ss = y_true[idx], y_score[idx]
    for j in range(y_true.shape[1]):
        known = ~np.isnan(yy[:, j])
        y, s = yy[known, j], ss[known, j]
        if 0 < y.sum() < y.size:
            out[j] = metric(y, s)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=14)
    parser.add_argument("--n-boot", type=int, default=1_000)
    parser.add_argument(
        "--ref-reps",
        type=int,
        default=None,
        help="sklearn replicates actually timed (default: all n-boot); the time is extrapolated linearly",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unknown-frac", type=float, default=0.05, help="fraction of NaN (unknown) labels")
    parser.add_argument("--decimals", type=int, default=None, help="round scores (creates ties)")
    parser.add_argument("--repeats", type=int, default=3, help="our timing: best of this many runs")
    args = parser.parse_args()
    ref_reps = min(args.n_boot, args.ref_reps or args.n_boot)

    y_true, y_score = make_data(args.n, args.labels, args.seed, args.unknown_frac, args.decimals)
    names = [f"label_{j}" for j in range(args.labels)]

    ours_total = ours_kernel = ours_counts = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = score_classification(y_true, y_score, names, n_boot=args.n_boot, seed=args.seed)
        ours_total = min(ours_total, time.perf_counter() - t0)
        t0 = time.perf_counter()
        counts = bootstrap_counts(args.n, args.n_boot, args.seed)
        ours_counts = min(ours_counts, time.perf_counter() - t0)
        t0 = time.perf_counter()
        boot_auc, boot_ap = bootstrap_auc_ap(y_true, y_score, counts)
        ours_kernel = min(ours_kernel, time.perf_counter() - t0)
        del counts

    indices = bootstrap_indices(args.n, args.n_boot, args.seed)
    t0 = time.perf_counter()
    ref_auc = np.array(
        [sklearn_replicate(y_true, y_score, indices[r], roc_auc_score) for r in range(ref_reps)]
    )
    ref_elapsed = time.perf_counter() - t0
    ref_total = ref_elapsed * args.n_boot / ref_reps

    auc, ap = per_label_auc_ap(y_true, y_score)
    all_rows = np.arange(args.n)
    point_auc = sklearn_replicate(y_true, y_score, all_rows, roc_auc_score)
    point_ap = sklearn_replicate(y_true, y_score, all_rows, average_precision_score)
    rep0_ap = sklearn_replicate(y_true, y_score, indices[0], average_precision_score)
    d_point = max(np.nanmax(np.abs(auc - point_auc)), np.nanmax(np.abs(ap - point_ap)))
    d_rep_auc = np.nanmax(np.abs(boot_auc[:ref_reps] - ref_auc))
    d_rep_ap = np.nanmax(np.abs(boot_ap[0] - rep0_ap))
    macro_ref = np.nanmean(ref_auc, axis=1)
    d_macro = np.nanmax(np.abs(np.nanmean(boot_auc[:ref_reps], axis=1) - macro_ref))

    extrapolated = f" (extrapolated from {ref_reps} replicates)" if ref_reps < args.n_boot else ""
    print(
        f"n={args.n}, labels={args.labels}, replicates={args.n_boot}, seed={args.seed}, "
        f"unknown_frac={args.unknown_frac}, decimals={args.decimals}\n"
    )
    print("| method | time (s) | speed-up |")
    print("|---|---:|---:|")
    print(f"| sklearn roc_auc_score loop, AUC only{extrapolated} | {ref_total:.1f} | 1x |")
    print(
        f"| score_classification (counts + AUC + AP + DeLong + CIs) | {ours_total:.2f} | "
        f"{ref_total / ours_total:.0f}x |"
    )
    print(
        f"| bootstrap_auc_ap (AUC + AP, given counts) | {ours_kernel:.2f} | {ref_total / ours_kernel:.0f}x |"
    )
    print(f"| bootstrap_counts alone (shared helper) | {ours_counts:.2f} | |")
    print()
    print(f"max |delta| point estimates (per-label AUC and AP vs sklearn): {d_point:.2e}")
    print(
        f"max |delta| per-label AUC over {ref_reps} replicates vs sklearn on resampled rows: {d_rep_auc:.2e}"
    )
    print(f"max |delta| macro AUC over {ref_reps} replicates: {d_macro:.2e}")
    print(f"max |delta| per-label AP, replicate 0 vs sklearn on resampled rows: {d_rep_ap:.2e}")
    print(f"auc_macro = {result.metrics['auc_macro'].value:.6f}, 95% CI {result.metrics['auc_macro'].ci95}")


if __name__ == "__main__":
    main()
