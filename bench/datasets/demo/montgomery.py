"""Demo Montgomery: CXR_png/MCUCXR_NNNN_X.png, ManualMask/{leftMask,rightMask}/, ClinicalReadings/."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.demo.anatomy import Case
from bench.datasets.demo.nlm_tb import write_set
from bench.datasets.demo.writers import save_mask

NAME = "montgomery"


def _masks(out: Path, stem: str, case: Case, index: int) -> None:
    save_mask(out / "ManualMask" / "leftMask" / f"{stem}.png", case.masks["left lung"])
    save_mask(out / "ManualMask" / "rightMask" / f"{stem}.png", case.masks["right lung"])


def write(out: Path, n: int = 138, seed: int = 0) -> None:
    normal = n * 80 // 138
    stems = [f"MCUCXR_{i + 1:04d}_0" for i in range(normal)] + [
        f"MCUCXR_{i + 1:04d}_1" for i in range(normal, n)
    ]
    write_set(out, NAME, stems, seed, _masks)
