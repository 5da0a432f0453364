"""Subgroup tables as a self-contained HTML page (the style of table.html; no script, nothing external) that fits a
1,400 px window: a block wider than that is cut between models."""

from __future__ import annotations

from html import escape

from leaderboards.model import SubgroupCell, Table
from leaderboards.render.common import letter
from leaderboards.render.html import CI_PX, FONT_PX, PAD_PX, STYLE, WIDTH_BUDGET_PX
from leaderboards.render.measure import text_em
from leaderboards.render.subgroups import (
    GAP_MARK,
    SMALL_MARK,
    Block,
    field_label,
    gap_text,
    interval_text,
    legend,
    marked,
    missing_tag,
    reasons,
    subgroup_blocks,
    value_text,
)


def _model_px(block: Block, k: int, table: Table) -> float:
    cells = [line.cells[k] for line in block.lines if line.kind != "section"]
    present = [c for c in cells if c is not None and c.value is not None]
    value = max([text_em(value_text(c, table)) * FONT_PX + 8 for c in present]
                + [text_em(interval_text(c, table)) * CI_PX for c in present] + [FONT_PX])  # fmt: skip
    gap = max([text_em(gap_text(c, table)) * FONT_PX + 10 for c in cells] + [FONT_PX]) + PAD_PX
    return max(
        value + PAD_PX + (gap if block.with_gap else 0.0), text_em(block.models[k][1]) * FONT_PX + PAD_PX
    )


def _chunks(block: Block, table: Table) -> list[list[int]]:
    labels = [line.label + SMALL_MARK for line in block.lines] + [field_label(block.field)]
    room = WIDTH_BUDGET_PX - max(text_em(t) for t in labels) * FONT_PX - 2 * PAD_PX - 60
    chunks: list[list[int]] = [[]]
    used = 0.0
    for k in range(len(block.models)):
        width = _model_px(block, k, table)
        if chunks[-1] and used + width > room:
            chunks.append([])
            used = 0.0
        chunks[-1].append(k)
        used += width
    return chunks


def _cell(cell: SubgroupCell | None, table: Table, block: Block) -> str:
    if cell is None:
        return '<td class="num"></td>'
    if cell.value is None:
        title = escape(cell.reason or "missing", quote=True)
        tag = missing_tag(cell, block.sub)
        return f'<td class="num missing" title="{title}">{escape(table.spec["format"]["missing"])}<sup>{tag}</sup></td>'
    text = escape(value_text(cell, table)) + (GAP_MARK if marked(cell) else "")
    interval = interval_text(cell, table)
    if interval:
        text += f'<span class="ci">{escape(interval)}</span>'
    return f'<td class="num" title="{escape(cell.path, quote=True)}">{text}</td>'


def _gap(cell: SubgroupCell | None, table: Table) -> str:
    text = gap_text(cell, table)
    if text and cell is not None and cell.significant:
        text += GAP_MARK
    title = "" if cell is None or cell.p_holm is None else f' title="p_holm = {cell.p_holm!r}"'
    return f'<td class="num"{title}>{escape(text)}</td>'


def _table(block: Block, models: list[int], table: Table) -> list[str]:
    per = 2 if block.with_gap else 1
    out = ['<div class="wrap">', f'<table data-block="{escape(block.sub.id)}/{escape(block.field)}/{block.kind}">',
           "<thead>", "<tr><th></th><th></th>"]  # fmt: skip
    out += [f'<th class="group" colspan="{per}">{escape(block.models[k][1])}</th>' for k in models]
    sub_heads = ["<th>value</th><th>Δ</th>" if block.with_gap else "<th>FPR</th>" for _ in models]
    out += ["</tr>", f"<tr><th>{escape(field_label(block.field))}</th><th>n</th>{''.join(sub_heads)}</tr>",
            "</thead>", "<tbody>"]  # fmt: skip
    previous = ""
    for line in block.lines:
        if line.kind == "section":
            out.append(
                f'<tr class="section"><td colspan="{2 + per * len(models)}">{escape(line.label)}</td></tr>'
            )
            continue
        kind = line.kind + (" block" if previous == "overall" else "")
        previous = line.kind
        label = escape(line.label) + (f"<sup>{SMALL_MARK}</sup>" if line.small else "")
        cells = "".join(
            _cell(line.cells[k], table, block) + (_gap(line.cells[k], table) if block.with_gap else "")
            for k in models
        )
        n = "" if line.n is None else str(line.n)
        out.append(f'<tr class="{kind}"><td>{label}</td><td class="num">{n}</td>{cells}</tr>')
    return [*out, "</tbody>", "</table>", "</div>"]


def render_subgroups_html(table: Table) -> str:
    title = f"Subgroups — {table.spec['title']}"
    out = ["<!DOCTYPE html>", '<html lang="en">',
           f'<head><meta charset="utf-8"><title>{escape(title)}</title><style>{STYLE}</style></head>', "<body>",
           f"<h1>{escape(title)}</h1>"]  # fmt: skip
    for sub in table.subgroup_tables:
        blocks = subgroup_blocks(table, sub)
        out.append(f"<h2>{escape(sub.label)} ({escape(sub.column)})</h2>")
        for block in blocks:
            out.append(f"<h3>{escape(block.title)}</h3>")
            for chunk in _chunks(block, table):
                out += _table(block, chunk, table)
        out += ['<div class="notes">', "<ul>"] + [f"<li>{escape(x)}</li>" for x in legend(table, sub, blocks)]
        out.append("</ul>")
        found = reasons(sub)
        if found:
            items = "".join(f"<li><sup>{letter(i)}</sup> {escape(r)}</li>" for i, r in enumerate(found))
            out.append(f"<p>Missing cells:</p><ul>{items}</ul>")
        if sub.footnotes:
            out.append(
                "<p>Conventions:</p><ul>" + "".join(f"<li>{escape(t)}</li>" for t in sub.footnotes) + "</ul>"
            )
        out.append("</div>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
