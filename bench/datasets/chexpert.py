"""CheXpert v1.0 / v1.0-small (Irvin et al., AAAI 2019): train.csv, valid.csv and the optional test labels."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, get_args

from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.demographics import normalise
from bench.datasets.io import find_file, image_size, read_csv
from bench.datasets.vocabulary import CHEXPERT

OBSERVATIONS = tuple(CHEXPERT)
COMPETITION = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
UncertainPolicy = Literal["U-Ignore", "U-Ones", "U-Zeros"]
BlankRule = Literal["null", "negative"]
NoFindingRule = Literal["implies_negative", "ignore"]
POLICIES: tuple[str, ...] = get_args(UncertainPolicy)
BLANK_RULES: tuple[str, ...] = get_args(BlankRule)
NO_FINDING_RULES: tuple[str, ...] = get_args(NoFindingRule)
NO_FINDING_EXEMPT = ("No Finding", "Support Devices")
# Fact `layout`: the CheXlocalize download names the validation labels val_labels.csv (folder val/).
SPLIT_FILES = {
    "train": ("train.csv",),
    "valid": ("valid.csv", "val_labels.csv"),
    "test": ("test_labels.csv", "test.csv"),
}
# Fact `label_names`: CheXlocalize's files and the older labeller call Lung Opacity 'Airspace Opacity'.
COLUMN_ALIASES = {"Lung Opacity": ("Airspace Opacity",)}
# Fact `subgroup_meta`: Sex is Male / Female / Unknown; Age 0 is the placeholder of the 3 rows without an age.
SEX_CODES = {"Male": "M", "Female": "F"}
AGE_PLACEHOLDERS = (0,)


def subgroups(row: dict[str, str]) -> dict[str, object]:
    """meta.sex / age / view of one CSV row: the AP/PA cell (AP, PA, LL, RL) of a frontal image, else the
    Frontal/Lateral cell (LATERAL); columns a file lacks are left out."""
    view = row.get("AP/PA") or row.get("Frontal/Lateral") or None
    return normalise(
        sex=row.get("Sex"),
        sex_codes=SEX_CODES,
        age=row.get("Age"),
        placeholder_ages=AGE_PLACEHOLDERS,
        view=view,
    )


def check_label_options(uncertain: str, blank: str, no_finding: str) -> None:
    for option, value, allowed in (
        ("uncertain", uncertain, POLICIES),
        ("blank", blank, BLANK_RULES),
        ("no_finding", no_finding, NO_FINDING_RULES),
    ):
        if value not in allowed:
            raise ValueError(f"{option}={value!r}: choose one of {', '.join(allowed)}")


def label_conventions(uncertain: str, blank: str, no_finding: str) -> dict[str, str]:
    """The label rules in words, for meta and the results' conventions."""
    return {
        "uncertain": f"{uncertain}: -1.0 -> "
        + {"U-Ones": "1", "U-Zeros": "0", "U-Ignore": "null (excluded)"}[uncertain],
        "blank": "blank (not mentioned) -> " + ("0" if blank == "negative" else "null (excluded)"),
        "no_finding": "No Finding = 1 => every other finding 0 (Support Devices excepted); No Finding blank => 0"
        if no_finding == "implies_negative"
        else "No Finding read as the other columns, no implication",
    }


def study_labels(
    path: Path,
    lineno: int,
    row: dict[str, str],
    names: tuple[str, ...],
    *,
    uncertain: str,
    blank: str,
    no_finding: str,
) -> dict[str, float | None]:
    """One row of CheXpert-labeller cells -> labels under the three named rules (see `label_conventions`).

    `no_finding=implies_negative` (TorchXRayVision's CheX/MIMIC loaders; the labeller sets No Finding only when no
    pathology is positive or uncertain): a study with No Finding = 1 is negative for every other finding but
    Support Devices, and a blank No Finding is 0.
    """
    labels = {
        name: label_value(path, lineno, name, row[name], uncertain, blank == "negative") for name in names
    }
    if no_finding == "implies_negative" and "No Finding" in row:
        healthy = row["No Finding"].strip() in ("1", "1.0")
        if healthy:
            labels.update({name: 0.0 for name in names if name not in NO_FINDING_EXEMPT})
        elif "No Finding" in labels and row["No Finding"].strip() == "":
            labels["No Finding"] = 0.0
    return labels


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


