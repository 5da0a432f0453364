"""NIH ChestX-ray14 (Wang et al., CVPR 2017) in the layout of the NIH Box release."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.demographics import normalise
from bench.datasets.io import clip_box, find_file, image_size, read_csv, read_lines
from bench.datasets.vocabulary import NIH_CHESTXRAY14
from bench.labelsets import CHESTXRAY14

FINDINGS = CHESTXRAY14
RELEASED_SIDE = 1024  # NIH released every image at 1024x1024; BBox_List_2017 is in those pixels
DATA_ENTRY = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")
SPLIT_FILES = {"train_val": "train_val_list.txt", "test": "test_list.txt"}
# Fact `subgroup_meta`: 'Patient Gender' (a reported Box copy says 'Patient Sex') holds M / F.
SEX_COLUMNS = ("Patient Gender", "Patient Sex")
SEX_CODES = {"M": "M", "F": "F"}
FIX_IMAGES = (
    "extract images_001.tar.gz ... images_012.tar.gz under the root (images_*/images/*.png or images/*.png)"
)


def _index_images(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for entry in os.scandir(root):
        if entry.is_dir() and entry.name.startswith("images"):
            for folder, _, files in os.walk(entry.path):
                for name in files:
                    if name.endswith(".png"):
                        index[name] = Path(folder) / name
    return index


@register
class ChestXray14(DatasetAdapter):
    name = "chestxray14"
    title = "NIH ChestX-ray14"
    tasks = ("classification", "localization")
    splits = ("train_val", "test")
    split_roles = ("train_val", None, "test")
    split_source = "official train_val_list.txt / test_list.txt (patient-disjoint)"
    expected_layout = """\
ROOT/
  Data_Entry_2017_v2020.csv   (or Data_Entry_2017.csv; .gz accepted)
  BBox_List_2017.csv          (optional; 984 boxes on 880 test images, 1024-px coordinates)
  train_val_list.txt, test_list.txt
  images_001/images/*.png ... images_012/images/*.png   (or images/*.png)
Labels: the 14 findings + No Finding from 'Finding Labels' (text-mined, so 0/1, no unknowns).
Boxes: only on images listed in BBox_List_2017 (others carry no `boxes`), scaled from 1024 px to the file's size.
All views (PA and AP) and all follow-ups are kept. meta.sex / age / view: Patient Gender, Patient Age (ages above
120 left out), View Position."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        entry_path = find_file(
            root, DATA_ENTRY, fix="download Data_Entry_2017_v2020.csv from the NIH Box folder"
        )
        split_path = find_file(
            root, (SPLIT_FILES[split],), fix=f"download {SPLIT_FILES[split]} from the NIH Box folder"
        )
        names = read_lines(split_path, f"re-download {SPLIT_FILES[split]} from the NIH Box folder")
        rows = read_csv(
            entry_path,
            ["Image Index", "Finding Labels", "Patient ID", "View Position", "Follow-up #"],
            fix="use the NIH Data_Entry_2017 CSV unchanged",
        )
        entries = {row["Image Index"]: (lineno, row) for lineno, row in rows}
        boxes = _read_boxes(root)
        images = _index_images(root)
        for lineno_in_split, name in enumerate(names, start=1):
            if name not in entries:
                raise LayoutError(
                    split_path,
                    f"image {name!r} is not in {entry_path.name}",
                    row=lineno_in_split,
                    fix="use the split lists and Data_Entry CSV of the same NIH release",
                )
            lineno, row = entries[name]
            labels = _labels(entry_path, lineno, row["Finding Labels"])
            if name not in images:
                raise LayoutError(root / "images" / name, "image not found", fix=FIX_IMAGES)
            path = images[name]
            width, height = image_size(path)
            record_boxes = None
            if name in boxes:
                sx, sy = width / RELEASED_SIDE, height / RELEASED_SIDE
                record_boxes = [
                    {
                        "label": label,
                        "bbox": clip_box(x * sx, y * sy, (x + w) * sx, (y + h) * sy, width, height),
                    }
                    for label, x, y, w, h in boxes[name]
                ]
            yield Record.model_validate(
                {
                    "id": name,
                    "image": {"width": width, "height": height},
                    "labels": labels,
                    "boxes": record_boxes,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        "patient": row["Patient ID"],
                        # one image per study: the README's "studies" are the images (fact `cluster_keys`)
                        "study": name,
                        "follow_up": row["Follow-up #"],
                        "path": path.relative_to(root).as_posix(),
                    }
                    | _subgroups(row),
                }
            )


def _subgroups(row: dict[str, str]) -> dict[str, object]:
    """meta.sex / age / view from Data_Entry (fact `subgroup_meta`): ages above 120 (the 2017 file's 148-414
    typing errors) are left out and counted."""
    sex = next((row[c] for c in SEX_COLUMNS if c in row), None)
    return normalise(sex=sex, sex_codes=SEX_CODES, age=row.get("Patient Age"), view=row["View Position"])


def _labels(path: Path, lineno: int, finding_labels: str) -> dict[str, float | None]:
    found = {name.strip() for name in finding_labels.split("|") if name.strip()}
    unknown = found - set(FINDINGS) - {"No Finding"}
    if unknown or not found:
        raise LayoutError(
            path,
            f"'Finding Labels' is {finding_labels!r}: {sorted(unknown) or 'empty'} is not an NIH finding",
            row=lineno,
            fix="use the NIH Data_Entry_2017 CSV unchanged ('|'-separated names)",
        )
    labels: dict[str, float | None] = {NIH_CHESTXRAY14[name]: float(name in found) for name in FINDINGS}
    labels["No Finding"] = float("No Finding" in found)
    return labels


def _read_boxes(root: Path) -> dict[str, list[tuple[str, float, float, float, float]]]:
    try:
        path = find_file(root, ("BBox_List_2017.csv",), fix="")
    except LayoutError:
        return {}
    rows = read_csv(
        path, ["Image Index", "Finding Label"], fix="use BBox_List_2017.csv from the NIH Box folder"
    )
    boxes: dict[str, list[tuple[str, float, float, float, float]]] = {}
    for lineno, row in rows:
        values = list(row.values())
        try:
            x, y, w, h = (float(v) for v in values[2:6])
            label = NIH_CHESTXRAY14[row["Finding Label"]]
            if not all(math.isfinite(v) for v in (x, y, w, h)):
                raise ValueError("x, y, w, h must be finite numbers")
        except (ValueError, KeyError) as exc:
            raise LayoutError(
                path,
                f"expected Image Index, Finding Label, x, y, w, h; got {values[:6]} ({exc})",
                row=lineno,
                fix="use BBox_List_2017.csv unchanged",
            ) from None
        boxes.setdefault(row["Image Index"], []).append((label, x, y, w, h))
    return boxes
