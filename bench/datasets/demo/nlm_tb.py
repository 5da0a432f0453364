"""Demo writer shared by the Shenzhen and Montgomery generators: the images, and a callback per image for the
dataset's own clinical reading and mask files (each generator takes those from its fact sheet)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from bench.datasets.demo.anatomy import Case, synth_case
from bench.datasets.demo.common import IMAGE_SIZE, rng_for
from bench.datasets.demo.writers import save_png
from bench.datasets.factsheet import fact


def quoted(text: str) -> list[str]:
    """The quoted examples of a fact value ("e.g. 'normal' or 'bilateral secondary PTB'")."""
    return re.findall(r"'([^']*)'", text)


def label_digit(name: str, label: str) -> int:
    """The file-name digit of a label (fact `image_name_pattern` label_digit: {"0": normal, "1": tuberculosis})."""
    digits = fact(name, "image_name_pattern")["label_digit"]
    return int(next(d for d, meaning in digits.items() if meaning == label))


def write_set(
    out: Path,
    name: str,
    numbers: list[tuple[int, int]],
    seed: int,
    image_dir: str,
    write_extra: Callable[[Path, str, Case, int, bool], None],
    image_mode: Callable[[int], str] = lambda index: "L",
) -> None:
    """One image per (number, label digit) under `image_dir`, named by the fact's pattern."""
    rng = rng_for(name, seed)
    pattern = fact(name, "image_name_pattern")["pattern"]  # e.g. CHNCXR_%04d_%d.png
    tb_digit = label_digit(name, "tuberculosis")
    for index, (number, digit) in enumerate(numbers):
        tb = digit == tb_digit
        file_name = pattern % (number, digit)
        case = synth_case(rng, IMAGE_SIZE, ["Tuberculosis"], p_normal=0.0 if tb else 1.0, max_findings=1)
        save_png(out / image_dir / file_name, case.image, image_mode(index))
        write_extra(out, Path(file_name).stem, case, index, tb)
