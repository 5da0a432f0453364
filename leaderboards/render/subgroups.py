"""Subgroup tables as blocks every renderer draws the same way, plus their Markdown and CSV.

A block is one subgroup table × one field: rows are the field's groups (after the "All" line: each model's overall
value), one column group per model (value with its CI, and Δ = group minus overall), the shape of per-subgroup
performance tables in the fairness literature (e.g. the per-sex / per-age results of Seyyed-Kalantari et al.
2021, Nat Med 27:2176). The underdiagnosis block has one FPR column per model and, below the groups, the FPR
differences a − b with their Holm-adjusted significance.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from leaderboards.model import SubgroupCell, SubgroupTable, Table
from leaderboards.render.common import letter, number, row_by_id

GAP_MARK = "‡"  # Δ (or an FPR difference) with Holm-adjusted p < alpha
SMALL_MARK = "§"  # a small group (reported, never dropped)
FIELD_LABELS = {"sex": "Sex", "age_bin": "Age (years)", "age": "Age", "view": "View", "race": "Race"}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass
class Line:
    label: str
    kind: str  # "overall" | "group" | "fpr" | "section" | "fpr_gap"
    n: int | None = None
    small: bool = False
    cells: list[SubgroupCell | None] = field(default_factory=list)  # one per model


@dataclass
class Block:
    sub: SubgroupTable
    field: str
    kind: str  # "metric" | "fpr"
    title: str
    models: list[tuple[str, str]]  # (row id, label)
    lines: list[Line]

    @property
    def with_gap(self) -> bool:
        return self.kind == "metric"


def _lines(sub: SubgroupTable, field_name: str, kinds: tuple[str, ...]) -> list[Line]:
    grid = {(c.kind, c.group, c.row): c for c in sub.cells if c.field == field_name and c.kind in kinds}
    order: list[tuple[str, str]] = []
    for cell in sub.cells:
        if cell.field == field_name and cell.kind in kinds and (cell.kind, cell.group) not in order:
            order.append((cell.kind, cell.group))
    lines: list[Line] = []
    for kind, group in order:
        if kind == "fpr_gap" and not any(line.kind == "section" for line in lines):
            lines.append(Line("Differences (FPR a − FPR b)", "section"))
        cells = [grid.get((kind, group, row)) for row in sub.rows]
        present = [c for c in cells if c is not None and c.n is not None]
        lines.append(
            Line(group, kind, present[0].n if present else None, any(c.small for c in present), cells)
        )
    return lines


def subgroup_blocks(table: Table, sub: SubgroupTable) -> list[Block]:
    models = [(r, row_by_id(table, r)["label"]) for r in sub.rows]
    blocks = []
    for name in sub.fields:
        lines = _lines(sub, name, ("overall", "group"))
        if lines:
            blocks.append(Block(sub, name, "metric", f"{sub.label}: {sub.metric} by {field_label(name).lower()}",
                                models, lines))  # fmt: skip
        fpr = _lines(sub, name, ("fpr", "fpr_gap"))
        if fpr:
            meta = sub.underdiagnosis.get(name, {})
            title = f"Underdiagnosis: {meta.get('label', 'No Finding')} FPR at {meta.get('threshold')} by {field_label(name).lower()}"
            blocks.append(Block(sub, name, "fpr", title, models, fpr))
    return blocks


def reasons(sub: SubgroupTable) -> list[str]:
    found: list[str] = []
    for cell in sub.cells:
        if cell.value is None and (cell.reason or "missing") not in found:
            found.append(cell.reason or "missing")
    return found


def missing_tag(cell: SubgroupCell, sub: SubgroupTable) -> str:
    return letter(reasons(sub).index(cell.reason or "missing"))


def value_text(cell: SubgroupCell, table: Table) -> str:
    assert cell.value is not None
    return number(cell.value, table)


def interval_text(cell: SubgroupCell, table: Table) -> str:
    if cell.ci95 is None:
        return ""
    ci = table.spec["format"]["ci"]
    return ci.format(value="", lo=number(cell.ci95[0], table), hi=number(cell.ci95[1], table)).strip()


def gap_text(cell: SubgroupCell | None, table: Table) -> str:
    """The signed gap to overall at the table's precision ("+0.012", "-0.031"); "" where there is none."""
    if cell is None or cell.gap is None:
        return ""
    fmt = table.spec["format"]
    return f"{cell.gap * fmt['scale']:+.{fmt['digits']}f}"


def marked(cell: SubgroupCell) -> bool:
    """Whether the cell's own number carries ‡: an FPR difference (the Δ carries it for group cells)."""
    return cell.kind == "fpr_gap" and cell.significant