def resolve_image(root: Path, relative: str) -> tuple[Path, list[Path]]:
    """The image of a CSV path, and every place tried.

    Train / valid paths start with the release folder ('CheXpert-v1.0-small/train/...'); the released test labels
    (CheXlocalize test_labels.csv) start at 'test/...'. ROOT may be the release folder or the folder above it.
    """
    parts = Path(relative).parts
    candidates = [root / relative, root.parent / relative]
    if len(parts) > 1 and parts[0].lower().startswith("chexpert"):
        candidates.insert(0, root.joinpath(*parts[1:]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate, candidates
    return candidates[0], candidates


@register
class CheXpert(DatasetAdapter):
    name = "chexpert"
    title = "CheXpert v1.0"
    tasks = ("classification",)
    splits = ("train", "valid", "test")
    split_roles = ("train", "valid", "test")
    split_source = "official train.csv / valid.csv (+ test_labels.csv when present)"
    expected_layout = """\
ROOT/   (CheXpert-v1.0 or CheXpert-v1.0-small)
  train.csv, valid.csv          (Path, Sex, Age, Frontal/Lateral, AP/PA, 14 observations)
  test_labels.csv               (optional: the released test labels, same columns with Path)
  train/patientNNNNN/studyN/viewN_frontal.jpg, valid/..., test/...
Labels: the 5 competition labels by default (labels='all' for the 14). Options (docs/datasets/chexpert.md):
uncertain=U-Ignore (default; -1 -> null) | U-Ones | U-Zeros; blank=null (default) | negative;
no_finding=implies_negative (default: No Finding = 1 => the others 0, Support Devices excepted) | ignore.
All views (frontal and lateral) are kept. meta.sex / age / view: Sex (Unknown left out), Age (0 left out), AP/PA
of a frontal image, LATERAL for a lateral one."""

    def __init__(
        self,
        labels: Literal["competition", "all"] = "competition",
        uncertain: UncertainPolicy = "U-Ignore",
        blank: BlankRule = "null",
        no_finding: NoFindingRule = "implies_negative",
    ):
        check_label_options(uncertain, blank, no_finding)
        if labels not in ("competition", "all"):
            raise ValueError("labels must be 'competition' (the 5) or 'all' (the 14)")
        self.label_names = COMPETITION if labels == "competition" else OBSERVATIONS
        self.uncertain = uncertain
        self.blank = blank
        self.no_finding = no_finding

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
        required = ["Path", *self.label_names]
        if self.no_finding == "implies_negative" and "No Finding" not in required:
            required.append("No Finding")
        rows = read_csv(csv_path, ["Path"], fix="use the CheXpert CSV unchanged")
        header = set(rows[0][1]) if rows else set()
        columns = {}
        for name in required:
            found = [c for c in (name, *COLUMN_ALIASES.get(name, ())) if c in header]
            if not found and rows:
                raise LayoutError(
                    csv_path,
                    f"missing column {name!r}; the header has {sorted(header)}",
                    row=1,
                    fix="use the CheXpert CSV unchanged (columns are matched by exact name)",
                )
            columns[name] = found[0] if found else name
        for lineno, raw in rows:
            row = {name: raw[column] for name, column in columns.items()}
            relative = row["Path"]
            path, tried = resolve_image(root, relative)
            if not path.is_file():
                raise LayoutError(
                    path,
                    f"image of {csv_path.name} row {lineno} not found"
                    + (f" (also tried {', '.join(str(p) for p in tried[1:])})" if len(tried) > 1 else ""),
                    fix="extract the CheXpert image archive"
                    + (" (the test images unpack to test/)" if split == "test" else ""),
                )
            width, height = image_size(path)
            labels = study_labels(
                csv_path,
                lineno,
                row,
                self.label_names,
                uncertain=self.uncertain,
                blank=self.blank,
                no_finding=self.no_finding,
            )
            patient = re.search(r"patient\d+", relative)
            study = re.search(r"patient\d+/study\d+", relative)
            yield Record.model_validate(
                {
                    "id": relative,
                    "image": {"width": width, "height": height},
                    "labels": labels,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        # cluster keys from the path (fact `cluster_keys`); absent, never None, if it has none
                        **({"patient": patient.group(0)} if patient else {}),
                        **({"study": study.group(0)} if study else {}),
                        "frontal_lateral": raw.get("Frontal/Lateral"),
                        "label_rules": label_conventions(self.uncertain, self.blank, self.no_finding),
                        "path": path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path),
                    }
                    | subgroups(raw),
                }
            )
