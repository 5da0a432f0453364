"""`verify --table OUT_DIR`: everything a rendered table prints, recomputed from the runs it cites.

1. each source results file is re-hashed and its run verified (`verify_run`: metrics and bootstrap CIs recomputed
   from the stored ground truth and predictions with the recorded seed and replicates);
2. the table is rebuilt from those results with the settings cells.json records: values, CIs, mean ± sd, row
   order, bold, every paired test (re-run from gt / predictions), Holm adjustment, dagger, footnotes;
3. the rebuilt table is compared with cells.json field by field, each comparison file with its recomputation,
   and each table file with a re-render (`write_tables`) of the rebuilt table.
A difference names the file (cells.json, comparisons/…, table.…) and the cell or line.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from leaderboards.collect import cell_from_runs, finish_table, reported_cell
from leaderboards.model import Cell, Table
from leaderboards.render import write_tables
from leaderboards.results_cache import ResultsCache
from leaderboards.specs import CellFormat, Column, Row, Significance, Spec, SubgroupSpec
from leaderboards.table_diff import (
    cell_differences,
    comparison_differences,
    first_line_difference,
    subgroup_differences,
    table_differences,
)
from leaderboards.verify import MATCH, MISMATCH, UNVERIFIED, Check, Verification, check_file_hash, verify_run

CELLS_FILE = "cells.json"
Key = tuple[str, str]


def _lookup(results: dict, metric_path: str) -> float | None:
    kind, _, rest = metric_path.partition(".")
    if kind == "metrics":
        return results["metrics"][rest]["value"]
    stat, _, label = rest.partition(".")
    return results["per_label"][stat][label]


def _known(cls: type, data: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def spec_from_table(table: Table) -> Spec:
    """The spec as cells.json records it (reproduced rows need no model glob: their runs are the sources)."""
    columns = [Column(**_known(Column, c)) for c in table.columns]
    rows = []
    for row in table.rows:
        if row["kind"] == "reproduced":
            rows.append(Row(id=row["id"], label=row["label"], model="*"))
            continue
        values = {
            c.column: {"value": c.value, "ci95": c.ci95, "sd": c.sd}
            for c in table.cells
            if c.row == row["id"] and not c.missing
        }
        rows.append(
            Row(
                row["id"],
                row["label"],
                citation=row["citation"],
                bibtex_key=row["bibtex_key"],
                reported=values,
            )
        )
    recorded = table.spec
    return Spec(
        name=recorded["name"],
        title=recorded["title"],
        caption=recorded["caption"],
        columns=columns,
        rows=rows,
        cell_format=CellFormat(**_known(CellFormat, recorded["format"])),
        significance=Significance(**_known(Significance, recorded["significance"])),
        best=recorded["best"],
        order_by=recorded["order_by"],
        path=recorded["path"],
        sha256=recorded["sha256"],
        subgroups=[SubgroupSpec(**_known(SubgroupSpec, sg)) for sg in recorded.get("subgroups", [])],
    )


def recompute_table(stored: Table, folder: Path, scratch: Path) -> Table:
    """The table rebuilt from the results files its cells cite; comparison files go to scratch/comparisons."""
    spec = spec_from_table(stored)
    rows = {r.id: r for r in spec.rows}
    cache = ResultsCache()
    cells: dict[Key, Cell] = {}
    for cell in stored.cells:
        col = spec.column(cell.column)
        fresh = Cell(row=cell.row, column=cell.column, kind=cell.kind)
        if cell.kind == "reported":
            fresh = reported_cell(rows[cell.row], col)
        elif cell.sources and not (cell.missing and all(s.value is not None for s in cell.sources)):
            runs = [(folder / s.run_dir, folder / s.results, s.seed) for s in cell.sources]
            fresh = cell_from_runs(fresh, col, runs, cache)
        else:  # no source to recompute from (no run, ambiguous seeds, a missing results file): reason as recorded
            fresh.reason = cell.reason
        cells[(cell.row, cell.column)] = fresh
    return finish_table(spec, cells, cache, folder, scratch)


def _check_sources(
    table: Table,
    folder: Path,
    report: Verification,
    problems: dict[Key, list[str]],
    unverified: dict[Key, list[str]],
) -> None:
    """Each source results file: its sha256 as cells.json records it, its value, and its run's verification."""
    cells_path = folder / CELLS_FILE
    runs: dict[str, Verification] = {}
    for cell in table.cells:
        key = (cell.row, cell.column)
        for source in cell.sources:
            results_path = folder / source.results
            hash_check = check_file_hash(results_path, source.results_sha256, str(cells_path))
            if hash_check.status != MATCH:
                problems[key].append(hash_check.detail + f" [{results_path}]")
                continue
            try:
                stored = _lookup(json.loads(results_path.read_text(encoding="utf-8")), source.metric_path)
            except (ValueError, KeyError, TypeError) as exc:
                problems[key].append(f"{results_path} has no readable {source.metric_path} ({exc!r})")
                continue
            if stored != source.value:
                problems[key].append(
                    f"{results_path} {source.metric_path} is {stored!r}, cells.json says {source.value!r}"
                )
            run_dir = folder / source.run_dir
            if source.run_dir not in runs:
                runs[source.run_dir] = verify_run(run_dir)
                for run_check in runs[source.run_dir].checks:
                    if run_check.status != MATCH:
                        report.add(
                            Check(run_check.status, f"[{run_dir}] {run_check.subject}", run_check.detail)
                        )
            check = runs[source.run_dir].metrics.get(
                (str(run_dir / "results" / results_path.name), source.metric_path)
            )
            if check is None:
                problems[key].append(f"{source.metric_path} was not recomputed")
            elif check.status == UNVERIFIED:
                unverified[key].append(check.detail)
            elif check.status != MATCH:
                problems[key].append(f"{results_path.name} {source.metric_path}: {check.detail}")


