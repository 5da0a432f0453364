"""Demo Shenzhen from its fact sheet: CXR_png/CHNCXR_NNNN_X.png, ClinicalReadings/, mask/*_mask.png.

From the facts: the folders of the NLM zip below its top folder (`layout`), the file-name pattern and numbering
(`image_name_pattern`: normals first, TB cases numbered after the 326 normals), the stored PNG modes
(`image_format`: mostly palette, some RGB), the reading files with the real first-line variants ('femal 32yrs',
'female24yrs', 'male 16month', a blank line before the reading, ...; `clinical_readings_format`), and the lung
masks of Stirenko et al. (`mask_names`: <stem>_mask.png in mask/, for 566 of the 662 images).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.datasets.demo.anatomy import Case
from bench.datasets.demo.nlm_tb import label_digit, quoted, write_set
from bench.datasets.demo.writers import save_mask, write_file
from bench.datasets.factsheet import fact

NAME = "shenzhen"


def _folder_below_root(path: str) -> str:
    """'ChinaSet_AllFiles/CXR_png/CHNCXR_nnnn_l.png' -> 'CXR_png' (the loader root holds CXR_png/)."""
    return path.split("/")[-2]


def first_line(variant: str, age: int) -> str:
    """A reading's first line in one of the real variants, with the case's age where the unit is years (or
    missing); the month / day variants keep their value."""
    if re.search(r"\d+\s*(month|day)", variant):
        return variant
    return re.sub(r"\d+", str(age), variant, count=1)


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    counts = fact(NAME, "official_counts")
    layout = fact(NAME, "layout")["legacy_zip"]["paths"]
    image_dir = _folder_below_root(layout[0])
    reading_dir = _folder_below_root(layout[1])
    readings = fact(NAME, "clinical_readings_format")
    variants = readings["observed_variants"]
    normal_text, tb_text = quoted(readings["line_2"])  # 'normal', 'bilateral secondary PTB'
    blank_every = 7  # some files have an empty line between the first line and the reading
    masks = fact(NAME, "mask_names")
    mask_path = masks["idiap_placements"][0]  # mask/CHNCXR_nnnn_l_mask.png
    placeholder = Path(readings["file"]).stem  # CHNCXR_nnnn_l
    lung_masks = counts["lung_masks"]
    without_mask_every = round(counts["total"] / lung_masks["images_without_mask"])  # ~1 in 7 has no mask
    modes = fact(NAME, "image_format")["channels_as_stored"]  # {palette_P: 635, RGB: 27}
    rgb_every = round(counts["total"] / modes["RGB"])

    def extra(out: Path, stem: str, case: Case, index: int, tb: bool) -> None:
        line = first_line(variants[index % len(variants)], case.age)
        blank = "\n" if index % blank_every == 2 else ""
        write_file(
            out / reading_dir / f"{stem}.txt", f"{line}\n{blank}{tb_text if tb else normal_text}\n".encode()
        )
        if index % without_mask_every != 3:
            lungs = case.masks["left lung"] | case.masks["right lung"]  # one mask for both lungs
            save_mask(out / mask_path.replace(placeholder, stem), lungs)

    normal = n * counts["images"]["normal"] // counts["total"]
    normal_digit, tb_digit = label_digit(NAME, "normal"), label_digit(NAME, "tuberculosis")
    numbers = [(i + 1, normal_digit) for i in range(normal)]
    numbers += [(counts["images"]["normal"] + 1 + i, tb_digit) for i in range(n - normal)]
    write_set(
        out,
        NAME,
        numbers,
        seed,
        image_dir,
        extra,
        image_mode=lambda index: "RGB" if index % rgb_every == 11 else "P",
    )
