"""How a table is laid out on the page: orientation, panels per task, empty rows left out, width chunks.

Every renderer but the CSV draws the same `Layout`, so the Markdown, LaTeX and HTML tables have one shape:

- *by model* (one row per model, one column per benchmark metric × mode) when that gives fewer columns;
- *by benchmark* (one row per benchmark metric, grouped by task; one column group per model with its ZS / FT
  columns) when models are few, as a table with one or two models otherwise becomes one very long row.

Rows, and in the by-model shape columns, whose every cell is missing are not drawn: they are listed on one line
(`Layout.empty`) with the letter of their reason. The cells themselves are the table's; nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leaderboards.model import Cell, Table

TASK_TITLES = {
    "classification": "Classification",
    "localization": "Localization",
    "segmentation": "Segmentation",
    "report": "Report generation",
}
BY_MODEL, BY_BENCHMARK = "by model", "by benchmark"


@dataclass(frozen=True)
class Leaf:
    """One drawn column of numbers."""

    group: str  # header spanning the leaves of one benchmark metric (by model) or one model (by benchmark)
    label: str  # "ZS", "FT", "FT 10%"
    notes: tuple[int, ...] = ()  # convention footnote numbers of the group header (by model)
    cite_row: str | None = None  # by benchmark: the row id of a reported model (its header gets the citation)


@dataclass
class BodyRow:
    label: str
    kind: str  # "reported" | "reproduced" | "section"
    cells: list[Cell | None] = field(default_factory=list)  # None: no such column for this row (not missing)
    notes: tuple[int, ...] = ()  # by benchmark: convention footnote numbers of this metric
    row_id: str | None = None  # by model: the table row (model) id


@dataclass
class Panel:
    title: str  # a task title (by model) or "" (by benchmark: tasks are section rows)
    corner: str  # header of the label column
    leaves: list[Leaf]
    rows: list[BodyRow]

    def group_spans(self) -> list[tuple[str, int, Leaf]]:
        """(group label, number of leaves, first leaf) for consecutive leaves of one group."""
        spans: list[tuple[str, int, Leaf]] = []
        for leaf in self.leaves:
            if spans and spans[-1][0] == leaf.group:
                spans[-1] = (leaf.group, spans[-1][1] + 1, spans[-1][2])
            else:
                spans.append((leaf.group, 1, leaf))
        return spans


@dataclass
class Layout:
    orientation: str
    panels: list[Panel]
    empty: list[tuple[str, list[Cell]]]  # (what was left out, its missing cells: their reasons)

    def shown_cells(self) -> list[Cell]:
        return [c for p in self.panels for r in p.rows for c in r.cells if c is not None]

    def reasons(self) -> list[str]:
        """Distinct missing reasons in reading order (drawn cells, then the left-out line); letter = index."""
        reasons: list[str] = []
        cells = [c for c in self.shown_cells() if c.missing] + [c for _, cs in self.empty for c in cs]
        for cell in cells:
            reason = cell.reason or "missing"
            if reason not in reasons:
                reasons.append(reason)
        return reasons

    def footnotes_used(self) -> list[int]:
        used = {n for p in self.panels for leaf in p.leaves for n in leaf.notes}
        used |= {n for p in self.panels for r in p.rows for n in r.notes}
        return sorted(used)


def entry_id(col: dict[str, Any]) -> str:
    return col["group"].split("/")[0]


def entry_label(col: dict[str, Any]) -> str:
    """The spec column's label without the " (ZS)" / " (FT)" the spec loader appends per mode."""
    return col["label"].removesuffix(" (ZS)").removesuffix(" (FT)")


def mode_label(col: dict[str, Any], table: Table) -> str:
    if col["mode"] == "zero-shot":
        return "ZS"
    fractions = {c["fraction"] for c in table.columns if c["mode"] == "fine-tune"}
    return "FT" if fractions <= {1.0, None} else f"FT {col['sub_label']}".strip()


def row_label(row: dict[str, Any]) -> str:
    return row["label"]


def _tasks(table: Table) -> list[str]:
    tasks: list[str] = []
    for col in table.columns:
        if col["task"] not in tasks:
            tasks.append(col["task"])
    return tasks


def _entries(table: Table) -> list[list[dict[str, Any]]]:
    """Leaf columns grouped by spec column id (all its modes and fractions), tasks kept together."""
    by_entry: dict[str, list[dict[str, Any]]] = {}
    for col in table.columns:
        by_entry.setdefault(entry_id(col), []).append(col)
    ordered = list(by_entry.values())
    return [cols for task in _tasks(table) for cols in ordered if cols[0]["task"] == task]


def _mode_keys(table: Table) -> list[tuple[str, float | None]]:
    keys: list[tuple[str, float | None]] = []
    for col in table.columns:
        key = (col["mode"], col["fraction"])
        if key not in keys:
            keys.append(key)
    return sorted(keys, key=lambda k: (k[0] != "zero-shot", k[1] or 0.0))


def orientation(table: Table) -> str:
    """By benchmark when that needs fewer columns than by model (few models, many benchmark metrics)."""
    by_benchmark_columns = len(table.rows) * len(_mode_keys(table))
    return BY_BENCHMARK if by_benchmark_columns < len(table.columns) else BY_MODEL


def _all_missing(cells: list[Cell | None]) -> bool:
    present = [c for c in cells if c is not None]
    return all(c.missing for c in present)


def _missing(cells: list[Cell | None]) -> list[Cell]:
    return [c for c in cells if c is not None and c.missing]


