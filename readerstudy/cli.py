"""``cxrbench study ...``: build, serve, demo, simulate, analyze a blinded reader study.

Imports of SQLAlchemy, Streamlit, pandas and the analysis happen inside the commands so that mounting this sub-app
keeps ``cxrbench --help`` fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

study_app = typer.Typer(
    name="study",
    help="Blinded, randomised AI-vs-original report reader study.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str, typer.Option("--db", help="SQLite file path or SQLAlchemy URL of the study database.")
]
APP_FILE = Path(__file__).resolve().parent / "app" / "main.py"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@study_app.command()
def build(
    cases: Annotated[
        Path, typer.Option("--cases", help="CSV or JSONL: case_id, site, original_report, ai_report.")
    ],
    protocol: Annotated[
        Path, typer.Option("--protocol", help="Protocol YAML (criteria, readers, seed, ...).")
    ],
    db: DbOption,
) -> None:
    """Build a study: de-identification gate, text harmonisation, per-reader randomisation."""
    from readerstudy.study.build import DeidGateError, build_study

    try:
        result = build_study(cases, protocol, db)
    except DeidGateError as exc:
        raise _fail(str(exc)) from None
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"built {result.db_url}: {result.n_cases} cases, readers {', '.join(result.reader_ids)}")
    if result.blocked:
        typer.echo(
            f"{len({b.case_id for b in result.blocked})} case(s) blocked by the de-identification gate:"
        )
        for blocked in result.blocked:
            typer.echo(f"  {blocked.describe()}")


def serve_command(db: str, port: int, address: str) -> list[str]:
    from readerstudy.store.engine import to_url

    return [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", address,
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--", "--db", to_url(db),
    ]  # fmt: skip


@study_app.command()
def serve(
    db: DbOption,
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 8501,
    address: Annotated[str, typer.Option("--address", help="Bind address (0.0.0.0 to serve a network).")] = (
        "127.0.0.1"
    ),
) -> None:
    """Start the reading app (Streamlit, headless)."""
    from readerstudy.store.engine import open_db

    try:
        open_db(db).dispose()
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    command = serve_command(db, port, address)
    typer.echo(f"serving on http://{address}:{port}  (Ctrl-C to stop)")
    env = {**os.environ, "CXRBENCH_STUDY_DB": command[-1]}
    raise typer.Exit(subprocess.call(command, env=env))


@study_app.command()
def demo(
    db: DbOption,
    templates_only: Annotated[
        bool, typer.Option("--templates-only", help="Do not use IU X-ray text.")
    ] = False,
) -> None:
    """Build the demo study (160 cases, 4 sites, 3 readers) and print how to start reading."""
    from readerstudy.study.demo import DEMO_COORDINATOR, DEMO_READERS, build_demo

    try:
        result, source = build_demo(db, use_iu=not templates_only)
    except (ValueError, FileExistsError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"demo study built in {result.db_url}: {result.n_cases} cases, report text from {source}")
    if "CC BY-NC-ND" in source:
        typer.echo(
            "  licence: IU X-ray reports are CC BY-NC-ND 4.0 (non-commercial; do not redistribute derivatives)"
        )
    typer.echo(f"start the app:  cxrbench study serve --db {db}   (then open http://127.0.0.1:8501)")
    for reader_id, password in DEMO_READERS.items():
        typer.echo(f"  reader      {reader_id:<12} password {password}")
    typer.echo(f"  coordinator {DEMO_COORDINATOR[0]:<12} password {DEMO_COORDINATOR[1]}")


@study_app.command()
def simulate(
    db: DbOption,
    readers: Annotated[int, typer.Option("--readers", min=1)] = 3,
    cases: Annotated[int, typer.Option("--cases", min=2)] = 160,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write a complete, locked synthetic study with known reader/case effects into DB; prints the truth."""
    from readerstudy.store.coordinator_api import lock_study
    from readerstudy.store.engine import open_db
    from readerstudy.study.simulate import simulate_into_db

    try:
        truth = simulate_into_db(db, readers, cases, seed)
    except (ValueError, FileExistsError) as exc:
        raise _fail(str(exc)) from None
    study_db = open_db(db)
    lock_study(study_db, "simulator")
    study_db.dispose()
    typer.echo(json.dumps(truth, indent=2))


@study_app.command()
def analyze(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    allow_unlocked: Annotated[
        bool, typer.Option("--allow-unlocked", help="Analyse a study that is not locked yet (interim look).")
    ] = False,
) -> None:
    """Analyse the reads (analysis.json, report.md/html, reads_long.csv, iMRMC and MRMCaov exports)."""
    from readerstudy.store.engine import open_db
    from readerstudy.store.long_table import load_long_table, load_protocol
    from readerstudy.store.reader_api import log_event

    try:
        study_db = open_db(db)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    protocol = load_protocol(study_db)
    if not protocol["locked"] and not allow_unlocked:
        raise _fail("the study is not locked; lock it on the coordinator page (or pass --allow-unlocked)")
    try:
        from readerstudy.analysis import analyze as run_analysis
    except ImportError as exc:
        raise _fail(f"the analysis package is not available: {exc}") from None
    long_df = load_long_table(study_db)
    if long_df.empty:
        raise _fail("no reads yet")
    out.mkdir(parents=True, exist_ok=True)
    run_analysis(long_df, out, protocol)
    log_event(study_db, "cli", "analyze", {"out": str(out), "rows": len(long_df)})
    typer.echo(f"analysis written to {out}")
