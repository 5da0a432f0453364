"""The rendered table as data: what `collect` builds, every renderer reads, and `cells.json` stores.

Rendering is a pure function of this object, so `verify --table` can re-render from `cells.json` and check the
table files byte for byte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CELLS_SCHEMA_VERSION = 2  # 2: tests record their Holm family, replicates and smallest attainable p


@dataclass
class Source:
    """Where one number of a cell comes from (one run)."""

    run_dir: str
    results: str  # results file path
    results_sha256: str
    metric_path: str  # e.g. "metrics.auc_macro" or "per_label.auc.Cardiomegaly"
    seed: int | None
    value: float | None


@dataclass
class SignificanceTest:
    against_row: str  # the next row down
    method: str
    p_value: float | None
    p_holm: float | None = None
    comparison_file: str | None = None  # set only when that file was written
    reason: str | None = None  # why no p-value, or why this test cannot reach alpha
    family: str | None = None  # the Holm family: "table", "task <name>" or "column <key>"
    family_size: int | None = None  # m, the number of tests with a p-value in that family
    replicates: int | None = None  # bootstrap replicates / permutations drawn (None: analytic test)
    p_floor: float | None = None  # smallest p-value this test could give (0.0 for analytic tests)
    min_adjusted_p: float | None = None  # smallest Holm-adjusted p it could reach: min(1, m * p_floor)


@dataclass
class Cell:
    row: str
    column: str
    kind: str  # "reproduced" | "reported"
    value: float | None = None  # the mean over seeds when n_seeds > 1
    ci95: list[float] | None = None
    sd: float | None = None
    n_seeds: int = 0
    reason: str | None = None  # set exactly when value is None
    bold: bool = False
    significant: bool = False
    test: SignificanceTest | None = None
    sources: list[Source] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass
class SubgroupCell:
    """One number of a subgroup table: a model's value in one subgroup (or overall, or an FPR difference)."""

    row: str  # the model's row id
    field: str  # the meta field ("sex", "age_bin", ...)
    group: str  # the group value; "All" for the overall line; "a − b" for an FPR difference
    kind: str  # "overall" | "group" | "fpr" | "fpr_gap"
    n: int | None = None  # cases in the group (images with a finding, for the FPR)
    small: bool = False
    value: float | None = None  # the metric, the FPR, or the FPR difference a − b
    ci95: list[float] | None = None
    gap: float | None = None  # group value minus overall value ("group" cells)
    gap_ci95: list[float] | None = None
    p_value: float | None = None  # of the gap (or of the FPR difference)
    p_holm: float | None = None
    significant: bool = False  # p_holm < the spec's alpha
    reason: str | None = None  # set exactly when value is None
    path: str = ""  # where in the results file: "subgroups.fields.sex.groups[0].metrics.auc_macro"


@dataclass
class SubgroupTable:
    id: str
    label: str
    column: str  # the spec's leaf column whose cells' results files hold the subgroups
    metric: str
    fields: list[str]
    rows: list[str]  # model row ids drawn, in table order
    left_out: list[list[str]]  # [row id, why]: reproduced rows without subgroup numbers for this column
    cells: list[SubgroupCell]
    footnotes: list[str]  # conventions of the subgroup analysis (one per distinct set of conventions)
    underdiagnosis: dict[str, Any] = field(default_factory=dict)  # label, threshold, definition (when shown)


@dataclass
class Table:
    spec: dict[str, Any]  # name, title, caption, path, sha256, format, significance, best
    columns: list[dict[str, Any]]  # leaf columns in display order (Column as dict)
    rows: list[dict[str, Any]]  # id, label, kind, citation, bibtex_key in display order
    cells: list[Cell]
    footnotes: list[str]  # convention footnotes, numbered from 1
    column_footnote: dict[str, int]  # column key -> footnote number
    subgroup_tables: list[SubgroupTable] = field(default_factory=list)

    def cell(self, row: str, column: str) -> Cell:
        return self._index()[(row, column)]

    def _index(self) -> dict[tuple[str, str], Cell]:
        return {(c.row, c.column): c for c in self.cells}

    def missing_reasons(self) -> list[str]:
        """Distinct reasons of missing cells, in display order; cell i's letter is its index here."""
        reasons: list[str] = []
        index = self._index()
        for row in self.rows:
            for col in self.columns:
                cell = index[(row["id"], col["key"])]
                if cell.missing and cell.reason not in reasons:
                    reasons.append(cell.reason or "missing")
        return reasons

    def to_json(self) -> dict[str, Any]:
        data = {"schema_version": CELLS_SCHEMA_VERSION, **asdict(self)}
        if not self.subgroup_tables:  # tables without subgroups keep the cells.json they always had
            del data["subgroup_tables"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Table:
        cells = []
        for raw in data["cells"]:
            raw = dict(raw)
            raw["sources"] = [Source(**s) for s in raw["sources"]]
            raw["test"] = SignificanceTest(**raw["test"]) if raw["test"] else None
            cells.append(Cell(**raw))
        return cls(
            spec=data["spec"],
            columns=data["columns"],
            rows=data["rows"],
            cells=cells,
            footnotes=data["footnotes"],
            column_footnote=data["column_footnote"],
            subgroup_tables=[
                SubgroupTable(**{**raw, "cells": [SubgroupCell(**c) for c in raw["cells"]]})
                for raw in data.get("subgroup_tables", [])
            ],
        )
