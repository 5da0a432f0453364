"""Demo CheXpert-v1.0-small from its fact sheet, with the test split as released with CheXlocalize.

The demo root is the release folder: train.csv and valid.csv (labeller values incl. -1.0 and blanks in train,
expert 0/1 in valid) whose Path values carry the release prefix ('CheXpert-v1.0-small/train/...'), and the
CheXlocalize test labels test_labels.csv whose paths start at 'test/...' (its images unpacked to test/ beside
train/ and valid/).

From the facts: the file names (`layout`), the three headers (`train_csv_columns`, `valid_csv_columns`,
`test_labels_csv_columns`), the path forms and first patient numbers per split and the view file names
(`path_prefixes`), the Sex / Frontal/Lateral / AP/PA values with their rare ones (`subgroup_meta`: Sex 'Unknown',
Age 0, AP/PA 'LL' on a frontal image), and the label encodings (`label_encoding`). The value
spelling of test_labels.csv is not stated by a source; the demo writes the study-level test ground truth's 0 / 1
(train and valid: 1.0 / 0.0 / -1.0 / blank and 1.0 / 0.0), so both spellings are exercised.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import numpy as np

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import (
    IMAGE_SIZE,
    chexpert_cells,
    choose_split,
    fact_search,
    pick,
    pool,
    rng_for,
)
from bench.datasets.demo.writers import save_jpeg, write_csv
from bench.datasets.factsheet import fact

NAME = "chexpert"
SHARES = {"train": 0.6, "valid": 0.2, "test": 0.2}
# Non-label columns by a word of their name (the header itself comes from the facts).
COLUMN_ROLES = ("path", "sex", "age", "frontal/lateral", "ap/pa")
# The row count from which each rare publisher value is written once (Unknown sex, Age 0, LL view).
RARE_FROM = {"sex": 2, "age": 5, "ll": 7}


class SplitLayout(TypedDict):
    file: str
    header: list[str]
    folder: str
    patient_word: str
    digits: int
    first_patient: int
    study_word: str


def splits() -> dict[str, SplitLayout]:
    """Per split: csv file, header, path template parts and first patient number, all from the facts."""
    layout = fact(NAME, "layout")
    prefixes = fact(NAME, "path_prefixes")
    release = prefixes["train_small"].split("/")[0]  # CheXpert-v1.0-small
    files = {
        "train": Path(pick(layout, "/train.csv", start=release)).name,
        "valid": Path(pick(layout, "/valid.csv", start=release)).name,
        "test": Path(fact_search(r"\S*test_labels\.csv", pick(layout, "test_labels")).group(0)).name,
    }
    examples = {
        "train": prefixes["train_small"],
        "valid": prefixes["valid_small"],
        "test": prefixes["test_chexlocalize"],
    }
    headers = {
        "train": fact(NAME, "train_csv_columns"),
        "valid": fact(NAME, "valid_csv_columns"),
        "test": fact(NAME, "test_labels_csv_columns"),
    }
    out: dict[str, SplitLayout] = {}
    for split, example in examples.items():
        head, patient, study, _view = example.rsplit("/", 3)  # 'CheXpert-v1.0-small/train', 'patient00001'
        digits = fact_search(r"\d+", patient)
        out[split] = {
            "file": files[split],
            "header": headers[split],
            "folder": head,  # the path in the csv up to the patient folder
            "patient_word": patient[: digits.start()],
            "digits": len(digits.group(0)),
            "first_patient": int(digits.group(0)),
            "study_word": study.rstrip("0123456789"),
        }
    return out


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    """`n` images drawn into the three splits, then test patients up to the test share of `n` (see below)."""
    rng = rng_for(NAME, seed)
    layout = splits()
    label_names = fact(NAME, "label_names")
    kinds, _ = pool(label_names, exclude=("Lung Opacity",))  # a parent observation, derived from its children
    views = fact(NAME, "path_prefixes")["view_file_names"]
    frontal_file, lateral_file = views[0], pick(views, "view2_lateral")
    frontal, lateral = fact(NAME, "frontal_lateral_values")
    ap_pa = fact(NAME, "ap_pa_values")[:2]  # AP, PA: the frontal projections
    sexes = fact(NAME, "sex_values")  # Male, Female, Unknown
    ap_pa_values = fact(NAME, "ap_pa_values")  # AP, PA, LL, RL, ""
    no_age = fact(NAME, "subgroup_meta")["age"]["placeholder"]  # Age 0: no age
    encoding = fact(NAME, "label_encoding")
    meaning = {v: str(k) for k, v in encoding["test_groundtruth"].items()}  # {"1": positive, "0": negative}
    test_one, test_zero = meaning["positive"], meaning["negative"]
    rows: dict[str, list[list[object]]] = {s: [] for s in SHARES}
    pending = set(RARE_FROM)
    patients = {split: info["first_patient"] for split, info in layout.items()}
    count, n_patients = 0, 0

    def add_patient(split: str, rng: np.random.Generator) -> None:
        nonlocal count
        info = layout[split]
        patient = f"{info['patient_word']}{patients[split]:0{info['digits']}d}"
        patients[split] += 1
        label_columns = [c for c in info["header"] if c in label_names]
        n_studies = 1 if split == "test" else int(rng.integers(1, 3))  # test: one study per patient (fact)
        for study in range(1, n_studies + 1):
            case = synth_case(rng, IMAGE_SIZE, kinds, p_normal=0.3, p_uncertain=0.2)
            expert = split != "train"
            if split == "test":  # the study-level test labels are integers (fact label_encoding)
                cells = chexpert_cells(
                    case.positive, case.uncertain, label_columns, True, one=test_one, zero=test_zero
                )
            else:
                cells = chexpert_cells(case.positive, case.uncertain, label_columns, expert)
            shots = [(frontal_file, frontal, str(rng.choice(ap_pa)))]
            if rng.random() < 0.3:
                shots.append((lateral_file, lateral, ""))  # AP/PA is blank on every lateral image (fact)
            for file_name, view, projection in shots:
                relative = f"{info['folder']}/{patient}/{info['study_word']}{study}/{file_name}"
                on_disk = (
                    relative.split("/", 1)[1] if split != "test" else relative
                )  # below the release folder
                save_jpeg(out / on_disk, case.image if view == frontal else case.image[:, ::-1])
                sex = sexes[0] if case.sex == "M" else sexes[1]
                age = case.age
                # the publisher's rare values, once each on the first train / valid row from a fixed count on
                # (no random draw, so nothing else moves): Sex 'Unknown', the Age placeholder 0, and a frontal
                # image whose AP/PA cell says LL (fact); test_labels.csv has no such columns
                due = {
                    k for k, start in RARE_FROM.items() if k in pending and count >= start and split != "test"
                }
                if view != frontal:
                    due.discard("ll")
                sex = sexes[2] if "sex" in due else sex
                age = no_age if "age" in due else age
                projection = ap_pa_values[2] if "ll" in due else projection
                pending.difference_update(due)
                values = {
                    "path": relative,
                    "sex": sex,
                    "age": age,
                    "frontal/lateral": view,
                    "ap/pa": projection,
                }
                values |= dict(zip(label_columns, cells, strict=True))
                rows[split].append([values[_role(column)] for column in info["header"]])
                count += 1

    while count < n:
        split = choose_split(rng, n_patients, SHARES)
        n_patients += 1
        add_patient(split, rng)
    # Train and valid patients have one or two studies and test patients one (fact), so the split drawn per
    # patient can leave a small demo's test split nearly empty (2 of 40 images: an AUC on one label). Test
    # patients from a stream of their own bring it to its share; train and valid stay as drawn.
    test_rng = rng_for(f"{NAME}/test", seed)
    while len(rows["test"]) < round(SHARES["test"] * n):
        add_patient("test", test_rng)
    for split, split_rows in rows.items():
        write_csv(out / layout[split]["file"], layout[split]["header"], split_rows)


def _role(column: str) -> str:
    return next((role for role in COLUMN_ROLES if role == column.lower()), column)
