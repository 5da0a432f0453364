"""Demo JSRT: raw 12-bit big-endian .IMG images, CLNDAT_EN.txt, SCR GIF masks at half resolution per fold."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, rng_for
from bench.datasets.demo.writers import save_jsrt_img, save_mask
from bench.datasets.jsrt import ORIGINAL_SIDE, PIXEL_MM, _fold_of
from bench.datasets.vocabulary import STRUCTURES

NAME = "jsrt"


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    n_nodule = n * 154 // 247
    lines = []
    to_original = ORIGINAL_SIDE / IMAGE_SIZE
    for index in range(n):
        nodule = index < n_nodule
        stem = f"JPCLN{index + 1:03d}" if nodule else f"JPCNN{index - n_nodule + 1:03d}"
        case = synth_case(rng, IMAGE_SIZE, ["Nodule"], p_normal=0.0 if nodule else 1.0, max_findings=1)
        save_jsrt_img(out / "All247images" / f"{stem}.IMG", case.image)
        for structure in STRUCTURES:
            half = case.masks[structure][::2, ::2]  # SCR masks are half the image resolution
            save_mask(out / "scr" / _fold_of(stem) / "masks" / structure / f"{stem}.gif", half, fmt="GIF")
        if nodule:
            x0, y0, x1, y1 = case.findings[0].bbox
            size_mm = max(x1 - x0, y1 - y0) * to_original * PIXEL_MM
            cx, cy = (x0 + x1) / 2 * to_original, (y0 + y1) / 2 * to_original
            sex = "male" if case.sex == "M" else "female"
            lines.append(
                f"{stem}.IMG\t{int(rng.integers(1, 6))}\t{size_mm:.0f}\t{case.age}\t{sex}\t{cx:.0f}\t{cy:.0f}\tmalignant\tlung cancer\tr.upper lobe"
            )
    (out / "CLNDAT_EN.txt").write_text("\n".join(lines) + "\n", encoding="latin-1")
