"""ChestX-Det (Lian et al., 2021; Deepwise-AILab): 13 lesion classes with boxes and polygons on NIH-derived images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_bbox, find_file, finite_numbers, image_size, read_json, relative_name
from bench.datasets.vocabulary import CHESTX_DET
from bench.metrics.segmentation import encode_mask, polygon_to_rle

CLASSES = tuple(CHESTX_DET)
# As the archives unpack (fact sheet `archive_layouts`): <split>/ or <split>_data/<split>/; <split>_data/ also taken.
IMAGE_DIRS = {
    "train": ("train", "train_data/train", "train_data"),
    "test": ("test", "test_data/test", "test_data"),
}


@lru_cache(maxsize=8)
def _empty_rle(height: int, width: int) -> dict[str, Any]:
    return encode_mask(np.zeros((height, width), bool))


FIX_ENTRY = "use the original annotation file from Deepwise-AILab/ChestX-Det-Dataset"
# ChestX-Det file name -> NIH ChestX-ray14 Image Index, from the publisher's two releases of ChestX-Det10 (fact
# `cluster_keys`): 3,543 of the 3,578 images; the 35 images ChestX-Det added have no published NIH name.
NIH_INDEX_FILE = Path(__file__).resolve().parent / "facts" / "chestx-det-nih-index.json"


@cache
def nih_image_index() -> dict[str, str]:
    """{ChestX-Det file name: NIH Image Index} (e.g. '36199.png' -> '00000003_003.png')."""
    import json

    return dict(json.loads(NIH_INDEX_FILE.read_text(encoding="utf-8"))["nih_image_index"])


def cluster_keys(file_name: str) -> dict[str, str]:
    """meta.patient (the NIH Patient ID, unpadded as in Data_Entry) and meta.study (the NIH Image Index: one
    image per NIH study) of a ChestX-Det image, or {} for the images without a published NIH name."""
    nih = nih_image_index().get(Path(file_name).name)
    return {} if nih is None else {"patient": str(int(nih.split("_")[0])), "study": nih}


def _load_json(path: Path) -> list[dict[str, Any]]:
    data = read_json(path, "re-download the annotation file")
    if not isinstance(data, list):
        raise LayoutError(
            path, "expected a JSON list of {file_name, syms, boxes, polygons}", fix="use the original file"
        )
    return data


def _entry(
    path: Path, index: int, item: object
) -> tuple[str, list[str], list[list[float]], list[list[float]]]:
    """(file_name, labels, boxes, flat polygons) of entry `index`, checked; LayoutError names the entry and field."""

    def bad(message: str) -> LayoutError:
        return LayoutError(path, f"entry {index}: {message}", row=index, fix=FIX_ENTRY)

    if not isinstance(item, dict):
        raise bad(f"expected an object {{file_name, syms, boxes, polygons}}, got {type(item).__name__}")
    missing = [key for key in ("file_name", "syms", "boxes", "polygons") if key not in item]
    if missing:
        raise bad(f"missing key(s) {', '.join(missing)}")
    file_name = relative_name(item["file_name"])
    if file_name is None:
        raise bad(f"file_name {item['file_name']!r} is not an image file name")
    syms, boxes, polygons = item["syms"], item["boxes"], item["polygons"]
    for key, value in (("syms", syms), ("boxes", boxes), ("polygons", polygons)):
        if not isinstance(value, list):
            raise bad(f"{key} is {type(value).__name__}, expected a list")
    if not len(syms) == len(boxes) == len(polygons):
        raise bad(f"syms, boxes and polygons differ in length ({len(syms)}, {len(boxes)}, {len(polygons)})")
    labels = []
    for i, sym in enumerate(syms):
        if not isinstance(sym, str) or sym not in CHESTX_DET:
            raise bad(f"syms[{i}] {sym!r} is not one of the 13 ChestX-Det classes ({', '.join(CLASSES)})")
        labels.append(CHESTX_DET[sym])
    flat_boxes = []
    for i, box in enumerate(boxes):
        numbers = finite_numbers(box, 4)
        if numbers is None:
            raise bad(f"boxes[{i}] {box!r} is not [x0, y0, x1, y1] (4 finite numbers)")
        flat_boxes.append(numbers)
    flat_polygons = []
    for i, polygon in enumerate(polygons):
        if not isinstance(polygon, list):
            raise bad(f"polygons[{i}] is {type(polygon).__name__}, expected a list of [x, y] points")
        flat: list[float] = []
        for j, point in enumerate(polygon):
            xy = finite_numbers(point, 2)
            if xy is None:
                raise bad(f"polygons[{i}][{j}] {point!r} is not an [x, y] point (2 finite numbers)")
            flat += xy
        flat_polygons.append(flat)
    return file_name, labels, flat_boxes, flat_polygons


def _clip_polygon(flat: list[float], width: int, height: int) -> list[float]:
    """Points clamped to the image (a point far outside would only overflow the rasteriser)."""
    return [min(max(v, 0.0), float(width if i % 2 == 0 else height)) for i, v in enumerate(flat)]


@register
class ChestXDet(DatasetAdapter):
    name = "chestx-det"
    title = "ChestX-Det"
    tasks = ("localization", "segmentation", "classification")
    splits = ("train", "test")
    split_roles = ("train", None, "test")
    split_source = "official ChestX_Det_train.json / ChestX_Det_test.json"
    expected_layout = """\
ROOT/
  ChestX_Det_train.json, ChestX_Det_test.json   (.gz accepted; [{file_name, syms, boxes, polygons}])
  train/*.png, test/*.png        (or train_data/train/, test_data/test/ as train_data.zip / test_data.zip
                                  unpack in some tools; train_data/*.png, test_data/*.png are accepted too)
Boxes: [x0, y0, x1, y1] per lesion. Masks: per class, the union of that class's polygons (an empty mask when the
class is absent: the 13 classes are annotated exhaustively). Labels: 1 if the class has a lesion, else 0."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        json_path = find_file(
            root, (f"ChestX_Det_{split}.json",), fix="download it from Deepwise-AILab/ChestX-Det-Dataset"
        )
        image_dir = next((root / d for d in IMAGE_DIRS[split] if (root / d).is_dir()), None)
        if image_dir is None:
            raise LayoutError(
                root / IMAGE_DIRS[split][0],
                "image folder not found",
                fix=f"extract {split}_data.zip under the root",
            )
        for index, item in enumerate(_load_json(json_path)):
            file_name, labels, boxes, polygons = _entry(json_path, index, item)
            path = image_dir / file_name
            width, height = image_size(path)
            record_boxes = []
            per_class: dict[str, list[list[float]]] = {}
            for label, box, polygon in zip(labels, boxes, polygons, strict=True):
                record_boxes.append({"label": label, "bbox": clip_bbox(box, width, height)})
                if len(polygon) >= 6:  # 3 or more points
                    per_class.setdefault(label, []).append(_clip_polygon(polygon, width, height))
            masks = {
                CHESTX_DET[c]: polygon_to_rle(per_class[CHESTX_DET[c]], height, width)
                if CHESTX_DET[c] in per_class
                else _empty_rle(height, width)
                for c in CLASSES
            }
            yield Record.model_validate(
                {
                    "id": file_name,
                    "image": {"width": width, "height": height},
                    "labels": {CHESTX_DET[c]: float(CHESTX_DET[c] in labels) for c in CLASSES},
                    "boxes": record_boxes,
                    "masks": masks,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        **cluster_keys(file_name),
                        "path": path.relative_to(root).as_posix(),
                    },
                }
            )
