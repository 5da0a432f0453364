"""Harmonise report text so layout, case and boilerplate cannot reveal which source wrote it.

Both reports of a case go through the same steps: signatures and placeholders removed, section headers mapped to one
spelling (``FINDINGS:`` / ``IMPRESSION:`` by default, other sections dropped), whitespace collapsed, sentence case
with common radiology acronyms kept in capitals, and a final period on every section.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

DEFAULT_SECTIONS = ("FINDINGS", "IMPRESSION")

_SIGNATURE = re.compile(
    r"(?:electronically\s+signed|e-signed|signed|dictated|transcribed|reviewed|verified)\s+(?:by|on)\b[^\n]*"
    r"|^\s*(?:attending\s+)?radiologist\s*:[^\n]*",
    re.IGNORECASE | re.MULTILINE,
)
_PLACEHOLDERS = re.compile(
    r"_{2,}|\[\s*redacted\s*\]|<\s*redacted\s*>|\[\*\*.*?\*\*\]|\bX{3,}\b", re.IGNORECASE
)
_HEADER_NAMES = {
    "FINDINGS": r"findings?",
    "IMPRESSION": r"impressions?|conclusions?|opinion",
    "INDICATION": r"indications?|clinical\s+(?:history|indication|information)|history|reason\s+for\s+exam",
    "COMPARISON": r"comparisons?",
    "TECHNIQUE": r"technique|examination|exam|procedure",
}
_ANY_HEADER = "|".join(_HEADER_NAMES.values())
_HEADER = re.compile(rf"\b({_ANY_HEADER})\s*:|^[ \t]*({_ANY_HEADER})[ \t]*$", re.IGNORECASE | re.MULTILINE)
_ACRONYMS = "AP|PA|ICU|CT|MRI|ECG|EKG|PICC|IJ|NG|OG|ET|SVC|IVC|COPD|CHF|ARDS|TB|CABG|AICD|ICD|RUL|RML|RLL|LUL|LLL|CP|AV"
_ACRONYM = re.compile(rf"\b(?:{_ACRONYMS})\b|\b[tcl]\d{{1,2}}\b", re.IGNORECASE)


def _section_of(header_text: str) -> str:
    for name, pattern in _HEADER_NAMES.items():
        if re.fullmatch(pattern, header_text.strip(), flags=re.IGNORECASE):
            return name
    raise AssertionError(header_text)


def split_sections(text: str) -> dict[str, str]:
    """Section name -> body. Text before any header counts as FINDINGS."""
    sections: dict[str, list[str]] = {}
    current, start = "FINDINGS", 0
    for match in _HEADER.finditer(text):
        sections.setdefault(current, []).append(text[start : match.start()])
        header = match.group(1) or match.group(2)
        current, start = _section_of(header), match.end()
    sections.setdefault(current, []).append(text[start:])
    return {name: " ".join(parts) for name, parts in sections.items() if " ".join(parts).strip()}


def _sentence_case(body: str) -> str:
    lowered = body.lower()
    capitalised = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), lowered)
    return _ACRONYM.sub(lambda m: m.group(0).upper(), capitalised)


def normalise_body(body: str) -> str:
    text = re.sub(r"\s+", " ", body).strip()
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    text = re.sub(r"([.,;:!?])(?:\s*[.,;:])+", r"\1", text)  # punctuation left behind by removed placeholders
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s+", " ", text).strip(" ,;:-")
    if not text:
        return ""
    text = _sentence_case(text)
    return text if text.endswith((".", "!", "?")) else text + "."


def harmonise_report(text: str, sections: Sequence[str] = DEFAULT_SECTIONS) -> str:
    """The reader-facing form of a report: e.g. ``"FINDINGS: No effusion.\\n\\nIMPRESSION: Normal chest."``."""
    cleaned = _SIGNATURE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    cleaned = _PLACEHOLDERS.sub(" ", cleaned)
    parts = split_sections(cleaned)
    rendered = []
    for name in sections:
        body = normalise_body(parts.get(name, ""))
        if body:
            rendered.append(f"{name}: {body}")
    return "\n\n".join(rendered)
