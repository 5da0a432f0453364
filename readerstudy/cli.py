"""``cxrbench study ...``: build, serve, demo, simulate, analyze a blinded reader study.

Imports of SQLAlchemy, Streamlit, pandas and the analysis happen inside the commands so that mounting this sub-app
keeps ``cxrbench --help`` fast.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from bench.errors import BadInputError, FailedError, report

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
APP_FILE = Path(__file__).resolve().parent / "app" / "server.py"  # st.App: main.py plus the login routes


def _fail(message: str) -> typer.Exit:
    """Bad input or usage: one line, exit 2 (bench.errors)."""
    return _exit_for(BadInputError(message))


def _exit_for(exc: BaseException) -> typer.Exit:
    """The one handler (bench.errors): `error: ...` on stderr and the error's exit status; a bug is re-raised."""
    return typer.Exit(report(exc))


@study_app.command()
def build(
    cases: Annotated[
        Path, typer.Option("--cases", help="CSV or JSONL: case_id, site, original_report, ai_report.")
    ],
    protocol: Annotated[
        Path, typer.Option("--protocol", help="Protocol YAML (criteria, readers, seed, ...).")
    ],
    db: DbOption,
    allow_distinguishable: Annotated[
        bool,
        typer.Option(
            "--allow-distinguishable",
            help="Build even when the blinding audit finds AI and original texts distinguishable (recorded).",
        ),
    ] = False,
) -> None:
    """Build a study: de-identification gate, text harmonisation, blinding audit, per-reader randomisation.

    Exit 1 when the blinding audit's classifier tells AI from original text (AUC 95 % CI lower bound > 0.6)."""
    from readerstudy.study.blinding_audit import describe
    from readerstudy.study.build import build_study

    try:
        result = build_study(cases, protocol, db, allow_distinguishable=allow_distinguishable)
    except Exception as exc:  # noqa: BLE001 - a blinding-audit failure exits 1, bad input 2, a bug keeps its traceback
        raise _exit_for(exc) from None
    typer.echo(f"built {result.db_url}: {result.n_cases} cases, readers {', '.join(result.reader_ids)}")
    typer.echo(describe(result.blinding_audit))
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
        "--client.toolbarMode", "viewer",  # no developer menu (rerun, settings, source links) for readers
        "--client.showErrorDetails", "none",  # no tracebacks or server paths in the browser
        # Streamlit's default gc.collect() after every script run walks the whole heap (pandas, numpy, pyarrow):
        # ~100 ms of CPU per submit, holding the GIL while the next case's page is being sent.
        "--runner.postScriptGC", "false",
        # no "Download as CSV" / copy on st.dataframe: its export writes raw cells (formula injection); the
        # coordinator's own download is the spreadsheet-safe one (readerstudy.store.csv_safety)
        "--client.disableDataExport", "true",
        "--", "--db", to_url(db),
    ]  # fmt: skip


@study_app.command()
def serve(
    db: DbOption,
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 8501,
    address: Annotated[str, typer.Option("--address", help="Bind address (0.0.0.0 to serve a network).")] = (
        "127.0.0.1"
    ),
    idle_minutes: Annotated[
        float,
        typer.Option("--idle-minutes", min=1, help="Log a browser out after this long without activity."),
    ] = 30.0,
) -> None:
    """Start the reading app (Streamlit, headless). Logins are bound to an HttpOnly cookie; set
    CXRBENCH_SESSION_SECRET to keep them valid across server restarts."""
    from readerstudy.store.engine import open_db

    try:
        open_db(db).dispose()
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        raise _exit_for(exc) from None
    command = serve_command(db, port, address)
    typer.echo(f"serving on http://{address}:{port}  (Ctrl-C to stop)")
    env = {**os.environ, "CXRBENCH_STUDY_DB": command[-1], "CXRBENCH_SESSION_IDLE_MINUTES": str(idle_minutes)}
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
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        raise _exit_for(exc) from None
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
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        raise _exit_for(exc) from None
    study_db = open_db(db)
    head = lock_study(study_db, "simulator")
    study_db.dispose()
    typer.echo(json.dumps({**truth, "audit_chain_head_at_lock": head}, indent=2))


