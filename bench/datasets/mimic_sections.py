"""Sections of a MIMIC-CXR free-text report, with the semantics of the MIMIC-CXR authors' own code.

The rules (docs/datasets/mimic-cxr.md, fact `section_parser`; source: MIT-LCP/mimic-cxr, txt/section_parser.py and
txt/create_section_files.py), re-implemented here:

- A header is an upper-case name (letters, space, ``()/,-``) at the start of a line that begins with one space,
  followed by ``:`` and a whitespace character. Text before the first header is the ``preamble``; a report with no
  header at all is one ``full report`` section.
- After a header, the search for the next header resumes after the end of the line that follows the header's
  whitespace (the authors' guard against bad parses; a header on the very next line after an empty one is thus
  part of the section).
- Names are lower-cased and normalised: the authors' table of frequent names and misspellings first
  (``conclusion`` and ``findings and impression`` -> impression, ...), then any name containing impression,
  findings, history, comparison or addendum becomes that name, then names describing the study (``chest``,
  ``pa and lateral``, ...) become findings.
- Empty findings / impression sections are dropped. When neither remains, the last section's text after its first
  blank line (``\\n \\n``) becomes ``last_paragraph``.
- A few studies have hand-made rules in the official code (a character range, or a named section); they are
  applied by study id (fact `section_custom_rules`).

Which text a record carries is a named convention (`SECTION_RULES`): the findings and impression sections (the
last section of each name, as the official code picks), or the impression alone with the official fallbacks
(impression > findings > last_paragraph > comparison: exactly the official ``mimic_cxr_sections.csv``), or the
findings alone. ``meta["report_rule"]`` says which rule produced each report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

from bench.datasets.factsheet import fact

SectionRule = Literal["findings_impression", "impression", "findings"]
SECTION_RULES: tuple[str, ...] = get_args(SectionRule)
HEADER = re.compile(r"\n ([A-Z ()/,-]+):\s")
MAIN_SECTIONS = ("impression", "findings", "history", "comparison", "addendum")
FALLBACK_ORDER = ("impression", "findings", "last_paragraph", "comparison")


@dataclass(frozen=True)
class Section:
    name: str  # normalised, lower case
    text: str  # raw text of the section body
    start: int  # offset of the body in the report


@lru_cache(maxsize=1)
def _parser_facts() -> tuple[dict[str, str], re.Pattern[str]]:
    value = fact("mimic-cxr", "section_parser")
    frequent = {str(k).lower(): str(v) for k, v in value["normalised_names"].items()}
    describing = re.compile("|".join(re.escape(p) for p in value["findings_view_patterns"]))
    return frequent, describing


@lru_cache(maxsize=1)
def _custom_rules() -> tuple[dict[str, str], dict[str, tuple[int, int]]]:
    value = fact("mimic-cxr", "section_custom_rules")
    by_name = {str(k): str(v) for k, v in value["section_names"].items()}
    by_range = {str(k): (int(v[0]), int(v[1])) for k, v in value["character_ranges"].items()}
    return by_name, by_range


def normalise_name(name: str) -> str:
    frequent, describing = _parser_facts()
    name = name.lower().strip()
    if name in frequent:
        return frequent[name]
    for main in MAIN_SECTIONS:
        if main in name:
            return main
    return "findings" if describing.search(name) else name


def split_sections(text: str) -> list[Section]:
    """The report's sections in order (see the module doc), empty findings / impression dropped."""
    sections: list[Section] = []
    match = HEADER.search(text)
    if match is None:
        sections.append(Section("full report", text, 0))
    else:
        sections.append(Section("preamble", text[: match.start(1)], 0))
    while match is not None:
        name, start = match.group(1), match.end()
        newline = text.find("\n", start)
        match = HEADER.search(text, newline if newline != -1 else start)
        end = match.start() if match is not None else len(text)
        sections.append(Section(normalise_name(name), text[start:end], start))
    sections = [s for s in sections if s.name not in ("impression", "findings") or s.text.strip()]
    if not any(s.name in ("impression", "findings") for s in sections):
        last = sections[-1]
        head, sep, rest = last.text.partition("\n \n")
        if sep:
            sections[-1] = Section(last.name, head, last.start)
            sections.append(Section("last_paragraph", rest, last.start + len(head)))
    return sections


def _last(sections: list[Section], name: str) -> str | None:
    """Whitespace-normalised text of the last section called `name` ("" if empty), None when there is none."""
    for section in reversed(sections):
        if section.name == name:
            return " ".join(section.text.split())
    return None


def report_text(text: str, study: str, rule: str = "findings_impression") -> tuple[str | None, str]:
    """(report text or None, the rule that produced it) for one study's report under a `SECTION_RULES` rule.

    `study` is the study id with its 's' prefix (e.g. 's50414267'), for the official per-study rules.
    """
    if rule not in SECTION_RULES:
        raise ValueError(f"sections={rule!r}: choose one of {', '.join(SECTION_RULES)}")
    by_name, by_range = _custom_rules()
    if study in by_range:
        begin, end = by_range[study]
        body: str | None = " ".join(text[begin:end].split())
        return (body or None), "official custom range"
    sections = split_sections(text)
    if study in by_name and rule != "findings":
        body = _last(sections, by_name[study])
        if body:
            return body, f"official custom section ({by_name[study]})"
    if rule == "findings":
        body = _last(sections, "findings")
        return (body, "findings") if body else (None, "no findings section")
    if rule == "findings_impression":
        parts = [
            f"{name.upper()}: {body}"
            for name in ("findings", "impression")
            if (body := _last(sections, name))
        ]
        if parts:
            return "\n\n".join(parts), "+".join(
                name for name in ("findings", "impression") if _last(sections, name)
            )
    for name in FALLBACK_ORDER:
        body = _last(sections, name)
        # The official choice takes the first name present even when its text is empty; the combined rule
        # moves on to the next fallback instead.
        if body is not None and (body or rule == "impression"):
            return (body or None), name
    return None, "no usable section"
