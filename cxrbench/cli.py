"""The `cxrbench` program: the composition root that joins bench's commands (score, run, suite, data, ...) with the
leaderboards (table, verify, report, consistency) and the reader study (study ...).

The three packages never import this module, and `bench` imports neither `leaderboards` nor `readerstudy`, so the
dependencies run one way: cxrbench -> leaderboards, readerstudy -> bench.
"""

import gc
from pathlib import Path
from typing import Annotated

import typer

from bench.cli import app, err, out
from readerstudy.cli import study_app  # light: only typer at import time

app.add_typer(study_app, name="study", help="Blinded reader study: build, serve, simulate, analyze.")


@app.command()
def table(
    spec: Annotated[
        str, typer.Argument(help="Leaderboard spec: a YAML file or a shipped name (demo, imt-cxr, ...).")
    ],
    runs: Annotated[
        list[Path], typer.Option(help="Run folders, or folders searched for manifest.json (repeatable).")
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Folder for table.md/.tex/.csv/.html and cells.json.")
    ],
    more_runs: Annotated[
        list[Path] | None,
        typer.Argument(help="More run folders: `--runs A B C` works as well as `--runs A --runs B`."),
    ] = None,
) -> None:
    """Render a paper table (Markdown, LaTeX, CSV, HTML) with CIs, significance markers and conventions."""
    from leaderboards.cli import table_command

    raise typer.Exit(table_command(spec, [*runs, *(more_runs or [])], out_path))


@app.command()
def verify(
    run_dir: Annotated[Path | None, typer.Argument(help="A run folder to re-check.")] = None,
    table_dir: Annotated[
        Path | None, typer.Option("--table", help="A rendered table folder to re-check.")
    ] = None,
) -> None:
    """Re-hash inputs and recompute every metric: MATCH / MISMATCH per cell (non-zero exit on any mismatch)."""
    from leaderboards.cli import verify_command

    if (run_dir is None) == (table_dir is None):
        err.print("[bold red]error:[/] pass either RUN_DIR or --table OUT_DIR")
        raise typer.Exit(2)
    raise typer.Exit(verify_command(run_dir=run_dir, table=table_dir))


@app.command("report")
def report_html(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders (or folders searched for runs).")],
    out_path: Annotated[Path, typer.Option("--out", help="The self-contained HTML page to write.")],
) -> None:
    """One self-contained HTML page: tables, ROC/PR curves, detection PR, Dice and report-metric distributions."""
    from leaderboards.report import report_command

    raise typer.Exit(report_command(list(run_dirs), out_path))


@app.command()
def consistency(
    run_dirs: Annotated[
        list[Path], typer.Argument(help="Runs of one model on the same images (several tasks).")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Folder for consistency.json and consistency.md.")],
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates for 95% CIs.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Cross-task consistency: classification vs own report, box sides vs stated sides, CTR vs stated heart size."""
    from leaderboards.consistency import consistency_command

    raise typer.Exit(consistency_command(list(run_dirs), out_path, n_boot=bootstrap, seed=seed))


@app.command()
def version() -> None:
    """Print the cxrbench version."""
    from importlib.metadata import version as dist_version

    out.print(dist_version("cxrbench"))


def main() -> None:
    """The `cxrbench` program. Once the command is done, every object is frozen out of the garbage collector, so
    the interpreter's shutdown does not traverse them all again (about 50 ms of a short command)."""
    try:
        app(prog_name="cxrbench")
    finally:
        gc.freeze()


if __name__ == "__main__":
    main()
