"""Harmonise report text so layout, case and boilerplate cannot reveal which source wrote it.

Both reports of a case go through the same steps:

1. chat wrapping removed: special tokens (``<|assistant|>``, ``<start_of_turn>model``, ``[INST] ... [/INST]``,
   ``<s>``), role turns (only the last assistant turn is kept when the prompt was echoed), preambles ("Sure, here
   is the report:", "Generated report:", "FINAL REPORT") and AI disclaimers ("consult a healthcare professional");
2. Markdown removed: code fences, headings, emphasis, bullets and numbered lists (each item becomes a sentence),
   tables (header rows dropped, cells joined), block quotes and rules;
3. signatures and de-identification placeholders removed;
4. section headers mapped to one spelling (``FINDINGS:`` / ``IMPRESSION:`` by default, whatever variant was
   written: "Finding(s)", "Key findings", "Conclusion", "Summary", ...; other sections dropped);
5. whitespace and punctuation collapsed, sentence case with common radiology acronyms kept in capitals, and a
   final period on every section.

Whether this is enough for a given study is measured, not assumed: ``readerstudy.study.blinding_audit``.
"""

from __future__ import annotations

import re
import unicodedata
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
# Longer spellings first: the alternation takes the first that matches at a position.
_HEADER_NAMES = {
    "FINDINGS": r"findings\s+and\s+impressions?|(?:(?:key|radiographic|radiological|imaging|main|detailed)\s+)?"
    r"(?:findings?|finding\(s\))|observations?"
    r"|chest,?\s+(?:two|2|one|single|pa\s+and\s+lateral|frontal\s+and\s+lateral|portable)\s+views?"
    r"|(?:pa\s+and\s+lateral|frontal\s+and\s+lateral|portable\s+ap|ap\s+portable)\s+views?\s+of\s+the\s+chest",
    "IMPRESSION": r"(?:(?:final|overall|clinical|diagnostic)\s+)?impressions?|conclusions?|opinion|summary"
    r"|assessment|interpretation",
    "INDICATION": r"indications?|clinical\s+(?:history|indication|information|details)|history"
    r"|reason\s+for\s+(?:exam|examination|study)",
    "COMPARISON": r"comparisons?|prior\s+studies",
    "TECHNIQUE": r"technique|examination|exam|procedure",
    "RECOMMENDATIONS": r"recommendations?|recommendation\(s\)",
    "NOTIFICATION": r"notification",
    "WET READ": r"wet\s+read",
}
_ANY_HEADER = "|".join(f"(?:{p})" for p in _HEADER_NAMES.values())
_HEADER = re.compile(rf"\b({_ANY_HEADER})[ \t]*:|^[ \t]*({_ANY_HEADER})[ \t]*$", re.IGNORECASE | re.MULTILINE)
_ACRONYMS = "AP|PA|ICU|CT|MRI|ECG|EKG|PICC|IJ|NG|OG|ET|SVC|IVC|COPD|CHF|ARDS|TB|CABG|AICD|ICD|RUL|RML|RLL|LUL|LLL|CP|AV"
_ACRONYM = re.compile(rf"\b(?:{_ACRONYMS})\b|\b[tcl]\d{{1,2}}\b", re.IGNORECASE)

