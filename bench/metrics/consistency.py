"""Cross-task consistency of one model: does its report say what its classifier, boxes and masks say?

Pure functions on arrays and strings (no file I/O). Three checks, each a per-image tally so that the bootstrap
resamples images (`bench.metrics.bootstrap.bootstrap_counts`) and recomputes the corpus value:

(a) label agreement: the model's classification output binarised at 0.5 vs the CE labeler's reading of its own
    report (positive iff the labeler says 1: uncertain and not-mentioned count as negative, the CE rule).
    Per-label and pooled ("micro") agreement and Cohen's kappa (equal to `sklearn.metrics.cohen_kappa_score`).
(b) location agreement: for each (image, box label) where the report mentions the finding (not negated) and
    states a side / a zone, the side(s) / zone(s) of the model's boxes of that label vs the stated ones.
(c) cardiomegaly: cardiothoracic ratio from the model's own heart and lung masks (> 0.5) vs the report
    calling the heart enlarged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bench.metrics.labeler.lexicon import load_lexicon
from bench.metrics.labeler.rules import NEGATIVE, classify_finding, mask_pseudo_negations
from bench.metrics.labeler.text import prepare

CTR_THRESHOLD = 0.5
SIDES = ("right", "left")  # patient sides
ZONES = ("upper", "middle", "lower")

# Box labels (cxrbench vocabulary) whose CheXpert label has another name; identical names map to themselves.
BOX_LABEL_TO_CHEXPERT: dict[str, str] = {
    "Nodule": "Lung Lesion",
    "Mass": "Lung Lesion",
    "Nodule/Mass": "Lung Lesion",
    "Lung Tumor": "Lung Lesion",
    "Lung Cavity": "Lung Lesion",
    "Lung Cyst": "Lung Lesion",
    "Infiltration": "Lung Opacity",
    "ILD": "Lung Opacity",
    "Pleural Thickening": "Pleural Other",
    "Rib Fracture": "Fracture",
    "Clavicle Fracture": "Fracture",
}

_SIDE_WORDS = {
    "right": re.compile(r"\bright\b"),
    "left": re.compile(r"\bleft\b"),
    "both": re.compile(r"\b(?:bilateral(?:ly)?|both)\b"),
}
_ZONE_WORDS = {
    "upper": re.compile(r"\b(?:upper|apical|apex|apices|apic\w*)\b"),
    "middle": re.compile(r"\b(?:mid|middle|midlung|mid-lung)\b"),
    "lower": re.compile(r"\b(?:lower|basal|base|bases|basilar|basilar\w*)\b"),
}


# ----------------------------------------------------------------------------- (a) binary agreement


def binarize_scores(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Scores >= threshold -> 1, else 0; NaN (no output for that label) stays NaN."""
    s = np.asarray(scores, dtype=np.float64)
    return np.where(np.isnan(s), np.nan, (s >= threshold).astype(np.float64))


def report_positive(report_labels: np.ndarray) -> np.ndarray:
    """CE rule on labeler output (1 / 0 / -1 / NaN): positive iff exactly 1."""
    return (np.asarray(report_labels, dtype=np.float64) == 1.0).astype(np.float64)


def pair_cells(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(4, n, L) indicators of the 2x2 cells [a1b1, a1b0, a0b1, a0b0]; a pair with a NaN counts in none."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the two label arrays differ in shape: {a.shape} vs {b.shape}")
    a1, a0, b1, b0 = a == 1, a == 0, b == 1, b == 0
    return np.stack([a1 & b1, a1 & b0, a0 & b1, a0 & b0]).astype(np.float64)


def kappa_from_cells(cells: np.ndarray) -> np.ndarray:
    """Cohen's kappa from 2x2 cell totals on axis 0 (any trailing shape); NaN where undefined (as sklearn)."""
    n11, n10, n01, n00 = cells
    n = n11 + n10 + n01 + n00
    with np.errstate(divide="ignore", invalid="ignore"):
        observed_disagree = (n10 + n01) / n
        expected_disagree = ((n11 + n10) * (n00 + n10) + (n00 + n01) * (n11 + n01)) / (n * n)
        return np.where(expected_disagree > 0, 1.0 - observed_disagree / expected_disagree, np.nan)


def agreement_from_cells(cells: np.ndarray) -> np.ndarray:
    n = cells.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, (cells[0] + cells[3]) / n, np.nan)


