"""object-CXR (JF Healthcare, MIDL 2020 challenge): foreign objects as boxes, ellipses and polygons."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_bbox, find_file, image_size, read_csv

# Header variants (fact `csv_columns`): the data files say image_name,annotation; the README's example
# image_path,annotation and an early README annotations.
NAME_COLUMNS = ("image_name", "image_path")
ANNOTATION_COLUMNS = ("annotation", "annotations")
FIX = "download object-CXR (train.csv, dev.csv, train/, dev/) and pass its folder"


def parse_annotation(path: Path, lineno: int, text: str) -> list[dict[str, Any]]:
    """'0 x1 y1 x2 y2;1 x1 y1 x2 y2;2 x1 y1 ... xn yn' -> one object per part: its shape and bounding box.

    Shape codes (fact `annotation_grammar`): 0 rectangle (corners), 1 ellipse (the corners of its bounding
    rectangle), 2 polygon (its vertices).
    """
    objects: list[dict[str, Any]] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        kind, *values = part.split()
        try:
            coords = [float(v) for v in values]
        except ValueError:
            coords = []
        ok = all(math.isfinite(v) for v in coords) and (
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
        box = [min(xs), min(ys), max(xs), max(ys)]
        objects.append({"bbox": box} | SHAPES[kind](coords))
    return objects


SHAPES = {
    "0": lambda coords: {},
    "1": lambda coords: {"shape": "ellipse"},
    "2": lambda coords: {"shape": "polygon", "points": coords},
}


@register
class ObjectCXR(DatasetAdapter):
    name = "object-cxr"
    title = "object-CXR"
    tasks = ("classification", "localization")
    splits = ("train", "dev")
    split_roles = ("train", None, "dev")  # no public test labels: the official dev split is the test split
    split_source = (
        "official train / dev (the challenge test labels are not public: dev serves as the test set)"
    )
    expected_layout = """\
ROOT/
  train.csv, dev.csv     (image_name, annotation: '0 x1 y1 x2 y2' box / '1 ...' ellipse / '2 x1 y1 ...' polygon,
                          ';'-separated; empty = no foreign object)
  train/*.jpg, dev/*.jpg
Label 'Foreign Object' 1/0; one box per object: the bounding box, with the shape kept for ellipses and polygons
(`shape`, `points`) so that the FROC hit rule center_in_object tests the annotated object, as the official
froc.py does."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        csv_path = find_file(root, (f"{split}.csv",), fix=FIX)
        rows = read_csv(csv_path, [], fix=FIX)
        header = list(rows[0][1]) if rows else []
        name_column = next((c for c in NAME_COLUMNS if c in header), None)
        annotation_column = next((c for c in ANNOTATION_COLUMNS if c in header), None)
        if name_column is None or annotation_column is None:
            if rows:
                raise LayoutError(
                    csv_path,
                    f"expected columns image_name (or image_path) and annotation (or annotations); the header has {header}",
                    row=1,
                    fix=FIX,
                )
            return  # an empty csv: no records
        for lineno, row in rows:
            image_name = Path(row[name_column]).name  # image_path variants hold '/path/#####.jpg'
            path = root / split / image_name
            width, height = image_size(path)
            objects = parse_annotation(csv_path, lineno, row[annotation_column])
            yield Record.model_validate(
                {
                    "id": image_name,
                    "image": {"width": width, "height": height},
                    "labels": {"Foreign Object": float(bool(objects))},
                    "boxes": [
                        {"label": "Foreign Object", **o, "bbox": clip_bbox(o["bbox"], width, height)}
                        for o in objects
                    ],
                    "meta": {"dataset": self.name, "split": split, "path": path.relative_to(root).as_posix()},
                }
            )