# --- chat wrapping ---------------------------------------------------------------------------------------------
_TURN_TOKENS = [  # chat templates' turn markers -> "\nrole: "
    (re.compile(r"<\|im_start\|>\s*(\w+)"), r"\n\1: "),  # ChatML (Qwen, ...)
    (re.compile(r"<\|start_header_id\|>\s*(\w+)\s*<\|end_header_id\|>"), r"\n\1: "),  # Llama 3
    (re.compile(r"<start_of_turn>\s*(\w+)"), r"\n\1: "),  # Gemma / MedGemma
    (re.compile(r"<\|(assistant|user|system)\|>", re.IGNORECASE), r"\n\1: "),  # Phi, Zephyr
    (re.compile(r"\[INST\]"), "\nuser: "),
    (re.compile(r"\[/INST\]"), "\nassistant: "),
]
_SPECIAL_TOKEN = re.compile(r"<\|[^<>|]*\|>|</?[A-Za-z_][A-Za-z0-9_]*>")  # <|eot_id|>, <s>, <image>, <obj>
_ROLES_ASSISTANT = r"assistant|gpt|model|ai|bot|chatbot|response|answer|output"
_ROLES_OTHER = r"user|human|system|instruction|prompt|question"
# At a line start any role word; anywhere only those no report uses (LLaVA / CheXagent: " USER: ... ASSISTANT: ").
_ROLE = re.compile(
    rf"^[ \t]*(?:#+[ \t]*)?(?:\*\*)?({_ROLES_ASSISTANT}|{_ROLES_OTHER})(?:\*\*)?[ \t]*:(?:\*\*)?"
    r"|\b(assistant|gpt|user|human)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_REPORT_WORDS = r"(?:(?:final|preliminary|generated|ai[- ]generated|predicted|model|radiology|radiological|chest|x-?ray|cxr|radiograph(?:y|ic)?)[ \t]+)*"
_REPORT_TITLE = re.compile(rf"^[ \t]*{_REPORT_WORDS}report[ \t]*:?[ \t]*$", re.IGNORECASE | re.MULTILINE)
_REPORT_LABEL = re.compile(rf"^[ \t]*{_REPORT_WORDS}report[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE)
_PREAMBLE = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|ok|absolutely|here(?:'s| is| are)|below is|based on)\b[^\n:]*:\s*",
    re.IGNORECASE,
)
_PREAMBLE_SENTENCE = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|absolutely|here(?:'s| is| are)|below is)\b[^.!?\n]*"
    r"(?:report|findings|x-?ray|image|radiograph)[^.!?\n]*[.!?]\s*",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"ai[- ]generated|as an ai\b|language model|not (?:be )?(?:a substitute|intended (?:to|for))"
    r"|consult(?:ation)? (?:with )?(?:a |your )?(?:qualified )?(?:radiologist|healthcare|physician|doctor|medical)"
    r"|healthcare professional|let me know|hope this helps|informational purposes|disclaimer",
    re.IGNORECASE,
)

# --- Markdown --------------------------------------------------------------------------------------------------
_FENCE = re.compile(r"^[ \t]*(?:```|~~~).*$", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*(?:[-*_][ \t]*){3,}$", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]*(.*?)[ \t#]*$", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)
_LIST_ITEM = re.compile(
    r"^[ \t]*(?:[-*+\u2022\u25aa\u25e6\u2023\u00b7]|\(?\d{1,2}[.)])[ \t]+(.*)$", re.MULTILINE
)
_INLINE_NUMBER = re.compile(r"(^|[:.;][ \t]+)\(?\d{1,2}[.)][ \t]+(?=[A-Za-z])", re.MULTILINE)
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
_UNICODE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def _section_of(header_text: str) -> str:
    for name, pattern in _HEADER_NAMES.items():
        if re.fullmatch(pattern, re.sub(r"\s+", " ", header_text.strip()), flags=re.IGNORECASE):
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


def _last_assistant_turn(text: str) -> str:
    """With role labels: the last assistant turn when there is one (an echoed prompt is not report text)."""
    turns = list(_ROLE.finditer(text))
    if not turns:
        return text
    assistant = [m for m in turns if re.fullmatch(_ROLES_ASSISTANT, m.group(1) or m.group(2), re.IGNORECASE)]
    if not assistant:
        return _ROLE.sub("", text)
    last = assistant[-1]
    following = [m for m in turns if m.start() > last.start()]
    return text[last.end() : following[0].start() if following else len(text)]


def _sentences_with_breaks(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])(?=\s)|(?=\n)", text)


def turn_tokens_to_labels(text: str) -> str:
    """Chat-template tokens out: turn markers become ``role:`` labels, other special tokens spaces."""
    for pattern, replacement in _TURN_TOKENS:
        text = pattern.sub(replacement, text)
    return _SPECIAL_TOKEN.sub(" ", text)


def strip_chat_wrapping(text: str) -> str:
    """Remove what a chat model or its template adds around a report (see the module docstring)."""
    text = _last_assistant_turn(turn_tokens_to_labels(text))
    text = _REPORT_TITLE.sub("", text)
    text = _PREAMBLE.sub("", text, count=1)
    text = _PREAMBLE_SENTENCE.sub("", text, count=1)
    text = _REPORT_LABEL.sub("", text)
    return "".join(s for s in _sentences_with_breaks(text) if not _DISCLAIMER.search(s))


def _as_sentence(item: str) -> str:
    item = item.strip().rstrip(",;")
    return item if not item or item.endswith((".", "!", "?", ":")) else item + "."


def _table_rows(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        if line.count("|") < 2 and not line.strip().startswith("|"):
            out.append(line)
            continue
        if _TABLE_SEPARATOR.match(line):
            continue
        if index + 1 < len(lines) and _TABLE_SEPARATOR.match(lines[index + 1]):
            continue  # a header row: column names, not findings
        cells = [c.strip() for c in line.strip().strip("|").split("|") if c.strip()]
        out.append(_as_sentence(": ".join(cells) if len(cells) == 2 else ", ".join(cells)))
    return "\n".join(out)


def _heading(match: re.Match[str]) -> str:
    title = match.group(1).strip().strip("*_").strip()
    if not title or _REPORT_TITLE.fullmatch(title):
        return ""
    if re.fullmatch(rf"(?:{_ANY_HEADER})[ \t]*:?", title, flags=re.IGNORECASE):
        return title.rstrip(":") + ":"
    return title if title.endswith(":") else title + ":"


def strip_markdown(text: str) -> str:
    """Plain text from Markdown: fences, rules, headings, quotes, tables, list markers and emphasis removed."""
    text = _FENCE.sub("", text)
    text = _RULE.sub("", text)
    text = _QUOTE.sub("", text)
    text = _table_rows(text)
    text = re.sub(r"\*\*|__", "", text)
    text = _HEADING.sub(_heading, text)
    text = _LIST_ITEM.sub(lambda m: _as_sentence(m.group(1)), text)
    text = _INLINE_NUMBER.sub(r"\1", text)
    text = re.sub(r"(?<![\w*])[*_](\S(?:[^*_\n]*\S)?)[*_](?![\w*])", r"\1", text)  # *emphasis*, _emphasis_
    return text.replace("`", "")


def _sentence_case(body: str) -> str:
    lowered = body.lower()
    capitalised = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), lowered)
    return _ACRONYM.sub(lambda m: m.group(0).upper(), capitalised)


