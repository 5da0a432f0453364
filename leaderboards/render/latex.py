"""A paper-ready LaTeX table: booktabs rules, siunitx-aligned numbers, the CI on a second line, no scaling.

Needs `\\usepackage{booktabs,siunitx}`. A table too wide for a text column (about 345 pt) is cut between column
groups into several tabulars, and one too tall for a page into several floats ("continued"); each float carries
only the notes for what it shows.
"""

from __future__ import annotations

import re

from leaderboards.model import Cell, Table
from leaderboards.render.common import (
    SIGNIFICANCE_MARK,
    cell_interval,
    cell_value,
    citation_tag,
    convention_notes,
    empty_letters,
    legend,
    letter,
    missing_letter,
    number_span,
    row_by_id,
    shown_reported_rows,
    table_notes,
)
from leaderboards.render.layout import BY_MODEL, BodyRow, Layout, Leaf, Panel, build_layout, chunk_panels
from leaderboards.render.measure import text_em

# \small and \scriptsize of a 10 pt class, as em widths for `text_em`: Computer Modern's 7 pt design (cmr7) is
# drawn wider than cmr10 scaled down (a digit is 4.0 pt, 0.57 em), so \scriptsize text measures as 8 pt
SMALL_PT, SCRIPT_PT, TABCOLSEP_PT = 9.0, 8.0, 4.0
LINE_WIDTH_PT = 320.0  # article / LNCS \textwidth is 345-347 pt: slack for the estimate (checked by pdflatex)
PAGE_BUDGET_PT = 450.0  # a float's height; \textheight of article / LNCS is 550 pt (checked by pdflatex)
NOTE_CHARS_PER_LINE = 95  # \scriptsize over \linewidth
NOTE_PART_CHARS = (
    100  # a convention sentence longer than this is cut: the full text is in table.md / cells.json
)

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "†": r"$^\dagger$",
    "—": "---",
    "–": "--",
    "·": r"$\cdot$",
    "<": r"$<$",
    ">": r"$>$",
    "|": r"\textbar{}",
    "∩": r"$\cap$",
    "∪": r"$\cup$",
    "×": r"$\times$",
    "…": r"\ldots{}",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "⌊": r"$\lfloor$",
    "⌋": r"$\rfloor$",
    "α": r"$\alpha$",
    "‡": r"$^\ddagger$",
    "§": r"\S{}",
    "Δ": r"$\Delta$",
    "−": r"$-$",
}
_CI_PART = re.compile(
    r"^95 % CI: bootstrap over (?P<unit>\w+?)s?(?: \(\d+ \w+\))?, (?P<b>\d+) replicates, seed (?P<seed>\S+)$"
)


def escape(text: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in text)


def _sup(text: str) -> str:
    return rf"\textsuperscript{{{escape(text)}}}" if text else ""


# ---------------------------------------------------------------------------------------------- widths


def _row_label(row: BodyRow, table: Table) -> str:
    if row.kind == "reported" and row.row_id is not None:
        return escape(row.label) + "~" + _citation(row_by_id(table, row.row_id), table)
    return escape(row.label) + _sup(number_span(row.notes) if row.notes else "")


def _citation(row: dict, table: Table) -> str:
    return rf"\cite{{{row['bibtex_key']}}}" if row.get("bibtex_key") else f"[{citation_tag(row, table)}]"


def _group_header(leaf: Leaf, table: Table) -> str:
    """The header over a group of columns, on two lines when long; the marks go on the last line."""
    lines = [escape(line) for line in _header_lines(leaf.group)]
    if leaf.cite_row is not None:
        lines[-1] += "~" + _citation(row_by_id(table, leaf.cite_row), table)
    elif leaf.notes:
        lines[-1] += _sup(number_span(leaf.notes))
    if len(lines) == 1:
        return lines[0]
    return r"\begin{tabular}[b]{@{}c@{}}" + r"\\".join(lines) + r"\end{tabular}"


def _header_lines(label: str) -> list[str]:
    return _two_lines(label) if len(label) > 14 else [label]


def _two_lines(label: str) -> list[str]:
    """A header cut at the space nearest its middle (for a group wider than its columns)."""
    words = label.split(" ")
    if len(words) < 2:
        return [label]
    best = min(range(1, len(words)), key=lambda k: abs(len(" ".join(words[:k])) - len(" ".join(words[k:]))))
    return [" ".join(words[:best]), " ".join(words[best:])]


