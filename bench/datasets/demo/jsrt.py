"""Demo JSRT + SCR from the fact sheet: raw 12-bit big-endian .IMG images, the two clinical lists and the SCR GIF
masks as the SCR archive unpacks.

From the facts: the image folder and names (`layout`, `image_names`), the raw format (`raw_format`), the SCR mask
paths with their fold rule and structure folders with spaces (`scr_layout`), and the clinical lists as
distributed (`clndat_format`, `cnndat_format`, `clinical_text_line_endings`): CLNDAT_EN.txt is tab-separated in
the fact's field order with CR ('\\r') record separators, and some records run together (one record's last field
directly followed by the next JPCLNnnn.IMG); CNNDAT_EN.TXT separates its fields with runs of spaces.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.datasets.demo.anatomy import Case, synth_case
from bench.datasets.demo.common import IMAGE_SIZE, fact_search, fill, rng_for
from bench.datasets.demo.writers import save_jsrt_img, save_mask
from bench.datasets.factsheet import fact

NAME = "jsrt"
RUN_TOGETHER_EVERY = 6  # records 2->3, 8->9, ... are not separated (the real file has such records)


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _fold(stem: str) -> int:
    """SCR fold number (`scr_layout` fold_rule): 1 for odd image numbers, 2 for even ones, per prefix."""
    return 1 if int(re.findall(r"\d+", stem)[-1]) % 2 else 2


def _nodule_fields(
    rng: np.random.Generator, stem: str, case: Case, index: int, image_name: str
) -> dict[str, str]:
    """CLNDAT values of one nodule record, keyed by a word of the fact's field description."""
    raw = fact(NAME, "raw_format")
    labels = fact(NAME, "label_names")
    clndat = fact(NAME, "clndat_format")
    to_original = raw["width"] / IMAGE_SIZE
    finding = case.findings[0]
    x0, y0, x1, y1 = finding.bbox
    size_mm = max(x1 - x0, y1 - y0) * to_original * raw["pixel_spacing_mm"]
    malignant, benign = labels["nodule_pathology"]
    pathology = malignant if rng.random() < 100 / 154 else benign
    diagnoses = _quoted(pick_field(clndat["fields"], "diagnosis"))  # 'lung cancer', 'pulmonary hematoma'
    diagnosis = diagnoses[0] if pathology == malignant else diagnoses[-1]
    if index % 9 == 4:  # the free-text tail may be spread over more than one tab-separated cell (fact)
        diagnosis = diagnosis.replace(" ", clndat["delimiter"], 1)
    side = "l" if finding.side == "left" else "r"
    sex_male, sex_female = labels["sex"]
    missing_age = _quoted(fact(NAME, "label_encoding")["missing_age"])[0]
    return {
        "image name": image_name,
        "subtlety": str(int(rng.integers(1, 6))),
        "size": f"{size_mm:.0f}",
        "age": missing_age if index % 11 == 5 else str(case.age),
        "sex": sex_male if case.sex == "M" else sex_female,
        "x coordinate": f"{(x0 + x1) / 2 * to_original:.0f}",
        "y coordinate": f"{(y0 + y1) / 2 * to_original:.0f}",
        "malignant": pathology,
        "location": f"{side}.{finding.zone or 'middle'} lobe",
        "diagnosis": diagnosis,
    }


def pick_field(fields: list[str], word: str) -> str:
    return next(f for f in fields if word in f)


def _ordered(fields: list[str], values: dict[str, str]) -> list[str]:
    """The values in the fact's field order (each description names what its field holds)."""
    return [next(v for k, v in values.items() if k in description) for description in fields]


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    counts = fact(NAME, "official_counts")["images"]
    names = fact(NAME, "image_names")
    image_dir = fact(NAME, "layout")["images"][0].split("/")[0]  # All247images
    scr = fact(NAME, "scr_layout")
    raw = fact(NAME, "raw_format")
    mask_side = int(fact_search(r"(\d+) x \d+", scr["mask_format"]).group(1))  # 1024: half the 2048 image
    step = raw["width"] // mask_side
    clndat, cnndat = fact(NAME, "clndat_format"), fact(NAME, "cnndat_format")
    non_nodule_label = fact(NAME, "label_names")["image_level"][1]  # the literal last field of CNNDAT
    n_nodule = n * counts["nodule"] // (counts["nodule"] + counts["non_nodule"])
    nodule_records, non_nodule_records = [], []
    for index in range(n):
        nodule = index < n_nodule
        number = index + 1 if nodule else index - n_nodule + 1
        image_name = (names["nodule"] if nodule else names["non_nodule"])["pattern"] % number
        stem = image_name.rsplit(".", 1)[0]
        case = synth_case(rng, IMAGE_SIZE, ["Nodule"], p_normal=0.0 if nodule else 1.0, max_findings=1)
        save_jsrt_img(out / image_dir / image_name, case.image)
        for structure in scr["structure_folders"]:
            mask = case.masks[structure][::step, ::step]  # SCR masks are half the image resolution
            path = fill(scr["mask_path"], k=_fold(stem), structure=structure, image_name_without_IMG=stem)
            save_mask(out / path, mask, fmt="GIF")
        if nodule:
            values = _nodule_fields(rng, stem, case, index, image_name)
            nodule_records.append(clndat["delimiter"].join(_ordered(clndat["fields"], values)))
        else:
            sex_male, sex_female = fact(NAME, "label_names")["sex"]
            sex = sex_male if case.sex == "M" else sex_female
            # runs of spaces, two between age and sex (fact `cnndat_format` spacing_quirk)
            non_nodule_records.append(f"{image_name} {case.age}  {sex} {non_nodule_label}")
    cr = "\r"  # record separator of both lists (fact `clinical_text_line_endings`)
    text = ""
    for index, record in enumerate(nodule_records):
        run_together = index % RUN_TOGETHER_EVERY == 1 and index + 1 < len(nodule_records)
        text += record + ("" if run_together else cr)
    (out / clndat["file"]).parent.mkdir(parents=True, exist_ok=True)
    (out / clndat["file"]).write_bytes((text + cr).encode("latin-1"))  # the file ends with two separators
    (out / cnndat["file"]).write_bytes("".join(r + cr for r in non_nodule_records).encode("latin-1"))