def normalise_body(body: str) -> str:
    text = re.sub(r"\s+", " ", body).strip()
    text = re.sub(r"[*#|]+", " ", text)  # Markdown left over in odd places
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    text = re.sub(r"([.,;:!?])(?:\s*[.,;:])+", r"\1", text)  # punctuation left behind by removed text
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    text = re.sub(r"\s+", " ", text).strip(" ,;:-")
    if not text:
        return ""
    text = _sentence_case(text)
    return text if text.endswith((".", "!", "?")) else text + "."


def harmonise_report(text: str, sections: Sequence[str] = DEFAULT_SECTIONS) -> str:
    """The reader-facing form of a report: e.g. ``"FINDINGS: No effusion.\\n\\nIMPRESSION: Normal chest."``."""
    cleaned = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    cleaned = cleaned.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = _PLACEHOLDERS.sub(" ", cleaned)  # before Markdown: MIMIC's [**Name**] would lose its stars
    # Template tokens first (their "|" would read as table cells), chat labels after Markdown ("**Assistant:**").
    cleaned = strip_chat_wrapping(strip_markdown(turn_tokens_to_labels(cleaned)))
    cleaned = _SIGNATURE.sub(" ", cleaned)
    parts = split_sections(cleaned)
    rendered = []
    for name in sections:
        body = normalise_body(parts.get(name, ""))
        if body:
            rendered.append(f"{name}: {body}")
    return "\n\n".join(rendered)
