"""`cxrbench compare` (issue 11): a 14-label classification compare of two models at n = 20,000 images in 5,000
patients, 1,000 paired-bootstrap replicates and 1,000 approximate-randomization permutations, at the image and the
patient unit.

    .venv/bin/python benchmarks/bench_compare_clusters.py [--n 20000 --patients 5000 --n-boot 1000 --n-perm 1000]
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.run.compare import compare_files


def write_files(folder: Path, n: int, n_patients: int, n_labels: int, seed: int) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    patients = np.sort(rng.integers(0, n_patients, n))
    prevalence = rng.uniform(0.02, 0.4, n_labels)
    y = (rng.random((n_patients, n_labels)) < prevalence).astype(float)[patients]
    shared = rng.normal(size=(n_patients, n_labels))[patients]
    s_a = 1.0 / (1.0 + np.exp(-(rng.normal(size=(n, n_labels)) + 1.5 * y + shared)))  # probabilities
    s_b = 1.0 / (1.0 + np.exp(-(rng.normal(size=(n, n_labels)) + 1.4 * y + shared)))
    names = [f"label_{j}" for j in range(n_labels)]

    def write(path: Path, rows: list[dict]) -> Path:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    gt = write(
        folder / "gt.jsonl",
        [
            {
                "id": f"i{i}",
                "labels": dict(zip(names, y[i].tolist(), strict=True)),
                "meta": {"patient": f"p{p}"},
            }
            for i, p in enumerate(patients)
        ],
    )
    preds = [
        write(
            folder / f"{tag}.jsonl",
            [{"id": f"i{i}", "labels": dict(zip(names, s[i].tolist(), strict=True))} for i in range(n)],
        )
        for tag, s in (("a", s_a), ("b", s_b))
    ]
    return gt, preds[0], preds[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--labels", type=int, default=14)
    parser.add_argument("--n-boot", type=int, default=1_000)
    parser.add_argument("--n-perm", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clustered = "cluster" in inspect.signature(compare_files).parameters
    with tempfile.TemporaryDirectory() as tmp:
        gt, a, b = write_files(Path(tmp), args.n, args.patients, args.labels, args.seed)
        print(f"n={args.n} images in {args.patients} patients, {args.labels} labels, "
              f"{args.n_boot} bootstrap replicates, {args.n_perm} permutations\n")  # fmt: skip
        print(
            "| unit | paired bootstrap + AR + per-label AUC test (s) | diff | 95 % CI | p (boot) | p (AR) |"
        )
        print("|---|---:|---:|---|---:|---:|")
        for unit in ("image", "patient") if clustered else ("image",):
            kwargs = {"cluster": unit} if clustered else {}
            t0 = time.perf_counter()
            res = compare_files("classification", gt, a, b, Path(tmp) / "c.json", n_boot=args.n_boot,
                                n_perm=args.n_perm, seed=args.seed, **kwargs)  # fmt: skip
            took = time.perf_counter() - t0
            c = res["comparisons"]["auc_macro"]
            lo, hi = c["paired_bootstrap"]["ci95"]
            print(f"| {unit} | {took:.1f} | {c['diff']:+.4f} | [{lo:+.4f}, {hi:+.4f}] | "
                  f"{c['paired_bootstrap']['p_value']:.4g} | {c['approximate_randomization']['p_value']:.4g} |")  # fmt: skip


if __name__ == "__main__":
    main()
