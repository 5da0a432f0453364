"""Shared reading of the two NLM tuberculosis sets (Jaeger et al., QIMS 2014): Shenzhen and Montgomery.

Neither has an official split: cxrbench ships a seeded patient-level split (bench/datasets/splits/<name>.json):
bucket = sha256('cxrbench-split-v1:<dataset>:<patient>') -> train 70 % / val 10 % /
test 20 %. The file lists the assignment of every known patient id; ids not in it follow the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.datasets.base import LayoutError
from bench.datasets.demographics import normalise
from bench.datasets.io import image_size, shipped_split, split_of

FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


# ClinicalReadings first lines (facts `clinical_readings_format`). Montgomery: "Patient's Sex: F " then
# "Patient's Age: 027Y" (a DICOM age string). Shenzhen: "<sex> <age><unit>" in many spellings: 'male 45yrs',
# 'Female 38yrs', 'femal 32yrs', 'female24yrs', 'male , 29yrs', 'male 42', 'male 16month', 'female 64days'.
MONTGOMERY_SEX = re.compile(r"^patient'?s\s+sex\s*:\s*([MFO])\b", re.IGNORECASE)
MONTGOMERY_AGE = re.compile(r"^patient'?s\s+age\s*:\s*(\d{1,3}\s*[DWMY])", re.IGNORECASE)
SHENZHEN_FIRST = re.compile(r"^(female|femal|male)\s*,?\s*(\d{1,3}(?!\d))?\s*([a-z]*)", re.IGNORECASE)
# Shenzhen's age units as DICOM age-string units (years, months, days); another unit leaves the age out.
AGE_UNITS = {"": "Y", "y": "Y", "yr": "Y", "yrs": "Y", "year": "Y", "years": "Y", "month": "M", "months": "M"}
AGE_UNITS |= {"day": "D", "days": "D"}
# 'O' (other: once, MCUCXR_0080_0) carries no meta.sex; it is counted in meta.subgroup_dropped.
SEX_CODES = {"M": "M", "F": "F", "male": "M", "female": "F", "femal": "F"}


def reading(path: Path) -> dict[str, Any]:
    """ClinicalReadings/<stem>.txt -> {sex: M|F, age: years, reading: the text after the header} (see
    bench/datasets/demographics.py: absent keys, months and days as fractional years, dropped values)."""
    if not path.is_file():
        return {}
    lines = [line.strip() for line in path.read_bytes().decode("latin-1").splitlines() if line.strip()]
    sex: str | None = None
    age: str | None = None
    rest = lines
    if lines and (match := MONTGOMERY_SEX.match(lines[0])):
        sex, rest = match.group(1), lines[1:]
        if rest and (match := MONTGOMERY_AGE.match(rest[0])):
            age, rest = match.group(1), rest[1:]
    elif lines and (match := SHENZHEN_FIRST.match(lines[0])):
        sex, rest = match.group(1), lines[1:]
        if match.group(2) is not None:
            unit = AGE_UNITS.get(match.group(3).lower())
            age = f"{match.group(2)}{unit}" if unit else f"{match.group(2)}{match.group(3)}"
    return normalise(sex=sex, sex_codes=SEX_CODES, age=age) | {"reading": " ".join(rest) or None}


# Folders the releases unpack into above CXR_png/ (facts `layout`): the NLM zips, the NLM data site, Kaggle mirrors
# (which double the top folder).
WRAPPERS = (
    "ChinaSet_AllFiles",
    "ChinaSet_AllFiles/ChinaSet_AllFiles",
    "Shenzhen-Hospital-CXR-Set",
    "MontgomerySet",
    "Montgomery-County-CXR-Set/MontgomerySet",
    "NLM-MontgomeryCXRSet/MontgomerySet",
    "Montgomery/MontgomerySet",
)


def release_root(root: Path) -> Path:
    """The folder holding CXR_png/: ROOT itself or one of the release wrappers below it."""
    for candidate in (root, *(root / w for w in WRAPPERS)):
        if (candidate / "CXR_png").is_dir():
            return candidate
    return root


def images(
    root: Path, dataset: str, prefix: str, split: str, fix: str, same_patient: dict[str, str] | None = None
) -> Iterator[tuple[Path, str, int, tuple[int, int]]]:
    """(path, patient, tb label, (width, height)) of the split's images in CXR_png/.

    The patient is the case number (`<prefix>_NNNN`), or `same_patient[case]` where the readings name another
    image of the same patient; the seeded split assigns by patient, so such images share a split.
    """
    folder = release_root(root) / "CXR_png"
    if not folder.is_dir():
        raise LayoutError(folder, "image folder not found", fix=fix)
    shipped = shipped_split(dataset)
    found = False
    for path in sorted(folder.glob(f"{prefix}_*.png")):
        match = re.fullmatch(rf"({prefix}_\d+)_([01])", path.stem)
        if match is None:
            raise LayoutError(path, f"file name is not {prefix}_NNNN_0|1.png", fix=fix)
        found = True
        patient = (same_patient or {}).get(match.group(1), match.group(1))
        if split_of(dataset, patient, shipped) == split:
            yield path, patient, int(match.group(2)), image_size(path)
    if not found:
        raise LayoutError(folder, f"no {prefix}_NNNN_0|1.png images", fix=fix)
