"""Helpers shared by the per-dataset demo generators.

Every publisher-facing string a generator writes (file and folder names, file-name patterns, CSV / JSON columns,
label spellings, encodings) is looked up in the dataset's fact sheet (`bench.datasets.factsheet`), never taken
from an adapter: the demo then tests the adapters against the publishers' files rather than against themselves.
The helpers here turn fact values (templates such as ``train/<image_id>.dicom``, printf patterns such as
``h%04d.png (h0001.png..h5000.png, gaps)``, lists of variants) into concrete names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from bench.datasets.factsheet import load_sheet

IMAGE_SIZE = 256


def rng_for(dataset: str, seed: int) -> np.random.Generator:
    """One independent, reproducible stream per dataset (so generating one dataset never shifts another)."""
    key = int(hashlib.sha256(dataset.encode()).hexdigest()[:8], 16)
    return np.random.default_rng([seed, key])


def choose_split(rng: np.random.Generator, index: int, shares: dict[str, float]) -> str:
    """A split drawn by `shares`; the first len(shares) draws take each split once, so that no split is empty
    however small the demo."""
    drawn = str(rng.choice(list(shares), p=list(shares.values())))
    return list(shares)[index] if index < len(shares) else drawn


def fact_note(dataset: str, key: str) -> str:
    """The prose note of a fact (some facts give their example values there)."""
    return load_sheet(dataset).facts[key].note


def pick(values: Iterable[Any], *words: str, start: str = "") -> str:
    """The one string among `values` starting with `start` and containing every word (a fact list entry chosen
    by what it is about)."""
    found = [
        str(v) for v in values if isinstance(v, str) and v.startswith(start) and all(w in v for w in words)
    ]
    if len(found) != 1:
        raise KeyError(f"expected one fact value starting {start!r} containing {words}, found {found}")
    return found[0]


def fact_search(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """The first match of `pattern` in a fact's text (a fact sheet that no longer says it names the pattern)."""
    found = re.search(pattern, text, flags)
    if found is None:
        raise KeyError(f"expected a fact text matching {pattern!r}, found {text!r}")
    return found


def printf(pattern: str) -> str:
    """The printf pattern that opens a fact value: 'h%04d.png (h0001.png..h5000.png, gaps)' -> 'h%04d.png'."""
    return pattern.split()[0]


_PLACEHOLDER = re.compile(r"<([^<>]+)>|\{(\w+)(?:\[:(\d+)\])?\}")


def fill(template: str, **fields: object) -> str:
    """A fact path template with its placeholders filled: '<image_id>', '<image name without .IMG>' (spaces
    become '_' in the keyword), '{subject_id}' and '{subject_id[:2]}' (a prefix)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            key = re.sub(r"\W+", "_", match.group(1)).strip("_")
            return str(fields[key])
        value = str(fields[match.group(2)])
        return value[: int(match.group(3))] if match.group(3) else value

    return _PLACEHOLDER.sub(replace, template)


# What a publisher's finding looks like in the synthetic image: the first rule whose pattern occurs in the
# lower-cased name gives the anatomy kind it is drawn as (bench/datasets/demo/anatomy.py). This is the demo's
# radiology (an effusion is basal, a pneumothorax apical), keyed by words of the name, not by any spelling an
# adapter expects. Names matching no rule (devices, fractures, 'No finding', ...) are not drawn.
LOOK_RULES: tuple[tuple[str, str], ...] = (
    (r"diffuse nodule", "Diffuse Nodule"),
    (r"nodule/mass", "Nodule/Mass"),
    (r"nodule", "Nodule"),
    (r"\bmass\b", "Mass"),
    (r"calcification", "Calcification"),
    (r"lesion", "Lung Lesion"),
    (r"effusion", "Pleural Effusion"),
    (r"pneumothorax", "Pneumothorax"),
    (r"thickening", "Pleural Thickening"),
    (r"cardiomegaly", "Cardiomegaly"),
    (r"emphysema", "Emphysema"),
    (r"edema", "Edema"),
    (r"^ild$", "ILD"),
    (r"fibrosis", "Fibrosis"),
    (r"obsolete", "Obsolete Tuberculosis"),
    (r"^active", "Active Tuberculosis"),
    (r"tubercul", "Tuberculosis"),
    (r"consolidation", "Consolidation"),
    (r"atelectasis", "Atelectasis"),
    (r"pneumonia", "Pneumonia"),
    (r"infiltrat", "Infiltration"),
    (r"opacity", "Lung Opacity"),
    (r"foreign object", "Foreign Object"),
)


def look(name: str) -> str | None:
    """The anatomy kind a publisher label is drawn as, or None when the demo does not draw it."""
    lower = name.lower()
    return next((kind for pattern, kind in LOOK_RULES if re.search(pattern, lower)), None)


def looks(names: Iterable[str], exclude: Sequence[str] = ()) -> dict[str, str]:
    """{anatomy kind: publisher name} for the drawable names (the first name of each kind; kinds in `exclude`
    left out). Generators draw kinds (`synth_case`) and write the publisher's name of each drawn kind."""
    out: dict[str, str] = {}
    for name in names:
        kind = look(str(name))
        if kind is not None and kind not in exclude and kind not in out:
            out[kind] = str(name)
    return out


def pool(names: Iterable[str], exclude: Sequence[str] = ()) -> tuple[list[str], dict[str, str]]:
    """(kinds to draw, kind -> publisher name) for a fact's label list."""
    mapping = looks(names, exclude)
    return list(mapping), mapping


def role(names: Iterable[str], word: str) -> str:
    """The label of a fact list whose lower-cased name contains `word` (e.g. the 'No Finding' column)."""
    return pick([n for n in names if isinstance(n, str) and word in n.lower()])


# CheXpert-labeller semantics used by the CheXpert and MIMIC-CXR demos (anatomy kinds, not column names): the
# findings whose positive mention makes the parent observations positive, and those a normal report negates.
OPACITY_CHILDREN = {"Edema", "Consolidation", "Pneumonia", "Atelectasis", "Lung Lesion"}
STATED_NEGATIVES = {
    "Pneumothorax",
    "Pleural Effusion",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Atelectasis",
}


def chexpert_cells(
    positive: set[str],
    uncertain: set[str],
    observations: Sequence[str],
    expert: bool,
    *,
    one: str = "1.0",
    zero: str = "0.0",
    minus_one: str = "-1.0",
) -> list[str]:
    """CheXpert-labeller cells for one study as the report would yield them, one per observation column.

    `positive` / `uncertain` are anatomy kinds; each column is matched to its kind with `look` ('No Finding',
    'Lung Opacity' and 'Enlarged Cardiomediastinum' are recognised by their words, whatever their spelling).
    Labeller (expert=False): stated negatives are 0, unmentioned are blank, hedged findings -1. Expert labels
    (expert=True, as CheXpert valid/test): every cell 0 or 1, hedged findings counted as positive.
    """
    derived = set(positive)
    if positive & OPACITY_CHILDREN:
        derived.add("Lung Opacity")
    cells = []
    for name in observations:
        lower = name.lower()
        kind = look(name)
        if "no finding" in lower:
            cells.append(one if not positive else (zero if expert else ""))
        elif "cardiomediastinum" in lower:
            cells.append(one if "Cardiomegaly" in positive else (zero if expert else ""))
        elif kind is not None and kind in derived:
            cells.append(minus_one if kind in uncertain and not expert else one)
        elif expert or kind in STATED_NEGATIVES:
            cells.append(zero)
        else:
            cells.append("")
    return cells
