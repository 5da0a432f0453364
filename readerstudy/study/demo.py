"""The demo study: 160 cases from 4 sites, 3 readers and a coordinator, ready to read.

Original reports come from the IU X-ray (Open-i) collection when ``NLMCXR_reports.tgz`` is available (licence
CC BY-NC-ND 4.0: non-commercial use, no derivatives may be distributed; the "AI" versions made here stay local to
the demo database), otherwise from built-in templates. The "AI" report is a deterministic rewrite of the original:
synonyms, reordered sentences, and occasionally a dropped or added finding.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from readerstudy.study.build import BuildResult, CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

IU_REPORTS = Path("/work/shared/data/reports/iu_xray_openi/NLMCXR_reports.tgz")
IU_LICENCE = "IU X-ray (Open-i) reports, CC BY-NC-ND 4.0, https://openi.nlm.nih.gov/"
SITES = ("north", "south", "east", "west")
DEMO_READERS = {"reader1": "demo-reader1", "reader2": "demo-reader2", "reader3": "demo-reader3"}
DEMO_COORDINATOR = ("coordinator", "demo-coordinator")

_SYNONYMS = [
    (r"\bThere is no\b", "No"),
    (r"\bThere are no\b", "No"),
    (r"\bcardiac silhouette\b", "heart size"),
    (r"\bwithin normal limits\b", "normal"),
    (r"\bpulmonary vasculature\b", "pulmonary vessels"),
    (r"\bfocal airspace (?:disease|consolidation)\b", "focal consolidation"),
    (r"\bacute cardiopulmonary (?:abnormality|disease|process)\b", "acute cardiopulmonary findings"),
    (r"\bThe lungs are clear\b", "Clear lungs"),
    (r"\bmild\b", "slight"),
]
_TEMPLATE_NORMAL = [
    "The heart size is normal.",
    "The lungs are clear.",
    "There is no pleural effusion or pneumothorax.",
    "The mediastinal contours are unremarkable.",
    "No acute osseous abnormality.",
]
_TEMPLATE_ABNORMAL = [
    "There is a small right pleural effusion.",
    "Mild cardiomegaly is present.",
    "There is patchy opacity in the left lower lobe.",
    "Degenerative changes of the thoracic spine.",
    "There is mild pulmonary vascular congestion.",
    "A calcified granuloma is seen in the right upper lobe.",
]


def _rng(case_id: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big"))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def ai_rewrite(case_id: str, findings: str, impression: str) -> str:
    """Deterministic stand-in for a generated report."""
    rng = _rng(case_id)
    sentences = _sentences(findings)
    for pattern, replacement in _SYNONYMS:
        sentences = [re.sub(pattern, replacement, s, flags=re.IGNORECASE) for s in sentences]
    if len(sentences) > 1:
        shift = int(rng.integers(len(sentences)))
        sentences = sentences[shift:] + sentences[:shift]
    if len(sentences) > 2 and rng.random() < 0.2:
        sentences.pop(int(rng.integers(len(sentences))))
    if rng.random() < 0.15 and not any("pneumothorax" in s.lower() for s in sentences):
        sentences.append("No pneumothorax.")
    new_impression = impression
    for pattern, replacement in _SYNONYMS:
        new_impression = re.sub(pattern, replacement, new_impression, flags=re.IGNORECASE)
    return f"FINDINGS: {' '.join(sentences)}\nIMPRESSION: {new_impression}"


def _clean_iu(text: str) -> str:
    text = re.sub(r"x-XXXX", "x-ray", text)
    return " ".join(s for s in _sentences(text) if "XXXX" not in s)


def iu_reports(path: Path = IU_REPORTS, limit: int = 160) -> list[tuple[str, str, str, str]]:
    """(IU id, findings, impression, normal/abnormal) of the first ``limit`` usable reports by id."""
    parsed = []
    with tarfile.open(path) as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.name.endswith(".xml")),
            key=lambda m: int(Path(m.name).stem),
        )
        for member in members:
            handle = archive.extractfile(member)
            if handle is None:
                continue
            root = ElementTree.parse(handle).getroot()
            fields = {node.get("Label"): (node.text or "") for node in root.iter("AbstractText")}
            findings, impression = (
                _clean_iu(fields.get("FINDINGS", "")),
                _clean_iu(fields.get("IMPRESSION", "")),
            )
            if len(findings) < 40 or len(impression) < 10:
                continue
            majors = [node.text or "" for node in root.iter("major")]
            label = "normal" if majors and all(m.lower() == "normal" for m in majors) else "abnormal"
            parsed.append((Path(member.name).stem, findings, impression, label))
            if len(parsed) == limit:
                break
    return parsed


def template_reports(n_cases: int = 160) -> list[tuple[str, str, str, str]]:
    reports = []
    for index in range(n_cases):
        rng = _rng(f"template-{index}")
        normal = rng.random() < 0.4
        findings = list(_TEMPLATE_NORMAL)
        if not normal:
            extra = rng.choice(len(_TEMPLATE_ABNORMAL), size=int(rng.integers(1, 3)), replace=False)
            findings = [_TEMPLATE_ABNORMAL[int(k)] for k in extra] + findings[1:]
        impression = "No acute cardiopulmonary abnormality." if normal else findings[0]
        reports.append((str(index), " ".join(findings), impression, "normal" if normal else "abnormal"))
    return reports


def demo_records(n_cases: int = 160, use_iu: bool = True) -> tuple[list[CaseRecord], str]:
    source = "templates"
    reports: list[tuple[str, str, str, str]] = []
    if use_iu and IU_REPORTS.exists():
        reports, source = iu_reports(limit=n_cases), IU_LICENCE
    if len(reports) < n_cases:
        reports, source = template_reports(n_cases), "templates"
    records = []
    for index, (source_id, findings, impression, label) in enumerate(reports):
        case_id = f"demo-{index + 1:03d}"
        records.append(
            CaseRecord(
                "demo",
                index + 1,
                {
                    "case_id": case_id,
                    "site": SITES[index % len(SITES)],
                    "original_report": f"FINDINGS: {findings}\nIMPRESSION: {impression}",
                    "ai_report": ai_rewrite(case_id + source_id, findings, impression),
                    "normal_abnormal": label,
                },
            )
        )
    return records, source


def build_demo(db: str | Path, n_cases: int = 160, use_iu: bool = True) -> tuple[BuildResult, str]:
    """Build the demo study; returns the build result and the report source (with its licence)."""
    records, source = demo_records(n_cases, use_iu)
    protocol = protocol_from_dict(
        {
            "name": "cxrbench demo reader study",
            "seed": 2024,
            "criteria": ["diagnostic clarity"],
            "margin": 0.0,
            "report_source": source,
            "readers": [{"id": r, "password": p} for r, p in DEMO_READERS.items()],
            "coordinators": [{"id": DEMO_COORDINATOR[0], "password": DEMO_COORDINATOR[1]}],
        }
    )
    return build_from_records(records, protocol, db), source
