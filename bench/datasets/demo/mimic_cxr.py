"""Demo MIMIC-CXR-JPG from its fact sheet: files/pXX/pN/sN/<dicom_id>.jpg, sN.txt reports, the three csv.gz tables.

From the facts: the table names (`files`) and headers (`split_csv_columns`, `chexpert_csv_columns` in the file's
own order, `metadata_csv_columns`), the split values, view positions, image and report paths
(`image_path_pattern`, `report_path_pattern`), the id formats (`image_path_pattern` note) and the report
structures (`report_format_examples`, with header names from `section_parser`): standard FINDINGS / IMPRESSION,
IMPRESSION followed by RECOMMENDATION(S), FINDINGS AND IMPRESSION, a CONCLUSION-only report whose findings sit
under a study-describing header ('CHEST, TWO VIEWS:'), and reports without any header. Beside them, MIMIC-IV's
hosp/patients.csv.gz (`subgroup_meta`: gender, anchor_age, anchor_year ...; one subject aged 91 = 'over 89'), the
file the adapter's `patients` option reads for meta.sex and meta.age.

`write` returns the truth behind the reports, {study_id: stated_attributes(case)}, for tests of the attribute
extraction (the layout itself has no such file).
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.demo.anatomy import Case, synth_case
from bench.datasets.demo.common import (
    IMAGE_SIZE,
    chexpert_cells,
    choose_split,
    fact_note,
    fact_search,
    fill,
    pool,
    rng_for,
)
from bench.datasets.demo.reports import report_parts, stated_attributes
from bench.datasets.demo.writers import save_jpeg, write_csv, write_file
from bench.datasets.factsheet import fact

NAME = "mimic-cxr"
# Report structures and how often each occurs in the demo.
STRUCTURES = {
    "findings_impression": 0.45,
    "recommendations": 0.15,
    "findings_and_impression": 0.1,
    "conclusion": 0.15,
    "no_headers": 0.15,
}
BLANK = "\n \n"  # a paragraph break in the reports: a line holding one space
WIDTH = 79  # lines are wrapped at 79 characters, each starting with one space (fact note)


def _header(name: str) -> str:
    """A section header as the reports write it: a name of the official parser's table, in upper case."""
    names = fact(NAME, "section_parser")["normalised_names"]
    if name not in names:
        raise KeyError(f"{name!r} is not a section name of the MIMIC-CXR section parser")
    return name.upper()


def _wrap(text: str, first: str = "") -> str:
    """Report lines: `first` (a header) opens the first line, every line starts with one space."""
    lines = textwrap.wrap(first + text, WIDTH - 1)
    return "\n".join(" " + line for line in lines)


def _paragraphs(example: str) -> list[str]:
    return example.rstrip("\n").split(BLANK)


def _names(paragraphs: list[str]) -> list[str | None]:
    """The normalised section name each paragraph opens, or None (a body, or the preamble)."""
    names = fact(NAME, "section_parser")["normalised_names"]
    out = []
    for paragraph in paragraphs:
        match = re.match(r" ([A-Z ()/,-]+):\s", paragraph)
        out.append(names.get(match.group(1).lower()) if match else None)
    return out


def report(structure: str, findings: str, impression: str) -> str:
    """One report file's text in the given structure, built on the fact's examples."""
    examples = fact(NAME, "report_format_examples")
    if structure == "no_headers":
        preamble = _paragraphs(examples["no_headers"])[0]  # banner and a header-less title line
        parts = [preamble, _wrap(findings), _wrap(impression)]
    elif structure == "conclusion":
        preamble, conclusion = _paragraphs(examples["conclusion_only"])
        inline = conclusion[: conclusion.index(":") + 3]  # ' CONCLUSION:  ' (header, colon, two spaces)
        parts = [
            preamble,
            _wrap(findings, f"{_header('chest, two views')}:  "),
            _wrap(impression, inline[1:]),
        ]
    else:
        paragraphs = _paragraphs(examples["impression_then_recommendations"])
        names = _names(paragraphs)
        parts = [paragraphs[0]]
        for index, name in enumerate(names):
            if name == "findings":
                if structure == "findings_and_impression":
                    parts += [f" {_header('findings and impression')}: ", _wrap(f"{findings} {impression}")]
                else:
                    parts += [paragraphs[index], _wrap(findings)]
            elif name == "impression" and structure != "findings_and_impression":
                parts += [paragraphs[index], _wrap(impression)]
            elif name == "recommendations" and structure == "recommendations":
                parts.append(paragraphs[index])
    return BLANK.join(parts) + "\n"


def _dicom_id(seed: int, study: str, view: str) -> str:
    """Dash-separated hex groups shaped like the example in the fact note (5 groups of 8)."""
    example = fact_search(r"e\.g\. ([0-9a-f-]+)", fact_note(NAME, "image_path_pattern")).group(1)
    digest = hashlib.sha1(f"{seed}-{study}-{view}".encode()).hexdigest()
    groups, start = [], 0
    for group in example.split("-"):
        groups.append(digest[start : start + len(group)])
        start += len(group)
    return "-".join(groups)


def _study_time(rng: np.random.Generator) -> str:
    """hhmmss.fff as a float-like string (e.g. 213014.531), leading zeros dropped."""
    h, m, s, ms = (int(rng.integers(0, k)) for k in (24, 60, 60, 1000))
    return f"{h * 10000 + m * 100 + s}.{ms:03d}"


