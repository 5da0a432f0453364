"""ChestX-Det (Lian et al., 2021; Deepwise-AILab): 13 lesion classes with boxes and polygons on NIH-derived images."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_box, find_file, image_size
from bench.datasets.vocabulary import CHESTX_DET
from bench.metrics.segmentation import encode_mask, polygon_to_rle

CLASSES = tuple(CHESTX_DET)
IMAGE_DIRS = {"train": ("train", "train_data"), "test": ("test", "test_data")}


@lru_cache(maxsize=8)
def _empty_rle(height: int, width: int) -> dict[str, Any]:
    return encode_mask(np.zeros((height, width), bool))


def _load_json(path: Path) -> list[dict[str, Any]]:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        data = json.loads(raw)
    except (OSError, EOFError, ValueError) as exc:
        raise LayoutError(path, f"not readable JSON ({exc})", fix="re-download the annotation file") from None
    if not isinstance(data, list):
        raise LayoutError(
            path, "expected a JSON list of {file_name, syms, boxes, polygons}", fix="use the original file"
        )
    return data


@register
class ChestXDet(DatasetAdapter):
    name = "chestx-det"
    title = "ChestX-Det"
    tasks = ("localization", "segmentation", "classification")
    splits = ("train", "test")
    split_source = "official ChestX_Det_train.json / ChestX_Det_test.json"
    expected_layout = """\
ROOT/
  ChestX_Det_train.json, ChestX_Det_test.json   (.gz accepted; [{file_name, syms, boxes, polygons}])
  train/*.png, test/*.png        (or train_data/, test_data/ as train_data.zip / test_data.zip extract)
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
            try:
                file_name, syms, boxes, polygons = (
                    item["file_name"],
                    item["syms"],
                    item["boxes"],
                    item["polygons"],
                )
                if not len(syms) == len(boxes) == len(polygons):
                    raise ValueError("syms, boxes and polygons differ in length")
                labels = [CHESTX_DET[s] for s in syms]
            except (KeyError, TypeError, ValueError) as exc:
                raise LayoutError(
                    json_path, f"entry {index} is malformed ({exc!r})", fix="use the original annotation file"
                ) from None
            path = image_dir / file_name
            width, height = image_size(path)
            record_boxes, per_class = [], {}
            for label, box, polygon in zip(labels, boxes, polygons, strict=True):
                record_boxes.append({"label": label, "bbox": clip_box(*map(float, box), width, height)})
                if len(polygon) >= 3:
                    per_class.setdefault(label, []).append([float(v) for point in polygon for v in point])
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
                    "meta": {"dataset": self.name, "split": split, "path": path.relative_to(root).as_posix()},
                }
            )
