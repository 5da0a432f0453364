"""Plain command functions that `bench/cli.py` mounts: `cxrbench table`, `cxrbench verify`.

They print to stdout / stderr and return an exit status (0 = fine; 1 = a verification mismatch; 2 = bad input;
3 = nothing mismatched but some numbers could not be recomputed here).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.errors import EXIT_BAD_INPUT, report
from bench.records import atomic_write_text
from leaderboards.specs import load_spec


def table_command(spec: str | Path, runs: list[str | Path], out: str | Path) -> int:
    """Render SPEC over the run directories under RUNS into OUT: table.{md,tex,csv,html} and cells.json."""
    from leaderboards.collect import collect_table
    from leaderboards.render import write_tables
    from leaderboards.verify_table import CELLS_FILE

    try:
        loaded = load_spec(spec)
        table = collect_table(loaded, list(runs), out)
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        return report(exc)
    written = write_tables(table, out)
    atomic_write_text(
        Path(out) / CELLS_FILE, json.dumps(table.to_json(), indent=2, ensure_ascii=False) + "\n"
    )
    from leaderboards.runs import partial_runs

    for skipped in partial_runs(list(runs)):
        print(f"note: {skipped} is a partial (--limit) run and is not in the table", file=sys.stderr)
    n_missing = sum(1 for c in table.cells if c.missing)
    n_marked = sum(1 for c in table.cells if c.significant)
    print(
        f"{loaded.name}: {len(table.rows)} rows × {len(table.columns)} columns, {n_missing} missing cells, "
        f"{n_marked} significance markers -> " + ", ".join(str(p) for p in written.values())
    )
    return 0


def verify_command(run_dir: str | Path | None = None, table: str | Path | None = None) -> int:
    """Verify one run directory, or (with `table`) every cell of a rendered table; prints one line per check."""
    from leaderboards.verify import verify_run
    from leaderboards.verify_table import verify_table

    if (run_dir is None) == (table is None):
        print("error: give a RUN_DIR or --table OUT_DIR (one of the two)", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = Path(run_dir if run_dir is not None else table)  # type: ignore[arg-type]  # one is given (checked above)
    if not target.is_dir():
        print(f"error: {target} is not a directory", file=sys.stderr)
        return EXIT_BAD_INPUT
    report = verify_run(target) if run_dir is not None else verify_table(target)
    for check in report.checks:
        print(check.line())
    counts: dict[str, int] = {}
    for check in report.checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    verdict = {0: "verified", 1: "FAILED", 3: "incomplete (some numbers not recomputable here)"}[
        report.exit_code
    ]
    print(f"{target}: {verdict} ({summary})")
    return report.exit_code
