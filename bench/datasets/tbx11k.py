"""TBX11K (Liu et al., CVPR 2020): healthy / sick-non-TB / TB images with COCO-style TB boxes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_box, image_size
from bench.datasets.vocabulary import TBX11K_BOXES, TBX11K_CLASSES

CLASSES = tuple(TBX11K_CLASSES.values())


@register
class TBX11K(DatasetAdapter):
    name = "tbx11k"
    title = "TBX11K"
    tasks = ("classification", "localization")
    splits = ("train", "val")
    split_source = "official TBX11K_train / TBX11K_val (the test labels are withheld by the publisher)"
    expected_layout = """\
ROOT/
  imgs/{health,sick,tb}/*.png
  annotations/json/TBX11K_train.json, TBX11K_val.json   (COCO: images list every image of the split)
  lists/TBX11K_train.txt, TBX11K_val.txt                 (optional; checked against the JSON when present)
Labels: one-hot Healthy / Sick Non-TB / Tuberculosis from the image folder. Boxes: the COCO boxes
(ActiveTuberculosis, ObsoletePulmonaryTuberculosis, PulmonaryTuberculosis); [] on healthy and sick images."""

    def available_splits(self, root: str | os.PathLike[str]) -> tuple[str, ...]:
        found = tuple(
            s for s in self.splits if (Path(root) / "annotations" / "json" / f"TBX11K_{s}.json").is_file()
        )
        return found or self.splits

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        json_path = root / "annotations" / "json" / f"TBX11K_{split}.json"
        if not json_path.is_file():
            raise LayoutError(
                json_path,
                "annotation file not found",
                fix="extract TBX11K.zip so that annotations/ is under the root",
            )
        try:
            coco = json.loads(json_path.read_bytes())
            categories = {c["id"]: TBX11K_BOXES[c["name"]] for c in coco["categories"]}
            images = coco["images"]
        except (ValueError, KeyError, TypeError) as exc:
            raise LayoutError(
                json_path, f"not the TBX11K COCO format ({exc!r})", fix="use the original file"
            ) from None
        boxes: dict[int, list[tuple[str, list[float]]]] = {}
        for index, ann in enumerate(coco.get("annotations", [])):
            try:
                boxes.setdefault(ann["image_id"], []).append(
                    (categories[ann["category_id"]], [float(v) for v in ann["bbox"]])
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise LayoutError(
                    json_path, f"annotations[{index}] is malformed ({exc!r})", fix="use the original file"
                ) from None
        listed = _list_names(root, split)
        for index, image in enumerate(images):
            file_name = image["file_name"]
            folder = file_name.split("/")[0]
            if folder not in TBX11K_CLASSES:
                raise LayoutError(
                    json_path,
                    f"images[{index}] file_name {file_name!r} is not under health/, sick/ or tb/",
                    fix="use the original file",
                )
            if listed is not None and file_name not in listed:
                raise LayoutError(
                    json_path,
                    f"images[{index}] {file_name!r} is not in lists/TBX11K_{split}.txt",
                    fix="use matching lists/ and annotations/",
                )
            path = root / "imgs" / file_name
            width, height = image_size(path)
            record_boxes = [
                {"label": label, "bbox": clip_box(x, y, x + w, y + h, width, height)}
                for label, (x, y, w, h) in boxes.get(image["id"], [])
            ]
            yield Record.model_validate(
                {
                    "id": file_name,
                    "image": {"width": width, "height": height},
                    "labels": {name: float(name == TBX11K_CLASSES[folder]) for name in CLASSES},
                    "boxes": record_boxes,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        "class": folder,
                        "path": path.relative_to(root).as_posix(),
                    },
                }
            )


def _list_names(root: Path, split: str) -> set[str] | None:
    path = root / "lists" / f"TBX11K_{split}.txt"
    if not path.is_file():
        return None
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}
