"""VinDr-CXR 1.0 (Nguyen et al., Sci Data 2022, PhysioNet): DICOM images, 22 local + 6 global labels, boxes.

Reader fusion on the training split (3 independent readers per image; the test split is already a 5-reader
consensus and is used as published):
- image label: positive when at least 2 of the image's readers marked it (majority), else 0;
- boxes: per class, boxes are clustered greedily (reader order, then file order): a box joins the first
  cluster whose mean box overlaps it with IoU >= 0.5 and that holds no box of the same reader yet; clusters
  supported by >= 2 readers are kept, as the coordinate-wise mean of their boxes. Single-reader boxes are dropped.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.demographics import normalise
from bench.datasets.io import clip_bbox, dicom_patient_tags, dicom_pixel_spacing, image_size, read_csv
from bench.datasets.vocabulary import VINDR_CXR

FUSION_IOU = 0.5
MIN_READERS = 2
# Fact `subgroup_meta`: the DICOM header keeps (0010,0040) Patient's Sex and (0010,1010) Patient's Age only;
# 'O' (other) and blanks carry no sex, a blank age no age. No view or site tag is kept.
SEX_CODES = {"M": "M", "F": "F"}
FIX = "download VinDr-CXR 1.0 from PhysioNet and pass its top folder (train/, test/, annotations/)"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def fuse_boxes(boxes: list[tuple[str, list[float]]]) -> list[list[float]]:
    """(reader, [x0, y0, x1, y1]) of one class on one image -> the fused boxes (see the module doc)."""
    clusters: list[tuple[set[str], list[np.ndarray]]] = []
    for reader, box in sorted(boxes, key=lambda item: item[0]):
        array = np.asarray(box, dtype=float)
        for readers, members in clusters:
            if reader not in readers and _iou(np.mean(members, axis=0), array) >= FUSION_IOU:
                readers.add(reader)
                members.append(array)
                break
        else:
            clusters.append(({reader}, [array]))
    return [np.mean(members, axis=0).tolist() for readers, members in clusters if len(readers) >= MIN_READERS]


@register
class VinDrCXR(DatasetAdapter):
    name = "vindr-cxr"
    title = "VinDr-CXR 1.0"
    tasks = ("localization", "classification")
    splits = ("train", "test")
    split_roles = ("train", None, "test")
    split_source = "official train / test folders"
    expected_layout = """\
ROOT/
  train/<image_id>.dicom, test/<image_id>.dicom
  annotations/annotations_{train,test}.csv    (image_id, rad_id, class_name, x_min, y_min, x_max, y_max)
  annotations/image_labels_{train,test}.csv   (image_id, [rad_id,] 28 label columns 0/1)
Train: 3 readers per image, fused (label: >= 2 of 3 readers; boxes: IoU >= 0.5 clusters with >= 2 readers,
averaged). Test: the published 5-reader consensus, as is. Boxes in DICOM pixel coordinates.
meta.sex / age: the DICOM Patient's Sex (O left out) and Patient's Age (e.g. 045Y -> 45); no view tag is kept."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        label_path = root / "annotations" / f"image_labels_{split}.csv"
        box_path = root / "annotations" / f"annotations_{split}.csv"
        for path in (label_path, box_path):
            if not path.is_file():
                raise LayoutError(path, "file not found", fix=FIX)
        label_rows = read_csv(label_path, ["image_id"], fix=FIX)
        header = [c for c in label_rows[0][1] if c not in ("image_id", "rad_id")] if label_rows else []
        unknown = [c for c in header if c not in VINDR_CXR]
        if unknown:
            raise LayoutError(label_path, f"unknown label column(s) {unknown}", row=1, fix=FIX)
        votes: dict[str, list[dict[str, str]]] = defaultdict(list)
        for lineno, row in label_rows:
            for column in header:
                if row[column] not in ("0", "1", "0.0", "1.0"):
                    raise LayoutError(
                        label_path, f"{column!r} is {row[column]!r}, expected 0 or 1", row=lineno, fix=FIX
                    )
            votes[row["image_id"]].append(row)
        boxes: dict[str, dict[str, list[tuple[str, list[float]]]]] = defaultdict(lambda: defaultdict(list))
        for lineno, row in read_csv(
            box_path, ["image_id", "class_name", "x_min", "y_min", "x_max", "y_max"], fix=FIX
        ):
            if row["class_name"] not in VINDR_CXR:
                raise LayoutError(box_path, f"unknown class_name {row['class_name']!r}", row=lineno, fix=FIX)
            if row["x_min"] == "":  # 'No finding' rows carry no box
                continue
            try:
                coords = [float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max")]
            except ValueError:
                coords = []
            if not coords or not all(math.isfinite(c) for c in coords):
                values = [row[k] for k in ("x_min", "y_min", "x_max", "y_max")]
                raise LayoutError(
                    box_path, f"box coordinates {values} are not 4 finite numbers", row=lineno, fix=FIX
                )
            boxes[row["image_id"]][VINDR_CXR[row["class_name"]]].append((row.get("rad_id", ""), coords))
        for image_id, rows in votes.items():
            path = root / split / f"{image_id}.dicom"
            width, height = image_size(path)
            readers = len(rows)
            needed = MIN_READERS if readers >= 3 else 1
            labels = {VINDR_CXR[c]: float(sum(float(r[c]) == 1.0 for r in rows) >= needed) for c in header}
            record_boxes = []
            for label, items in boxes.get(image_id, {}).items():
                fused = fuse_boxes(items) if readers >= 3 else [coords for _, coords in items]
                record_boxes += [{"label": label, "bbox": clip_bbox(b, width, height)} for b in fused]
            spacing = dicom_pixel_spacing(path)
            sex, age = dicom_patient_tags(path)
            yield Record.model_validate(
                {
                    "id": image_id,
                    "image": {"width": width, "height": height, "pixel_spacing_mm": spacing},
                    "labels": labels,
                    "boxes": record_boxes,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        "readers": readers,
                        "path": path.relative_to(root).as_posix(),
                    }
                    | normalise(sex=sex, sex_codes=SEX_CODES, age=age),
                }
            )
