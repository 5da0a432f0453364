"""Demo Montgomery from its fact sheet: CXR_png/MCUCXR_NNNN_X.png, ManualMask/{leftMask,rightMask}/,
ClinicalReadings/.

From the facts: the folders (`folders`), the file-name pattern with its sparse numbering (`image_name_pattern`:
normals numbered up to 0103, TB cases from 0104 to 0399), 8-bit grayscale PNGs (`image_format`), the reading
format (`clinical_readings_format`: "Patient's Sex: F " / "Patient's Age: 027Y" / reading, sex M, F or O), the
masks (`mask_semantics`: 1-bit PNGs named as the image; leftMask is the lung on the image's left, i.e. the
patient's right lung), and the repeat patients (`cluster_keys`: the images whose readings say "same pt as ...",
included whenever the demo has room for them, with those readings and one sex and age per patient).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.datasets.demo.anatomy import Case
from bench.datasets.demo.common import fact_search, rng_for
from bench.datasets.demo.nlm_tb import label_digit, quoted, write_set
from bench.datasets.demo.writers import save_mask, write_file
from bench.datasets.factsheet import fact

NAME = "montgomery"


def patient_side(description: str) -> str:
    """The anatomy mask a folder holds: "lung on the IMAGE left = the patient's RIGHT lung" -> 'right lung'."""
    side = fact_search(r"patient's (\w+) lung", description, re.IGNORECASE).group(1).lower()
    return f"{side} lung"


def reading(example: str, sex: str, age: int, text: str) -> str:
    """The example file's text with this case's sex, age and reading ("Patient's Sex: F \\nPatient's Age: 027Y\\n...")."""
    sex_line, age_line, _ = example.split("\n", 2)
    sex_line = re.sub(r"(?<=: )\w(?= )", sex, sex_line)
    age_line = re.sub(r"\d{3}(?=Y)", f"{age:03d}", age_line)
    return f"{sex_line}\n{age_line}\n{text}"


def numbering(n: int, seed: int) -> list[tuple[int, int]]:
    """Sparse numbers as the publisher's: normals among 1..0103, TB cases among 0104..0399 (fact)."""
    counts = fact(NAME, "official_counts")["images"]
    text = fact(NAME, "image_name_pattern")["numbering"]
    last_normal = int(fact_search(r"normals are numbered <= (\d+)", text).group(1))
    first_tb, last_tb = (int(v) for v in re.findall(r"MCUCXR_(\d+)_1", text)[:2])
    normal = n * counts["normal"] // (counts["normal"] + counts["tuberculosis"])
    rng = rng_for(f"{NAME}-numbers", seed)
    normal_numbers = sorted(
        rng.choice(np.arange(1, last_normal + 1), min(normal, last_normal), replace=False)
    )
    n_tb = n - len(normal_numbers)
    repeats = [int(stem.split("_")[1]) for stem in repeat_images()] if n_tb >= len(repeat_images()) else []
    others = np.setdiff1d(np.arange(first_tb, last_tb + 1), repeats)
    tb_numbers = sorted([*repeats, *rng.choice(others, n_tb - len(repeats), replace=False)])
    normal_digit, tb_digit = label_digit(NAME, "normal"), label_digit(NAME, "tuberculosis")
    return [(int(v), normal_digit) for v in normal_numbers] + [(int(v), tb_digit) for v in tb_numbers]


def repeat_images() -> dict[str, str]:
    """{image stem: stem of the first image of its patient} for every image of a repeat patient (fact)."""
    groups = fact(NAME, "cluster_keys")["same_patient"]
    return {stem: group[0] for group in groups for stem in group}


def write(out: Path, n: int = 138, seed: int = 0) -> None:
    folders = fact(NAME, "folders")
    readings = fact(NAME, "clinical_readings_format")
    sexes = readings["sex_values"]  # M, F, O
    texts = quoted(readings["line_3_on"])  # 'normal', ..., a TB reading last
    semantics = fact(NAME, "mask_semantics")
    mask_folders = {
        folders["left_masks"]: patient_side(semantics["leftMask"]),
        folders["right_masks"]: patient_side(semantics["rightMask"]),
    }

    repeats = repeat_images()
    same_pt_readings = fact(NAME, "cluster_keys")["readings"]  # the 'same pt as ...' readings
    patients: dict[str, tuple[str, int]] = {}  # sex and age of each repeat patient's first image

    def extra(out: Path, stem: str, case: Case, index: int, tb: bool) -> None:
        sex = sexes[-1] if index == 7 else sexes[0] if case.sex == "M" else sexes[1]  # 'O' occurs once
        age = case.age
        if stem in repeats:  # one sex and age per patient, and the publisher's 'same pt as' reading
            sex, age = patients.setdefault(repeats[stem], (sexes[0] if case.sex == "M" else sexes[1], age))
        text = same_pt_readings.get(stem) or (texts[-1] if tb else texts[0])
        text = reading(readings["example"], sex, age, text)
        write_file(out / folders["readings"] / f"{stem}.txt", text.encode())
        for folder, structure in mask_folders.items():
            save_mask(out / folder / f"{stem}.png", case.masks[structure], fmt="PNG1")

    write_set(out, NAME, numbering(n, seed), seed, folders["images"], extra)
