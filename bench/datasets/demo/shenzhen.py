"""Demo Shenzhen: CXR_png/CHNCXR_NNNN_X.png, ClinicalReadings/, mask/*_mask.png for most images."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.demo.anatomy import Case
from bench.datasets.demo.nlm_tb import write_set
from bench.datasets.demo.writers import save_mask

NAME = "shenzhen"


def _masks(out: Path, stem: str, case: Case, index: int) -> None:
    if index % 7 != 3:  # the published masks cover 566 of 662 images
        save_mask(out / "mask" / f"{stem}_mask.png", case.masks["left lung"] | case.masks["right lung"])


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    normal = n * 326 // 662
    stems = [f"CHNCXR_{i + 1:04d}_0" for i in range(normal)] + [
        f"CHNCXR_{327 + i:04d}_1" for i in range(n - normal)
    ]
    write_set(out, NAME, stems, seed, _masks)
