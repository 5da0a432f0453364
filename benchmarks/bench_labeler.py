"""Report labeler throughput and Open-i dev accuracy; CE metrics vs scikit-learn.

Prints Markdown: (1) labeler reports/s (single core) on the Open-i reports; (2) per-label
precision / recall / F1 of the `chestxray14` labels against NegBio's Open-i dev gold labels
(positive iff the labeler says 1: uncertain counts as negative), with a bootstrap CI for micro-F1;
(3) agreement with the CheXpert labeler's own sample output; (4) `ce_metrics` + `ce_bootstrap`
timed against scikit-learn on synthetic labels, with values checked equal.

    .venv/bin/python benchmarks/bench_labeler.py [--data-dir /work/shared/data] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from bench.metrics.bootstrap import bootstrap_counts, bootstrap_indices, percentile_ci
from bench.metrics.clinical_efficacy import CE_METRIC_NAMES, ce_bootstrap, ce_metrics
from bench.metrics.labeler import LABELER_VERSION, LABELSETS, label_reports
from bench.metrics.labeler.openi import read_openi_gold, read_openi_reports
from bench.metrics.labeler.rules import clause_breaks

REPO = Path(__file__).resolve().parents[1]


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def throughput(reports: list[str], repeats: int) -> None:
    print(f"## Labeler throughput ({LABELER_VERSION}, {len(reports)} Open-i reports, one core)\n")
    print("CPU time of this process (best of runs, sentence cache cleared before each) and wall time.\n")
    print("| label set | CPU s | reports/s (CPU) | wall s | reports/s (wall) |\n|---|---:|---:|---:|---:|")
    for labelset in LABELSETS:
        label_reports(reports[:20], labelset)  # compile patterns outside the timing
        best_cpu = best_wall = float("inf")
        for _ in range(repeats):
            clause_breaks.cache_clear()
            cpu, wall = time.process_time(), time.perf_counter()
            label_reports(reports, labelset)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
        print(
            f"| {labelset} | {best_cpu:.3f} | {len(reports) / best_cpu:,.0f} | {best_wall:.3f} "
            f"| {len(reports) / best_wall:,.0f} |"
        )
    print()


def openi_accuracy(reports: dict[str, str], gold_path: Path, n_boot: int, seed: int) -> None:
    keys, names, gold = read_openi_gold(gold_path)
    predicted = (label_reports([reports[k] for k in keys], "chestxray14") == 1).astype(int)
    p, r, f, support = precision_recall_fscore_support(
        gold, predicted, average=None, zero_division=0, labels=range(len(names))
    )
    print(f"## Open-i dev ({len(keys)} reports): `chestxray14` labels vs NegBio gold (1 = positive)\n")
    print("| finding | gold positives | predicted positives | precision | recall | F1 |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, name in enumerate(names):
        print(f"| {name} | {support[i]} | {predicted[:, i].sum()} | {p[i]:.3f} | {r[i]:.3f} | {f[i]:.3f} |")
    micro = precision_recall_fscore_support(gold, predicted, average="micro", zero_division=0)
    # ce_metrics treats the gold file as reference labels; its micro numbers are the same quantity.
    reps = ce_bootstrap(
        gold.astype(float), predicted.astype(float), bootstrap_counts(len(keys), n_boot, seed)
    )
    ci = percentile_ci(reps["ce_micro_f1"])
    ci_text = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f}, {n_boot} bootstrap resamples of reports)" if ci else ""
    print(
        f"| **micro** | {gold.sum()} | {predicted.sum()} | {micro[0]:.3f} | {micro[1]:.3f} | {micro[2]:.3f} |\n"
    )
    print(f"micro-F1 {micro[2]:.4f}{ci_text}.")
    hernia = names.index("Hernia")
    keep = [i for i in range(len(names)) if i != hernia]
    without = precision_recall_fscore_support(
        gold[:, keep], predicted[:, keep], average="micro", zero_division=0
    )
    print(
        f"The gold file has no Hernia positives although {predicted[:, hernia].sum()} reports state a hernia "
        f"(mostly hiatal); micro-F1 over the other 13 findings: {without[2]:.4f}.\n"
    )


def chexpert_samples(samples_dir: Path) -> None:
    with open(samples_dir / "labeled_reports.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    expected = np.array([[float(v) if v else np.nan for v in row[1:]] for row in rows])
    got = label_reports([row[0] for row in rows], "chexpert")
    agree = (got == expected) | (np.isnan(got) & np.isnan(expected))
    print(f"## Agreement with the CheXpert labeler's sample output ({len(rows)} reports x 14)\n")
    print("| observation | agreeing reports |\n|---|---:|")
    for i, name in enumerate(header[1:]):
        print(f"| {name} | {agree[:, i].sum()}/{len(rows)} |")
    print(f"| **all cells** | {agree.sum()}/{agree.size} |\n")


def ce_speed(n: int, n_boot: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = LABELSETS["chexpert"]
    ref = rng.choice([1.0, 0.0, -1.0, np.nan], size=(n, 14), p=[0.2, 0.4, 0.1, 0.3])
    hyp = rng.choice([1.0, 0.0, -1.0, np.nan], size=(n, 14), p=[0.2, 0.4, 0.1, 0.3])
    gt, pred = (ref == 1).astype(int), (hyp == 1).astype(int)

    def sklearn_point() -> dict[str, float]:
        out = {}
        for average in ("micro", "macro"):
            p, r, f, _ = precision_recall_fscore_support(gt, pred, average=average, zero_division=0)
            out |= {f"ce_{average}_precision": p, f"ce_{average}_recall": r, f"ce_{average}_f1": f}
        return out

    ours, theirs = ce_metrics(ref, hyp, names), sklearn_point()
    point_diff = max(abs(ours[k] - theirs[k]) for k in CE_METRIC_NAMES)
    t_ours = _best_of(lambda: ce_metrics(ref, hyp, names), 5)
    t_sk = _best_of(sklearn_point, 5)

    idx = bootstrap_indices(n, n_boot, seed)
    counts = bootstrap_counts(n, n_boot, seed)
    start = time.perf_counter()
    reps = ce_bootstrap(ref, hyp, counts)
    t_boot = time.perf_counter() - start
    start = time.perf_counter()
    loop = np.array(
        [
            precision_recall_fscore_support(gt[i], pred[i], average="micro", zero_division=0)[2]
            for i in idx[: max(1, n_boot // 10)]
        ]
    )
    t_loop = (time.perf_counter() - start) * n_boot / len(loop)
    boot_diff = float(np.max(np.abs(reps["ce_micro_f1"][: len(loop)] - loop)))
    print(f"## CE metrics vs scikit-learn ({n} reports x 14 labels, synthetic)\n")
    print("| what | cxrbench (s) | sklearn (s) | speed-up | max abs diff |\n|---|---:|---:|---:|---:|")
    print(f"| six CE metrics | {t_ours:.4f} | {t_sk:.4f} | {t_sk / t_ours:.1f}x | {point_diff:.1e} |")
    print(
        f"| {n_boot} bootstrap replicates | {t_boot:.4f} | {t_loop:.2f} (micro-F1 only, loop, extrapolated) "
        f"| {t_loop / t_boot:.0f}x | {boot_diff:.1e} |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ce-reports", type=int, default=5000)
    args = parser.parse_args()

    openi_dir = args.data_dir / "reports" / "iu_xray_openi"
    reports = read_openi_reports(openi_dir / "NLMCXR_reports.tgz")
    throughput(list(reports.values()), args.repeats)
    openi_accuracy(reports, openi_dir / "openi_gold_labels_dev.csv", args.n_boot, args.seed)
    chexpert_samples(args.data_dir / "reports" / "chexpert_labeler_samples")
    ce_speed(args.ce_reports, args.n_boot, args.seed)


if __name__ == "__main__":
    main()
