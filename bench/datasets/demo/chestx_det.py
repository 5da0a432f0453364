"""Demo ChestX-Det from its fact sheet: ChestX_Det_{train,test}.json and PNGs in the archives' folders.

From the facts: the JSON file names (`layout`), the entry keys in their order (`json_fields`), the class names
(`label_names`), the image folders as the two zips unpack (`archive_layouts`), and the publisher's own file
names (`cluster_keys` mapping_file: mostly images whose NIH name is known, taken in NIH order so that patients
have several images, plus images ChestX-Det added without one). The archives unpack in more than one way; the demo puts each split under a different variant
(train under the first listed for train_data.zip, test under the second listed for test_data.zip) so both forms
are exercised. Images without findings keep their entry, with empty lists (`json_fields` note).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, choose_split, pick, pool, rng_for
from bench.datasets.demo.writers import save_png
from bench.datasets.factsheet import FACTS_DIR, fact

NAME = "chestx-det"
SPLITS = ("train", "test")


def image_folders() -> dict[str, str]:
    """The folder (relative to the root) each split's images are written to: a different archive variant each."""
    variants = fact(NAME, "archive_layouts")
    folders = {}
    for number, split in enumerate(SPLITS):
        listed = variants[pick(variants, f"{split}_")]
        folders[split] = listed[number % len(listed)].rsplit("/", 1)[0]  # 'train_data/train/*.png' -> folder
    return folders


def file_names(n: int, rng: np.random.Generator) -> list[str]:
    """n of the publisher's file names: a run of images with known NIH names in NIH order (several per patient),
    with one image without an NIH name every 12 (the fact's mapping file)."""
    mapping = json.loads((FACTS_DIR / fact(NAME, "cluster_keys")["mapping_file"].split()[0]).read_text())
    by_nih = sorted(mapping["nih_image_index"], key=mapping["nih_image_index"].get)
    unnamed = [name for names in mapping["without_nih_name"].values() for name in names]
    start = int(rng.integers(0, max(1, len(by_nih) - n)))
    names = by_nih[start : start + n]
    for i in range(0, n, 12):
        names[i] = unnamed[(start + i) % len(unnamed)]
    return names


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    kinds, names = pool(fact(NAME, "label_names"))
    keys = fact(NAME, "json_fields")["keys_in_order"]  # file_name, syms, boxes, polygons
    layout = fact(NAME, "layout")
    publisher_names = file_names(n, rng)
    folders = image_folders()
    entries: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for index in range(n):
        split = choose_split(rng, index, {"train": 0.7, "test": 0.3})
        file_name = publisher_names[index]
        case = synth_case(rng, IMAGE_SIZE, kinds, p_normal=0.25)
        save_png(out / folders[split] / file_name, case.image)
        values = (
            file_name,
            [names[f.label] for f in case.findings],
            [[round(c) for c in f.bbox] for f in case.findings],
            [[[round(x), round(y)] for x, y in f.polygon] for f in case.findings],
        )
        entries[split].append(dict(zip(keys, values, strict=True)))
    for split, items in entries.items():
        (out / pick(layout, f"_{split}.json")).write_text(json.dumps(items))
