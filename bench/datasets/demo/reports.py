"""Radiology-style report text that states exactly the findings of a synthetic `Case`."""

from __future__ import annotations

from collections.abc import Sequence

from bench.datasets.demo.anatomy import Case, Finding

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


def _where(f: Finding) -> str:
    if f.side == "bilateral":
        return "bilateral"
    return f"{f.side} {f.zone} lung zone" if f.zone else f"{f.side} lung"


def sentence(f: Finding, uncertain: bool = False) -> str:
    hedge = "Possible " if uncertain else ""
    name = f.label.lower()
    if f.label == "Cardiomegaly":
        text = f"{f.severity} cardiomegaly."
    elif f.label in {"Nodule", "Calcification", "Lung Lesion", "Nodule/Mass"} and f.size_mm is not None:
        text = f"{f.size_mm:.0f} mm {name} in the {_where(f)}."
    elif f.label == "Mass" and f.size_mm is not None:
        text = f"{f.size_mm / 10:.1f} cm mass in the {_where(f)}."
    elif f.label == "Pleural Effusion":
        text = f"{f.severity} {f.side} pleural effusion."
    elif f.label == "Pneumothorax":
        text = f"{f.severity} {f.side} apical pneumothorax."
    elif f.label == "Foreign Object":
        text = f"foreign object projecting over the {f.side} hemithorax."
    elif f.side == "bilateral":
        text = f"{f.severity} bilateral {name}."
    else:
        text = f"{f.severity} {name} in the {_where(f)}."
    text = hedge + text if hedge else text
    return text[0].upper() + text[1:]


def report_text(case: Case, vocabulary: Sequence[str]) -> str:
    """FINDINGS + IMPRESSION; each finding once (bilateral findings once), then negatives for absent labels."""
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
    return f"FINDINGS: {findings}\n\nIMPRESSION: {impression}"
