"""NLM Shenzhen chest X-ray set (China): TB vs normal, with the lung masks of Stirenko et al. (2018)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets import nlm_tb
from bench.datasets.base import DatasetAdapter, register
from bench.datasets.io import read_mask
from bench.metrics.segmentation import encode_mask

# Where the lung masks of Stirenko et al. sit (fact `mask_names`): mask/ (their archive), mask/mask/ (the Kaggle
# copy), masks/ (the combined Kaggle set).
MASK_DIRS = ("mask", "mask/mask", "masks")
FIX = "extract ChinaSet_AllFiles (CXR_png/, ClinicalReadings/) and the lung masks (mask/) under the root"


@register
class Shenzhen(DatasetAdapter):
    name = "shenzhen"
    title = "NLM Shenzhen (China) TB set"
    tasks = ("classification", "segmentation")
    splits = ("train", "val", "test")
    split_roles = ("train", "val", "test")
    split_source = (
        "seeded patient-level split shipped with cxrbench (splits/shenzhen.json; no official split)"
    )
    expected_layout = """\
ROOT/
  CXR_png/CHNCXR_NNNN_0.png (normal) / CHNCXR_NNNN_1.png (TB)
  ClinicalReadings/CHNCXR_NNNN_X.txt     (optional: sex, age, reading -> meta)
  mask/CHNCXR_NNNN_X_mask.png            (optional: lung masks exist for 566 of 662 images; 'lungs' mask;
                                          mask/mask/ or masks/ as the Kaggle copies unpack)
ROOT may also be the folder above a release wrapper (ChinaSet_AllFiles/, ChinaSet_AllFiles/ChinaSet_AllFiles/,
Shenzhen-Hospital-CXR-Set/). Label Tuberculosis from the file name. Images without a mask carry no `masks`."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        for path, patient, tb, (width, height) in nlm_tb.images(root, self.name, "CHNCXR", split, FIX):
            base = path.parent.parent
            mask_path = next(
                (
                    base / d / f"{path.stem}_mask.png"
                    for d in MASK_DIRS
                    if (base / d / f"{path.stem}_mask.png").is_file()
                ),
                base / MASK_DIRS[0] / f"{path.stem}_mask.png",
            )
            masks = (
                {"lungs": encode_mask(read_mask(mask_path, (width, height)))} if mask_path.is_file() else None
            )
            info = nlm_tb.reading(base / "ClinicalReadings" / f"{path.stem}.txt")
            yield Record.model_validate(
                {
                    "id": path.stem,
                    "image": {"width": width, "height": height},
                    "labels": {"Tuberculosis": float(tb)},
                    "masks": masks,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        "patient": patient,
                        **info,
                        "path": path.relative_to(root).as_posix(),
                    },
                }
            )
