"""A self-contained HTML page with the table (no scripts, no external resources) that fits a 1,400 px window.

Same layout as the LaTeX table; the CI goes on a second line, the label column stays put when a table must
scroll sideways, and a panel wider than the window is cut between column groups.
"""

from __future__ import annotations

from html import escape

from leaderboards.model import Cell, Table
from leaderboards.render.common import (
    SIGNIFICANCE_MARK,
    cell_interval,
    cell_value,
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
from leaderboards.render.layout import BodyRow, Layout, Panel, build_layout, chunk_panels
from leaderboards.render.measure import text_em

FONT_PX, CI_PX, PAD_PX = 14.0, 11.5, 18.0
SANS = 1.0  # sans-serif digits are about Computer Modern's 0.5 em wide (the Chromium test checks)
WIDTH_BUDGET_PX = 1300.0  # a 1,400 px window less the page margins and a scrollbar

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin: 1.4em 0 0.4em; }
.wrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: separate; border-spacing: 0; font-size: 14px; }
th, td { padding: 0.2em 0.6em; background: #fff; }
th { font-weight: 600; vertical-align: bottom; }
thead tr:first-child th { border-top: 2px solid #222; }
thead tr:last-child th { border-bottom: 1px solid #222; }
thead th.group { border-bottom: 1px solid #999; }
tbody tr:last-child td { border-bottom: 2px solid #222; }
tr.block td { border-top: 1px solid #222; }
th:first-child, td:first-child { position: sticky; left: 0; z-index: 1; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.num .ci { display: block; font-size: 0.82em; color: #555; }
td.missing { color: #888; }
tr.reported td:first-child { font-style: italic; }
tr.section td { font-style: italic; font-weight: 600; padding-top: 0.7em; }
.notes { font-size: 0.85em; max-width: 70em; }
"""


def _sup(text: str) -> str:
    return f"<sup>{text}</sup>" if text else ""


def _cell(cell: Cell | None, table: Table, reasons: list[str]) -> str:
    if cell is None:
        return '<td class="num"></td>'
    if cell.missing:
        tag = missing_letter(cell, reasons)
        title = escape(cell.reason or "missing", quote=True)
        return f'<td class="num missing" title="{title}">{escape(table.spec["format"]["missing"])}{_sup(tag)}</td>'
    text = escape(cell_value(cell, table))
    if cell.bold:
        text = f"<b>{text}</b>"
    if cell.significant:
        text += SIGNIFICANCE_MARK
    interval = cell_interval(cell, table)
    if interval:
        text += f'<span class="ci">{escape(interval)}</span>'
    sources = "; ".join(f"{s.results} ({s.metric_path})" for s in cell.sources)
    title = f' title="{escape(sources, quote=True)}"' if sources else ""
    return f'<td class="num"{title}>{text}</td>'


def _row_label(row: BodyRow, table: Table) -> str:
    label = escape(row.label)
    if row.kind == "reported" and row.row_id is not None:
        label += f" [{citation_tag(row_by_id(table, row.row_id), table)}]"
    return label + (_sup(number_span(row.notes)) if row.notes else "")


def _panel(panel: Panel, table: Table, reasons: list[str]) -> list[str]:
    out = [f"<h2>{escape(panel.title)}</h2>"] if panel.title else []
    out += ['<div class="wrap">', "<table>", "<thead>", "<tr>", "<th></th>"]
    for group, span, first in panel.group_spans():
        mark = f" [{citation_tag(row_by_id(table, first.cite_row), table)}]" if first.cite_row else ""
        mark += _sup(number_span(first.notes)) if first.notes else ""
        out.append(f'<th class="group" colspan="{span}">{escape(group)}{mark}</th>')
    out.append("</tr>")
    out.append(
        f"<tr><th>{escape(panel.corner)}</th>"
        + "".join(f"<th>{escape(leaf.label)}</th>" for leaf in panel.leaves)
        + "</tr>"
    )
    out += ["</thead>", "<tbody>"]
    previous = None
    for row in panel.rows:
        if row.kind == "section":
            out.append(
                f'<tr class="section"><td colspan="{len(panel.leaves) + 1}">{escape(row.label)}</td></tr>'
            )
            previous = None
            continue
        block = " block" if previous is not None and row.kind != previous else ""
        previous = row.kind
        cells = "".join(_cell(c, table, reasons) for c in row.cells)
        out.append(f'<tr class="{row.kind}{block}"><td>{_row_label(row, table)}</td>{cells}</tr>')
    out += ["</tbody>", "</table>", "</div>"]
    return out


def _px_layout(table: Table) -> Layout:
    def label_width(panel: Panel) -> float:
        labels = [
            r.label + (" [R1]" if r.kind == "reported" else "") for r in panel.rows if r.kind != "section"
        ]
        return max(text_em(t) for t in [panel.corner, *labels]) * FONT_PX * SANS + PAD_PX

    def leaf_width(panel: Panel, i: int) -> float:
        widths = [text_em(panel.leaves[i].label) * FONT_PX]
        for row in panel.rows:
            cell = row.cells[i] if row.kind != "section" else None
            if cell is not None and not cell.missing:
                widths.append(text_em(cell_value(cell, table)) * FONT_PX + 8)
                widths.append(text_em(cell_interval(cell, table)) * CI_PX)
        return max(widths) * SANS + PAD_PX

    return chunk_panels(build_layout(table), label_width, leaf_width, WIDTH_BUDGET_PX)


def render_html(table: Table) -> str:
    layout = _px_layout(table)
    reasons = layout.reasons()
    title = escape(table.spec["title"])
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>',
        "<body>",
        f"<h1>{title}</h1>",
    ]
    if table.spec["caption"]:
        out.append(f"<p>{escape(table.spec['caption'])}</p>")
    for panel in layout.panels:
        out += _panel(panel, table, reasons)
    out += ['<div class="notes">', "<ul>"]
    out += [f"<li>{escape(line)}</li>" for line in legend(table, layout)]
    if layout.empty:
        left_out = ", ".join(f"{escape(what)}{_sup(empty_letters(cs, reasons))}" for what, cs in layout.empty)
        out.append(f"<li>Not shown, no value in any cell: {left_out}.</li>")
    out.append("</ul>")
    if reasons:
        items = "".join(f"<li><sup>{letter(i)}</sup> {escape(r)}</li>" for i, r in enumerate(reasons))
        out.append(f"<p>Missing cells:</p><ul>{items}</ul>")
    numbers = layout.footnotes_used()
    if numbers:
        items = "".join(f"<li><sup>{n}</sup> {escape(table.footnotes[n - 1])}</li>" for n in numbers)
        out.append(f"<p>Conventions:</p><ul>{items}</ul>")
    out += [f"<p>{escape(t)}</p>" for t in table_notes(table)]
    cited = shown_reported_rows(table, layout)
    if cited:
        items = "".join(
            f"<li>[{citation_tag(r, table)}] {escape(r['label'])}: {escape(r['citation'] or '')}</li>"
            for r in cited
        )
        out.append(f"<p>Cited models:</p><ul>{items}</ul>")
    out += ["</div>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
