"""De-identification gate: find identifiers left in report text. Any hit blocks the case for human review."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_PLACEHOLDER_NAME = r"(?!X{3,}\b)"

RULES: dict[str, list[re.Pattern[str]]] = {
    "date": [
        re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b"),
        re.compile(r"\b(?:19|20)\d{2}[/.-]\d{1,2}[/.-]\d{1,2}\b"),
        re.compile(rf"(?i)\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{2,4}}\b"),
        re.compile(rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+\d{{2,4}}\b"),
        re.compile(rf"(?i)\b{_MONTH}\.?\s+(?:19|20)\d{{2}}\b"),
    ],
    # A title followed by a capitalised word. "MR"/"MS" in capitals need a period (MR = magnetic resonance).
    "person name": [
        re.compile(
            rf"\b(?:Dr|DR|dr|Mr|Mrs|Ms|Miss|Prof)\b\.?\s+{_PLACEHOLDER_NAME}(?:[A-Z]\.\s*)?[A-Z][a-zA-Z'-]+"
        ),
        re.compile(rf"\b(?:MR|MRS|MS)\.\s+{_PLACEHOLDER_NAME}[A-Z][a-zA-Z'-]+"),
    ],
    "record number": [
        re.compile(
            r"(?i)\b(?:MRN|MR\s*#|med(?:ical)?\s+rec(?:ord)?(?:\s*(?:no|number|#))?|accession(?:\s*(?:no|number|#))?"
            r"|acc\s*#|patient\s+id)\s*[:#.]?\s*(?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,}"
        ),
        re.compile(r"\b\d{7,}\b"),
    ],
    "phone": [re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)")],
    "email": [re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")],
    "age over 89": [
        re.compile(r"(?i)\b(?:9\d|1[0-4]\d)\s*-?\s*(?:years?|yrs?|y/?o|yo)\b"),
        re.compile(r"(?i)\bage[ds]?\s*:?\s*(?:9\d|1[0-4]\d)\b"),
    ],
}


@dataclass(frozen=True)
class DeidHit:
    rule: str
    match: str


def _institution_pattern(name: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in name.split()]
    return re.compile(r"(?i)(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def find_identifiers(text: str, institutions: Iterable[str] = ()) -> list[DeidHit]:
    """Every identifier-like span in ``text`` (rule name and the matched text)."""
    hits = [
        DeidHit(rule, match.group(0))
        for rule, patterns in RULES.items()
        for pattern in patterns
        for match in pattern.finditer(text)
    ]
    for name in institutions:
        if name.strip():
            hits.extend(DeidHit("institution", m.group(0)) for m in _institution_pattern(name).finditer(text))
    return hits
