"""Clustered 14-label AUC + 1,000-replicate cluster bootstrap (issue 11) against explicit resampling of patients
with scikit-learn, in the same run, on the same draws.

    .venv/bin/python benchmarks/bench_cluster_bootstrap.py [--n 20000 --patients 5000 --ref-reps 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.metrics.bootstrap import bootstrap_indices, cluster_numbers
from bench.metrics.classification import score_classification


def make_data(n: int, n_patients: int, n_labels: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    patients = np.sort(rng.integers(0, n_patients, n))
    prevalence = rng.uniform(0.02, 0.4, n_labels)
    y_patient = (rng.random((n_patients, n_labels)) < prevalence).astype(float)
    y_true = y_patient[patients]
    y_score = (
        rng.normal(size=(n, n_labels)) + 1.5 * y_true + rng.normal(size=(n_patients, n_labels))[patients]
    )
    return y_true, y_score, patients


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--labels", type=int, default=14)
    parser.add_argument("--n-boot", type=int, default=1_000)
    parser.add_argument(
        "--ref-reps", type=int, default=30, help="sklearn replicates timed, then extrapolated"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    y_true, y_score, patients = make_data(args.n, args.patients, args.labels, args.seed)
    clusters = cluster_numbers(patients.tolist())
    names = [f"label_{j}" for j in range(args.labels)]
    t0 = time.perf_counter()
    result = score_classification(
        y_true, y_score, names, n_boot=args.n_boot, seed=args.seed, clusters=clusters
    )
    ours = time.perf_counter() - t0

    # The reference: draw patients (the same generator draws), expand to their rows, run sklearn per label.
    rows_of = [np.flatnonzero(clusters == c) for c in range(int(clusters.max()) + 1)]
    drawn = bootstrap_indices(len(rows_of), args.n_boot, args.seed)
    macro_ref = []
    t0 = time.perf_counter()
    for b in range(args.ref_reps):
        rows = np.concatenate([rows_of[c] for c in drawn[b]])
        aucs = [roc_auc_score(y_true[rows, j], y_score[rows, j]) for j in range(args.labels)]
        macro_ref.append(float(np.mean(aucs)))
    ref = (time.perf_counter() - t0) * args.n_boot / args.ref_reps

    print(f"n={args.n} images in {len(rows_of)} patients, {args.labels} labels, {args.n_boot} replicates\n")
    print("| method | time (s) | speed-up |")
    print("|---|---:|---:|")
    print(
        f"| sklearn, explicit patient resampling (extrapolated from {args.ref_reps} replicates) | {ref:.1f} | 1x |"
    )
    print(
        f"| score_classification with clusters (AUC + AP + Obuchowski + all CIs) | {ours:.2f} | {ref / ours:.0f}x |"
    )
    print(f"\nmacro AUC {result.metrics['auc_macro'].value:.6f}, 95 % CI {result.metrics['auc_macro'].ci95}")


if __name__ == "__main__":
    main()
