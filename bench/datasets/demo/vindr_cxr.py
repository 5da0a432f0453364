"""Demo VinDr-CXR 1.0.0 from its fact sheet: DICOM (MONOCHROME1 and 2, VOI window), 3 readers on train, consensus
on test.

From the facts: the four annotation CSVs and the `<split>/<image_id>.dicom` paths (`layout`), both label headers
(`image_labels_train_columns` with rad_id and 'Other diseases'; `image_labels_test_columns` without rad_id and
with 'Other disease'), the box header (`annotations_csv_columns`), the local / global label names, reader ids
(`readers`), 'No finding' box rows with empty coordinates (`no_finding_box_rows`), photometric interpretations,
and the kept patient tags (`subgroup_meta`: Patient's Sex M / F / O / blank / absent, Patient's Age 'NNNY' /
'NNNM' / blank / absent).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, choose_split, fill, pick, pool, rng_for, role
from bench.datasets.demo.writers import save_dicom, write_csv
from bench.datasets.factsheet import fact

NAME = "vindr-cxr"
SPLITS = ("train", "test")
P_GLOBAL = 0.12  # chance that a reader (train) / the consensus (test) marks a global label


def _jitter(rng: np.random.Generator, box: tuple[float, ...]) -> list[float]:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d = rng.uniform(-0.06, 0.06, 4) * [w, h, w, h]
    return [
        round(float(min(max(v, 0.0), IMAGE_SIZE)), 1) for v in (x0 + d[0], y0 + d[1], x1 + d[2], y1 + d[3])
    ]


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    layout = fact(NAME, "layout")
    label_columns = {
        "train": fact(NAME, "image_labels_train_columns"),
        "test": fact(NAME, "image_labels_test_columns"),
    }
    box_columns = fact(NAME, "annotations_csv_columns")
    local_labels = fact(NAME, "local_labels")
    kinds, names = pool(local_labels)
    global_labels = fact(NAME, "global_labels")
    no_finding = role(global_labels, "no finding")
    photometrics = fact(NAME, "image_format")["photometric"]
    rad_ids = fact(NAME, "readers")["rad_id_values"]
    labels: dict[str, list[list[object]]] = {s: [] for s in SPLITS}
    boxes: dict[str, list[list[object]]] = {s: [] for s in SPLITS}
    n_test = 0
    for index in range(n):
        split = choose_split(rng, index, {"train": 0.7, "test": 0.3})
        image_id = hashlib.md5(f"{seed}-{index}".encode()).hexdigest()  # 32 hex chars, as the publisher's ids
        case = synth_case(rng, IMAGE_SIZE, kinds, p_normal=0.4)
        photometric = photometrics[index % len(photometrics)]
        sex, age = _patient_tags(index, case.sex, case.age)
        save_dicom(
            out / fill(pick(layout, "<image_id>", start=f"{split}/"), image_id=image_id),
            case.image,
            uid_key=image_id,
            patient_id=image_id[:8],
            monochrome1=photometric.endswith("1"),
            pixel_spacing_mm=case.pixel_spacing_mm,
            patient_sex=sex,
            patient_age=age,
        )
        if split == "train":  # 3 of the 17 radiologists read each training image
            readers = [str(r) for r in rng.choice(rad_ids, 3, replace=False)]
        else:  # the test labels are one consensus row; box rows still name a reader
            readers = [str(rng.choice(rad_ids))]
            n_test += 1
        columns = label_columns[split]
        first_label = columns.index(local_labels[0])  # image_id (and rad_id on train) come first
        for reader_index, reader in enumerate(readers):
            # the third reader misses findings now and then: majority fusion must still keep them
            seen = [f for f in case.findings if split == "test" or reader_index < 2 or rng.random() < 0.5]
            positive = {names[f.label] for f in seen}
            positive |= {
                g for g in global_labels if g != no_finding and rng.random() < P_GLOBAL / len(global_labels)
            }
            if split == "test" and n_test % 3 == 1:
                # the test header spells this global label differently from the train header (fact)
                positive.add(role(columns[first_label:], "other disease"))
            healthy = not positive
            row = _ids(columns[:first_label], image_id, reader)
            for column in columns[first_label:]:
                row.append(int(healthy) if column == no_finding else int(_matches(column, positive)))
            labels[split].append(row)
            header = box_columns[split]
            for finding in seen:
                box = _jitter(rng, finding.bbox) if split == "train" else list(finding.bbox)
                boxes[split].append([*_ids(header[:-5], image_id, reader), names[finding.label], *box])
            if healthy:  # a reader's 'No finding' is a box row without coordinates (fact)
                boxes[split].append([*_ids(header[:-5], image_id, reader), no_finding, "", "", "", ""])
    for split in SPLITS:
        write_csv(
            out / pick(layout, "image_labels", f"_{split}.", start="annotations/"),
            label_columns[split],
            labels[split],
        )
        write_csv(
            out / pick(layout, "annotations_", f"_{split}.", start="annotations/"),
            box_columns[split],
            boxes[split],
        )


def _patient_tags(index: int, sex: str, age: int) -> tuple[str | None, str | None]:
    """(0010,0040) Patient's Sex and (0010,1010) Patient's Age as the publisher's files may hold them (fact
    `subgroup_meta`): mostly M / F and 'NNNY', with 'O', blanks, absent elements and a month age in fixed slots."""
    sex_values = fact(NAME, "subgroup_meta")["sex"]
    other = sex_values["left_out"].split()[0]  # 'O'
    tag_sex: str | None = {3: other, 5: "", 8: None}.get(index % 10, sex)
    tag_age: str | None = {4: "", 6: None}.get(index % 10, f"{age:03d}Y")
    if index == 2:
        tag_age = "006M"  # a DICOM age in months (fact dicom_as)
    return tag_sex, tag_age


def _ids(columns: list[str], image_id: str, reader: str) -> list[object]:
    """The id cells: the image id first, then the reader (rad_id) where the header has one."""
    return [image_id, *([reader] * (len(columns) - 1))]


def _matches(column: str, positive: set[str]) -> bool:
    """Whether a label column is positive; the train / test spellings of one global label count as one."""
    return column in positive or any(p.rstrip("s") == column.rstrip("s") for p in positive)
