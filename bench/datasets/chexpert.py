"""CheXpert v1.0 / v1.0-small (Irvin et al., AAAI 2019): train.csv, valid.csv and the optional test labels."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.io import find_file, image_size, read_csv
from bench.datasets.vocabulary import CHEXPERT

OBSERVATIONS = tuple(CHEXPERT)
COMPETITION = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
UncertainPolicy = Literal["U-Ones", "U-Zeros", "U-Ignore"]
POLICIES: tuple[str, ...] = ("U-Ones", "U-Zeros", "U-Ignore")
SPLIT_FILES = {"train": ("train.csv",), "valid": ("valid.csv",), "test": ("test_labels.csv", "test.csv")}


def label_value(
    path: Path, lineno: int, column: str, cell: str, policy: str, blank_is_negative: bool
) -> float | None:
    """One CheXpert-labeller cell: 1 / 0 / -1 (uncertain) / blank (not mentioned)."""
    if cell == "":
        return 0.0 if blank_is_negative else None
    try:
        value = float(cell)
    except ValueError:
        value = float("nan")
    if value == 1.0:
        return 1.0
    if value == 0.0:
        return 0.0
    if value == -1.0:
        return {"U-Ones": 1.0, "U-Zeros": 0.0, "U-Ignore": None}[policy]
    raise LayoutError(
        path,
        f"column {column!r} holds {cell!r}; CheXpert labels are 1.0, 0.0, -1.0 or blank",
        row=lineno,
        fix="use the publisher's CSV unchanged",
    )


def resolve_image(root: Path, relative: str) -> Path:
    """CSV paths start with the release folder ('CheXpert-v1.0-small/train/...'); accept root at either level."""
    candidates = [root / relative, root.parent / relative]
    parts = Path(relative).parts
    if len(parts) > 1:
        candidates.append(root.joinpath(*parts[1:]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[-1]


@register
class CheXpert(DatasetAdapter):
    name = "chexpert"
    title = "CheXpert v1.0"
    tasks = ("classification",)
    splits = ("train", "valid", "test")
    split_source = "official train.csv / valid.csv (+ test_labels.csv when present)"
    expected_layout = """\
ROOT/   (CheXpert-v1.0 or CheXpert-v1.0-small)
  train.csv, valid.csv          (Path, Sex, Age, Frontal/Lateral, AP/PA, 14 observations)
  test_labels.csv               (optional: the released test labels, same columns with Path)
  train/patientNNNNN/studyN/viewN_frontal.jpg, valid/..., test/...
Labels: the 5 competition labels by default (labels='all' for the 14). Uncertain (-1) follows the policy:
U-Ones -> 1, U-Zeros -> 0, U-Ignore -> null (default). Blank (not mentioned) -> null unless blank_is_negative.
All views (frontal and lateral) are kept."""

    def __init__(
        self,
        labels: Literal["competition", "all"] = "competition",
        uncertain: UncertainPolicy = "U-Ignore",
        blank_is_negative: bool = False,
    ):
        if uncertain not in POLICIES:
            raise ValueError(f"uncertain policy {uncertain!r}: choose one of {', '.join(POLICIES)}")
        if labels not in ("competition", "all"):
            raise ValueError("labels must be 'competition' (the 5) or 'all' (the 14)")
        self.label_names = COMPETITION if labels == "competition" else OBSERVATIONS
        self.uncertain = uncertain
        self.blank_is_negative = blank_is_negative

    def available_splits(self, root: str | os.PathLike[str]) -> tuple[str, ...]:
        root = Path(root)
        return tuple(
            s for s in self.splits if s != "test" or any((root / n).is_file() for n in SPLIT_FILES["test"])
        )

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        csv_path = find_file(
            root, SPLIT_FILES[split], fix=f"pass the CheXpert folder that holds {SPLIT_FILES[split][0]}"
        )
        rows = read_csv(csv_path, ["Path", *self.label_names], fix="use the CheXpert CSV unchanged")
        for lineno, row in rows:
            relative = row["Path"]
            path = resolve_image(root, relative)
            if not path.is_file():
                raise LayoutError(
                    path,
                    f"image of {csv_path.name} row {lineno} not found",
                    fix="extract the CheXpert image archive",
                )
            width, height = image_size(path)
            labels = {
                name: label_value(csv_path, lineno, name, row[name], self.uncertain, self.blank_is_negative)
                for name in self.label_names
            }
            patient = re.search(r"patient\d+", relative)
            view = row.get("AP/PA") or row.get("Frontal/Lateral") or None
            yield Record.model_validate(
                {
                    "id": relative,
                    "image": {"width": width, "height": height},
                    "labels": labels,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        "patient": patient.group(0) if patient else None,
                        "view": view,
                        "frontal_lateral": row.get("Frontal/Lateral"),
                        "uncertain_policy": self.uncertain,
                        "path": path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path),
                    },
                }
            )
