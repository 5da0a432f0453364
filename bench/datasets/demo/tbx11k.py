"""Demo TBX11K from its fact sheet: imgs/{health,sick,tb}/, lists/TBX11K_{train,val}.txt and
annotations/json/TBX11K_{train,val}.json (COCO).

From the facts: the image folders (`image_folders`) and the publisher's file names in them (`file_name_patterns`:
h0001.png, s0001.png, tb0001.png), the list files and their line format (`lists_files`), the JSON names and
folder (`annotation_files`), the COCO categories (`coco_categories`), the image and annotation keys
(`label_encoding`), the COCO box convention (`bbox_format`: [x, y, w, h]) and the 8-bit RGB PNGs (`image_format`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, choose_split, look, pick, printf, rng_for
from bench.datasets.demo.writers import save_png
from bench.datasets.factsheet import fact

NAME = "tbx11k"
SPLITS = ("train", "val")
# What the sick-but-non-TB images show (anatomy kinds; TBX11K does not label them).
SICK_KINDS = ["Consolidation", "Pleural Effusion", "Nodule", "Cardiomegaly", "Atelectasis"]
FOLDER_SHARE = {"health": 0.4, "sick": 0.3, "tb": 0.3}  # by the fact's folder keys


def _keys(description: str) -> list[str]:
    """Key names of a fact such as '{id (1-based, list order), file_name (...), width: 512, ...}'."""
    inner = re.sub(r"\([^()]*\)", "", description.strip().strip("{}"))
    return [part.split(":")[0].strip() for part in inner.split(",") if part.strip()]


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    patterns = fact(NAME, "file_name_patterns")
    image_root = pick(fact(NAME, "image_folders"), "/health").rsplit("/", 1)[0]  # 'imgs'
    folders = list(FOLDER_SHARE)
    for folder in folders:  # the folders the fact lists, each with its pattern
        pick(fact(NAME, "image_folders"), f"{image_root}/{folder}")
    categories = fact(NAME, "coco_categories")
    # the box classes drawn on TB images: active and latent (the 'uncertain' class occurs only in the test set)
    tb_kinds: dict[str, int] = {}
    for category in categories:
        kind = look(category["name"])
        if kind is None:
            raise KeyError(f"TBX11K category {category['name']!r} has no demo look")
        if kind != "Tuberculosis":
            tb_kinds[kind] = category["id"]
    encoding = fact(NAME, "label_encoding")
    image_keys = _keys(encoding["json_image"])
    annotation_keys = _keys(encoding["json_annotation"])
    files = fact(NAME, "annotation_files")
    lists = fact(NAME, "lists_files")["names"]
    channels = str(fact(NAME, "image_format")["channels"])  # '3 (RGB)': the PNGs are stored as RGB
    mode = "RGB" if "RGB" in channels else "L"
    coco = {s: {"categories": categories, "images": [], "annotations": []} for s in SPLITS}
    counters = dict.fromkeys(folders, 0)
    ann_id = 0
    for index in range(n):
        split = choose_split(rng, index, {"train": 0.7, "val": 0.3})
        folder = str(rng.choice(folders, p=list(FOLDER_SHARE.values())))
        counters[folder] += 1
        file_name = (
            f"{folder}/{printf(patterns[folder]) % counters[folder]}"  # the list line: relative to imgs/
        )
        if folder == "health":
            case = synth_case(rng, IMAGE_SIZE, [], p_normal=1.0)
        elif folder == "sick":
            case = synth_case(rng, IMAGE_SIZE, SICK_KINDS, p_normal=0.0)
        else:
            case = synth_case(rng, IMAGE_SIZE, list(tb_kinds), p_normal=0.0, max_findings=2)
        save_png(out / image_root / file_name, case.image, mode)
        image_id = len(coco["train"]["images"]) + len(coco["val"]["images"]) + 1
        image = {
            "id": image_id,
            "file_name": file_name,
            "width": IMAGE_SIZE,
            "height": IMAGE_SIZE,
            "date_captured": "2020-01-01 00:00:00",
            "license": 1,
            "coco_url": "",
            "flickr_url": "",
        }
        coco[split]["images"].append({key: image[key] for key in image_keys})
        for finding in case.findings if folder == "tb" else []:
            ann_id += 1
            x0, y0, x1, y1 = finding.bbox
            annotation = {
                "id": ann_id,
                "image_id": image_id,
                "category_id": tb_kinds[finding.label],
                "iscrowd": 0,
                "area": (x1 - x0) * (y1 - y0),
                "bbox": [x0, y0, x1 - x0, y1 - y0],  # COCO [x, y, w, h] (fact bbox_format)
                "width": IMAGE_SIZE,
                "height": IMAGE_SIZE,
            }
            coco[split]["annotations"].append({key: annotation[key] for key in annotation_keys})
    json_dir = out / files["json_dir"]
    json_dir.mkdir(parents=True, exist_ok=True)
    list_dir = out / pick(fact(NAME, "layout"), "lists/").split("/")[0]
    list_dir.mkdir(parents=True, exist_ok=True)
    for split, data in coco.items():
        (json_dir / pick(files["json_full"], f"TBX11K_{split}.")).write_text(json.dumps(data))
        (list_dir / pick(lists, f"TBX11K_{split}.")).write_text(
            "".join(f"{im['file_name']}\n" for im in data["images"])
        )
