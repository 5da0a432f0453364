"""Demo NIH ChestX-ray14 from its fact sheet: Data_Entry_2017.csv, the split lists, BBox_List_2017.csv, PNGs.

From the facts: the file names (`layout`, `split_files`), the exact headers as a CSV parser sees them
(`data_entry_columns`: bracketed names split at their commas, a trailing empty column in Data_Entry_2017.csv and
its rows; `bbox_csv_columns`: 'Bbox [x', 'y', 'w', 'h]' and three empty trailing header fields, 6-field rows),
the subgroup columns (`subgroup_meta`: Patient Gender, Patient Age with one age over 120, View Position), the label
spellings (`label_names`; the box file's own `bbox_label_names`, e.g. 'Infiltrate'), the 'Finding
Labels' encoding (`label_encoding`), the Image Index pattern (`split_definition`), the Kaggle archive folders
(`image_archives`: images_001/images/...) and the 1024-px box frame (`coordinates`, `image_format`).
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, choose_split, fact_search, looks, pick, pool, rng_for, role
from bench.datasets.demo.writers import save_png, save_rgba_png, write_csv, write_file
from bench.datasets.factsheet import fact

NAME = "chestxray14"


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    label_names = fact(NAME, "label_names")
    kinds, names = pool(label_names)
    box_names = looks(fact(NAME, "bbox_label_names"))  # kind -> the box file's spelling
    encoding = fact(NAME, "label_encoding")
    no_finding = role(label_names, "no finding")
    entry_file = pick(fact(NAME, "layout"), "Data_Entry_2017.csv")
    header = fact(NAME, "data_entry_columns")[entry_file]
    bbox_file = pick(fact(NAME, "layout"), "BBox_List")
    bbox_header = fact(NAME, "bbox_csv_columns")
    bbox_fields = len([c for c in bbox_header if c])  # the rows have 6 fields, the header 9
    split_files = fact(NAME, "split_files")  # train_val_list.txt, test_list.txt
    split_names = list(fact(NAME, "split_counts"))[:2]  # train_val, test
    example = fact_search(r"(\d+)_(\d+)\.png", fact(NAME, "split_definition")["format"])  # 00011575_000.png
    patient_digits, follow_up_digits = len(example.group(1)), len(example.group(2))
    archives = fact(NAME, "image_archives")
    inner = archives["unpacks_to"].split("/")[0]  # images
    folders = [name.split(".")[0] for name in archives["box_names"]]  # images_001, images_002, ...
    released_side = int(fact_search(r"\A\d+", fact(NAME, "image_format")["size"]).group(0))  # 1024
    views = fact(NAME, "view_positions")
    # fact `subgroup_meta`: the 2017 file has ages over 100 (three-digit typing errors); one row carries such an age
    typo_age = fact(NAME, "subgroup_meta")["age"]["drop_above"] + 28
    entries, boxes = [], []
    split_lists: dict[str, list[str]] = {s: [] for s in split_names}
    patient, follow_up, count = 0, 0, 0
    while count < n:
        if patient == 0 or rng.random() < 0.5:  # else a follow-up image of the same patient
            patient, follow_up = patient + 1, 0
            split = choose_split(rng, patient - 1, {split_names[0]: 0.65, split_names[1]: 0.35})
        else:
            follow_up += 1
        name = f"{patient:0{patient_digits}d}_{follow_up:0{follow_up_digits}d}.png"
        case = synth_case(rng, IMAGE_SIZE, kinds, p_normal=0.35)
        path = out / folders[0 if count < n // 2 else 1] / inner / name
        (save_rgba_png if count == 1 else save_png)(path, case.image)
        findings = sorted({names[f.label] for f in case.findings})
        values = {
            "index": name,
            "label": encoding["separator"].join(findings) or no_finding,
            "follow": follow_up,
            "patient id": patient,
            "age": typo_age if count == 3 else case.age,
            "gender": case.sex,
            "sex": case.sex,
            "view": str(rng.choice(views)),
            "width": 2500,
            "height": 2048,
            "spacing": 0.143,
        }
        # a trailing empty field where the header has one
        entries.append([values.get(role, "") if role is not None else "" for role in _roles(header)])
        if split == split_names[1] and rng.random() < 0.6:
            scale = released_side / IMAGE_SIZE
            for finding in case.findings:
                if finding.label in box_names:
                    x0, y0, x1, y1 = (c * scale for c in finding.bbox)
                    boxes.append([name, box_names[finding.label], x0, y0, x1 - x0, y1 - y0][:bbox_fields])
        split_lists[split].append(name)
        count += 1
    write_csv(out / entry_file, header, entries)
    write_csv(out / bbox_file, bbox_header, boxes)
    for split, split_file in zip(split_names, split_files, strict=True):
        write_file(out / split_file, ("\n".join(split_lists[split]) + "\n").encode())


# What a Data_Entry column holds, by a word of its name (first match; the header itself comes from the facts).
COLUMN_ROLES = (
    "width",
    "height",
    "spacing",
    "index",
    "label",
    "follow",
    "patient id",
    "view",
    "gender",
    "sex",
    "age",
)


def _roles(header: list[str]) -> list[str | None]:
    """The role of each column; the second half of a bracketed name split at its comma ('y]') keeps the first's."""
    roles: list[str | None] = []
    for column in header:
        lower = column.lower()
        role = next((r for r in COLUMN_ROLES if r in lower), None)
        if role is None and lower.endswith("]") and roles:
            role = roles[-1]
        roles.append(role)
    return roles
