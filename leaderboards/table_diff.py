"""What `verify --table` compares: cells.json against the recomputed table, comparison files against their
recomputation, and table files against a re-render; each difference named by field path, file line and row."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

from leaderboards.model import Cell, SubgroupCell, Table

RELATIVE_TOLERANCE = 1e-9  # float summation order only (thread counts, BLAS)
_ABSENT = object()
TABLE_FIELDS = ("spec", "columns", "rows", "footnotes", "column_footnote")


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, ensure_ascii=False)[:160]


def differences(path: str, stored: Any, fresh: Any, out: list[str]) -> list[str]:
    """'field.path: says X, recomputed Y' for every leaf that differs (floats within RELATIVE_TOLERANCE)."""
    if isinstance(stored, dict) and isinstance(fresh, dict):
        for key in list(stored) + [k for k in fresh if k not in stored]:
            child = f"{path}.{key}" if path else str(key)
            differences(child, stored.get(key, _ABSENT), fresh.get(key, _ABSENT), out)
    elif isinstance(stored, list) and isinstance(fresh, list) and len(stored) == len(fresh):
        for i, (a, b) in enumerate(zip(stored, fresh, strict=True)):
            differences(f"{path}[{i}]", a, b, out)
    elif _numbers(stored, fresh):
        if not math.isclose(stored, fresh, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12):
            out.append(f"{path}: says {stored!r}, recomputed {fresh!r}")
    elif stored != fresh:
        out.append(f"{path}: says {_show(stored)}, recomputed {_show(fresh)}")
    return out


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def cell_differences(stored: Cell, fresh: Cell) -> list[str]:
    return differences("", asdict(stored), asdict(fresh), [])


def table_differences(stored: Table, fresh: Table) -> list[str]:
    """Differences outside the cells (row order, columns, footnotes, settings)."""
    out: list[str] = []
    for name in TABLE_FIELDS:
        differences(name, getattr(stored, name), getattr(fresh, name), out)
    return out


def _subgroup_key(cell: SubgroupCell) -> tuple[str, str, str, str]:
    return cell.field, cell.kind, cell.group, cell.row


def subgroup_differences(stored: Table, fresh: Table) -> list[tuple[str, str]]:
    """(subject, detail) for every subgroup table field or cell of cells.json that the recomputation does not give;
    a cell is named "subgroup ID × field=group × row" (an FPR cell "… × underdiagnosis field=group × row")."""
    out: list[tuple[str, str]] = []
    fresh_tables = {t.id: t for t in fresh.subgroup_tables}
    stored_ids = [t.id for t in stored.subgroup_tables]
    for table in stored.subgroup_tables:
        other = fresh_tables.get(table.id)
        if other is None:
            out.append((f"subgroup {table.id} (cells.json)", "is not in the recomputed table"))
            continue
        meta = [f"cells.json {line}" for name in ("label", "column", "metric", "fields", "rows", "left_out",
                "footnotes", "underdiagnosis") for line in differences(name, getattr(table, name), getattr(other, name), [])]  # fmt: skip
        if meta:
            out.append((f"subgroup {table.id} (cells.json)", "; ".join(meta)))
        recomputed = {_subgroup_key(c): c for c in other.cells}
        for cell in table.cells:
            subject = f"subgroup {table.id} × {_where(cell)} × {cell.row}"
            match = recomputed.pop(_subgroup_key(cell), None)
            if match is None:
                out.append((subject, "cells.json has this cell, the recomputed table does not"))
                continue
            found = differences("", asdict(cell), asdict(match), [])
            if found:
                out.append((subject, "; ".join(f"cells.json {line}" for line in found)))
        for cell in recomputed.values():
            out.append((f"subgroup {table.id} × {_where(cell)} × {cell.row}", "cells.json lacks this cell"))
    for table in fresh.subgroup_tables:
        if table.id not in stored_ids:
            out.append(
                (
                    f"subgroup {table.id} (cells.json)",
                    "lacks this subgroup table; the recomputed table has it",
                )
            )
    return out


def _where(cell: SubgroupCell) -> str:
    prefix = "underdiagnosis " if cell.kind in ("fpr", "fpr_gap") else ""
    return f"{prefix}{cell.field}={cell.group}"


def comparison_differences(stored_path: Path, fresh_path: Path) -> list[str]:
    """A kept comparison file against its recomputation; package versions may differ between machines."""
    if not stored_path.is_file():
        return ["is missing (the cell's test points to it)"]
    try:
        stored = json.loads(stored_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [f"is not valid JSON ({exc})"]
    fresh = json.loads(fresh_path.read_text(encoding="utf-8"))
    for data in (stored, fresh):
        if isinstance(data, dict):
            data.get("provenance", {}).pop("versions", None)
    return differences("", stored, fresh, [])


def _row_hint(line: str, table: Table) -> str:
    """The row (and, for the long CSV, the column) a table line belongs to: the row whose label or id stands
    first in the line as a whole word."""
    found: list[tuple[int, str]] = []
    for row in table.rows:
        for name in {row["label"], row["id"]}:
            match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", line)
            if match:
                found.append((match.start(), row["label"]))
    if not found:
        return ""
    label = min(found)[1]
    columns = [c["key"] for c in table.columns if f",{c['key']}," in line]
    return f" (row {label!r}" + (f", column {columns[0]}" if columns else "") + ")"


def _window(text: str, at: int) -> str:
    start = max(0, at - 60)
    return ("…" if start else "") + text[start : at + 80] + ("…" if at + 80 < len(text) else "")


def first_line_difference(found: str, expected: str, table: Table) -> str:
    """'line N (row …): file has «…», the recomputed table gives «…»' around the first character that differs."""
    have, want = found.splitlines(), expected.splitlines()
    for number, (a, b) in enumerate(zip(have, want, strict=False), start=1):
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            return (
                f"line {number}{_row_hint(b, table)}: file has «{_window(a, at)}», "
                f"the recomputed table gives «{_window(b, at)}»"
            )
    shorter = "fewer" if len(have) < len(want) else "more"
    return f"{len(have)} lines, {shorter} than the {len(want)} of the recomputed table"
