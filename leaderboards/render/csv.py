"""Long-format CSV: one line per cell, every number at full precision, with its status and source."""

from __future__ import annotations

import csv
import io

from leaderboards.model import Table
from leaderboards.render.common import cell_body

FIELDS = [
    "row",
    "row_label",
    "kind",
    "citation",
    "column",
    "benchmark",
    "task",
    "metric",
    "mode",
    "fraction",
    "value",
    "ci95_low",
    "ci95_high",
    "sd",
    "n_seeds",
    "display",
    "bold",
    "significant",
    "test_against",
    "p_value",
    "p_holm",
    "missing_reason",
    "sources",
]


def _num(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def render_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in table.rows:
        for col in table.columns:
            cell = table.cell(row["id"], col["key"])
            writer.writerow(
                {
                    "row": row["id"],
                    "row_label": row["label"],
                    "kind": row["kind"],
                    "citation": row.get("citation") or "",
                    "column": col["key"],
                    "benchmark": col["benchmark"],
                    "task": col["task"],
                    "metric": col["metric"],
                    "mode": col["mode"],
                    "fraction": _num(col["fraction"]),
                    "value": _num(cell.value),
                    "ci95_low": _num(cell.ci95[0]) if cell.ci95 else "",
                    "ci95_high": _num(cell.ci95[1]) if cell.ci95 else "",
                    "sd": _num(cell.sd),
                    "n_seeds": cell.n_seeds or "",
                    "display": "" if cell.missing else cell_body(cell, table),
                    "bold": int(cell.bold),
                    "significant": int(cell.significant),
                    "test_against": cell.test.against_row if cell.test else "",
                    "p_value": _num(cell.test.p_value) if cell.test else "",
                    "p_holm": _num(cell.test.p_holm) if cell.test else "",
                    "missing_reason": cell.reason or "",
                    "sources": ";".join(f"{s.results}#{s.metric_path}" for s in cell.sources),
                }
            )
    return buffer.getvalue()
