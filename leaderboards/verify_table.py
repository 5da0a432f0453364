"""`verify --table OUT_DIR`: every cell of a rendered table traced to its results files and recomputed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from leaderboards.model import Table
from leaderboards.render import render_texts
from leaderboards.verify import MATCH, MISMATCH, UNVERIFIED, Check, Verification, check_file_hash, verify_run

CELLS_FILE = "cells.json"


def _lookup(results: dict, metric_path: str) -> float | None:
    kind, _, rest = metric_path.partition(".")
    if kind == "metrics":
        return results["metrics"][rest]["value"]
    stat, _, label = rest.partition(".")
    return results["per_label"][stat][label]


def verify_table(out_dir: str | Path) -> Verification:
    folder = Path(out_dir)
    report = Verification()
    cells_path = folder / CELLS_FILE
    if not cells_path.is_file():
        report.add(Check(MISMATCH, str(cells_path), "missing: not a folder written by `table`"))
        return report
    table = Table.from_json(json.loads(cells_path.read_text(encoding="utf-8")))
    for name, text in render_texts(table).items():
        path = folder / name
        same = path.is_file() and path.read_text(encoding="utf-8") == text
        detail = (
            "re-rendered from cells.json: identical"
            if same
            else "differs from a re-render of cells.json (edited?)"
        )
        report.add(Check(MATCH if same else MISMATCH, f"file {path}", detail))
    runs: dict[str, Verification] = {}
    for cell in table.cells:
        subject = f"{cell.row} × {cell.column}"
        if cell.kind == "reported":
            if not cell.missing:
                report.add(
                    Check("REPORTED", subject, f"{cell.value!r} copied from a paper; not recomputable")
                )
            continue
        if not cell.sources:
            continue
        problems, unverified = [], []
        for source in cell.sources:
            results_path = folder / source.results
            hash_check = check_file_hash(results_path, source.results_sha256, str(cells_path))
            if hash_check.status != MATCH:
                problems.append(hash_check.detail + f" [{results_path}]")
                continue
            stored = _lookup(json.loads(results_path.read_text(encoding="utf-8")), source.metric_path)
            if stored != source.value:
                problems.append(
                    f"{results_path} {source.metric_path} is {stored!r}, cells.json says {source.value!r}"
                )
            run_dir = folder / source.run_dir
            if source.run_dir not in runs:
                runs[source.run_dir] = verify_run(run_dir)
                for check in runs[source.run_dir].checks:
                    if check.status != MATCH:
                        report.add(Check(check.status, f"[{run_dir}] {check.subject}", check.detail))
            check = runs[source.run_dir].metrics.get(
                (str(run_dir / "results" / results_path.name), source.metric_path)
            )
            if check is None:
                problems.append(f"{source.metric_path} was not recomputed")
            elif check.status == UNVERIFIED:
                unverified.append(check.detail)
            elif check.status != MATCH:
                problems.append(f"{results_path.name} {source.metric_path}: {check.detail}")
        values = [s.value for s in cell.sources if s.value is not None]
        if not cell.missing and values:
            expected = values[0] if len(values) == 1 else statistics.fmean(values)
            if expected != cell.value:
                problems.append(f"cell value {cell.value!r} is not the {len(values)}-run mean {expected!r}")
        if problems:
            report.add(Check(MISMATCH, subject, "; ".join(problems)))
        elif unverified:
            report.add(Check(UNVERIFIED, subject, "; ".join(unverified)))
        else:
            shown = "missing: " + (cell.reason or "") if cell.missing else repr(cell.value)
            report.add(Check(MATCH, subject, shown))
    return report