def _compare_recomputed(
    stored: Table,
    fresh: Table,
    folder: Path,
    scratch: Path,
    report: Verification,
    problems: dict[Key, list[str]],
) -> None:
    cells_path = folder / CELLS_FILE
    for line in table_differences(stored, fresh):
        report.add(Check(MISMATCH, f"file {cells_path}", line))
    fresh_cells = {(c.row, c.column): c for c in fresh.cells}
    for cell in stored.cells:
        key = (cell.row, cell.column)
        recomputed = fresh_cells.get(key)
        if recomputed is None:
            problems[key].append("cells.json has this cell, the recomputed table does not")
            continue
        problems[key] += [f"cells.json {line}" for line in cell_differences(cell, recomputed)]
    subgroup_problems = subgroup_differences(stored, fresh)
    for subject, detail in subgroup_problems:
        report.add(Check(MISMATCH, subject, detail))
    for sub in fresh.subgroup_tables:
        if not any(s.startswith(f"subgroup {sub.id} ") for s, _ in subgroup_problems):
            shown = sum(1 for c in sub.cells if c.value is not None)
            report.add(Check(MATCH, f"subgroup {sub.id}", f"{len(sub.cells)} cells ({shown} with a value) as the "
                             "results files of its column's cells give them"))  # fmt: skip
    referenced = set()
    for cell in fresh.cells:
        if cell.test is None or cell.test.comparison_file is None:
            continue
        name = cell.test.comparison_file
        referenced.add(name)
        path = folder / name
        found = comparison_differences(path, scratch / name)
        if found:
            detail = f"(test of {cell.row} × {cell.column}) " + "; ".join(found[:4])
            report.add(Check(MISMATCH, f"file {path}", detail))
            problems[(cell.row, cell.column)].append(f"{name} does not match its recomputation")
        else:
            report.add(
                Check(MATCH, f"file {path}", f"recomputed: identical (test of {cell.row} × {cell.column})")
            )
    for path in sorted((folder / "comparisons").glob("*.json")):
        if f"comparisons/{path.name}" not in referenced:
            report.add(
                Check(MISMATCH, f"file {path}", "behind no cell of the recomputed table (stale or added)")
            )


