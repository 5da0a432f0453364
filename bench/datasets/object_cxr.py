"""object-CXR (JF Healthcare, MIDL 2020 challenge): foreign objects as boxes, ellipses and polygons."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_box, find_file, image_size, read_csv

FIX = "download object-CXR (train.csv, dev.csv, train/, dev/) and pass its folder"


def parse_annotation(path: Path, lineno: int, text: str) -> list[list[float]]:
    """'0 x1 y1 x2 y2;1 x1 y1 x2 y2;2 x1 y1 ... xn yn' -> the bounding box of each object."""
    boxes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            kind, *values = part.split()
            coords = [float(v) for v in values]
        except ValueError:
            coords, kind = [], "?"
        ok = (
            kind in ("0", "1")
            and len(coords) == 4
            or kind == "2"
            and len(coords) >= 6
            and len(coords) % 2 == 0
        )
        if not ok:
            raise LayoutError(
                path,
                f"annotation object {part!r} is not '0|1 x1 y1 x2 y2' or '2 x1 y1 x2 y2 x3 y3 ...'",
                row=lineno,
                fix="use the challenge CSV unchanged",
            )
        xs, ys = coords[0::2], coords[1::2]
        boxes.append([min(xs), min(ys), max(xs), max(ys)])
    return boxes


@register
class ObjectCXR(DatasetAdapter):
    name = "object-cxr"
    title = "object-CXR"
    tasks = ("classification", "localization")
    splits = ("train", "dev")
    split_source = (
        "official train / dev (the challenge test labels are not public: dev serves as the test set)"
    )
    expected_layout = """\
ROOT/
  train.csv, dev.csv     (image_name, annotation: '0 x1 y1 x2 y2' box / '1 ...' ellipse / '2 x1 y1 ...' polygon,
                          ';'-separated; empty = no foreign object)
  train/*.jpg, dev/*.jpg
Label 'Foreign Object' 1/0; one box per object (the bounding box of its ellipse or polygon)."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        csv_path = find_file(root, (f"{split}.csv",), fix=FIX)
        for lineno, row in read_csv(csv_path, ["image_name", "annotation"], fix=FIX):
            path = root / split / row["image_name"]
            width, height = image_size(path)
            boxes = parse_annotation(csv_path, lineno, row["annotation"])
            yield Record.model_validate(
                {
                    "id": row["image_name"],
                    "image": {"width": width, "height": height},
                    "labels": {"Foreign Object": float(bool(boxes))},
                    "boxes": [
                        {"label": "Foreign Object", "bbox": clip_box(*b, width, height)} for b in boxes
                    ],
                    "meta": {"dataset": self.name, "split": split, "path": path.relative_to(root).as_posix()},
                }
            )
