"""Formatting shared by every renderer: cell text, column groups, legend lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leaderboards.model import Cell, Table

SIGNIFICANCE_MARK = "†"


@dataclass
class Group:
    """Consecutive leaf columns sharing a header (a fine-tune column with its fraction sub-columns)."""

    key: str
    label: str
    columns: list[dict[str, Any]]
    footnotes: list[int]


def number(value: float, table: Table) -> str:
    fmt = table.spec["format"]
    return f"{value * fmt['scale']:.{fmt['digits']}f}"


def cell_body(cell: Cell, table: Table) -> str:
    """The number part of a present cell: value [CI], or mean ± sd over seeds."""
    assert cell.value is not None
    fmt = table.spec["format"]
    value = number(cell.value, table)
    if cell.sd is not None:
        return fmt["seeds"].format(mean=value, sd=number(cell.sd, table), n=cell.n_seeds)
    if cell.ci95 is not None:
        return fmt["ci"].format(value=value, lo=number(cell.ci95[0], table), hi=number(cell.ci95[1], table))
    return value


def letter(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa ..."""
    text = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        text = chr(ord("a") + rem) + text
    return text


def missing_letter(cell: Cell, reasons: list[str]) -> str:
    return letter(reasons.index(cell.reason or "missing"))


def groups(table: Table) -> list[Group]:
    result: list[Group] = []
    for col in table.columns:
        note = table.column_footnote.get(col["key"])
        if result and result[-1].key == col["group"]:
            result[-1].columns.append(col)
        else:
            result.append(Group(col["group"], col["label"], [col], []))
        if note is not None and note not in result[-1].footnotes:
            result[-1].footnotes.append(note)
    return result


def leaf_label(col: dict[str, Any]) -> str:
    return f"{col['label']} {col['sub_label']}".strip()


def reported_rows(table: Table) -> list[dict[str, Any]]:
    return [r for r in table.rows if r["kind"] == "reported"]


def citation_tag(row: dict[str, Any], table: Table) -> str:
    return f"R{reported_rows(table).index(row) + 1}"


def legend(table: Table) -> list[str]:
    """Plain-text notes under the table (renderers escape them)."""
    sig = table.spec["significance"]
    among = "all rows" if table.spec["best"] == "all" else "reproduced rows only"
    lines = [
        f"Bold: best in its column at the displayed precision ({among}).",
        "Single runs: value [95 % case-bootstrap CI]; several seeds: mean ± sd over seeds (sample sd).",
    ]
    if sig["test"] != "none":
        tests = [c.test for c in table.cells if c.test is not None and c.test.p_holm is not None]
        methods = sorted({t.method for t in tests}) or [sig["test"].replace("_", " ")]
        lines.append(
            f"{SIGNIFICANCE_MARK}: differs from the next reproduced row below with a value in that column "
            f"(two-sided paired test on both runs' predictions against the same ground truth: "
            f"{'; '.join(methods)}; Holm-adjusted across the {len(tests)} tests of this table; "
            f"p < {sig['alpha']}). Untested pairs and why: cells.json."
        )
    lines.append(
        "Reported rows are copied from the cited papers and cannot be re-checked; reproduced rows link to runs."
    )
    return lines
