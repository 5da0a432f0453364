"""IMT-CXR / OmniFM-DR text answers: reading + decoding an answers file, and the attribute metrics' bootstrap.

1. `imt-text:` on a synthetic MIMIC-sized answers file (label lists, scored lists, reports, location / severity
   answers) vs the floor of reading it (json.loads of every line): the ratio is the cost of matching + parsing.
2. bench.metrics.attributes.score_attributes (bootstrap through per-image sums) vs scikit-learn's accuracy_score /
   f1_score on each explicitly resampled replicate (same bench.metrics.bootstrap draws; checked to agree).

    .venv/bin/python benchmarks/bench_imt.py --images 20000 --ref-reps 50
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from bench.datasets.attributes import SEVERITY_GRADES
from bench.metrics.attributes import score_attributes
from bench.metrics.bootstrap import bootstrap_counts
from bench.models.base import Sample, TaskSpec
from bench.models.imt_text import ImtTextModel
from bench.records import Record

LABELS = ["No Finding", "Atelectasis", "Cardiomegaly", "Edema", "Pleural Effusion", "Pneumothorax"]
WORDS = ["right", "left", "base", "bibasilar", "mid"]
READ = {
    "right": ["right"],
    "left": ["left"],
    "base": ["basal"],
    "bibasilar": ["bilateral", "basal"],
    "mid": ["middle zone"],
}
SEVERITY = {"small": "mild", "moderate": "moderate", "large": "severe"}


def make_answers(path: Path, n: int, rng: np.random.Generator) -> None:
    with open(path, "w") as out:
        for i in range(n):
            if i % 2:
                answer = ",".join(
                    f"{name}_{rng.uniform(0.5, 1):.4f}" for name in rng.choice(LABELS, 2, replace=False)
                )
            else:
                answer = ", ".join(rng.choice(LABELS, 2, replace=False)).lower() + ", tortuous aorta"
            rows = [
                {"id": f"img{i}", "instruction": "what disease does this image have?", "answer": answer},
                {"id": f"img{i}", "instruction": " describe the image", "answer": "the heart is normal."},
            ]
            for finding in ("Pleural Effusion", "Atelectasis"):
                rows.append(
                    {
                        "id": f"img{i}",
                        "instruction": f"where is {finding.lower()}?",
                        "answer": rng.choice(WORDS),
                    }
                )
                rows.append(
                    {
                        "id": f"img{i}",
                        "instruction": f"what is the level of {finding.lower()}?",
                        "answer": rng.choice(list(SEVERITY)),
                    }
                )
            out.write("".join(json.dumps(r) + "\n" for r in rows))


def make_attributes(n: int, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    gt, pred = [], []
    for _ in range(n):
        g, p = {}, {}
        for finding in rng.choice(LABELS[1:], rng.integers(0, 3), replace=False):
            g[finding] = {"location": READ[rng.choice(WORDS)], "severity": rng.choice(SEVERITY_GRADES)}
            if rng.random() < 0.9:
                p[finding] = {"location": READ[rng.choice(WORDS)], "severity": rng.choice(SEVERITY_GRADES)}
        gt.append(g)
        pred.append(p)
    return gt, pred


def sklearn_replicate(
    gt: list[dict], pred: list[dict], rows: np.ndarray, attribute: str
) -> tuple[float, float]:
    truths, guesses = [], []
    for i in rows:
        for finding, entry in gt[i].items():
            truths.append("|".join(entry[attribute]) if attribute == "location" else entry[attribute])
            guess = pred[i].get(finding, {}).get(attribute)
            guesses.append(("|".join(guess) if attribute == "location" else guess) if guess else "-")
    if attribute == "location":  # every generated location is one of READ's sets: multi-class on the set
        from sklearn.preprocessing import MultiLabelBinarizer

        binarizer = MultiLabelBinarizer().fit(
            [t.split("|") for t in truths] + [g.split("|") for g in guesses]
        )
        y_true = binarizer.transform([t.split("|") for t in truths])
        y_pred = binarizer.transform([g.split("|") if g != "-" else [] for g in guesses])
        present = [j for j in range(y_true.shape[1]) if y_true[:, j].any()]
        return accuracy_score(y_true, y_pred), f1_score(y_true, y_pred, average="macro", labels=present)
    present = sorted(set(truths))
    return accuracy_score(truths, guesses), f1_score(truths, guesses, average="macro", labels=present)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--n-boot", type=int, default=1_000)
    parser.add_argument("--ref-reps", type=int, default=50, help="sklearn replicates timed (extrapolated)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answers.jsonl"
        make_answers(path, args.images, rng)
        t0 = time.perf_counter()
        with open(path) as handle:
            n_lines = sum(1 for line in handle if json.loads(line))
        t_floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = ImtTextModel(str(path))
        t_read = time.perf_counter() - t0
        samples = [
            Sample(Record(id=f"img{i}", image={"width": 512, "height": 512})) for i in range(args.images)
        ]
        spec = TaskSpec(tasks=("classification", "report", "attributes"), labels=LABELS)
        t0 = time.perf_counter()
        model.predict(samples, spec)
        t_predict = time.perf_counter() - t0

    gt, pred = make_attributes(args.images, rng)
    t0 = time.perf_counter()
    result = score_attributes(gt, pred, n_boot=args.n_boot, seed=args.seed)
    t_ours = time.perf_counter() - t0
    counts = bootstrap_counts(args.images, args.n_boot, args.seed)
    reps = min(args.ref_reps, args.n_boot)
    t0 = time.perf_counter()
    for attribute in ("location", "severity"):
        point = sklearn_replicate(gt, pred, np.arange(args.images), attribute)
        assert abs(point[0] - result.metrics[f"{attribute}_accuracy"].value) < 1e-12
        assert abs(point[1] - result.metrics[f"{attribute}_macro_f1"].value) < 1e-12
        for b in range(reps):
            sklearn_replicate(gt, pred, np.repeat(np.arange(args.images), counts[b]), attribute)
    t_ref = (time.perf_counter() - t0) * args.n_boot / reps

    print(f"| step | {args.images} images | reference | ratio |")
    print("|---|---|---|---|")
    print(
        f"| imt-text read + decode ({n_lines} answers) | {t_read + t_predict:.2f} s "
        f"({n_lines / (t_read + t_predict):,.0f} answers/s) | json.loads only {t_floor:.2f} s | "
        f"{(t_read + t_predict) / t_floor:.1f}x |"
    )
    print(
        f"| attribute metrics, {args.n_boot} bootstrap replicates | {t_ours:.2f} s | sklearn per replicate "
        f"{t_ref:.1f} s (from {reps}) | {t_ref / t_ours:.0f}x faster |"
    )


if __name__ == "__main__":
    main()
