"""Demo NIH ChestX-ray14: Data_Entry_2017.csv (original bracketed header), split lists, BBox_List_2017.csv, PNGs."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.chestxray14 import FINDINGS, RELEASED_SIDE
from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, publisher_name, rng_for
from bench.datasets.demo.writers import save_png, save_rgba_png, write_csv
from bench.datasets.vocabulary import NIH_CHESTXRAY14

NAME = "chestxray14"
POOL = [NIH_CHESTXRAY14[f] for f in FINDINGS if f != "Hernia"]
BOX_CLASSES = {
    "Atelectasis",
    "Cardiomegaly",
    "Pleural Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
}
BOX_CLASSES.add("Pneumothorax")
HEADER = [
    "Image Index",
    "Finding Labels",
    "Follow-up #",
    "Patient ID",
    "Patient Age",
    "Patient Gender",
    "View Position",
    "OriginalImage[Width",
    "Height]",
    "OriginalImagePixelSpacing[x",
    "y]",
    "",
]


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    entries, boxes, split_lists = [], [], {"train_val": [], "test": []}
    patient, follow_up, count = 0, 0, 0
    while count < n:
        if follow_up == 0 or rng.random() < 0.5:
            patient, follow_up = patient + 1, 0
            split = "test" if rng.random() < 0.35 else "train_val"
        else:
            follow_up += 1
        name = f"{patient:08d}_{follow_up:03d}.png"
        case = synth_case(rng, IMAGE_SIZE, POOL, p_normal=0.35)
        folder = "images_001" if count < n // 2 else "images_002"
        path = out / folder / "images" / name
        (save_rgba_png if count == 1 else save_png)(path, case.image)
        findings = sorted({publisher_name(NAME, f.label) for f in case.findings})
        scale = RELEASED_SIDE / IMAGE_SIZE
        entries.append(
            [name, "|".join(findings) or "No Finding", follow_up, patient, case.age, case.sex]
            + [str(rng.choice(["PA", "AP"])), 2500, 2048, 0.143, 0.143, ""]
        )
        if split == "test" and rng.random() < 0.6:
            for finding in case.findings:
                if finding.label in BOX_CLASSES:
                    x0, y0, x1, y1 = (c * scale for c in finding.bbox)
                    label = (
                        "Infiltrate"
                        if finding.label == "Infiltration"
                        else publisher_name(NAME, finding.label)
                    )
                    boxes.append([name, label, x0, y0, x1 - x0, y1 - y0])
        split_lists[split].append(name)
        count += 1
    write_csv(out / "Data_Entry_2017.csv", HEADER, entries)
    write_csv(
        out / "BBox_List_2017.csv",
        ["Image Index", "Finding Label", "Bbox [x", "y", "w", "h]", "", "", ""],
        boxes,
    )
    (out / "train_val_list.txt").write_text("\n".join(split_lists["train_val"]) + "\n")
    (out / "test_list.txt").write_text("\n".join(split_lists["test"]) + "\n")
