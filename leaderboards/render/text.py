"""A plain-text summary of a table for a terminal: benchmarks as rows, one value-and-CI column per model and mode.

`make demo` prints it; lines never exceed `width` characters (a model block that would is cut into several).
"""

from __future__ import annotations

from leaderboards.model import Cell, Table
from leaderboards.render.common import cell_body
from leaderboards.render.layout import entry_label, mode_label

GAP = "  "


def _entries(table: Table) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for col in table.columns:
        groups.setdefault(col["group"].split("/")[0], []).append(col)
    return list(groups.values())


def _text(cell: Cell, table: Table) -> str:
    if cell.missing:
        return table.spec["format"]["missing"]
    return cell_body(cell, table) + ("*" if cell.bold and len(table.rows) > 1 else "")


def render_summary(table: Table, width: int = 100) -> str:
    entries = _entries(table)
    modes: list[str] = []
    for col in table.columns:
        if mode_label(col, table) not in modes:
            modes.append(mode_label(col, table))
    label_width = max(len("Benchmark"), *(len(entry_label(cols[0])) for cols in entries))
    lines = []
    for row in table.rows:
        grid = {
            (entry_label(cols[0]), mode_label(c, table)): _text(table.cell(row["id"], c["key"]), table)
            for cols in entries
            for c in cols
        }
        if all(text == table.spec["format"]["missing"] for text in grid.values()):
            lines.append(f"{row['label']}: no value in any column")
            continue
        widths = {m: max([len(m)] + [len(t) for (_, mm), t in grid.items() if mm == m]) for m in modes}
        chunks: list[list[str]] = [[]]
        used = label_width
        for m in modes:
            if chunks[-1] and used + len(GAP) + widths[m] > width:
                chunks.append([])
                used = label_width
            chunks[-1].append(m)
            used += len(GAP) + widths[m]
        title = row["label"] + (" (reported)" if row["kind"] == "reported" else "")
        lines.append(title)
        for chunk in chunks:
            lines.append(
                "Benchmark".ljust(label_width) + "".join(GAP + m.ljust(widths[m]) for m in chunk).rstrip()
            )
            for cols in entries:
                name = entry_label(cols[0])
                texts = [grid.get((name, m), "") for m in chunk]
                line = name.ljust(label_width) + "".join(
                    GAP + t.ljust(widths[m]) for t, m in zip(texts, chunk, strict=True)
                )
                lines.append(line.rstrip())
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
