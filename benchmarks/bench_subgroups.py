"""Subgroup engine (bench.run.subgroups) vs a scikit-learn loop per group on the same joint draws.

20,000 images x 14 labels (+ No Finding), patients of ~2 images, 3 fields (sex, age_bin, view), 1,000 replicates.
The engine's time is `cxrbench score --subgroups` minus plain `cxrbench score` (both through build_results on the
same files). The reference recomputes every group's per-label AUC / AP with sklearn on the rows
np.repeat(group rows, counts[b, group rows]) of the same (B, n) matrix; it runs `--ref-reps` replicates, checks
they equal the engine's, and is extrapolated linearly to all replicates.

    .venv/bin/python benchmarks/bench_subgroups.py --ref-reps 5
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.metrics.bootstrap import bootstrap_counts
from bench.metrics.subgroups import classification_estimates
from bench.run.align import align, classification_arrays
from bench.run.score import ScoreSettings, build_results, resolve_cluster
from bench.run.subgroups import assign_groups

FIELDS = ["sex", "age_bin", "view"]


def write_files(folder: Path, n: int, n_labels: int, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    names = [f"L{j}" for j in range(n_labels)]
    prevalence = rng.uniform(0.02, 0.3, n_labels)
    y = (rng.random((n, n_labels)) < prevalence).astype(int)
    score = np.round(1 / (1 + np.exp(-(rng.normal(size=y.shape) + 1.5 * y))), 4)
    nofinding = (y.sum(axis=1) == 0).astype(int)
    nf_score = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * nofinding))), 4)
    gt, pred = folder / "gt.jsonl", folder / "pred.jsonl"
    with gt.open("w") as g, pred.open("w") as p:
        for i in range(n):
            meta = {
                "patient": f"p{i // 2}",
                "sex": "FM"[rng.integers(2)],
                "view": ["PA", "AP", "LL"][rng.integers(3)],
            }
            if rng.random() > 0.02:
                meta["age"] = int(rng.integers(1, 95))
            truth = dict(zip(names, y[i].tolist(), strict=True)) | {"No Finding": int(nofinding[i])}
            scores = dict(zip(names, score[i].tolist(), strict=True)) | {"No Finding": float(nf_score[i])}
            g.write(json.dumps({"id": f"i{i}", "labels": truth, "meta": meta}) + "\n")
            p.write(json.dumps({"id": f"i{i}", "labels": scores}) + "\n")
    return gt, pred


def sklearn_group(
    y: np.ndarray, s: np.ndarray, rows: np.ndarray, counts: np.ndarray, reps: int
) -> np.ndarray:
    """(reps, 2) macro AUC and AP of one group, sklearn on the explicitly resampled rows."""
    out = np.full((reps, 2), np.nan)
    for b in range(reps):
        idx = np.repeat(rows, counts[b, rows])
        aucs, aps = [], []
        for j in range(y.shape[1]):
            known = ~np.isnan(y[idx, j])
            yy, ss = y[idx, j][known], s[idx, j][known]
            if 0 < yy.sum() < yy.size:
                aucs.append(roc_auc_score(yy, ss))
                aps.append(average_precision_score(yy, ss))
        out[b] = np.mean(aucs), np.mean(aps)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=14)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--ref-reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gt, pred = write_files(Path(tmp), args.n, args.labels, seed=0)
        plain = ScoreSettings(n_boot=args.boot)
        grouped = ScoreSettings(n_boot=args.boot, subgroups=FIELDS)
        t0 = time.perf_counter()
        build_results("classification", gt, pred, plain)
        t_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = build_results("classification", gt, pred, grouped)
        t_grouped = time.perf_counter() - t0
        t_engine = t_grouped - t_plain

        data = align("classification", gt, pred)
        y, s, _ = classification_arrays(data)
        counts = bootstrap_counts(len(data.gt), args.boot, 0, clusters=resolve_cluster(data, None).clusters)
        groups = assign_groups(data, grouped)
        n_groups, t_ref, max_diff = 0, 0.0, 0.0
        for field in FIELDS:
            values = np.asarray(groups[field], dtype=object)
            for group in sorted(set(groups[field])):
                rows = np.flatnonzero(values == group)
                n_groups += 1
                t0 = time.perf_counter()
                ref = sklearn_group(y, s, rows, counts, args.ref_reps)
                t_ref += time.perf_counter() - t0
                est, _, _ = classification_estimates(y[rows], s[rows], counts[: args.ref_reps, rows])
                engine = np.stack([est["auc_macro"].reps, est["ap_macro"].reps], axis=1)
                max_diff = max(max_diff, float(np.nanmax(np.abs(engine - ref))))
        t_ref_all = t_ref * args.boot / args.ref_reps
    print(f"| data | {args.n} images x {args.labels + 1} labels, {len(FIELDS)} fields, {n_groups} groups, "
          f"{args.boot} replicates |")  # fmt: skip
    print("|---|---|")
    print(f"| plain score (overall CIs) | {t_plain:.1f} s |")
    print(f"| score --subgroups | {t_grouped:.1f} s |")
    print(f"| subgroup engine (difference) | {t_engine:.1f} s |")
    print(f"| sklearn loop per group, same draws ({args.ref_reps} reps measured, x{args.boot // args.ref_reps}) | "
          f"{t_ref_all:.0f} s |")  # fmt: skip
    print(f"| ratio sklearn / engine | {t_ref_all / t_engine:.0f}x |")
    print(f"| max abs difference engine vs sklearn (macro AUC, AP) | {max_diff:.1e} |")
    fields = results["subgroups"]["fields"]
    print(f"| pairwise tests written | {sum(len(f['pairwise']) for f in fields.values())} |")


if __name__ == "__main__":
    main()
