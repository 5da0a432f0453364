"""Spec + run directories -> the table as data (cells with values, CIs, sources, bold, significance, footnotes)."""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.errors import BadInputError
from leaderboards.conventions import convention_footnote, significance_footnote
from leaderboards.directions import distance_to_best
from leaderboards.model import Cell, Source, Table
from leaderboards.results_cache import ResultsCache, metric_from_results
from leaderboards.runs import RunInfo, discover_runs
from leaderboards.specs import Column, Row, Spec

FRACTION_TOLERANCE = 1e-9


def _matching_runs(row: Row, col: Column, runs: list[RunInfo]) -> list[RunInfo]:
    chosen = []
    for run in runs:
        if not row.matches(run.model_names) or run.dataset != col.benchmark or run.mode != col.mode:
            continue
        if col.split is not None and run.split != col.split:
            continue
        if col.fraction is not None:
            fraction = 1.0 if run.fraction is None else run.fraction
            if abs(fraction - col.fraction) > FRACTION_TOLERANCE:
                continue
        chosen.append(run)
    return chosen


def reproduced_cell(row: Row, col: Column, runs: list[RunInfo], cache: ResultsCache) -> Cell:
    cell = Cell(row=row.id, column=col.key, kind="reproduced")
    matched = _matching_runs(row, col, runs)
    what = f"{col.benchmark} {col.mode}" + (f" {col.sub_label}" if col.fraction is not None else "")
    if not matched:
        cell.reason = f"no run of this model on {what}"
        return cell
    seeds = [r.seed for r in matched]
    repeated = sorted({str(s) for s in seeds if seeds.count(s) > 1})
    if repeated:
        cell.reason = f"ambiguous: several runs with seed {', '.join(repeated)}: " + ", ".join(
            str(r.path) for r in matched
        )
        return cell
    ordered = sorted(matched, key=lambda r: (r.seed is None, r.seed or 0))
    return cell_from_runs(cell, col, [(r.path, r.results_path(col.task), r.seed) for r in ordered], cache)


def cell_from_runs(
    cell: Cell, col: Column, runs: list[tuple[Path, Path, int | None]], cache: ResultsCache
) -> Cell:
    """Fill a reproduced cell from its runs' results files: (run dir, results file, seed), lowest seed first."""
    for run_dir, path, seed in runs:
        loaded = cache.get(path)
        if loaded is None:
            cell.reason = f"{path} is missing (task not run or the run failed)"
            return cell
        results, sha = loaded
        value, ci, metric_path, reason = metric_from_results(results, col.metric)
        cell.sources.append(Source(str(run_dir), str(path), sha, metric_path, seed, value))
        if value is None:
            cell.reason = reason if len(runs) == 1 else f"seed {seed}: {reason}"
            return cell
        cell.ci95 = ci
    values = [s.value for s in cell.sources if s.value is not None]
    cell.n_seeds = len(values)
    if len(values) == 1:
        cell.value = values[0]
    else:
        cell.value = statistics.fmean(values)
        cell.sd = statistics.stdev(values)
        cell.ci95 = None  # seed-averaged cells show mean ± sd, not a bootstrap CI
    return cell


def reported_cell(row: Row, col: Column) -> Cell:
    cell = Cell(row=row.id, column=col.key, kind="reported")
    entry = row.reported.get(col.key)
    if entry is None:
        cell.reason = "not reported in the cited paper"
        return cell
    if isinstance(entry, dict):
        cell.value = float(entry["value"])
        cell.ci95 = [float(x) for x in entry["ci95"]] if entry.get("ci95") else None
        cell.sd = float(entry["sd"]) if entry.get("sd") is not None else None
    else:
        cell.value = float(entry)
    return cell


def display_number(value: float, spec: Spec) -> str:
    return f"{value * spec.cell_format.scale:.{spec.cell_format.digits}f}"


def _order_rows(spec: Spec, cells: dict[tuple[str, str], Cell]) -> list[Row]:
    reported = [r for r in spec.rows if r.kind == "reported"]
    reproduced = [r for r in spec.rows if r.kind == "reproduced"]
    if spec.order_by is not None:
        col = spec.column(spec.order_by)

        def key(row: Row) -> tuple[bool, float]:
            value = cells[(row.id, col.key)].value
            return value is None, 0.0 if value is None else distance_to_best(
                value, col.lower_is_better, col.target
            )

        reproduced.sort(key=key)
    return reported + reproduced


def _mark_best(spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell]) -> None:
    """Bold every cell whose *displayed* value equals the column's best (ties at display precision all bold); in
    a column with a target (calibration slope 1, intercept 0) the best is the displayed value closest to it."""
    for col in spec.columns:
        candidates = [
            cells[(r.id, col.key)]
            for r in rows
            if cells[(r.id, col.key)].value is not None and (spec.best == "all" or r.kind == "reproduced")
        ]
        if len(candidates) < 2:  # a lone number is not "best" of anything
            continue
        shown = {id(c): float(display_number(c.value, spec)) for c in candidates}  # type: ignore[arg-type]  # candidates have values
        target = None if col.target is None else float(display_number(col.target, spec))
        distance = {k: distance_to_best(v, col.lower_is_better, target) for k, v in shown.items()}
        best = min(distance.values())
        for c in candidates:
            c.bold = math.isclose(distance[id(c)], best, rel_tol=0.0, abs_tol=1e-9)


