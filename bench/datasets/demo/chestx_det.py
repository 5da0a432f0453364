"""Demo ChestX-Det: ChestX_Det_{train,test}.json ({file_name, syms, boxes, polygons}) and PNGs in *_data/."""

from __future__ import annotations

import json
from pathlib import Path

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, publisher_name, rng_for
from bench.datasets.demo.writers import save_png
from bench.datasets.vocabulary import CHESTX_DET

NAME = "chestx-det"
POOL = sorted(set(CHESTX_DET.values()) - {"Fracture"})


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    entries: dict[str, list[dict]] = {"train": [], "test": []}
    for index in range(n):
        split = "test" if rng.random() < 0.3 else "train"
        file_name = f"{36000 + index}.png"
        case = synth_case(rng, IMAGE_SIZE, POOL, p_normal=0.25)
        save_png(out / f"{split}_data" / file_name, case.image)
        entries[split].append(
            {
                "file_name": file_name,
                "syms": [publisher_name(NAME, f.label) for f in case.findings],
                "boxes": [[round(c) for c in f.bbox] for f in case.findings],
                "polygons": [[[round(x), round(y)] for x, y in f.polygon] for f in case.findings],
            }
        )
    for split, items in entries.items():
        (out / f"ChestX_Det_{split}.json").write_text(json.dumps(items))