def _compare_rendered(
    stored: Table, fresh: Table | None, folder: Path, scratch: Path, report: Verification
) -> None:
    """Every file `write_tables` writes, against a re-render of the recomputed table (of cells.json if the table
    could not be recomputed)."""
    try:
        expected = write_tables(fresh if fresh is not None else stored, scratch / "recomputed")
    except Exception as exc:  # only reachable without a recomputed table, from a malformed cells.json
        report.add(Check(MISMATCH, f"file {folder / CELLS_FILE}", f"cannot be rendered ({exc!r})"))
        return
    try:
        as_stored = write_tables(stored, scratch / "as-stored")
    except Exception:  # a cells.json edited into something the renderers cannot draw: its lines say why
        as_stored = {}
    source = "the recomputed table" if fresh is not None else "cells.json"
    for name, fresh_path in expected.items():
        path = folder / name
        want = fresh_path.read_bytes()
        if path.is_file() and path.read_bytes() == want:
            report.add(Check(MATCH, f"file {path}", f"identical to a re-render of {source}"))
            continue
        if not path.is_file():
            report.add(Check(MISMATCH, f"file {path}", "is missing"))
            continue
        found = path.read_text(encoding="utf-8", errors="replace")
        detail = first_line_difference(found, want.decode("utf-8", errors="replace"), fresh or stored)
        if fresh is not None and name in as_stored and path.read_bytes() == as_stored[name].read_bytes():
            detail += "; it shows what cells.json says, and cells.json does not recompute (see its lines)"
        elif fresh is not None:
            detail += "; edited after rendering (it matches neither cells.json nor the recomputation)"
        report.add(Check(MISMATCH, f"file {path}", detail))


def verify_table(out_dir: str | Path) -> Verification:
    folder = Path(out_dir)
    report = Verification()
    cells_path = folder / CELLS_FILE
    if not cells_path.is_file():
        report.add(Check(MISMATCH, str(cells_path), "missing: not a folder written by `table`"))
        return report
    try:
        stored = Table.from_json(json.loads(cells_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        report.add(Check(MISMATCH, f"file {cells_path}", f"not a cells.json this version can read ({exc})"))
        return report
    keys = [(c.row, c.column) for c in stored.cells]
    problems: dict[Key, list[str]] = {k: [] for k in keys}
    unverified: dict[Key, list[str]] = {k: [] for k in keys}
    _check_sources(stored, folder, report, problems, unverified)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        fresh: Table | None = None
        try:
            fresh = recompute_table(stored, folder, scratch)
        except (ValueError, KeyError, TypeError, OSError) as exc:
            report.add(Check(MISMATCH, f"file {cells_path}", f"the table cannot be recomputed: {exc}"))
        if fresh is not None:
            _compare_recomputed(stored, fresh, folder, scratch, report, problems)
        _compare_rendered(stored, fresh, folder, scratch, report)
    for cell in stored.cells:
        key = (cell.row, cell.column)
        subject = f"{cell.row} × {cell.column}"
        if problems[key]:
            report.add(Check(MISMATCH, subject, "; ".join(problems[key])))
        elif cell.kind == "reported":
            if not cell.missing:
                report.add(
                    Check("REPORTED", subject, f"{cell.value!r} copied from a paper; not recomputable")
                )
        elif unverified[key]:
            report.add(Check(UNVERIFIED, subject, "; ".join(unverified[key])))
        elif cell.sources:
            shown = "missing: " + (cell.reason or "") if cell.missing else repr(cell.value)
            report.add(Check(MATCH, subject, shown))
    return report