def _footnotes(
    spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: ResultsCache
) -> tuple[list[str], dict[str, int]]:
    texts: list[str] = []
    by_column: dict[str, int] = {}
    for col in spec.columns:
        variants: list[str] = []
        for row in rows:
            for source in cells[(row.id, col.key)].sources:
                loaded = cache.get(Path(source.results))
                if loaded is None:
                    continue
                text = convention_footnote(col.task, col.metric, loaded[0])
                if text not in variants:
                    variants.append(text)
        if not variants:
            continue
        text = (
            variants[0] if len(variants) == 1 else "CONVENTIONS DIFFER BETWEEN ROWS: " + " | ".join(variants)
        )
        if text not in texts:
            texts.append(text)
        by_column[col.key] = texts.index(text) + 1
    return texts, by_column


class MixedGroundTruthError(BadInputError):
    """Rows of one column were scored on different test sets: their numbers cannot be ranked together."""


def check_one_ground_truth(
    spec: Spec, rows: list[Row], cells: dict[tuple[str, str], Cell], cache: ResultsCache
) -> None:
    """Refuse a column whose reproduced cells come from different ground truth (gt file or scored case list):
    bold, order and the dagger would compare numbers of different test sets."""
    for col in spec.columns:
        test_sets: dict[tuple[str | None, str | None], list[str]] = {}
        cases: dict[tuple[str | None, str | None], Any] = {}
        for row in rows:
            cell = cells[(row.id, col.key)]
            if row.kind != "reproduced":
                continue
            for source in cell.sources:
                loaded = cache.get(Path(source.results))
                if loaded is None:
                    continue
                provenance = loaded[0].get("provenance", {})
                key = (provenance.get("inputs", {}).get("gt", {}).get("sha256"), provenance.get("ids_sha256"))
                if row.id not in test_sets.setdefault(key, []):
                    test_sets[key].append(row.id)
                cases[key] = loaded[0].get("n", "?")
        if len(test_sets) > 1:
            described = "; ".join(
                f"{', '.join(ids)} on {cases[key]} cases (gt sha256 {str(key[0])[:12]}…)"
                for key, ids in test_sets.items()
            )
            raise MixedGroundTruthError(
                f"column {col.key} mixes test sets, which cannot be ranked, bolded or tested together: "
                f"{described}. Give the column a `split`, or score every model on the same ground truth."
            )


def _drop_stale_comparisons(out_dir: Path, cells: list[Cell]) -> None:
    """Comparison files of an earlier build of this folder that no cell points to any more."""
    written = {c.test.comparison_file for c in cells if c.test is not None and c.test.comparison_file}
    for path in sorted((out_dir / "comparisons").glob("*.json")):
        if f"comparisons/{path.name}" not in written:
            path.unlink()


def finish_table(
    spec: Spec,
    cells: dict[tuple[str, str], Cell],
    cache: ResultsCache,
    out_dir: Path | None,
    comparisons_dir: Path | None,
) -> Table:
    """Order, bold, test and footnote the cells. Source paths become relative to `out_dir`; the comparison files
    go to `comparisons_dir`/comparisons (verify recomputes them into a scratch folder)."""
    from leaderboards.significance import mark_significance
    from leaderboards.subgroups import build_subgroup_tables

    rows = _order_rows(spec, cells)
    check_one_ground_truth(spec, rows, cells, cache)
    _mark_best(spec, rows, cells)
    subgroup_tables = build_subgroup_tables(spec, rows, cells, cache)
    mark_significance(spec, rows, cells, cache, comparisons_dir)
    footnotes, column_footnote = _footnotes(spec, rows, cells, cache)
    note = significance_footnote(
        spec.significance, [cells[(r.id, c.key)] for r in rows for c in spec.columns]
    )
    if note is not None:
        footnotes.append(note)
    if out_dir is not None:  # cells.json keeps working when the table folder and the runs move together
        for cell in cells.values():
            for source in cell.sources:
                source.run_dir = os.path.relpath(Path(source.run_dir).resolve(), out_dir.resolve())
                source.results = os.path.relpath(Path(source.results).resolve(), out_dir.resolve())
    return Table(
        spec={
            "name": spec.name,
            "title": spec.title,
            "caption": spec.caption,
            "path": spec.path,
            "sha256": spec.sha256,
            "format": asdict(spec.cell_format),
            "significance": asdict(spec.significance),
            "best": spec.best,
            "order_by": spec.order_by,
        }
        | ({"subgroups": [asdict(sg) for sg in spec.subgroups]} if spec.subgroups else {}),
        columns=[column_record(c) for c in spec.columns],
        rows=[
            {"id": r.id, "label": r.label, "kind": r.kind, "citation": r.citation, "bibtex_key": r.bibtex_key}
            for r in rows
        ],
        cells=[cells[(r.id, c.key)] for r in rows for c in spec.columns],
        footnotes=footnotes,
        column_footnote=column_footnote,
        subgroup_tables=subgroup_tables,
    )


def column_record(col: Column) -> dict[str, Any]:
    """A leaf column as cells.json stores it; `target` only where set, so tables without one keep their bytes."""
    record = asdict(col) | {"sub_label": col.sub_label}
    if record["target"] is None:
        del record["target"]
    return record


def collect_table(spec: Spec, run_paths: list[str | Path], out_dir: str | Path | None = None) -> Table:
    """Build the table; `out_dir` receives the paired comparison files behind the significance markers.

    Raises MixedGroundTruthError (a ValueError) before anything is written when a column mixes test sets."""
    runs = discover_runs(run_paths)
    cache = ResultsCache()
    cells: dict[tuple[str, str], Cell] = {}
    for row in spec.rows:
        for col in spec.columns:
            cell = (
                reproduced_cell(row, col, runs, cache)
                if row.kind == "reproduced"
                else reported_cell(row, col)
            )
            cells[(row.id, col.key)] = cell
    folder = None if out_dir is None else Path(out_dir)
    table = finish_table(spec, cells, cache, folder, folder)
    if folder is not None:
        _drop_stale_comparisons(folder, table.cells)
    return table
