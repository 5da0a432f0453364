"""Report text preparation: section filtering, cleaning and sentence splitting."""

from __future__ import annotations

import re

# Headers whose text describes the request, not the image: their sections are dropped.
_SKIPPED_SECTIONS = (
    "indication",
    "indications",
    "history",
    "clinical history",
    "clinical information",
    "clinical indication",
    "reason for exam",
    "reason for study",
    "reason",
    "comparison",
    "comparisons",
    "technique",
    "procedure",
    "exam",
    "examination",
    "study",
)
_KEPT_SECTIONS = ("findings", "finding", "impression", "impressions", "conclusion", "conclusions", "summary")
# A header name right before a colon (the text is searched backwards from each colon).
_HEADER_BEFORE_COLON = re.compile(
    r"(?:^|[^a-z])(" + "|".join(sorted(_SKIPPED_SECTIONS + _KEPT_SECTIONS, key=len, reverse=True)) + r")\s*$"
)
_AND_OR = re.compile(r"\band\s*/\s*or\b")
_SLASH = re.compile(r"(?<=[a-z])/(?=[a-z])")
_SPACE_AFTER_PUNCT = re.compile(r"([,;:?!])(?=\S)|\.(?=[a-z])")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\.$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WHITESPACE = re.compile(r"\s+")


def keep_image_sections(report: str) -> str:
    """Drop indication/history/comparison/technique sections; keep everything else.

    Text before the first header is kept (reports without headers are kept whole).
    """
    headers: list[tuple[int, int, str]] = []  # (header start, text start, header name)
    colon = report.find(":")
    while colon >= 0:
        window_start = max(0, colon - 40)
        match = _HEADER_BEFORE_COLON.search(report[window_start:colon].lower())
        if match:
            headers.append((window_start + match.start(1), colon + 1, match.group(1)))
        colon = report.find(":", colon + 1)
    if not headers:
        return report
    parts = [report[: headers[0][0]]]
    for i, (_, text_start, name) in enumerate(headers):
        end = headers[i + 1][0] if i + 1 < len(headers) else len(report)
        if name not in _SKIPPED_SECTIONS:
            parts.append(report[text_start:end])
    return " . ".join(p for p in parts if p.strip())


def clean(text: str) -> str:
    """Lower-case and normalise like the CheXpert labeler's loader (`and/or` -> `or`, `x/y` -> `x or y`)."""
    text = _AND_OR.sub("or", text.lower())
    text = _SLASH.sub(" or ", text)
    text = text.replace("..", ".")
    text = _SPACE_AFTER_PUNCT.sub(lambda m: (m.group(1) or ".") + " ", text)
    return _WHITESPACE.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split cleaned text at sentence ends (., ? or ! followed by a space)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip(" .")]


def prepare(report: str) -> list[str]:
    """Report -> cleaned sentences of the image-describing sections."""
    sentences: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(keep_image_sections(report)):
        sentences.extend(split_sentences(clean(paragraph)))
    return sentences
