"""GitHub-flavoured Markdown table."""

from __future__ import annotations

from leaderboards.model import Cell, Table
from leaderboards.render.common import (
    SIGNIFICANCE_MARK,
    cell_body,
    citation_tag,
    leaf_label,
    legend,
    letter,
    missing_letter,
)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cell(cell: Cell, table: Table, reasons: list[str]) -> str:
    if cell.missing:
        return f"{table.spec['format']['missing']}<sup>{missing_letter(cell, reasons)}</sup>"
    text = cell_body(cell, table)
    if cell.bold:
        text = f"**{text}**"
    return text + (SIGNIFICANCE_MARK if cell.significant else "")


def render_markdown(table: Table) -> str:
    reasons = table.missing_reasons()
    header = ["Model", "Source"]
    for col in table.columns:
        note = table.column_footnote.get(col["key"])
        header.append(_escape(leaf_label(col)) + (f"<sup>{note}</sup>" if note else ""))
    lines = [f"# {_escape(table.spec['title'])}", ""]
    if table.spec["caption"]:
        lines += [table.spec["caption"], ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * len(table.columns)]
    for row in table.rows:
        source = f"reported [{citation_tag(row, table)}]" if row["kind"] == "reported" else "reproduced"
        cells = [_cell(table.cell(row["id"], col["key"]), table, reasons) for col in table.columns]
        lines.append("| " + " | ".join([_escape(row["label"]), source, *cells]) + " |")
    lines += ["", *[f"- {_escape(line)}" for line in legend(table)]]
    if table.footnotes:
        lines += ["", "Conventions:", ""] + [f"{i}. {_escape(t)}" for i, t in enumerate(table.footnotes, 1)]
    if reasons:
        lines += ["", "Missing cells:", ""] + [f"- {letter(i)}: {_escape(r)}" for i, r in enumerate(reasons)]
    cited = [r for r in table.rows if r["kind"] == "reported"]
    if cited:
        lines += ["", "Reported rows:", ""]
        lines += [
            f"- [{citation_tag(r, table)}] {_escape(r['label'])}: {_escape(r['citation'])}" for r in cited
        ]
    return "\n".join(lines) + "\n"