def _label_pt(panel: Panel) -> float:
    widths = [text_em(panel.corner) * SMALL_PT, text_em(panel.title) * SMALL_PT * 1.05]  # the title is italic
    for r in panel.rows:
        if r.kind != "section":
            marks = (" [R1]" if r.kind == "reported" else "") + (number_span(r.notes) if r.notes else "")
            widths.append(text_em(r.label) * SMALL_PT + text_em(marks) * SCRIPT_PT)
    return max(widths) + 2 * TABCOLSEP_PT


def _cell_pt(cell: Cell | None, table: Table) -> float:
    if cell is None:
        return 0.0
    if cell.missing:
        return 1.5 * SMALL_PT
    value = text_em(cell_value(cell, table)) * SMALL_PT * (1.1 if cell.bold else 1.0)
    return max(value + 3.0, text_em(cell_interval(cell, table)) * SCRIPT_PT)


def _leaf_pts(panel: Panel, table: Table) -> list[float]:
    widths = [
        max(
            [text_em(leaf.label) * SMALL_PT]
            + [_cell_pt(r.cells[i], table) for r in panel.rows if r.kind != "section"]
        )
        + 2 * TABCOLSEP_PT
        for i, leaf in enumerate(panel.leaves)
    ]
    start = 0
    for group, span, first in panel.group_spans():
        lines = _header_lines(group)
        marks = (" [R1]" if first.cite_row else "") + (number_span(first.notes) if first.notes else "")
        need = max(text_em(line) for line in lines) * SMALL_PT + text_em(marks) * SCRIPT_PT + 2 * TABCOLSEP_PT
        have = sum(widths[start : start + span])
        if need > have:
            for i in range(start, start + span):
                widths[i] += (need - have) / span
        start += span
    return widths


# ---------------------------------------------------------------------------------------------- tabular


def _table_format(panel: Panel, i: int, table: Table) -> str:
    cells = [r.cells[i] for r in panel.rows if r.kind != "section"]
    shown = [cell_value(c, table) for c in cells if c is not None and not c.missing]
    if not shown:
        return "1.0"
    integer = max(len(s.lstrip("-").split(".")[0]) for s in shown)
    decimals = max(len(s.split(".")[1]) if "." in s else 0 for s in shown)
    return ("-" if any(s.startswith("-") for s in shown) else "") + f"{integer}.{decimals}"


def _value_tex(cell: Cell | None, table: Table, reasons: list[str]) -> str:
    if cell is None:
        return ""
    if cell.missing:
        return (
            "{"
            + escape(table.spec["format"]["missing"])
            + rf"\textsuperscript{{{missing_letter(cell, reasons)}}}}}"
        )
    text = (r"\bfseries " if cell.bold else "") + cell_value(cell, table)
    return text + (r"\rlap{$^{\dagger}$}" if cell.significant else "")


def _interval_tex(cell: Cell | None, table: Table) -> str:
    if cell is None or cell.missing:
        return ""
    interval = cell_interval(cell, table)
    return "{\\scriptsize " + escape(interval) + "}" if interval else ""


def inline_intervals(panel: Panel, table: Table) -> bool:
    """Whether the CIs fit beside the values (one line per row) instead of under them."""
    width = _label_pt(panel)
    for i in range(len(panel.leaves)):
        cells = [c for c in (r.cells[i] for r in panel.rows if r.kind != "section") if c is not None]
        values = [
            _cell_pt(c, table) if c.missing else text_em(cell_value(c, table)) * SMALL_PT + 3 for c in cells
        ]
        intervals = [text_em(cell_interval(c, table)) * SCRIPT_PT for c in cells if not c.missing]
        width += max(values, default=0.0) + max(intervals, default=0.0) + 2 * TABCOLSEP_PT + 2.0
    return width <= LINE_WIDTH_PT


