"""JSRT (Shiraishi et al., AJR 2000) with the SCR masks (van Ginneken et al., MedIA 2006).

Splits are SCR's two official folds: fold1 holds the odd-numbered JSRT images, fold2 the even-numbered ones (as
SCR defines them; its fold folders are used when present). Masks come at 1024 px for the 2048 px images and are
upsampled (nearest) to the image size. Nodule boxes: the nodule list's centre +- half its size in mm
(0.175 mm pixels), scaled to the image size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.demographics import normalise
from bench.datasets.io import clip_box, jsrt_side, read_mask
from bench.datasets.vocabulary import STRUCTURES
from bench.metrics.segmentation import encode_mask

ORIGINAL_SIDE = 2048
PIXEL_MM = 0.175
IMAGE_DIRS = ("All247images", "images", ".")
FIX = (
    "extract the JSRT images (All247images/*.IMG) and the SCR mask archive as it unpacks "
    "(scratch/fold1/masks/<structure>/*.gif, scratch/fold2/...)"
)
# Where the SCR fold folders may sit (fact `scr_layout`): the archive unpacks to scratch/; scr/ and the root are
# accepted for hand-arranged copies.
SCR_PARENTS = ("scratch", "scr", ".")
NODULE_RECORD = re.compile(r"JPCLN\d{3}\.IMG", re.IGNORECASE)
# CNNDAT_EN.TXT (fact `cnndat_format`): image name, age, sex, 'non-nodule', separated by runs of spaces.
NON_NODULE_RECORD = re.compile(r"(JPCNN\d{3})\.IMG[ \t]+(\S+)[ \t]+(\S+)", re.IGNORECASE)
# Facts `clndat_format` / `cnndat_format` / `label_encoding`: sex is 'male' / 'female'; age an integer or '?'.
SEX_CODES = {"male": "M", "female": "F"}


def _subgroups(listed: tuple[str, str] | None) -> dict[str, object]:
    """meta.sex / age from the clinical lists (the publisher gives no view per image)."""
    if listed is None:
        return {}
    age, sex = listed
    return normalise(sex=sex, sex_codes=SEX_CODES, age=age)


def _fold_of(name: str) -> str:
    number = int(re.findall(r"\d+", name)[-1])
    return "fold1" if number % 2 else "fold2"


def _mask_dirs(root: Path, fold: str) -> list[Path]:
    candidates = [root / parent / fold / "masks" for parent in SCR_PARENTS] + [root / "masks"]
    return [d for d in candidates if d.is_dir()]


def nodule_list_path(root: Path) -> Path | None:
    """CLNDAT_EN.txt in Clinical_Information/ (as the archive unpacks) or the root; the name's case varies."""
    return _clinical_list(root, "CLNDAT_EN.TXT")


def _clinical_list(root: Path, upper_name: str) -> Path | None:
    """The file whose upper-cased name is `upper_name`, in Clinical_Information/ (once or twice nested) or the root."""
    for folder in (
        root / "Clinical_Information",
        root / "Clinical_Information" / "Clinical_Information",
        root,
    ):
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name.upper() == upper_name and entry.is_file():
                    return entry
    return None


def _nodule_records(root: Path) -> tuple[Path | None, list[tuple[int, list[str]]]]:
    """CLNDAT_EN.txt split into records (line number, fields), each starting at its image name (JPCLNnnn.IMG),
    because in the file as distributed some records run together on one line (fact `clndat_format`)."""
    path = nodule_list_path(root)
    if path is None:
        return None, []
    text = path.read_bytes().decode("latin-1")
    starts = [m.start() for m in NODULE_RECORD.finditer(text)]
    if not starts:
        raise LayoutError(
            path, "no JPCLNnnn.IMG record found", row=1, fix="use the JSRT nodule list unchanged"
        )
    records = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        lineno = len(text[:start].splitlines()) + 1  # the file separates records with CR
        records.append((lineno, text[start:end].split()))  # the first seven fields never hold spaces
    return path, records


def read_nodule_list(root: Path) -> dict[str, tuple[float, float, float]]:
    """CLNDAT_EN.txt -> {stem: (size_mm, x, y)} with x, y in 2048-px coordinates (parsed record by record)."""
    path, records = _nodule_records(root)
    nodules: dict[str, tuple[float, float, float]] = {}
    for lineno, fields in records:
        try:
            stem = fields[0][:8].upper()
            values = (float(fields[2]), float(fields[5]), float(fields[6]))
            if not (0 < values[0] < 200 and all(0 <= v <= ORIGINAL_SIDE for v in values[1:])):
                raise ValueError("size or position out of range")
        except (IndexError, ValueError):
            raise LayoutError(
                path or root,
                f"record {' '.join(fields)[:60]!r} is not 'file, subtlety, size mm (0-200), age, sex, x, y "
                f"(pixels, 0-{ORIGINAL_SIDE}), ...'",
                row=lineno,
                fix="use the JSRT nodule list unchanged",
            ) from None
        if stem in nodules:
            raise LayoutError(
                path or root, f"{stem} is listed twice", row=lineno, fix="use the JSRT nodule list unchanged"
            )
        nodules[stem] = values
    return nodules


