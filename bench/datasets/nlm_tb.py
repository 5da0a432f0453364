"""Shared reading of the two NLM tuberculosis sets (Jaeger et al., QIMS 2014): Shenzhen and Montgomery.

Neither has an official split: cxrbench ships a seeded patient-level split (bench/datasets/splits/<name>.json,
one image per patient): bucket = sha256('cxrbench-split-v1:<dataset>:<patient>') -> train 70 % / val 10 % /
test 20 %. The file lists the assignment of every known patient id; ids not in it follow the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.datasets.base import LayoutError
from bench.datasets.io import image_size, shipped_split, split_of

FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


def reading(path: Path) -> dict[str, Any]:
    """ClinicalReadings/<stem>.txt: sex and age on the first line(s), then the radiologist's reading."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="latin-1")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sex = next(
        (m.group(1).upper()[0] for m in (re.search(r"\b(male|female)\b", line, re.I) for line in lines) if m),
        None,
    )
    age = next((int(m.group(1)) for m in (re.search(r"(\d+)\s*y", line, re.I) for line in lines) if m), None)
    finding = " ".join(
        line for line in lines if not re.search(r"\b(male|female)\b|\bage\b|^\s*\d+\s*y", line, re.I)
    )
    return {"sex": sex, "age": age, "reading": finding or None}


def images(
    root: Path, dataset: str, prefix: str, split: str, fix: str
) -> Iterator[tuple[Path, str, int, tuple[int, int]]]:
    """(path, patient, tb label, (width, height)) of the split's images in CXR_png/."""
    folder = root / "CXR_png"
    if not folder.is_dir():
        raise LayoutError(folder, "image folder not found", fix=fix)
    shipped = shipped_split(dataset)
    found = False
    for path in sorted(folder.glob(f"{prefix}_*.png")):
        match = re.fullmatch(rf"({prefix}_\d+)_([01])", path.stem)
        if match is None:
            raise LayoutError(path, f"file name is not {prefix}_NNNN_0|1.png", fix=fix)
        found = True
        if split_of(dataset, match.group(1), shipped) == split:
            yield path, match.group(1), int(match.group(2)), image_size(path)
    if not found:
        raise LayoutError(folder, f"no {prefix}_NNNN_0|1.png images", fix=fix)
