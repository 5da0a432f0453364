"""A self-contained HTML page with the table (no scripts, no external resources)."""

from __future__ import annotations

from html import escape

from leaderboards.model import Cell, Table
from leaderboards.render.common import (
    SIGNIFICANCE_MARK,
    cell_body,
    citation_tag,
    groups,
    legend,
    letter,
    missing_letter,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 0.25em 0.6em; }
thead tr:first-child th { border-top: 2px solid #222; }
thead tr:last-child th { border-bottom: 1px solid #222; }
tbody:last-of-type tr:last-child td { border-bottom: 2px solid #222; }
tbody + tbody tr:first-child td { border-top: 1px solid #222; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.missing { color: #888; }
tr.reported td { font-style: italic; }
.notes { font-size: 0.85em; max-width: 70em; }
"""


def _cell(cell: Cell, table: Table, reasons: list[str]) -> str:
    if cell.missing:
        tag = missing_letter(cell, reasons)
        title = escape(cell.reason or "missing", quote=True)
        return f'<td class="num missing" title="{title}">{escape(table.spec["format"]["missing"])}<sup>{tag}</sup></td>'
    text = escape(cell_body(cell, table))
    if cell.bold:
        text = f"<b>{text}</b>"
    if cell.significant:
        text += SIGNIFICANCE_MARK
    sources = "; ".join(f"{s.results} ({s.metric_path})" for s in cell.sources)
    title = f' title="{escape(sources, quote=True)}"' if sources else ""
    return f'<td class="num"{title}>{text}</td>'


def render_html(table: Table) -> str:
    reasons = table.missing_reasons()
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
    out += ["<table>", "<thead>", "<tr>", '<th rowspan="2">Model</th>', '<th rowspan="2">Source</th>']
    heads = groups(table)
    for group in heads:
        notes = ",".join(str(n) for n in group.footnotes)
        sup = f"<sup>{notes}</sup>" if notes else ""
        width = len(group.columns)
        span = (
            f' colspan="{width}"'
            if width > 1
            else ' rowspan="2"'
            if not group.columns[0]["sub_label"]
            else ""
        )
        out.append(f"<th{span}>{escape(group.label)}{sup}</th>")
    out.append("</tr>")
    out.append(
        "<tr>"
        + "".join(f"<th>{escape(c['sub_label'])}</th>" for c in table.columns if c["sub_label"])
        + "</tr>"
    )
    out.append("</thead>")
    for kind in ("reported", "reproduced"):
        rows = [r for r in table.rows if r["kind"] == kind]
        if not rows:
            continue
        out.append("<tbody>")
        for row in rows:
            source = f"reported [{citation_tag(row, table)}]" if kind == "reported" else "reproduced"
            cells = "".join(_cell(table.cell(row["id"], c["key"]), table, reasons) for c in table.columns)
            out.append(f'<tr class="{kind}"><td>{escape(row["label"])}</td><td>{source}</td>{cells}</tr>')
        out.append("</tbody>")
    out += ["</table>", '<div class="notes">', "<ul>"]
    out += [f"<li>{escape(line)}</li>" for line in legend(table)]
    out.append("</ul>")
    if table.footnotes:
        out.append(
            "<p>Conventions:</p><ol>" + "".join(f"<li>{escape(t)}</li>" for t in table.footnotes) + "</ol>"
        )
    if reasons:
        items = "".join(f"<li><sup>{letter(i)}</sup> {escape(r)}</li>" for i, r in enumerate(reasons))
        out.append(f"<p>Missing cells:</p><ul>{items}</ul>")
    cited = [r for r in table.rows if r["kind"] == "reported"]
    if cited:
        items = "".join(
            f"<li>[{citation_tag(r, table)}] {escape(r['label'])}: {escape(r['citation'])}</li>"
            for r in cited
        )
        out.append(f"<p>Reported rows:</p><ul>{items}</ul>")
    out += ["</div>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
