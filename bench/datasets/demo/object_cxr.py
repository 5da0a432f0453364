"""Demo object-CXR: train.csv / dev.csv with box (0), ellipse (1) and polygon (2) annotations, JPEGs."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, rng_for
from bench.datasets.demo.writers import save_jpeg, write_csv

NAME = "object-cxr"


def _annotation(finding) -> str:
    x0, y0, x1, y1 = finding.bbox
    if finding.shape == 2:
        return "2 " + " ".join(f"{v:.0f}" for point in finding.polygon for v in point)
    return f"{finding.shape} {x0:.0f} {y0:.0f} {x1:.0f} {y1:.0f}"


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    rows = {"train": [], "dev": []}
    for index in range(n):
        split = "dev" if rng.random() < 0.3 else "train"
        name = f"{index + 1:05d}.jpg"
        case = synth_case(rng, IMAGE_SIZE, ["Foreign Object"], p_normal=0.5, max_findings=1)
        save_jpeg(out / split / name, case.image)
        rows[split].append([name, ";".join(_annotation(f) for f in case.findings)])
    for split, split_rows in rows.items():
        write_csv(out / f"{split}.csv", ["image_name", "annotation"], split_rows)