def _tabular(panel: Panel, table: Table, reasons: list[str]) -> list[str]:
    n = len(panel.leaves)
    inline = inline_intervals(panel, table)
    per_leaf = 2 if inline else 1
    formats = "".join(
        f"S[table-format={_table_format(panel, i, table)}]" + (r"@{\enspace}l" if inline else "")
        for i in range(n)
    )
    lines = [rf"\begin{{tabular}}{{@{{}}l{formats}@{{}}}}", r"\toprule"]
    top = [rf"\emph{{{escape(panel.title)}}}" if panel.title else ""]
    rules = []
    start = 2
    for _, span, first in panel.group_spans():
        width = span * per_leaf
        top.append(rf"\multicolumn{{{width}}}{{c}}{{{_group_header(first, table)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    lines += [" & ".join(top) + r" \\", " ".join(rules)]
    subs = [rf"\multicolumn{{2}}{{c}}{{{escape(leaf.label)}}}" if inline else "{" + escape(leaf.label) + "}"
            for leaf in panel.leaves]  # fmt: skip
    lines += [" & ".join([escape(panel.corner), *subs]) + r" \\", r"\midrule"]
    previous = None
    for row in panel.rows:
        if row.kind == "section":
            if previous is not None:
                lines.append(r"\addlinespace")
            lines.append(rf"\multicolumn{{{n * per_leaf + 1}}}{{@{{}}l}}{{\emph{{{escape(row.label)}}}}} \\")
            previous = row.kind
            continue
        if previous in ("reported", "reproduced") and row.kind != previous:
            lines.append(r"\midrule")
        previous = row.kind
        values = [_value_tex(c, table, reasons) for c in row.cells]
        intervals = [_interval_tex(c, table) for c in row.cells]
        if inline:
            cells = [x for pair in zip(values, intervals, strict=True) for x in pair]
            lines.append(" & ".join([_row_label(row, table), *cells]) + r" \\")
            continue
        lines.append(" & ".join([_row_label(row, table), *values]) + r" \\")
        if any(intervals):
            lines.append(" & ".join(["", *intervals]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines


# ---------------------------------------------------------------------------------------------- notes


def _cut(text: str) -> str:
    head = text.split("; ")[0]
    if len(head) > NOTE_PART_CHARS:
        head = head[:NOTE_PART_CHARS].rsplit(" ", 1)[0]
    return head if head == text else head.rstrip(".,;:") + " …"


def _convention_lines(table: Table, numbers: list[int]) -> list[str]:
    parts = convention_notes(table, numbers)
    bootstrap: dict[tuple[str, str], dict[str, list[int]]] = {}
    out = []
    for part in parts:
        match = _CI_PART.match(part.text)
        if match:  # one line for every column's bootstrap, the resampling unit marked per column
            units = bootstrap.setdefault((match["b"], match["seed"]), {})
            for n in part.numbers:
                units.setdefault(match["unit"], [])
                if n not in units[match["unit"]]:
                    units[match["unit"]].append(n)
            continue
        out.append(_sup(number_span(part.numbers)) + " " + escape(_cut(part.text)))
    for (replicates, seed), units in bootstrap.items():
        over = " or ".join(f"{escape(unit)}s{_sup(number_span(ns))}" for unit, ns in units.items())
        out.append(f"95 \\% CI: bootstrap over {over}, {replicates} replicates, seed {escape(seed)}")
    return out


def _notes(table: Table, layout: Layout, reasons: list[str], with_empty: bool) -> list[str]:
    notes = [escape(line) for line in legend(table, layout)]
    missing = [c for c in layout.shown_cells() if c.missing]
    missing += [c for _, cs in layout.empty for c in cs] if with_empty else []
    used = [letter(i) for i in sorted({reasons.index(c.reason or "missing") for c in missing})]
    if with_empty and layout.empty:
        notes.append(
            "Not shown, no value in any cell: "
            + ", ".join(
                escape(what) + rf"\textsuperscript{{{empty_letters(cells, reasons)}}}"
                for what, cells in layout.empty
            )
            + "."
        )
    if used:
        by_letter = {letter(i): r for i, r in enumerate(reasons)}
        notes.append(
            "Missing: " + "; ".join(rf"\textsuperscript{{{x}}}{escape(by_letter[x])}" for x in used) + "."
        )
    numbers = layout.footnotes_used()
    if numbers:
        notes.append("Conventions: " + "; ".join(_convention_lines(table, numbers)) + ".")
    notes += [escape(t) for t in table_notes(table)] if with_empty else []
    for row in shown_reported_rows(table, layout):
        if not row.get("bibtex_key"):
            notes.append(f"[{citation_tag(row, table)}] {escape(row['citation'] or '')}")
    return notes


# ---------------------------------------------------------------------------------------------- floats


def _panel_height(panel: Panel, table: Table) -> float:
    """Calibrated on pdflatex output: \\small rows are 11 pt, a row with its CIs underneath 22 pt."""
    inline = inline_intervals(panel, table)
    wrapped = any(len(_header_lines(leaf.group)) > 1 for leaf in panel.leaves)
    height = 11.0 * (3 if wrapped else 2) + 10.0
    for k, row in enumerate(panel.rows):
        if row.kind == "section":
            height += 11.0 + (6.0 if k else 0.0)
            continue
        two_lines = not inline and any(
            c is not None and not c.missing and (c.ci95 is not None or c.sd is not None) for c in row.cells
        )
        height += 22.0 if two_lines else 11.5
    return height + 8.0


def _notes_height(notes: list[str]) -> float:
    plain = [re.sub(r"\\[a-z]+|[{}$^]", "", n) for n in notes]
    return sum(1 + len(n) // NOTE_CHARS_PER_LINE for n in plain) * 8.0


def _split_rows(panel: Panel, table: Table, budget: float) -> list[Panel]:
    """A panel taller than a page, cut between its rows (a section title goes with the rows it heads)."""
    pieces: list[Panel] = []
    rows: list[BodyRow] = []
    for row in panel.rows:
        trial = Panel(panel.title, panel.corner, panel.leaves, [*rows, row])
        if rows and _panel_height(trial, table) > budget and rows[-1].kind != "section":
            pieces.append(Panel(panel.title, panel.corner, panel.leaves, rows))
            rows = [row]
        else:
            rows.append(row)
    pieces.append(Panel(panel.title, panel.corner, panel.leaves, rows))
    return pieces


def _floats(layout: Layout, table: Table, reasons: list[str]) -> list[Layout]:
    caption_pt = 12.0 * (1 + len(table.spec["title"] + table.spec["caption"]) // 75) + 10.0
    panels = [p for panel in layout.panels for p in _split_rows(panel, table, PAGE_BUDGET_PT * 0.6)]
    floats: list[list[Panel]] = [[]]
    for panel in panels:
        trial = Layout(layout.orientation, [*floats[-1], panel], layout.empty)
        height = caption_pt + sum(_panel_height(p, table) for p in trial.panels)
        height += _notes_height(_notes(table, trial, reasons, with_empty=True))
        if floats[-1] and height > PAGE_BUDGET_PT:
            floats.append([])
        floats[-1].append(panel)
    return [Layout(layout.orientation, ps, layout.empty if k == len(floats) - 1 else [])
            for k, ps in enumerate(floats)]  # fmt: skip


def render_latex(table: Table) -> str:
    def label_width(panel: Panel) -> float:
        return _label_pt(panel)

    def leaf_width(panel: Panel, i: int) -> float:
        return _leaf_pts(panel, table)[i]

    layout = chunk_panels(build_layout(table), label_width, leaf_width, LINE_WIDTH_PT)
    reasons = layout.reasons()
    base = "tab:" + "".join(ch if ch.isalnum() or ch in "-:" else "-" for ch in table.spec["name"])
    caption = escape(table.spec["title"]) + (
        f". {escape(table.spec['caption'])}" if table.spec["caption"] else ""
    )
    parts = _floats(layout, table, reasons)
    out = [
        "% generated by cxrbench table; needs \\usepackage{booktabs,siunitx}",
        f"% layout: {'models as rows' if layout.orientation == BY_MODEL else 'benchmarks as rows'}, "
        f"{len(layout.panels)} tabular(s) in {len(parts)} float(s)",
    ]
    for k, part in enumerate(parts):
        label = base if k == 0 else f"{base}-{k + 1}"
        title = caption if k == 0 else escape(table.spec["title"]) + " (continued)"
        out += [
            r"\begin{table}[tbp]",
            r"\centering\small",
            r"\setlength{\tabcolsep}{4pt}",
            r"\sisetup{detect-weight=true, mode=match}",
            rf"\caption{{{title}}}",
            rf"\label{{{label}}}",
        ]
        for j, panel in enumerate(part.panels):
            if j:
                out += ["", r"\medskip"]
            out += _tabular(panel, table, reasons)
        notes = _notes(table, part, reasons, with_empty=k == len(parts) - 1)
        if notes:
            out += ["", r"\smallskip", r"\begin{minipage}{\linewidth}\scriptsize"]
            out += [line + r"\par" for line in notes]
            out.append(r"\end{minipage}")
        out += [r"\end{table}", ""]
    return "\n".join(out)


__all__ = ["SIGNIFICANCE_MARK", "escape", "render_latex"]
