"""GitHub-flavoured Markdown: the same layout as the LaTeX and HTML tables, full convention footnotes below."""

from __future__ import annotations

from leaderboards.model import Cell, Table
from leaderboards.render.common import (
    SIGNIFICANCE_MARK,
    cell_body,
    citation_tag,
    empty_letters,
    legend,
    letter,
    missing_letter,
    number_span,
    row_by_id,
    shown_reported_rows,
    table_notes,
)
from leaderboards.render.layout import BodyRow, Layout, Panel, build_layout


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _sup(text: str) -> str:
    return f"<sup>{text}</sup>" if text else ""


def _cell(cell: Cell | None, table: Table, reasons: list[str]) -> str:
    if cell is None:
        return ""
    if cell.missing:
        return f"{table.spec['format']['missing']}{_sup(missing_letter(cell, reasons))}"
    text = cell_body(cell, table)
    if cell.bold:
        text = f"**{text}**"
    return text + (SIGNIFICANCE_MARK if cell.significant else "")


def _row_label(row: BodyRow, table: Table) -> str:
    if row.kind == "section":
        return f"**{_escape(row.label)}**"
    label = _escape(row.label)
    if row.kind == "reported" and row.row_id is not None:
        label += f" [{citation_tag(row_by_id(table, row.row_id), table)}]"
    return label + _sup(number_span(row.notes) if row.notes else "")


def _panel(panel: Panel, table: Table, reasons: list[str]) -> list[str]:
    header = [_escape(panel.corner)]
    for group, span, first in panel.group_spans():
        mark = f" [{citation_tag(row_by_id(table, first.cite_row), table)}]" if first.cite_row else ""
        mark += _sup(number_span(first.notes)) if first.notes else ""
        start = panel.leaves.index(first)
        for leaf in panel.leaves[start : start + span]:
            header.append(_escape(f"{group}{mark} {leaf.label}".strip()))
    lines = [f"### {_escape(panel.title)}", ""] if panel.title else []
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(panel.leaves)]
    for row in panel.rows:
        cells = [_cell(c, table, reasons) for c in row.cells] or [""] * len(panel.leaves)
        lines.append("| " + " | ".join([_row_label(row, table), *cells]) + " |")
    return [*lines, ""]


def render_markdown(table: Table) -> str:
    layout: Layout = build_layout(table)
    reasons = layout.reasons()
    lines = [f"# {_escape(table.spec['title'])}", ""]
    if table.spec["caption"]:
        lines += [table.spec["caption"], ""]
    for panel in layout.panels:
        lines += _panel(panel, table, reasons)
    lines += [f"- {_escape(line)}" for line in legend(table, layout)]
    if layout.empty:
        left_out = ", ".join(
            f"{_escape(what)}{_sup(empty_letters(cs, reasons))}" for what, cs in layout.empty
        )
        lines.append(f"- Not shown, no value in any cell: {left_out}.")
    if reasons:
        lines += ["", "Missing cells:", ""] + [f"- {letter(i)}: {_escape(r)}" for i, r in enumerate(reasons)]
    numbers = layout.footnotes_used()
    if numbers:
        lines += ["", "Conventions:", ""]
        lines += [f"- {_sup(str(n))} {_escape(table.footnotes[n - 1])}" for n in numbers]
    notes = table_notes(table)
    if notes:
        lines += ["", *[_escape(t) for t in notes]]
    cited = shown_reported_rows(table, layout)
    if cited:
        lines += ["", "Cited models:", ""]
        lines += [
            f"- [{citation_tag(r, table)}] {_escape(r['label'])}: {_escape(r['citation'])}" for r in cited
        ]
    return "\n".join(lines) + "\n"