def label_agreement(cells: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Agreement and kappa per label and pooled over labels, for each row of image `weights` (B, n).

    Returns arrays of shape (B, L) for `agreement` / `kappa` and (B,) for `agreement_micro` / `kappa_micro`
    (every image x label pair pooled into one 2x2 table) and `kappa_macro` (mean of the defined per-label
    kappas). Without weights B = 1 (the data as given).
    """
    n_images = cells.shape[1]
    w = np.ones((1, n_images)) if weights is None else np.asarray(weights, dtype=np.float64)
    totals = np.einsum("bn,cnl->cbl", w, cells)  # (4, B, L)
    pooled = totals.sum(axis=2)  # (4, B)
    kappa = kappa_from_cells(totals)
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(kappa)
        macro = np.where(
            defined.any(axis=1), np.nansum(kappa, axis=1) / np.maximum(defined.sum(axis=1), 1), np.nan
        )
    return {
        "agreement": agreement_from_cells(totals),
        "kappa": kappa,
        "agreement_micro": agreement_from_cells(pooled),
        "kappa_micro": kappa_from_cells(pooled),
        "kappa_macro": macro,
    }


# ----------------------------------------------------------------------------- (b) locations


def box_side(bbox: Sequence[float], width: float) -> str:
    """Patient side of a box centre: the image's left half is the patient's right (PA/AP convention)."""
    centre = (bbox[0] + bbox[2]) / 2.0
    return "right" if centre < width / 2.0 else "left"


def box_zone(bbox: Sequence[float], height: float) -> str:
    """Upper / middle / lower third of the image holding the box centre."""
    centre = (bbox[1] + bbox[3]) / 2.0
    return ZONES[min(2, max(0, int(3.0 * centre / height)))]


def chexpert_name(box_label: str) -> str:
    return BOX_LABEL_TO_CHEXPERT.get(box_label, box_label)


def _mention_pattern(box_label: str) -> re.Pattern[str]:
    target = chexpert_name(box_label)
    for label in load_lexicon("chexpert").patterns:
        if label.name == target and label.findings is not None:
            return label.findings
    return re.compile(r"\b" + re.escape(box_label.lower()))


def stated_locations(report: str, box_label: str) -> tuple[set[str], set[str], bool]:
    """(sides, zones, mentioned) the report states for a finding in sentences that mention it, not negated.

    "bilateral" / "both" give both sides. Words are read in the whole sentence of the mention.
    """
    pattern = _mention_pattern(box_label)
    options = load_lexicon("chexpert").options
    sides: set[str] = set()
    zones: set[str] = set()
    mentioned = False
    for sentence in prepare(report):
        masked = None
        for match in pattern.finditer(sentence):
            masked = masked or mask_pseudo_negations(sentence)
            if classify_finding(masked, match.start(), match.end(), options) == NEGATIVE:
                continue
            mentioned = True
            for side, regex in _SIDE_WORDS.items():
                if regex.search(sentence):
                    sides.update(SIDES if side == "both" else (side,))
            for zone, regex in _ZONE_WORDS.items():
                if regex.search(sentence):
                    zones.add(zone)
            break
    return sides, zones, mentioned


def location_tallies(
    boxes: Sequence[Sequence[tuple[str, Sequence[float]]]],
    sizes: Sequence[tuple[float, float]],
    reports: Sequence[str],
) -> dict[str, np.ndarray]:
    """Per-image counts over (image, box label) pairs; `boxes[i]` = [(label, xyxy)], `sizes[i]` = (W, H).

    side: scored where the report states a side; agrees when the set of box sides equals the stated set.
    zone: scored where the report states a zone; agrees when some box lies in a stated zone.
    Also counts the pairs checked (`pairs`) and those whose finding the report mentions (`mentioned`).
    """
    n = len(boxes)
    out = {
        k: np.zeros(n) for k in ("pairs", "mentioned", "side_total", "side_agree", "zone_total", "zone_agree")
    }
    for i, (image_boxes, (width, height), report) in enumerate(zip(boxes, sizes, reports, strict=True)):
        by_label: dict[str, list[Sequence[float]]] = {}
        for label, bbox in image_boxes:
            by_label.setdefault(label, []).append(bbox)
        for label, bboxes in by_label.items():
            out["pairs"][i] += 1
            sides, zones, mentioned = stated_locations(report, label)
            out["mentioned"][i] += mentioned
            if sides:
                out["side_total"][i] += 1
                out["side_agree"][i] += {box_side(b, width) for b in bboxes} == sides
            if zones:
                out["zone_total"][i] += 1
                out["zone_agree"][i] += bool({box_zone(b, height) for b in bboxes} & zones)
    return out


# ----------------------------------------------------------------------------- (c) cardiothoracic ratio


def _column_extent(mask: np.ndarray) -> tuple[int, int] | None:
    cols = np.flatnonzero(np.asarray(mask, dtype=bool).any(axis=0))
    return None if cols.size == 0 else (int(cols[0]), int(cols[-1]))


def cardiothoracic_ratio(heart: np.ndarray, lungs: Sequence[np.ndarray]) -> float:
    """Max horizontal heart width / max thoracic width (outer extent of the lungs), in pixels (columns).

    NaN when the heart or both lungs are empty.
    """
    heart_cols = _column_extent(heart)
    lung_extents = [e for e in (_column_extent(m) for m in lungs) if e is not None]
    if heart_cols is None or not lung_extents:
        return float("nan")
    thorax = max(e[1] for e in lung_extents) - min(e[0] for e in lung_extents) + 1
    return (heart_cols[1] - heart_cols[0] + 1) / thorax


def ratio_replicates(agree: np.ndarray, total: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """sum(w * agree) / sum(w * total) per weight row (B, n); NaN where nothing is scored."""
    agree, total = np.asarray(agree, dtype=np.float64), np.asarray(total, dtype=np.float64)
    w = np.ones((1, agree.size)) if weights is None else np.asarray(weights, dtype=np.float64)
    num, den = w @ agree, w @ total
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)
