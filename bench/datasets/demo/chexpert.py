"""Demo CheXpert-v1.0-small: train.csv (labeller values incl. -1 and blanks), valid.csv (expert 0/1), JPEGs."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.chexpert import OBSERVATIONS
from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import CHEXPERT_POOL, IMAGE_SIZE, chexpert_cells, rng_for
from bench.datasets.demo.writers import save_jpeg, write_csv

NAME = "chexpert"
RELEASE = "CheXpert-v1.0-small"
HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *OBSERVATIONS]


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    rows: dict[str, list[list[object]]] = {"train": [], "valid": []}
    count, patient = 0, 0
    while count < n:
        patient += 1
        split = "valid" if rng.random() < 0.3 else "train"
        for study in range(1, int(rng.integers(1, 3)) + 1):
            case = synth_case(rng, IMAGE_SIZE, CHEXPERT_POOL, p_normal=0.3, p_uncertain=0.2)
            cells = chexpert_cells(case.positive, case.uncertain, list(OBSERVATIONS), expert=split == "valid")
            views = [("view1_frontal.jpg", "Frontal", str(rng.choice(["AP", "PA"])))]
            if rng.random() < 0.3:
                views.append(("view2_lateral.jpg", "Lateral", ""))
            for file_name, frontal, ap_pa in views:
                relative = f"{split}/patient{patient:05d}/study{study}/{file_name}"
                image = case.image if frontal == "Frontal" else case.image[:, ::-1]
                save_jpeg(out / relative, image)
                rows[split].append([f"{RELEASE}/{relative}", case.sex, case.age, frontal, ap_pa, *cells])
                count += 1
    for split, split_rows in rows.items():
        write_csv(out / f"{split}.csv", HEADER, split_rows)
