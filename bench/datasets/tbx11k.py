"""TBX11K (Liu et al., CVPR 2020): healthy / sick-non-TB / TB images with COCO-style TB boxes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_box, finite_numbers, image_size, read_json, read_lines, relative_name
from bench.datasets.vocabulary import TBX11K_BOXES, TBX11K_CLASSES

CLASSES = tuple(TBX11K_CLASSES.values())
FIX = "use the original TBX11K annotation file (TBX11K.zip: annotations/json/)"


def _is_id(value: object) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _load_coco(path: Path) -> tuple[dict[object, str], list[object], list[object]]:
    """(category id -> box label, images, annotations) of a COCO file, the containers checked."""
    coco = read_json(path, "re-download TBX11K.zip")
    if not isinstance(coco, dict):
        raise LayoutError(path, f"expected a COCO object, got {type(coco).__name__}", fix=FIX)
    for key in ("categories", "images"):
        if not isinstance(coco.get(key), list):
            raise LayoutError(path, f"COCO key {key!r} is missing or not a list", fix=FIX)
    annotations = coco.get("annotations", [])
    if not isinstance(annotations, list):
        raise LayoutError(path, "COCO key 'annotations' is not a list", fix=FIX)
    categories: dict[object, str] = {}
    for index, category in enumerate(coco["categories"]):
        if not isinstance(category, dict) or not _is_id(category.get("id")):
            raise LayoutError(path, f"categories[{index}] has no 'id' (a number)", row=index, fix=FIX)
        name = category.get("name")
        if not isinstance(name, str) or name not in TBX11K_BOXES:
            raise LayoutError(
                path,
                f"categories[{index}] name {name!r} is not one of {', '.join(TBX11K_BOXES)}",
                row=index,
                fix=FIX,
            )
        categories[category["id"]] = TBX11K_BOXES[name]
    return categories, coco["images"], annotations


def _read_boxes(
    path: Path, categories: dict[object, str], annotations: list[object]
) -> dict[object, list[tuple[str, list[float]]]]:
    """image id -> [(box label, [x, y, w, h])]; LayoutError names the annotation and the field."""
    boxes: dict[object, list[tuple[str, list[float]]]] = {}
    for index, ann in enumerate(annotations):

        def bad(message: str, index: int = index) -> LayoutError:
            return LayoutError(path, f"annotations[{index}] {message}", row=index, fix=FIX)

        if not isinstance(ann, dict):
            raise bad(f"is {type(ann).__name__}, expected an object")
        for key in ("image_id", "category_id", "bbox"):
            if key not in ann:
                raise bad(f"has no {key!r}")
        if not _is_id(ann["image_id"]):
            raise bad(f"image_id {ann['image_id']!r} is not an id")
        if not _is_id(ann["category_id"]) or ann["category_id"] not in categories:
            raise bad(f"category_id {ann['category_id']!r} is not in 'categories'")
        bbox = finite_numbers(ann["bbox"], 4)
        if bbox is None or bbox[2] < 0 or bbox[3] < 0:
            raise bad(
                f"bbox {ann['bbox']!r} is not COCO [x, y, width, height] (4 finite numbers, sizes >= 0)"
            )
        boxes.setdefault(ann["image_id"], []).append((categories[ann["category_id"]], bbox))
    return boxes


@register
class TBX11K(DatasetAdapter):
    name = "tbx11k"
    title = "TBX11K"
    tasks = ("classification", "localization")
    splits = ("train", "val")
    split_roles = ("train", None, "val")  # no public test labels: the official val split is the test split
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
        categories, images, annotations = _load_coco(json_path)
        boxes = _read_boxes(json_path, categories, annotations)
        listed = _list_names(root, split)
        for index, image in enumerate(images):
            if not isinstance(image, dict):
                raise LayoutError(
                    json_path,
                    f"images[{index}] is {type(image).__name__}, expected an object",
                    row=index,
                    fix=FIX,
                )
            if "file_name" not in image or "id" not in image:
                missing = " and ".join(repr(k) for k in ("id", "file_name") if k not in image)
                raise LayoutError(json_path, f"images[{index}] has no {missing}", row=index, fix=FIX)
            file_name = relative_name(image["file_name"])
            if not _is_id(image["id"]):
                raise LayoutError(
                    json_path, f"images[{index}] id {image['id']!r} is not an id", row=index, fix=FIX
                )
            folder = file_name.split("/")[0] if file_name is not None else None
            if file_name is None or folder not in TBX11K_CLASSES or file_name == folder:
                raise LayoutError(
                    json_path,
                    f"images[{index}] file_name {image['file_name']!r} is not under health/, sick/ or tb/",
                    row=index,
                    fix=FIX,
                )
            if listed is not None and file_name not in listed:
                raise LayoutError(
                    json_path,
                    f"images[{index}] {file_name!r} is not in lists/TBX11K_{split}.txt",
                    row=index,
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
    return set(read_lines(path, "re-download TBX11K.zip (lists/ and annotations/ of the same release)"))
