"""Demo writer shared by the Shenzhen and Montgomery generators (CXR_png/, ClinicalReadings/, masks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.datasets.demo.anatomy import Case, synth_case
from bench.datasets.demo.common import IMAGE_SIZE, rng_for
from bench.datasets.demo.reports import sentence
from bench.datasets.demo.writers import save_png, write_file


def write_set(
    out: Path, name: str, stems: list[str], seed: int, write_masks: Callable[[Path, str, Case, int], None]
) -> None:
    rng = rng_for(name, seed)
    for index, stem in enumerate(stems):
        tb = stem.endswith("_1")
        case = synth_case(rng, IMAGE_SIZE, ["Tuberculosis"], p_normal=0.0 if tb else 1.0, max_findings=1)
        save_png(out / "CXR_png" / f"{stem}.png", case.image)
        sex = "male" if case.sex == "M" else "female"
        reading = " ".join(sentence(f) for f in case.findings) if tb else "normal"
        write_file(out / "ClinicalReadings" / f"{stem}.txt", f"{sex} {case.age}yrs\n{reading}\n".encode())
        write_masks(out, stem, case, index)