@study_app.command()
def analyze(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    allow_unlocked: Annotated[
        bool, typer.Option("--allow-unlocked", help="Analyse a study that is not locked yet (interim look).")
    ] = False,
    allow_broken_chain: Annotated[
        bool,
        typer.Option(
            "--allow-broken-chain",
            help="Analyse even though the audit chain does not verify (recorded in analysis.json).",
        ),
    ] = False,
) -> None:
    """Verify the audit chain, then analyse the reads (analysis.json, report.md/html, reads_long.csv, iMRMC and
    MRMCaov exports)."""
    from readerstudy.store.engine import open_db
    from readerstudy.store.long_table import load_long_table, load_protocol
    from readerstudy.store.reader_api import log_event
    from readerstudy.store.verify import verify_chain

    try:
        study_db = open_db(db)
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        raise _exit_for(exc) from None
    chain = verify_chain(study_db)
    if not chain.intact and not allow_broken_chain:
        study_db.dispose()
        raise _exit_for(
            FailedError(f"audit chain broken: {chain.problem} (--allow-broken-chain analyses anyway)")
        )
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
    run_analysis(
        long_df, out, protocol, audit_chain={**chain.as_dict(), "allow_broken_chain": allow_broken_chain}
    )
    log_event(
        study_db, "cli", "analyze", {"out": str(out), "rows": len(long_df), "chain_intact": chain.intact}
    )
    if not chain.intact:
        typer.echo(f"warning: analysed despite a broken audit chain: {chain.problem}", err=True)
    typer.echo(f"analysis written to {out} (audit chain head {chain.head})")


@study_app.command()
def verify(
    db: DbOption,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="Chain head kept outside the database (SEQ:HASH or HASH, e.g. as printed at lock time).",
        ),
    ] = None,
) -> None:
    """Check the audit chain and that it accounts for every read, assignment, key and lock row (exit 0 intact)."""
    from readerstudy.store.engine import open_db
    from readerstudy.store.verify import parse_head, verify_chain

    try:
        if head is not None:
            parse_head(head)
        study_db = open_db(db)
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        raise _exit_for(exc) from None
    report = verify_chain(study_db, expected_head=head)
    study_db.dispose()
    if not report.intact:
        raise _exit_for(FailedError(f"audit chain broken: {report.problem}"))
    if report.coverage_note:
        typer.echo(f"note: {report.coverage_note}")
    if head is None:
        typer.echo(
            f"audit chain intact: {report.n_audit_rows} rows, head {report.head} (without --head, a chain rewritten "
            "from scratch cannot be told apart: compare with a head kept outside the database)"
        )
    else:
        typer.echo(
            f"audit chain intact and contains the recorded head: {report.n_audit_rows} rows, head {report.head}"
        )


@study_app.command()
def migrate(db: DbOption) -> None:
    """Bring a study database built by an older cxrbench to the current schema: checks its old audit chain, adds
    the missing triggers and one audited 'migrate' row that records every row the old chain did not (exit 0
    migrated or already current, 1 old chain broken: not migrated)."""
    from readerstudy.store.migrate import migrate_db

    try:
        result = migrate_db(db)
    except Exception as exc:  # noqa: BLE001 - a broken old chain exits 1, bad input 2
        raise _exit_for(exc) from None
    if result.migrate_seq is None:
        typer.echo(f"{db} is already at study schema {result.to_version}: nothing to do")
        return
    recorded = ", ".join(f"{n} {table}" for table, n in result.recorded.items()) or "no rows"
    typer.echo(
        f"migrated {db} from study schema {result.from_version} to {result.to_version} at audit row "
        f"{result.migrate_seq} (recorded {recorded}); chain head {result.head}: keep it outside the database. "
        "Rows written before the migration are covered as they were at it (cxrbench study verify says so)."
    )


def _int_list(text: str, option: str) -> list[int]:
    """'3-10' or '50,100,200' (or both, comma-separated) as a sorted list of positive integers."""
    values: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _, high = part.partition("-")
            values.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise _fail(f"{option} {text!r}: give integers like 3-10 or 50,100,200") from None
    if not values or min(values) < 1:
        raise _fail(f"{option} {text!r}: give positive integers like 3-10 or 50,100,200")
    return sorted(values)


