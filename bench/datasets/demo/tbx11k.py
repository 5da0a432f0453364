"""Demo TBX11K: imgs/{health,sick,tb}/, lists/TBX11K_{train,val}.txt, annotations/json/TBX11K_{train,val}.json."""

from __future__ import annotations

import json
from pathlib import Path

from bench.datasets.demo.anatomy import synth_case
from bench.datasets.demo.common import IMAGE_SIZE, rng_for
from bench.datasets.demo.writers import save_png

NAME = "tbx11k"
CATEGORIES = [
    {"id": 1, "name": "ActiveTuberculosis", "supercategory": "Tuberculosis"},
    {"id": 2, "name": "ObsoletePulmonaryTuberculosis", "supercategory": "Tuberculosis"},
    {"id": 3, "name": "PulmonaryTuberculosis", "supercategory": "Tuberculosis"},
]
SICK_POOL = ["Consolidation", "Pleural Effusion", "Nodule", "Cardiomegaly", "Atelectasis"]
TB_POOL = {"Active Tuberculosis": 1, "Obsolete Tuberculosis": 2}


def write(out: Path, n: int = 200, seed: int = 0) -> None:
    rng = rng_for(NAME, seed)
    coco = {s: {"categories": CATEGORIES, "images": [], "annotations": []} for s in ("train", "val")}
    counters = {"health": 0, "sick": 0, "tb": 0}
    ann_id = 0
    for index in range(n):
        split = "val" if rng.random() < 0.3 else "train"
        folder = str(rng.choice(["health", "sick", "tb"], p=[0.4, 0.3, 0.3]))
        counters[folder] += 1
        file_name = f"{folder}/{folder[0]}{counters[folder]:04d}.png"
        if folder == "health":
            case = synth_case(rng, IMAGE_SIZE, [], p_normal=1.0)
        elif folder == "sick":
            case = synth_case(rng, IMAGE_SIZE, SICK_POOL, p_normal=0.0)
        else:
            case = synth_case(rng, IMAGE_SIZE, list(TB_POOL), p_normal=0.0, max_findings=2)
        save_png(out / "imgs" / file_name, case.image)
        image_id = index + 1
        coco[split]["images"].append(
            {"id": image_id, "file_name": file_name, "width": IMAGE_SIZE, "height": IMAGE_SIZE}
        )
        for finding in case.findings if folder == "tb" else []:
            ann_id += 1
            x0, y0, x1, y1 = finding.bbox
            coco[split]["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": TB_POOL[finding.label],
                    "iscrowd": 0,
                    "area": (x1 - x0) * (y1 - y0),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                }
            )
    for split, data in coco.items():
        (out / "annotations" / "json").mkdir(parents=True, exist_ok=True)
        (out / "annotations" / "json" / f"TBX11K_{split}.json").write_text(json.dumps(data))
        (out / "lists").mkdir(parents=True, exist_ok=True)
        (out / "lists" / f"TBX11K_{split}.txt").write_text(
            "".join(f"{im['file_name']}\n" for im in data["images"])
        )