def non_nodule_list_path(root: Path) -> Path | None:
    """CNNDAT_EN.TXT beside CLNDAT_EN.txt (the extension's case varies, fact `layout`)."""
    return _clinical_list(root, "CNNDAT_EN.TXT")


def read_demographics(root: Path) -> dict[str, tuple[str, str]]:
    """{stem: (age, sex)} as written in CLNDAT_EN.txt (fields 4 and 5) and CNNDAT_EN.TXT (fields 2 and 3);
    images of a missing list are absent (the lists are optional)."""
    _, records = _nodule_records(root)
    found = {fields[0][:8].upper(): (fields[3], fields[4]) for _, fields in records if len(fields) > 4}
    path = non_nodule_list_path(root)
    if path is not None:
        text = path.read_bytes().decode("latin-1")
        for match in NON_NODULE_RECORD.finditer(text):
            found[match.group(1).upper()] = (match.group(2), match.group(3))
    return found


@register
class JSRT(DatasetAdapter):
    name = "jsrt"
    title = "JSRT + SCR masks"
    tasks = ("segmentation", "localization", "classification")
    splits = ("fold1", "fold2")
    split_roles = ("fold1", None, "fold2")
    split_source = "SCR's official two folds (odd / even image numbers)"
    expected_layout = """\
ROOT/
  All247images/JPCLN001.IMG ... JPCNN093.IMG   (2048x2048, 12-bit in big-endian 16-bit words, no header)
  Clinical_Information/CLNDAT_EN.txt            (nodule list, or at the root; optional: without it no boxes)
  Clinical_Information/CNNDAT_EN.TXT            (non-nodule list; optional: age and sex of the JPCNN images)
  scratch/fold1/masks/{left lung,right lung,heart,left clavicle,right clavicle}/*.gif  (and scratch/fold2/...,
      as the SCR archive unpacks; scr/fold1/..., fold1/masks/... or masks/... are accepted too)
Masks: the five SCR structures. Label Nodule: JPCLN (1) vs JPCNN (0). Boxes: the listed nodule on JPCLN images
(CLNDAT_EN.txt read record by record; a JPCLN image without a record is an error). meta.sex / age: CLNDAT_EN.txt
and CNNDAT_EN.TXT (age '?' left out)."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        image_dir = next((root / d for d in IMAGE_DIRS if any((root / d).glob("JPC*.IMG"))), None)
        if image_dir is None:
            raise LayoutError(root / IMAGE_DIRS[0], "no JPC*.IMG images found", fix=FIX)
        mask_dirs = _mask_dirs(root, split)
        if not mask_dirs:
            raise LayoutError(root / "scratch" / split / "masks", "SCR mask folder not found", fix=FIX)
        nodules = read_nodule_list(root)
        if nodules:
            unlisted = sorted(
                p.stem.upper() for p in image_dir.glob("JPC*.IMG") if p.stem.upper().startswith("JPCLN")
            )
            unlisted = [stem for stem in unlisted if stem not in nodules]
            if unlisted:
                raise LayoutError(
                    nodule_list_path(root) or root,
                    f"{len(unlisted)} nodule image(s) have no record in the nodule list "
                    f"({', '.join(unlisted[:5])}{', ...' if len(unlisted) > 5 else ''}); "
                    f"read {len(nodules)} records, JSRT has 154",
                    fix="use the JSRT nodule list unchanged (CLNDAT_EN.txt, 154 records)",
                )
        demographics = read_demographics(root)
        for path in sorted(image_dir.glob("JPC*.IMG")):
            if _fold_of(path.stem) != split:
                continue
            side = jsrt_side(path)
            scale = side / ORIGINAL_SIDE
            masks = {}
            for structure in STRUCTURES:
                mask_path = next(
                    (
                        d / structure / f"{path.stem}.gif"
                        for d in mask_dirs
                        if (d / structure / f"{path.stem}.gif").is_file()
                    ),
                    None,
                )
                if mask_path is None:
                    raise LayoutError(
                        mask_dirs[0] / structure / f"{path.stem}.gif", "mask not found", fix=FIX
                    )
                masks[structure] = encode_mask(read_mask(mask_path, (side, side)))
            is_nodule = path.stem.upper().startswith("JPCLN")
            boxes = None
            if nodules:
                boxes = []
                if is_nodule:
                    size_mm, x, y = nodules[path.stem.upper()]
                    half = size_mm / PIXEL_MM / 2
                    box = clip_box(
                        (x - half) * scale,
                        (y - half) * scale,
                        (x + half) * scale,
                        (y + half) * scale,
                        side,
                        side,
                    )
                    boxes.append({"label": "Nodule", "bbox": box})
            yield Record.model_validate(
                {
                    "id": path.stem,
                    "image": {"width": side, "height": side, "pixel_spacing_mm": [PIXEL_MM / scale] * 2},
                    "labels": {"Nodule": float(is_nodule)},
                    "boxes": boxes,
                    "masks": masks,
                    "meta": {"dataset": self.name, "split": split, "path": path.relative_to(root).as_posix()}
                    | _subgroups(demographics.get(path.stem.upper())),
                }
            )
