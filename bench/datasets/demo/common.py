"""Helpers shared by the per-dataset demo generators."""

from __future__ import annotations

import hashlib

import numpy as np

from bench.datasets.vocabulary import MAPS

IMAGE_SIZE = 256


def rng_for(dataset: str, seed: int) -> np.random.Generator:
    """One independent, reproducible stream per dataset (so generating one dataset never shifts another)."""
    key = int(hashlib.sha256(dataset.encode()).hexdigest()[:8], 16)
    return np.random.default_rng([seed, key])


def publisher_name(dataset: str, vocabulary_name: str) -> str:
    """The dataset's own spelling of a vocabulary label (first match in its map)."""
    for source, target in MAPS[dataset].items():
        if target == vocabulary_name:
            return source
    raise KeyError(f"{dataset} has no label for {vocabulary_name!r}")


CHEXPERT_POOL = [
    "Cardiomegaly",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Lung Lesion",
]
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
    positive: set[str], uncertain: set[str], observations: list[str], expert: bool
) -> list[str]:
    """CheXpert-labeller cells for one study: '1.0' / '-1.0' / '0.0' / '' as the report would yield them.

    Labeller (expert=False): stated negatives are 0, unmentioned are blank, hedged findings -1. Expert labels
    (expert=True, as CheXpert valid/test): every cell 0 or 1, hedged findings counted as positive.
    """
    derived = set(positive)
    if positive & OPACITY_CHILDREN:
        derived.add("Lung Opacity")
    if "Cardiomegaly" in positive:
        derived.add("Enlarged Cardiomediastinum")
    cells = []
    for name in observations:
        if name == "No Finding":
            cells.append("1.0" if not positive else ("0.0" if expert else ""))
        elif name in derived:
            cells.append("-1.0" if name in uncertain and not expert else "1.0")
        elif expert or name in STATED_NEGATIVES:
            cells.append("0.0")
        else:
            cells.append("")
    return cells