@study_app.command()
def plan(
    effect: Annotated[
        float, typer.Option("--effect", help="Anticipated true net preference (AI vs original), -1..1.")
    ],
    db: Annotated[
        str | None, typer.Option("--db", help="Pilot or completed study database: variance components.")
    ] = None,
    analysis: Annotated[
        Path | None,
        typer.Option("--analysis", help="analysis.json of a completed study: variance components."),
    ] = None,
    reader_sd: Annotated[
        float | None, typer.Option("--reader-sd", help="Stated SD of the true per-reader net preference.")
    ] = None,
    case_sd: Annotated[
        float, typer.Option("--case-sd", help="Stated SD of one reader's case score (1 = the maximum).")
    ] = 1.0,
    reader_corr: Annotated[
        float | None, typer.Option("--reader-corr", help="Stated correlation of two readers' case scores.")
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option("--margin", help="Non-inferiority margin (default: the protocol's, else 0)."),
    ] = None,
    test: Annotated[
        str, typer.Option("--test", help="non-inferiority (the analysis' decision) or two-sided.")
    ] = "non-inferiority",
    alpha: Annotated[float, typer.Option("--alpha", min=0.0001, max=0.5, help="1 - CI level.")] = 0.05,
    target: Annotated[float, typer.Option("--power", min=0.01, max=0.9999, help="Target power.")] = 0.8,
    readers: Annotated[
        int | None, typer.Option("--readers", min=1, help="Design to evaluate: readers.")
    ] = None,
    cases: Annotated[int | None, typer.Option("--cases", min=2, help="Design to evaluate: cases.")] = None,
    readers_range: Annotated[str, typer.Option("--readers-range", help="Table rows, e.g. 3-10.")] = "3-10",
    cases_grid: Annotated[
        str, typer.Option("--cases-grid", help="Table columns, e.g. 50,100,200.")
    ] = "50,100,150,200,300,400,600",
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan as JSON here.")] = None,
) -> None:
    """Readers x cases for a target power of the primary endpoint (Obuchowski-Rockette / Hillis 2011)."""
    from readerstudy.analysis import power as pw

    if test not in ("non-inferiority", "two-sided"):
        raise _fail(f"--test {test!r}: use non-inferiority or two-sided")
    if not -1.0 <= effect <= 1.0:
        raise _fail(f"--effect {effect}: net preference lies in [-1, 1]")
    if (readers is None) != (cases is None):
        raise _fail("give --readers and --cases together to evaluate a design")
    sources = [name for name, given in (("--db", db), ("--analysis", analysis)) if given is not None]
    stated = reader_sd is not None or reader_corr is not None
    if len(sources) + stated != 1:
        raise _fail(
            "give one source of variance components: --db, --analysis, or --reader-sd with --reader-corr"
        )
    protocol: dict = {}
    try:
        if db is not None:
            from readerstudy.store.engine import open_db
            from readerstudy.store.long_table import load_long_table, load_protocol

            study_db = open_db(db)
            protocol, long_df = load_protocol(study_db), load_long_table(study_db)
            study_db.dispose()
            if long_df.empty:
                raise ValueError(f"{db}: no reads yet")
            comp = pw.components_from_reads(long_df, protocol, f"study {db}")
        elif analysis is not None:
            comp = pw.components_from_analysis_json(analysis)
        else:
            if reader_sd is None or reader_corr is None:
                raise ValueError("stated values need both --reader-sd and --reader-corr")
            comp = pw.from_stated(reader_sd, case_sd, reader_corr)
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        raise _exit_for(exc) from None
    rows = [j for j in _int_list(readers_range, "--readers-range") if j >= 2]
    if not rows:
        raise _fail(f"--readers-range {readers_range!r}: the readers-random model needs at least 2 readers")
    used_margin = abs(float(protocol.get("margin", 0.0) or 0.0) if margin is None else margin)
    result = pw.plan(
        comp,
        effect=effect,
        margin=used_margin,
        alternative=test,  # type: ignore[arg-type]
        alpha=alpha,
        target=target,
        readers_range=rows,
        cases_grid=[k for k in _int_list(cases_grid, "--cases-grid") if k >= 2],
        design=None if readers is None or cases is None else (readers, cases),
    )
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        try:
            tmp.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
            tmp.replace(out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _fail(f"{out}: cannot be written ({exc.strerror})") from None
    typer.echo(pw.format_plan(result))
    if out is not None:
        typer.echo(f"plan written to {out}")
