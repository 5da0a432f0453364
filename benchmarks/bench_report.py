"""Report-generation NLG metrics: pycocoevalcap Bleu/Rouge/Cider vs bench.metrics.report on the same tokens.

    python benchmarks/bench_report.py --n 3000 --boot 1000 --boot-n 500

Prints a Markdown table (reference time, ours, ratio), checks the values are equal (|diff| <= 1e-9), and times
the vectorised bootstrap (BLEU, ROUGE-L, CIDEr-D with per-replicate document frequencies). With Java, also times
the METEOR bootstrap: numpy re-aggregation of the jar's statistics against one jar ``EVAL`` per replicate
(``--meteor-jar-boot`` replicates, values checked equal; ``--no-meteor`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import time

import numpy as np

from bench.metrics.bootstrap import bootstrap_counts
from bench.metrics.report import NlgCorpus
from bench.metrics.report.bleu import bleu_stats, corpus_bleu
from bench.metrics.report.cider import cider_per_case, prepare_cider
from bench.metrics.report.ngrams import count_ngrams
from bench.metrics.report.rouge import rouge_l_per_case

_SENTENCES = [
    "the heart size is {size} .",
    "there is {sev} {finding} in the {side} {zone} .",
    "no {finding} is seen .",
    "the {device} terminates in the {place} .",
    "{sev} {finding} is {change} compared to the prior study .",
    "the mediastinal and hilar contours are {size} .",
    "there is no pneumothorax or pleural effusion .",
    "a {num} cm nodule projects over the {side} {zone} .",
    "osseous structures are {change} with {sev} degenerative changes of the thoracic spine .",
    "lungs are clear without focal consolidation .",
]
_FILL = {
    "size": ["normal", "enlarged", "top normal", "mildly enlarged", "stable"],
    "sev": ["mild", "moderate", "severe", "small", "trace", "large"],
    "finding": ["atelectasis", "consolidation", "effusion", "edema", "opacity", "pneumonia", "scarring"],
    "side": ["left", "right", "bilateral"],
    "zone": ["lower lobe", "upper lobe", "lung base", "apex", "perihilar region", "costophrenic angle"],
    "device": ["endotracheal tube", "right picc line", "enteric tube", "left subclavian catheter"],
    "place": ["mid svc", "stomach", "cavoatrial junction", "right atrium"],
    "change": ["unchanged", "improved", "worsened", "new", "stable"],
    "num": ["1.2", "2.5", "3", "0.8", "4.1"],
}


def synthetic_reports(n: int, seed: int, target_tokens: int = 54) -> list[list[str]]:
    """`n` tokenised radiology-like reports of about `target_tokens` tokens (punctuation removed)."""
    rng = random.Random(seed)
    reports = []
    for _ in range(n):
        tokens: list[str] = []
        while len(tokens) < target_tokens + rng.randint(-12, 12):
            template = rng.choice(_SENTENCES)
            text = template.format(**{k: rng.choice(v) for k, v in _FILL.items()})
            tokens.extend(t for t in text.split() if t != ".")
        reports.append(tokens)
    return reports


def _timed(fn, repeat: int):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000, help="reports for the point-estimate timing")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap replicates")
    parser.add_argument("--boot-n", type=int, default=500, help="reports for the bootstrap timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument("--no-meteor", action="store_true", help="skip the METEOR bootstrap timing")
    parser.add_argument(
        "--meteor-jar-boot", type=int, default=100, help="replicates sent to the jar (reference path)"
    )
    args = parser.parse_args()

    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    hyps = synthetic_reports(args.n, args.seed)
    refs = [[r] for r in synthetic_reports(args.n, args.seed + 1)]
    gts = {i: [" ".join(r) for r in rs] for i, rs in enumerate(refs)}
    res = {i: [" ".join(h)] for i, h in enumerate(hyps)}
    n_cases = len(hyps)
    ref_case = np.arange(n_cases)

    def ref_bleu():
        with contextlib.redirect_stdout(io.StringIO()):
            return Bleu(4).compute_score(gts, res)[0]

    def our_bleu():
        return corpus_bleu(bleu_stats(count_ngrams(hyps + [r[0] for r in refs]), n_cases, ref_case))

    def our_cider():
        return float(
            np.mean(
                cider_per_case(prepare_cider(count_ngrams(hyps + [r[0] for r in refs]), n_cases, ref_case))
            )
        )

    rows = [
        ("BLEU-1..4", ref_bleu, our_bleu),
        (
            "ROUGE-L",
            lambda: Rouge().compute_score(gts, res)[0],
            lambda: float(np.mean(rouge_l_per_case(hyps, refs))),
        ),
        ("CIDEr-D", lambda: Cider().compute_score(gts, res)[0], our_cider),
        ("all three (one NlgCorpus)", None, lambda: NlgCorpus.from_tokens(refs, hyps).metrics()),
    ]
    mean_tokens = np.mean([len(h) for h in hyps])
    print(f"{n_cases} synthetic reports, {mean_tokens:.1f} tokens on average, best of {args.repeat}\n")
    print("| metric | pycocoevalcap (s) | ours (s) | speed-up | max abs diff |")
    print("|---|---:|---:|---:|---:|")
    ref_total = 0.0
    for name, ref_fn, our_fn in rows:
        t_ours, ours = _timed(our_fn, args.repeat)
        if ref_fn is None:
            print(f"| {name} | {ref_total:.3f} | {t_ours:.3f} | {ref_total / t_ours:.1f}x | |")
            continue
        t_ref, ref = _timed(ref_fn, args.repeat)
        ref_total += t_ref
        diff = float(np.max(np.abs(np.atleast_1d(np.asarray(ref, dtype=float)) - np.atleast_1d(ours))))
        if diff > 1e-9:
            raise SystemExit(f"{name}: values differ by {diff}")
        print(f"| {name} | {t_ref:.3f} | {t_ours:.3f} | {t_ref / t_ours:.1f}x | {diff:.1e} |")

    boot_hyps, boot_refs = hyps[: args.boot_n], refs[: args.boot_n]
    corpus = NlgCorpus.from_tokens(boot_refs, boot_hyps)
    counts = bootstrap_counts(len(boot_hyps), args.boot, args.seed)
    t_boot, reps = _timed(lambda: corpus.bootstrap(counts), args.repeat)
    print(
        f"\nbootstrap: {args.boot} replicates x {len(boot_hyps)} reports (BLEU-1..4, ROUGE-L, CIDEr-D with "
        f"per-replicate DF): {t_boot:.2f} s; CIDEr-D 95% interval "
        f"[{np.percentile(reps['cider'], 2.5):.4f}, {np.percentile(reps['cider'], 97.5):.4f}]"
    )

    if not args.no_meteor:
        _bench_meteor(boot_refs, boot_hyps, counts, args.meteor_jar_boot, args.repeat)


def _bench_meteor(
    refs: list[list[list[str]]], hyps: list[list[str]], counts: np.ndarray, jar_boot: int, repeat: int
) -> None:
    from bench.metrics.report.meteor import MeteorJar, meteor, meteor_bootstrap, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"\nMETEOR skipped: {reason}")
        return
    n_boot, n_cases = counts.shape
    jar_counts = counts[: min(jar_boot, n_boot)]
    with MeteorJar(timeout_s=600) as jar:
        start = time.perf_counter()
        result = meteor(
            [[" ".join(r) for r in rs] for rs in refs],
            [" ".join(h) for h in hyps],
            tokenize_first=False,
            jar=jar,
        )
        t_point = time.perf_counter() - start
        t_jar, via_jar = _timed(lambda: meteor_bootstrap(result, jar_counts, jar=jar, via_jar=True), 1)
    t_numpy, via_numpy = _timed(lambda: meteor_bootstrap(result, counts), repeat)
    diff = float(np.max(np.abs(via_numpy[: len(jar_counts)] - via_jar)))
    if diff > 1e-9:
        raise SystemExit(f"METEOR bootstrap: numpy and jar replicates differ by {diff}")
    per_jar, per_numpy = t_jar / len(jar_counts), t_numpy / n_boot
    print(
        f"\nMETEOR ({n_cases} reports; point estimate incl. JVM start and paraphrase table: {t_point:.1f} s)\n\n"
        "| METEOR bootstrap | jar, one EVAL per replicate (s) | numpy (s) | speed-up | max abs diff |\n"
        "|---|---:|---:|---:|---:|\n"
        f"| {n_boot} replicates x {n_cases} reports | {t_jar:.2f} for {len(jar_counts)} "
        f"(= {per_jar * n_boot:.1f} for {n_boot}) | {t_numpy:.4f} | {per_jar / per_numpy:.0f}x | {diff:.1e} |"
    )


if __name__ == "__main__":
    main()
