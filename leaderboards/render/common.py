"""Formatting shared by every renderer: cell text, legend lines, footnotes (only for what a table shows)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from leaderboards.model import Cell, Table
from leaderboards.render.layout import Layout

SIGNIFICANCE_MARK = "†"
# A convention footnote is "task · metric — part; part; ..." where each part starts with "name: " (values may
# themselves hold "; " but not a short "name: " right after it).
_HEAD = re.compile(r"^(?P<head>[\w-]+ · [^—]+?) — (?P<body>.*)$", re.S)
_PART_SPLIT = re.compile(r"; (?=[\w%.*() -]{1,40}?: |no bootstrap CI$)")


def number(value: float, table: Table) -> str:
    fmt = table.spec["format"]
    return f"{value * fmt['scale']:.{fmt['digits']}f}"


def cell_body(cell: Cell, table: Table) -> str:
    """The number part of a present cell on one line: value [CI], or mean ± sd over seeds."""
    assert cell.value is not None
    fmt = table.spec["format"]
    value = number(cell.value, table)
    if cell.sd is not None:
        return fmt["seeds"].format(mean=value, sd=number(cell.sd, table), n=cell.n_seeds)
    if cell.ci95 is not None:
        return fmt["ci"].format(value=value, lo=number(cell.ci95[0], table), hi=number(cell.ci95[1], table))
    return value


def cell_value(cell: Cell, table: Table) -> str:
    """The first line of a two-line cell: the value (or the mean over seeds)."""
    assert cell.value is not None
    return number(cell.value, table)


def cell_interval(cell: Cell, table: Table) -> str:
    """The second line of a two-line cell: the spec's CI or sd template with the value left out."""
    fmt = table.spec["format"]
    if cell.sd is not None:
        return fmt["seeds"].format(mean="", sd=number(cell.sd, table), n=cell.n_seeds).strip()
    if cell.ci95 is not None:
        return (
            fmt["ci"].format(value="", lo=number(cell.ci95[0], table), hi=number(cell.ci95[1], table)).strip()
        )
    return ""


def letter(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa ..."""
    text = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        text = chr(ord("a") + rem) + text
    return text


def missing_letter(cell: Cell, reasons: list[str]) -> str:
    return letter(reasons.index(cell.reason or "missing"))


def empty_letters(cells: list[Cell], reasons: list[str]) -> str:
    """The letters of the distinct reasons of a left-out row's (or column's) cells: "a,b"."""
    letters: list[str] = []
    for cell in cells:
        if missing_letter(cell, reasons) not in letters:
            letters.append(missing_letter(cell, reasons))
    return ",".join(letters)


def reported_rows(table: Table) -> list[dict[str, Any]]:
    return [r for r in table.rows if r["kind"] == "reported"]


def citation_tag(row: dict[str, Any], table: Table) -> str:
    return f"R{reported_rows(table).index(row) + 1}"


def row_by_id(table: Table, row_id: str) -> dict[str, Any]:
    return next(r for r in table.rows if r["id"] == row_id)


def shown_reported_rows(table: Table, layout: Layout) -> list[dict[str, Any]]:
    """Reported rows (models copied from papers) that the layout draws, in table order."""
    ids = {r.row_id for p in layout.panels for r in p.rows if r.kind == "reported"}
    ids |= {leaf.cite_row for p in layout.panels for leaf in p.leaves if leaf.cite_row}
    return [r for r in reported_rows(table) if r["id"] in ids]


def legend(table: Table, layout: Layout) -> list[str]:
    """Plain-text notes under the table, one per thing the table shows (renderers escape them)."""
    cells = layout.shown_cells()
    present = [c for c in cells if not c.missing]
    lines = []
    if any(c.bold for c in present):
        among = "any row" if table.spec["best"] == "all" else "reproduced rows"
        lines.append(
            f"Bold: best of {among} in its column at the displayed precision{_directions(table, present)}."
        )
    kinds = []
    if any(c.sd is None and c.ci95 is not None for c in present):
        kinds.append("value with its 95 % bootstrap CI")
    if any(c.sd is not None for c in present):
        kinds.append("mean ± sample sd over seeds")
    if kinds:
        lines.append("Cells: " + "; ".join(kinds) + ".")
    if any(c.significant for c in present):
        lines.append(
            f"{SIGNIFICANCE_MARK}: differs from the next reproduced model below with a value in that column "
            f"(two-sided paired test on the same test set, Holm-adjusted p < {table.spec['significance']['alpha']})."
        )
    if shown_reported_rows(table, layout):
        lines.append(
            "Cited models: numbers copied from their papers (not re-checked); the others are reproduced."
        )
    return lines


def _directions(table: Table, present: list[Cell]) -> str:
    """The bolded columns that are not higher-is-better, as "; lower is better in A; closest to the ideal value
    is best in B (1)" (leaderboards.directions decides which)."""
    from leaderboards.render.layout import entry_label

    bolded = {c.column for c in present if c.bold}
    lower: list[str] = []
    target: list[str] = []
    for col in table.columns:
        if col["key"] not in bolded:
            continue
        if col.get("target") is not None:
            name = f"{entry_label(col)} ({col['target']:g})"
            target += [] if name in target else [name]
        elif col["lower_is_better"]:
            lower += [] if entry_label(col) in lower else [entry_label(col)]
    text = f"; lower is better in {', '.join(lower)}" if lower else ""
    return text + (f"; closest to the ideal value is best in {', '.join(target)}" if target else "")


@dataclass(frozen=True)
class NotePart:
    numbers: tuple[int, ...]  # the footnote numbers (column marks) that carry this part
    text: str


def _parts(text: str) -> list[str]:
    match = _HEAD.match(text)
    if match is None:
        return [text]
    return [p.strip() for p in _PART_SPLIT.split(match["body"]) if p.strip()]


def convention_notes(table: Table, numbers: list[int]) -> list[NotePart]:
    """The convention footnotes `numbers` with each distinct part written once, marked with every footnote that
    carries it (a paper table with ten columns of one task otherwise repeats the same sentence ten times)."""
    order: list[str] = []
    carriers: dict[str, list[int]] = {}
    for n in numbers:
        for part in _parts(table.footnotes[n - 1]):
            if part not in carriers:
                order.append(part)
                carriers[part] = []
            if n not in carriers[part]:
                carriers[part].append(n)
    return [NotePart(tuple(carriers[p]), p) for p in order]


def table_notes(table: Table) -> list[str]:
    """Footnotes no column points to: table-wide notes (e.g. how the significance tests were run)."""
    referenced = set(table.column_footnote.values())
    return [t for i, t in enumerate(table.footnotes, 1) if i not in referenced]


def number_span(numbers: tuple[int, ...] | list[int]) -> str:
    """1,2,3,5 -> "1–3,5"."""
    out: list[str] = []
    ordered = sorted(numbers)
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(
            str(start) if start == prev else f"{start}–{prev}" if prev > start + 1 else f"{start},{prev}"
        )
        if n is not None:
            start = prev = n
    return ",".join(out)