def _by_model(table: Table) -> Layout:
    empty: list[tuple[str, list[Cell]]] = []
    panels = []
    for task in _tasks(table):
        columns = [c for cols in _entries(table) for c in cols if c["task"] == task]
        grid = {(r["id"], c["key"]): table.cell(r["id"], c["key"]) for r in table.rows for c in columns}
        kept_cols = []
        for col in columns:
            cells: list[Cell | None] = [grid[(r["id"], col["key"])] for r in table.rows]
            if _all_missing(cells):
                empty.append((f"{entry_label(col)} {mode_label(col, table)}", _missing(cells)))
            else:
                kept_cols.append(col)
        rows = []
        for row in table.rows:
            cells = [grid[(row["id"], c["key"])] for c in kept_cols]
            if kept_cols and _all_missing(cells):
                empty.append((f"{row_label(row)} in {TASK_TITLES[task].lower()}", _missing(cells)))
                continue
            rows.append(BodyRow(row_label(row), row["kind"], cells, row_id=row["id"]))
        if not kept_cols or not rows:
            continue
        leaves = [
            Leaf(
                entry_label(c),
                mode_label(c, table),
                tuple(
                    sorted(
                        {
                            table.column_footnote[k["key"]]
                            for k in columns
                            if entry_id(k) == entry_id(c) and k["key"] in table.column_footnote
                        }
                    )
                ),
            )  # fmt: skip
            for c in kept_cols
        ]
        panels.append(Panel(TASK_TITLES[task], "Model", leaves, rows))
    return Layout(BY_MODEL, panels, empty)


def _by_benchmark(table: Table) -> Layout:
    modes = _mode_keys(table)
    leaves = []
    for row in table.rows:
        for mode, fraction in modes:
            label = "ZS" if mode == "zero-shot" else ""
            for col in table.columns:
                if (col["mode"], col["fraction"]) == (mode, fraction):
                    label = mode_label(col, table)
                    break
            leaves.append(
                Leaf(row_label(row), label, cite_row=row["id"] if row["kind"] == "reported" else None)
            )
    body: list[BodyRow] = []
    empty: list[tuple[str, list[Cell]]] = []
    current_task = None
    for cols in _entries(table):
        by_mode = {(c["mode"], c["fraction"]): c for c in cols}
        cells: list[Cell | None] = []
        for row in table.rows:
            for key in modes:
                mode_col = by_mode.get(key)
                cells.append(None if mode_col is None else table.cell(row["id"], mode_col["key"]))
        label = entry_label(cols[0])
        if _all_missing(cells):
            empty.append((label, _missing(cells)))
            continue
        if cols[0]["task"] != current_task:
            current_task = cols[0]["task"]
            body.append(BodyRow(TASK_TITLES[current_task], "section"))
        notes = tuple(
            sorted({table.column_footnote[c["key"]] for c in cols if c["key"] in table.column_footnote})
        )
        body.append(BodyRow(label, "reproduced", cells, notes))
    # Model column groups whose every cell is missing are left out too.
    keep = [
        i for i in range(len(leaves)) if not _all_missing([r.cells[i] for r in body if r.kind != "section"])
    ]
    for k, row in enumerate(table.rows):
        span = range(k * len(modes), (k + 1) * len(modes))
        if not any(i in keep for i in span):
            cells = [table.cell(row["id"], c["key"]) for c in table.columns]
            empty.append((row_label(row), _missing(cells)))
    for r in body:
        if r.kind != "section":
            r.cells = [r.cells[i] for i in keep]
    leaves = [leaves[i] for i in keep]
    if not leaves:
        body = []
    panels = [Panel("", "Benchmark", leaves, body)] if body else []
    return Layout(BY_BENCHMARK, panels, empty)


def build_layout(table: Table) -> Layout:
    return _by_benchmark(table) if orientation(table) == BY_BENCHMARK else _by_model(table)


def chunk_panels(layout: Layout, label_width: Callable[[Panel], float], leaf_width: Callable[[Panel, int], float],
                 budget: float) -> Layout:  # fmt: skip
    """Split panels whose estimated width exceeds `budget` into several, cutting between column groups.

    A single group wider than the budget is cut between its leaves; a single leaf always stays whole.
    """
    panels: list[Panel] = []
    for panel in layout.panels:
        room = budget - label_width(panel)
        chunks: list[list[int]] = [[]]
        used = 0.0
        start = 0
        for _, span, _ in panel.group_spans():
            indices = list(range(start, start + span))
            start += span
            width = sum(leaf_width(panel, i) for i in indices)
            if chunks[-1] and used + width > room:
                chunks.append([])
                used = 0.0
            for i in indices:
                w = leaf_width(panel, i)
                if chunks[-1] and used + w > room:
                    chunks.append([])
                    used = 0.0
                chunks[-1].append(i)
                used += w
        for part, indices in enumerate(chunks):
            rows = []
            for r in panel.rows:
                if r.kind == "section":
                    rows.append(r)
                    continue
                cells = [r.cells[i] for i in indices]
                if all(c is None for c in cells):
                    continue
                rows.append(BodyRow(r.label, r.kind, cells, r.notes, r.row_id))
            rows = [
                r
                for k, r in enumerate(rows)
                if r.kind != "section" or (k + 1 < len(rows) and rows[k + 1].kind != "section")
            ]
            title = panel.title if len(chunks) == 1 or part == 0 else f"{panel.title} (cont.)".strip()
            panels.append(Panel(title, panel.corner, [panel.leaves[i] for i in indices], rows))
    return Layout(layout.orientation, panels, layout.empty)
