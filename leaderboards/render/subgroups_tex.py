"""Subgroup tables in LaTeX: booktabs rules, siunitx columns, the CI under each value, one float per block.

A block wider than a text column is cut between models into several tabulars; tabulars that do not fit one page go
to a "continued" float. Needs `\\usepackage{booktabs,siunitx}`, as table.tex.
"""

from __future__ import annotations

from collections.abc import Callable

from leaderboards.model import SubgroupCell, Table
from leaderboards.render.common import letter
from leaderboards.render.latex import LINE_WIDTH_PT, PAGE_BUDGET_PT, SCRIPT_PT, SMALL_PT, TABCOLSEP_PT, escape
from leaderboards.render.measure import text_em
from leaderboards.render.subgroups import (
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

DAGGER = r"\rlap{$^{\ddagger}$}"


def _header_lines(label: str) -> list[str]:
    words = label.split(" ")
    if len(label) <= 16 or len(words) < 2:
        return [label]
    cut = min(range(1, len(words)), key=lambda k: abs(len(" ".join(words[:k])) - len(" ".join(words[k:]))))
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def _model_pt(block: Block, k: int, table: Table) -> float:
    cells = [line.cells[k] for line in block.lines if line.kind != "section"]
    present = [c for c in cells if c is not None and c.value is not None]
    value = max([text_em(value_text(c, table)) * SMALL_PT + 6 for c in present]
                + [text_em(interval_text(c, table)) * SCRIPT_PT for c in present] + [1.5 * SMALL_PT])  # fmt: skip
    width = value + 2 * TABCOLSEP_PT
    if block.with_gap:
        width += (
            max([text_em(gap_text(c, table)) * SMALL_PT + 6 for c in cells] + [SMALL_PT]) + 2 * TABCOLSEP_PT
        )
    header = max(text_em(line) for line in _header_lines(block.models[k][1])) * SMALL_PT + 2 * TABCOLSEP_PT
    return max(width, header)


def _label_pt(block: Block) -> float:
    labels = [field_label(block.field)] + [
        line.label + SMALL_MARK for line in block.lines if line.kind != "section"
    ]
    n_width = max([text_em(str(line.n)) for line in block.lines if line.n is not None] + [1.0]) * SMALL_PT
    return max(text_em(t) for t in labels) * SMALL_PT + n_width + 4 * TABCOLSEP_PT


def _chunks(block: Block, table: Table) -> list[list[int]]:
    room = LINE_WIDTH_PT - _label_pt(block)
    chunks: list[list[int]] = [[]]
    used = 0.0
    for k in range(len(block.models)):
        width = _model_pt(block, k, table)
        if chunks[-1] and used + width > room:
            chunks.append([])
            used = 0.0
        chunks[-1].append(k)
        used += width
    return chunks


def _format(cells: list[SubgroupCell | None], text: Callable[[SubgroupCell], str]) -> str:
    shown = [text(c) for c in cells if c is not None and c.value is not None]
    shown = [s for s in shown if s]
    if not shown:
        return "1.0"
    integer = max(len(s.lstrip("+-").split(".")[0]) for s in shown)
    decimals = max(len(s.split(".")[1]) if "." in s else 0 for s in shown)
    sign = "+" if any(s[0] in "+-" for s in shown) else ""
    return f"{sign}{integer}.{decimals}"


def _value(cell: SubgroupCell | None, table: Table, block: Block) -> str:
    if cell is None:
        return ""
    if cell.value is None:
        return (
            "{"
            + escape(table.spec["format"]["missing"])
            + rf"\textsuperscript{{{missing_tag(cell, block.sub)}}}}}"
        )
    return value_text(cell, table) + (DAGGER if marked(cell) else "")


def _gap(cell: SubgroupCell | None, table: Table) -> str:
    text = gap_text(cell, table)
    return text + (DAGGER if text and cell is not None and cell.significant else "") if text else ""


def _interval(cell: SubgroupCell | None, table: Table) -> str:
    if cell is None or cell.value is None or cell.ci95 is None:
        return ""
    return "{\\scriptsize " + escape(interval_text(cell, table)) + "}"


def _tabular(block: Block, models: list[int], table: Table) -> list[str]:
    per = 2 if block.with_gap else 1
    formats = ""
    for k in models:
        cells = [line.cells[k] for line in block.lines if line.kind != "section"]
        formats += f"S[table-format={_format(cells, lambda c: value_text(c, table))}]"
        if block.with_gap:
            formats += f"S[table-format={_format(cells, lambda c: gap_text(c, table))}]"
    out = [rf"\begin{{tabular}}{{@{{}}lS[table-format=5.0]{formats}@{{}}}}", r"\toprule"]
    top, rules, start = ["", ""], [], 3
    for k in models:
        lines = [escape(x) for x in _header_lines(block.models[k][1])]
        head = (
            lines[0]
            if len(lines) == 1
            else r"\begin{tabular}[b]{@{}c@{}}" + r"\\".join(lines) + r"\end{tabular}"
        )
        top.append(rf"\multicolumn{{{per}}}{{c}}{{{head}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + per - 1}}}")
        start += per
    out += [" & ".join(top) + r" \\", " ".join(rules)]
    sub = ["{" + escape(field_label(block.field)) + "}", "{$n$}"]
    for _ in models:
        sub += ["{" + ("value" if block.with_gap else "FPR") + "}"] + (
            ["{$\\Delta$}"] if block.with_gap else []
        )
    out += [" & ".join(sub) + r" \\", r"\midrule"]
    for line in block.lines:
        if line.kind == "section":
            out += [
                r"\addlinespace",
                rf"\multicolumn{{{2 + per * len(models)}}}{{@{{}}l}}{{\emph{{{escape(line.label)}}}}} \\",
            ]
            continue
        label = escape(line.label) + (r"\textsuperscript{\S}" if line.small else "")
        values = [label, "" if line.n is None else str(line.n)]
        intervals = ["", ""]
        for k in models:
            cell = line.cells[k]
            values.append(_value(cell, table, block))
            intervals.append(_interval(cell, table))
            if block.with_gap:
                values.append(_gap(cell, table))
                intervals.append("")
        out.append(" & ".join(values) + r" \\")
        if any(intervals):
            out.append(" & ".join(intervals) + r" \\")
        if line.kind == "overall":
            out.append(r"\midrule")
    return [*out, r"\bottomrule", r"\end{tabular}"]


def _height(block: Block, models: list[int]) -> float:
    header = 11.0 * (3 if any(len(_header_lines(block.models[k][1])) > 1 for k in models) else 2) + 10.0
    rows = 0.0
    for line in block.lines:
        with_ci = (
            any(cell is not None and cell.ci95 is not None for cell in (line.cells[k] for k in models))
            if line.cells
            else False
        )
        rows += 17.0 if line.kind == "section" else (22.0 if with_ci else 11.5)
    return header + rows + 8.0


def _notes(table: Table, block: Block) -> list[str]:
    sub = block.sub
    notes = [escape(line) for line in legend(table, sub, [block])]
    used = sorted(
        {missing_tag(c, sub) for line in block.lines for c in line.cells if c is not None and c.value is None}
    )
    if used:
        by_letter = {letter(i): r for i, r in enumerate(reasons(sub))}
        notes.append(
            "Missing: " + "; ".join(rf"\textsuperscript{{{x}}}{escape(by_letter[x])}" for x in used) + "."
        )
    notes += ["Conventions: " + escape(t) for t in sub.footnotes]
    return notes


def render_subgroups_latex(table: Table) -> str:
    out = ["% generated by cxrbench table; subgroup tables; needs \\usepackage{booktabs,siunitx}"]
    base = "tab:" + "".join(ch if ch.isalnum() or ch in "-:" else "-" for ch in table.spec["name"])
    for sub in table.subgroup_tables:
        for number, block in enumerate(subgroup_blocks(table, sub), start=1):
            notes = _notes(table, block)
            notes_pt = sum(1 + len(n) // 95 for n in notes) * 8.0
            floats: list[list[list[int]]] = [[]]
            used = 30.0 + notes_pt
            for chunk in _chunks(block, table):
                height = _height(block, chunk) + 10.0
                if floats[-1] and used + height > PAGE_BUDGET_PT:
                    floats.append([])
                    used = 30.0 + notes_pt
                floats[-1].append(chunk)
                used += height
            for part, chunks in enumerate(floats):
                title = escape(block.title) + ("" if part == 0 else " (continued)")
                label = f"{base}-{sub.id}-{number}" + ("" if part == 0 else f"-{part + 1}")
                out += [r"\begin{table}[tbp]", r"\centering\small", r"\setlength{\tabcolsep}{4pt}",
                        r"\sisetup{detect-weight=true, mode=match, retain-explicit-plus}",
                        rf"\caption{{{title}}}", rf"\label{{{label}}}"]  # fmt: skip
                for j, chunk in enumerate(chunks):
                    out += (["", r"\medskip"] if j else []) + _tabular(block, chunk, table)
                out += ["", r"\smallskip", r"\begin{minipage}{\linewidth}\scriptsize"]
                out += [line + r"\par" for line in notes] + [r"\end{minipage}", r"\end{table}", ""]
    return "\n".join(out)