def _metadata_row(columns: list[str], values: dict[str, object]) -> list[object]:
    """A metadata row: each column's value by a word of its name (the header comes from the facts)."""
    row = []
    for column in columns:
        lower = column.lower()
        row.append(next((v for k, v in values.items() if k in lower), ""))
    return row


def write(out: Path, n: int = 200, seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    rng = rng_for(NAME, seed)
    files = fact(NAME, "files")
    split_columns = fact(NAME, "split_csv_columns")
    label_columns = fact(NAME, "chexpert_csv_columns")
    meta_columns = fact(NAME, "metadata_csv_columns")
    label_names = fact(NAME, "label_names")
    observations = [c for c in label_columns if c in label_names]  # the file's own column order
    kinds, _ = pool(label_names, exclude=("Lung Opacity",))  # a parent observation, derived from its children
    splits = fact(NAME, "split_values")
    views = fact(NAME, "view_positions")
    frontal, lateral = views[0], next(v for v in views if "LAT" in v)
    examination = fact_search(
        r"EXAMINATION:\s+(.+)", fact(NAME, "report_format_examples")["impression_then_recommendations"]
    ).group(1)
    subgroup = fact(NAME, "subgroup_meta")
    patient_rows: list[list[object]] = []
    split_rows, label_rows, meta_rows = [], [], []
    truth: dict[str, dict[str, dict[str, Any]]] = {}
    count, subject, n_subjects = 0, 10000000, 0
    while count < n:
        subject += int(rng.integers(1, 50))
        split = choose_split(rng, n_subjects, dict(zip(splits, (0.6, 0.1, 0.3), strict=True)))
        n_subjects += 1
        first_of_subject = True
        for _ in range(int(rng.integers(1, 3))):
            study = str(50000000 + int(rng.integers(0, 9999999)))
            case: Case = synth_case(rng, IMAGE_SIZE, kinds, p_normal=0.3, p_uncertain=0.15)
            ids = {"subject_id": subject, "study_id": study}
            if len(truth) < len(STRUCTURES):  # every structure at least once, then at their rates
                structure = list(STRUCTURES)[len(truth)]
            else:
                structure = str(rng.choice(list(STRUCTURES), p=list(STRUCTURES.values())))
            text = report(structure, *report_parts(case, kinds))
            write_file(out / fill(fact(NAME, "report_path_pattern"), **ids), text.encode())
            truth[study] = stated_attributes(case)
            if first_of_subject:
                patient_rows.append(_patient_row(subgroup, subject, case, n_subjects))
                first_of_subject = False
            cells = chexpert_cells(case.positive, case.uncertain, observations, False)
            by_column = dict(zip(observations, cells, strict=True))
            label_rows.append([ids.get(c, by_column.get(c, "")) for c in label_columns])
            for view in [frontal, lateral][: int(rng.integers(1, 3))]:
                dicom_id = _dicom_id(seed, study, view)
                path = fill(fact(NAME, "image_path_pattern"), dicom_id=dicom_id, **ids)
                save_jpeg(out / path, case.image if view == frontal else case.image[:, ::-1])
                row = {**ids, "dicom_id": dicom_id, "split": split}
                split_rows.append([row[c] for c in split_columns])
                meta_rows.append(
                    _metadata_row(
                        meta_columns,
                        {
                            "dicom": dicom_id,
                            "subject": subject,
                            "study_id": study,
                            "viewposition": view,
                            "rows": IMAGE_SIZE,
                            "columns": IMAGE_SIZE,
                            "studydate": STUDY_YEAR * 10000 + 506 + int(rng.integers(0, 20)),
                            "studytime": _study_time(rng),
                            "procedure": examination,
                            "viewcode": "postero-anterior" if view == frontal else "lateral",
                            "orientation": "Erect",
                        },
                    )
                )
                count += 1
    write_csv(out / files["split"], split_columns, split_rows, gz=True)
    write_csv(out / files["chexpert"], label_columns, label_rows, gz=True)
    write_csv(out / files["metadata"], meta_columns, meta_rows, gz=True)
    patients_file = fact_search(r"\S+/patients\.csv\.gz", subgroup["sex"]["file"]).group(
        0
    )  # hosp/patients.csv.gz
    write_csv(out / patients_file, subgroup["patients_columns"], patient_rows, gz=True)
    return truth


STUDY_YEAR = 2180  # the demo's shifted StudyDate year (21800506 + a few days)


def _patient_row(subgroup: dict[str, Any], subject: int, case: Case, index: int) -> list[object]:
    """The subject's MIMIC-IV patients row (fact `subgroup_meta`): gender, anchor_age in a shifted anchor_year
    0-2 years before the studies, and one subject in the publisher's 'over 89' group (anchor_age 91)."""
    anchor_year = STUDY_YEAR - index % 3
    values = {
        "subject_id": subject,
        "gender": case.sex,
        "anchor_age": subgroup["anchor_age_over_89"] if index == 3 else case.age,
        "anchor_year": anchor_year,
        "anchor_year_group": subgroup["anchor_year_groups"][index % len(subgroup["anchor_year_groups"])],
        "dod": "",
    }
    return [values[column] for column in subgroup["patients_columns"]]
