"""JSRT (Shiraishi et al., AJR 2000) with the SCR masks (van Ginneken et al., MedIA 2006).

Splits are SCR's two official folds: fold1 holds the odd-numbered JSRT images, fold2 the even-numbered ones (as
SCR defines them; its fold folders are used when present). Masks come at 1024 px for the 2048 px images and are
upsampled (nearest) to the image size. Nodule boxes: the nodule list's centre +- half its size in mm
(0.175 mm pixels), scaled to the image size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import clip_box, jsrt_side, read_mask
from bench.datasets.vocabulary import STRUCTURES
from bench.metrics.segmentation import encode_mask

ORIGINAL_SIDE = 2048
PIXEL_MM = 0.175
IMAGE_DIRS = ("All247images", "images", ".")
FIX = "extract the JSRT images (All247images/*.IMG) and the SCR masks (scr/fold1/masks/..., scr/fold2/masks/...)"


def _fold_of(name: str) -> str:
    number = int(re.findall(r"\d+", name)[-1])
    return "fold1" if number % 2 else "fold2"


def _mask_dirs(root: Path, fold: str) -> list[Path]:
    return [d for d in (root / "scr" / fold / "masks", root / fold / "masks", root / "masks") if d.is_dir()]


def read_nodule_list(root: Path) -> dict[str, tuple[float, float, float]]:
    """CLNDAT_EN.txt -> {stem: (size_mm, x, y)} with x, y in 2048-px coordinates."""
    path = next((root / n for n in ("CLNDAT_EN.txt", "CLNDAT_EN.TXT") if (root / n).is_file()), None)
    if path is None:
        return {}
    nodules = {}
    for lineno, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        try:
            nodules[Path(fields[0]).stem.upper()] = (float(fields[2]), float(fields[5]), float(fields[6]))
        except (IndexError, ValueError):
            raise LayoutError(
                path,
                f"expected 'file, subtlety, size mm, age, sex, x, y, ...', got {line.strip()!r}",
                row=lineno,
                fix="use the JSRT nodule list unchanged",
            ) from None
    return nodules


@register
class JSRT(DatasetAdapter):
    name = "jsrt"
    title = "JSRT + SCR masks"
    tasks = ("segmentation", "localization", "classification")
    splits = ("fold1", "fold2")
    split_source = "SCR's official two folds (odd / even image numbers)"
    expected_layout = """\
ROOT/
  All247images/JPCLN001.IMG ... JPCNN093.IMG   (2048x2048, 12-bit in big-endian 16-bit words, no header)
  CLNDAT_EN.txt                                 (nodule list; optional: without it no nodule boxes)
  scr/fold1/masks/{left lung,right lung,heart,left clavicle,right clavicle}/*.gif  (and scr/fold2/...;
      fold1/masks/... or masks/... are accepted too)
Masks: the five SCR structures. Label Nodule: JPCLN (1) vs JPCNN (0). Boxes: the listed nodule on JPCLN images."""

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        image_dir = next((root / d for d in IMAGE_DIRS if any((root / d).glob("JPC*.IMG"))), None)
        if image_dir is None:
            raise LayoutError(root / IMAGE_DIRS[0], "no JPC*.IMG images found", fix=FIX)
        mask_dirs = _mask_dirs(root, split)
        if not mask_dirs:
            raise LayoutError(root / "scr" / split / "masks", "SCR mask folder not found", fix=FIX)
        nodules = read_nodule_list(root)
        for path in sorted(image_dir.glob("JPC*.IMG")):
            if _fold_of(path.stem) != split:
                continue
            side = jsrt_side(path)
            scale = side / ORIGINAL_SIDE
            masks = {}
            for structure in STRUCTURES:
                mask_path = next(
                    (
                        d / structure / f"{path.stem}.gif"
                        for d in mask_dirs
                        if (d / structure / f"{path.stem}.gif").is_file()
                    ),
                    None,
                )
                if mask_path is None:
                    raise LayoutError(
                        mask_dirs[0] / structure / f"{path.stem}.gif", "mask not found", fix=FIX
                    )
                masks[structure] = encode_mask(read_mask(mask_path, (side, side)))
            is_nodule = path.stem.upper().startswith("JPCLN")
            boxes = None
            if nodules:
                boxes = []
                if is_nodule and path.stem.upper() in nodules:
                    size_mm, x, y = nodules[path.stem.upper()]
                    half = size_mm / PIXEL_MM / 2
                    box = clip_box(
                        (x - half) * scale,
                        (y - half) * scale,
                        (x + half) * scale,
                        (y + half) * scale,
                        side,
                        side,
                    )
                    boxes.append({"label": "Nodule", "bbox": box})
            yield Record.model_validate(
                {
                    "id": path.stem,
                    "image": {"width": side, "height": side, "pixel_spacing_mm": [PIXEL_MM / scale] * 2},
                    "labels": {"Nodule": float(is_nodule)},
                    "boxes": boxes,
                    "masks": masks,
                    "meta": {"dataset": self.name, "split": split, "path": path.relative_to(root).as_posix()},
                }
            )
