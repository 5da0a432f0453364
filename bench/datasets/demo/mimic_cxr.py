"""Demo MIMIC-CXR-JPG: files/pXX/pN/sN/<dicom_id>.jpg, sN.txt reports, and the three csv.gz tables.

`write` returns the truth behind the reports, {study_id: stated_attributes(case)}, for tests of the attribute
extraction (the layout itself has no such file).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import CHEXPERT_POOL, IMAGE_SIZE, chexpert_cells, rng_for
from bench.datasets.demo.reports import report_text, stated_attributes
from bench.datasets.demo.writers import save_jpeg, write_csv, write_file
from bench.datasets.mimic_cxr import OBSERVATIONS

NAME = "mimic-cxr"


def write(out: Path, n: int = 200, seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    rng = rng_for(NAME, seed)
    split_rows, label_rows, meta_rows = [], [], []
    truth: dict[str, dict[str, dict[str, Any]]] = {}
    count, subject = 0, 10000000
    while count < n:
        subject += int(rng.integers(1, 50))
        split = str(rng.choice(["train", "validate", "test"], p=[0.6, 0.1, 0.3]))
        for _ in range(int(rng.integers(1, 3))):
            study = str(50000000 + int(rng.integers(0, 9999999)))
            case = synth_case(rng, IMAGE_SIZE, CHEXPERT_POOL, p_normal=0.3, p_uncertain=0.15)
            study_dir = out / "files" / f"p{str(subject)[:2]}" / f"p{subject}"
            text = report_text(case, CHEXPERT_POOL)
            truth[study] = stated_attributes(case)
            header = "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n\n INDICATION:  Cough.\n\n"
            report = header + " " + text.replace("\n\n", "\n \n ") + "\n"
            write_file(study_dir / f"s{study}.txt", report.encode())
            label_rows.append(
                [subject, study, *chexpert_cells(case.positive, case.uncertain, list(OBSERVATIONS), False)]
            )
            for view in ["PA", "LATERAL"][: int(rng.integers(1, 3))]:
                dicom_id = hashlib.sha1(f"{seed}-{study}-{view}".encode()).hexdigest()[:8] + "-demo"
                save_jpeg(
                    study_dir / f"s{study}" / f"{dicom_id}.jpg",
                    case.image if view == "PA" else case.image[:, ::-1],
                )
                split_rows.append([dicom_id, study, subject, split])
                meta_rows.append(
                    [dicom_id, subject, study, "CHEST (PA AND LAT)", view, IMAGE_SIZE, IMAGE_SIZE]
                )
                count += 1
    ids = ["dicom_id", "study_id", "subject_id"]
    write_csv(out / "mimic-cxr-2.0.0-split.csv.gz", [*ids, "split"], split_rows, gz=True)
    write_csv(
        out / "mimic-cxr-2.0.0-chexpert.csv.gz",
        ["subject_id", "study_id", *OBSERVATIONS],
        label_rows,
        gz=True,
    )
    write_csv(
        out / "mimic-cxr-2.0.0-metadata.csv.gz",
        [
            "dicom_id",
            "subject_id",
            "study_id",
            "PerformedProcedureStepDescription",
            "ViewPosition",
            "Rows",
            "Columns",
        ],
        meta_rows,
        gz=True,
    )
    return truth
