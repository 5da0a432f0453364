"""Radiology-style report text that states exactly the findings of a synthetic `Case`.

`stated_attributes(case)` is the generator's truth for what the text states about each finding (location terms,
severity grade, size), in the vocabulary of `bench.datasets.attributes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.datasets.demo.anatomy import APICAL, SEVERITIES, Case, Finding

NEGATIVES = {
    "Pneumothorax": "No pneumothorax.",
    "Pleural Effusion": "No pleural effusion.",
    "Cardiomegaly": "Heart size is normal.",
    "Consolidation": "No focal consolidation.",
    "Edema": "No pulmonary edema.",
    "Nodule": "No suspicious pulmonary nodule.",
    "Mass": "No lung mass.",
    "Atelectasis": "No atelectasis.",
}


# Fluid and air collections are graded by size, everything else by severity (as radiologists word them).
SIZE_GRADED = {"Pleural Effusion", "Pneumothorax"}
SEVERITY_WORDS = ("mild", "moderate", "severe")
ROUND_LESIONS = {"Nodule", "Calcification", "Lung Lesion", "Nodule/Mass"}


def _grade_word(f: Finding) -> str:
    index = SEVERITIES.index(f.severity)
    return f.severity if f.label in SIZE_GRADED else SEVERITY_WORDS[index]  # type: ignore[return-value]  # every finding here is graded


def _lesion_noun(f: Finding) -> str:
    """CheXpert's 'Lung Lesion' is reported as the nodule or mass it is (>= 3 cm is a mass)."""
    if f.label == "Lung Lesion":
        return "mass" if f.size_mm is not None and f.size_mm >= 30.0 else "nodule"
    return f.label.lower()


def _where(f: Finding) -> str:
    if f.side == "bilateral":
        return "bilateral"
    return f"{f.side} {f.zone} lung zone" if f.zone else f"{f.side} lung"


def sentence(f: Finding, uncertain: bool = False) -> str:
    hedge = "Possible " if uncertain else ""
    name = f.label.lower()
    if f.label == "Cardiomegaly":
        text = f"{_grade_word(f)} cardiomegaly."
    elif f.label in ROUND_LESIONS and f.size_mm is not None:
        text = f"{f.size_mm:.0f} mm {_lesion_noun(f)} in the {_where(f)}."
    elif f.label == "Mass" and f.size_mm is not None:
        text = f"{f.size_mm / 10:.1f} cm mass in the {_where(f)}."
    elif f.label == "Pleural Effusion":
        text = f"{_grade_word(f)} {f.side} pleural effusion."
    elif f.label == "Pneumothorax":
        text = f"{_grade_word(f)} {f.side} apical pneumothorax."
    elif f.label == "Foreign Object":
        text = f"foreign object projecting over the {f.side} hemithorax."
    elif f.side == "bilateral":
        text = f"{_grade_word(f)} bilateral {name}."
    else:
        text = f"{_grade_word(f)} {name} in the {_where(f)}."
    text = hedge + text if hedge else text
    return text[0].upper() + text[1:]


def report_parts(case: Case, vocabulary: Sequence[str]) -> tuple[str, str]:
    """(findings, impression): each finding once (bilateral findings once), then negatives for absent labels;
    the impression repeats the positive findings."""
    seen: set[str] = set()
    positives = []
    for finding in case.findings:
        if finding.label in seen and finding.side == "bilateral":
            continue
        seen.add(finding.label)
        positives.append(sentence(finding, finding.label in case.uncertain))
    negatives = [text for label, text in NEGATIVES.items() if label in vocabulary and label not in seen]
    findings = " ".join(positives + negatives) or "The lungs are clear."
    impression = " ".join(positives) if positives else "No acute cardiopulmonary abnormality."
    return findings, impression


def report_text(case: Case, vocabulary: Sequence[str]) -> str:
    """FINDINGS + IMPRESSION (see `report_parts`)."""
    findings, impression = report_parts(case, vocabulary)
    return f"FINDINGS: {findings}\n\nIMPRESSION: {impression}"


def stated_attributes(case: Case) -> dict[str, dict[str, Any]]:
    """What `report_text` states per finding: {label: {"location", "severity", "size_mm"}} (the demo's truth).

    Locations: the side ("bilateral" for bilateral findings), "<zone> zone" where the sentence names the zone,
    "apical" for pneumothorax; severity: the grade (small -> mild, large -> severe); size_mm as printed.
    """
    truth: dict[str, dict[str, Any]] = {}
    for f in case.findings:
        location: list[str] = []
        if f.side in ("right", "left", "bilateral"):
            location.append(f.side)
        if f.zone and f.side != "bilateral" and f.label not in SIZE_GRADED | {"Foreign Object"}:
            location.append(f"{f.zone} zone")
        if f.label in APICAL:
            location.append("apical")
        size_mm = None
        if f.size_mm is not None and f.label in ROUND_LESIONS:
            size_mm = float(f"{f.size_mm:.0f}")
        elif f.size_mm is not None and f.label == "Mass":
            size_mm = float(f"{f.size_mm / 10:.1f}") * 10.0
        severity = None if f.severity is None else SEVERITY_WORDS[SEVERITIES.index(f.severity)]
        truth[f.label] = {"location": location, "severity": severity, "size_mm": size_mm}
    return truth
