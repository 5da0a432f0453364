"""Demo VinDr-CXR: DICOM (MONOCHROME1 and 2, VOI window), 3 readers on train, consensus on test."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, publisher_name, rng_for
from bench.datasets.demo.writers import save_dicom, write_csv
from bench.datasets.vocabulary import VINDR_CXR

NAME = "vindr-cxr"
POOL = [
    "Cardiomegaly",
    "Pleural Effusion",
    "Nodule/Mass",
    "Consolidation",
    "Pneumothorax",
    "Pleural Thickening",
    "Atelectasis",
]
LABEL_COLUMNS = [c for c in VINDR_CXR if c != "Other disease"]


def _jitter(rng: np.random.Generator, box: tuple[float, ...]) -> list[float]:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d = rng.uniform(-0.06, 0.06, 4) * [w, h, w, h]
    return [
        round(float(min(max(v, 0.0), IMAGE_SIZE)), 1) for v in (x0 + d[0], y0 + d[1], x1 + d[2], y1 + d[3])
    ]


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    labels = {"train": [], "test": []}
    boxes = {"train": [], "test": []}
    for index in range(n):
        split = "test" if rng.random() < 0.3 else "train"
        image_id = hashlib.md5(f"{seed}-{index}".encode()).hexdigest()
        case = synth_case(rng, IMAGE_SIZE, POOL, p_normal=0.4)
        save_dicom(
            out / split / f"{image_id}.dicom",
            case.image,
            uid_key=image_id,
            patient_id=image_id[:8],
            monochrome1=bool(index % 2),
            pixel_spacing_mm=case.pixel_spacing_mm,
        )
        readers = ["R1", "R2", "R3"] if split == "train" else ["R8"]
        for reader_index, reader in enumerate(readers):
            # the third reader misses findings now and then: majority fusion must still keep them
            seen = [f for f in case.findings if split == "test" or reader_index < 2 or rng.random() < 0.5]
            names = {publisher_name(NAME, f.label) for f in seen}
            row = [image_id, reader] if split == "train" else [image_id]
            row += [int(c in names) for c in LABEL_COLUMNS[:-1]] + [int(not names)]
            labels[split].append(row)
            for finding in seen:
                box = _jitter(rng, finding.bbox) if split == "train" else list(finding.bbox)
                boxes[split].append([image_id, reader, publisher_name(NAME, finding.label), *box])
            if not seen:
                boxes[split].append([image_id, reader, "No finding", "", "", "", ""])
    for split in ("train", "test"):
        id_columns = ["image_id", "rad_id"] if split == "train" else ["image_id"]
        write_csv(
            out / "annotations" / f"image_labels_{split}.csv", [*id_columns, *LABEL_COLUMNS], labels[split]
        )
        write_csv(
            out / "annotations" / f"annotations_{split}.csv",
            ["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"],
            boxes[split],
        )
