"""NLM Montgomery County chest X-ray set (USA): TB vs normal with manual left / right lung masks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets import nlm_tb
from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import read_mask
from bench.metrics.segmentation import encode_mask

FIX = "extract MontgomerySet (CXR_png/, ManualMask/leftMask/, ManualMask/rightMask/, ClinicalReadings/) under the root"
# The vocabulary's structures are the patient's sides (as SCR names them). Montgomery's folders name the image's
# sides: leftMask is the lung on the image's left, under the R marker, i.e. the patient's right lung (fact
# `mask_semantics`).
MASKS = {"right lung": "leftMask", "left lung": "rightMask"}
# Images whose reading says "same pt as MCUCXR_nnnn_1" (fact `cluster_keys`: 138 images of 135 patients): each
# takes the case number of the first image of its patient as meta.patient (and so its split).
SAME_PATIENT = {"MCUCXR_0117": "MCUCXR_0113", "MCUCXR_0166": "MCUCXR_0162", "MCUCXR_0170": "MCUCXR_0162"}


@register
class Montgomery(DatasetAdapter):
    name = "montgomery"
    title = "NLM Montgomery County TB set"
    tasks = ("classification", "segmentation")
    splits = ("train", "val", "test")
    split_roles = ("train", "val", "test")
    split_source = (
        "seeded patient-level split shipped with cxrbench (splits/montgomery.json; no official split)"
    )
    expected_layout = """\
ROOT/
  CXR_png/MCUCXR_NNNN_0.png (normal) / MCUCXR_NNNN_1.png (TB)
  ManualMask/leftMask/MCUCXR_NNNN_X.png, ManualMask/rightMask/MCUCXR_NNNN_X.png
  ClinicalReadings/MCUCXR_NNNN_X.txt     (optional: sex, age, reading -> meta)
ROOT may also be the folder above MontgomerySet/ (NLM-MontgomeryCXRSet/, Montgomery-County-CXR-Set/, Montgomery/).
Label Tuberculosis from the file name; masks 'right lung' (leftMask: the lung on the image's left) and 'left lung'
(rightMask): the patient's sides, as SCR / JSRT name them."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        for path, patient, tb, (width, height) in nlm_tb.images(
            root, self.name, "MCUCXR", split, FIX, SAME_PATIENT
        ):
            masks = {}
            for structure, folder in MASKS.items():
                mask_path = path.parent.parent / "ManualMask" / folder / path.name
                if not mask_path.is_file():
                    raise LayoutError(mask_path, "mask not found", fix=FIX)
                masks[structure] = encode_mask(read_mask(mask_path, (width, height)))
            info = nlm_tb.reading(path.parent.parent / "ClinicalReadings" / f"{path.stem}.txt")
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