def legend(table: Table, sub: SubgroupTable, blocks: list[Block]) -> list[str]:
    alpha = table.spec["significance"]["alpha"]
    cells = [c for b in blocks for line in b.lines for c in line.cells if c is not None]
    lines = []
    if any(b.with_gap for b in blocks):
        lines.append("Cells: value with its 95 % bootstrap CI; Δ: the group's value minus the model's overall value "
                     "(line All).")  # fmt: skip
    if any(c.significant for c in cells):
        lines.append(f"{GAP_MARK}: Δ (or the FPR difference) differs from 0: Holm-adjusted p (p_holm of the results "
                     f"file) < α = {alpha:g}.")  # fmt: skip
    if any(line.small for b in blocks for line in b.lines):
        lines.append(f"{SMALL_MARK}: small group (below the results' small_group minimum, see the conventions): "
                     "reported, never dropped; its numbers are uncertain.")  # fmt: skip
    definitions: dict[str, list[str]] = {}  # one line per distinct definition, naming its fields
    for name, meta in sub.underdiagnosis.items():
        if any(b.kind == "fpr" and b.field == name for b in blocks):
            definitions.setdefault(str(meta.get("definition")), []).append(field_label(name).lower())
    for definition, names in definitions.items():
        lines.append(f"Underdiagnosis ({', '.join(names)}): {definition}.")
    for row, why in sub.left_out:
        lines.append(f"Not in this subgroup table: {row_by_id(table, row)['label']} ({why}).")
    return lines


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_cell(cell: SubgroupCell | None, table: Table, sub: SubgroupTable) -> str:
    if cell is None:
        return ""
    if cell.value is None:
        return f"{table.spec['format']['missing']}<sup>{missing_tag(cell, sub)}</sup>"
    text = value_text(cell, table)
    interval = interval_text(cell, table)
    return text + (f" {interval}" if interval else "") + (GAP_MARK if marked(cell) else "")


def _md_block(block: Block, table: Table) -> list[str]:
    header = [field_label(block.field), "n"]
    for _, label in block.models:
        header += [label, "Δ"] if block.with_gap else [label]
    width = len(header) - 1
    out = [f"### {_md_escape(block.title)}", "", "| " + " | ".join(_md_escape(h) for h in header) + " |",
           "|---|" + "---:|" * width]  # fmt: skip
    for line in block.lines:
        if line.kind == "section":
            out.append(f"| *{_md_escape(line.label)}* |" + " |" * width)
            continue
        label = _md_escape(line.label) + (SMALL_MARK if line.small else "")
        cells = [label, "" if line.n is None else str(line.n)]
        for cell in line.cells:
            cells.append(_md_cell(cell, table, block.sub))
            if block.with_gap:
                gap = gap_text(cell, table)
                cells.append(gap + (GAP_MARK if gap and cell is not None and cell.significant else ""))
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


def render_subgroups_markdown(table: Table) -> str:
    out = [f"# Subgroups — {_md_escape(table.spec['title'])}", ""]
    for sub in table.subgroup_tables:
        blocks = subgroup_blocks(table, sub)
        out += [f"## {_md_escape(sub.label)} ({sub.column})", ""]
        for block in blocks:
            out += _md_block(block, table)
        out += [f"- {_md_escape(line)}" for line in legend(table, sub, blocks)]
        found = reasons(sub)
        if found:
            out += ["", "Missing cells:", ""] + [
                f"- {letter(i)}: {_md_escape(r)}" for i, r in enumerate(found)
            ]
        if sub.footnotes:
            out += ["", "Conventions:", ""] + [f"- {_md_escape(t)}" for t in sub.footnotes]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


CSV_FIELDS = ["subgroup_table", "column", "metric", "field", "group", "kind", "row", "row_label", "n", "small",
              "value", "ci95_low", "ci95_high", "gap_to_overall", "gap_ci95_low", "gap_ci95_high", "p_value",
              "p_holm", "significant", "display", "missing_reason", "source"]  # fmt: skip


def _num(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def render_subgroups_csv(table: Table) -> str:
    """One line per subgroup cell at full precision, with the results file and the path inside it."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for sub in table.subgroup_tables:
        for cell in sub.cells:
            sources = table.cell(cell.row, sub.column).sources
            display = "" if cell.value is None else _md_cell(cell, table, sub)
            writer.writerow({
                "subgroup_table": sub.id, "column": sub.column, "metric": sub.metric, "field": cell.field,
                "group": cell.group, "kind": cell.kind, "row": cell.row,
                "row_label": row_by_id(table, cell.row)["label"], "n": "" if cell.n is None else cell.n,
                "small": int(cell.small), "value": _num(cell.value),
                "ci95_low": _num(cell.ci95[0]) if cell.ci95 else "",
                "ci95_high": _num(cell.ci95[1]) if cell.ci95 else "", "gap_to_overall": _num(cell.gap),
                "gap_ci95_low": _num(cell.gap_ci95[0]) if cell.gap_ci95 else "",
                "gap_ci95_high": _num(cell.gap_ci95[1]) if cell.gap_ci95 else "",
                "p_value": _num(cell.p_value), "p_holm": _num(cell.p_holm), "significant": int(cell.significant),
                "display": display, "missing_reason": cell.reason or "",
                "source": f"{sources[0].results}#{cell.path}" if sources else "",
            })  # fmt: skip
    return buffer.getvalue()
