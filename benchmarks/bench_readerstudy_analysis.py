"""Time the reader-study statistics against reference tools on the same simulated study.

- OR/DBM variance of net preference vs statsmodels' two-way ANOVA (DBM mean squares) on the same matrix;
- Fleiss' kappa vs statsmodels.stats.inter_rater.fleiss_kappa;
- the whole `analyze_reads` (reference: none; reported for scale).

Usage: python benchmarks/bench_readerstudy_analysis.py [--readers 3 --cases 160 --repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.inter_rater import fleiss_kappa

from readerstudy.analysis import analyze_reads
from readerstudy.analysis.agreement import category_counts, fleiss_kappa_counts
from readerstudy.analysis.mrmc import mean_endpoint_inference
from readerstudy.analysis.simulate import simulate_preference_matrix, simulate_study


def _best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _statsmodels_rrrc_variance(y: np.ndarray) -> float:
    j, n = y.shape
    long = pd.DataFrame({"y": y.ravel(), "r": np.repeat(np.arange(j), n), "c": np.tile(np.arange(n), j)})
    table = anova_lm(ols("y ~ C(r) + C(c)", data=long).fit())
    ms = table["mean_sq"]
    return float((ms["C(r)"] + ms["C(c)"] - ms["Residual"]) / (j * n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--cases", type=int, default=160)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    y, _ = simulate_preference_matrix(args.readers, args.cases, args.seed, 0.4, 0.3, 0.3, 0.8)
    rows = []

    t_ours, inf = _best_of(lambda: mean_endpoint_inference(y), args.repeat)
    t_ref, ref_var = _best_of(lambda: _statsmodels_rrrc_variance(y), args.repeat)
    ours_var = inf.ms_reader / args.readers + inf.cov2  # unbiased form (before truncation at Cov2 >= 0)
    rows.append(("RRRC variance (OR vs DBM ANOVA)", t_ours, t_ref, abs(ours_var - ref_var)))

    table = category_counts(y, [-1.0, 0.0, 1.0])
    t_ours, k_ours = _best_of(lambda: fleiss_kappa_counts(table), args.repeat)
    t_ref, k_ref = _best_of(lambda: fleiss_kappa(table, method="fleiss"), args.repeat)
    rows.append(("Fleiss kappa", t_ours, t_ref, abs(k_ours - k_ref)))

    df = simulate_study(args.readers, args.cases, args.seed, 0.4, 0.3, 0.3, 0.8)
    analyze_reads(df, n_boot=2000)  # warm imports
    t_full, _ = _best_of(lambda: analyze_reads(df, n_boot=2000), max(1, args.repeat // 2))
    rows.append(("analyze_reads (all statistics, 2000 boot)", t_full, float("nan"), float("nan")))

    print(f"study: {args.readers} readers x {args.cases} cases\n")
    print("| computation | ours (ms) | reference (ms) | ratio ref/ours | abs diff |")
    print("|---|---|---|---|---|")
    for name, t_o, t_r, diff in rows:
        ratio = "" if np.isnan(t_r) else f"{t_r / t_o:.1f}x"
        ref = "" if np.isnan(t_r) else f"{1e3 * t_r:.2f}"
        delta = "" if np.isnan(diff) else f"{diff:.1e}"
        print(f"| {name} | {1e3 * t_o:.2f} | {ref} | {ratio} | {delta} |")


if __name__ == "__main__":
    main()
