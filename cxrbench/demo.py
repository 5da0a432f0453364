"""`make demo`: the whole protocol on the embedded demo, on a laptop, in a few minutes.

1. generate the ten demo benchmarks in their publishers' layouts (`OUT/data/<name>/`, skipped if present);
2. pre-train the reference baseline on their train splits (`OUT/baseline.pt`, skipped if present);
3. run the demo suite (every benchmark, zero-shot and fine-tune) into `RUNS/<dataset>/<mode>/` (finished runs are
   reused) and print the table; `RUNS/suite.json` is the leaderboard input;
4. render the demo leaderboard (`leaderboards/demo/table.{md,tex,csv,html}`), the HTML report
   (`leaderboards/demo/report.html`) and the cross-task consistency table, then `verify` the table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console

DEMO_N = 40  # images per benchmark
DEMO_SEED = 0
DEMO_CONFIG = {"epochs": 10, "size": 128}
FINE_TUNE = {"epochs": 6}


def ensure_data(out: Path, n: int, seed: int, workers: int, console: Console) -> Path:
    from bench.datasets.demo import MODULES, write_demo

    data = out / "data"
    marker = data / "demo.json"
    wanted = {"n": n, "seed": seed, "datasets": list(MODULES)}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        console.print(f"demo data: reusing {data}")
        return data
    start = time.perf_counter()
    write_demo(data, n=n, seed=seed, workers=workers)
    marker.write_text(json.dumps(wanted) + "\n")
    console.print(
        f"demo data: wrote {len(MODULES)} benchmarks ({n} images each) in {time.perf_counter() - start:.1f} s"
    )
    return data


def ensure_weights(out: Path, data: Path, seed: int, workers: int, console: Console) -> Path:
    from bench.models.baseline.pretrain import train_baseline

    weights = out / "baseline.pt"
    if weights.is_file():
        console.print(f"baseline: reusing {weights}")
        return weights
    summary = train_baseline(
        data, weights, seed=seed, workers=workers, config=DEMO_CONFIG, progress=console.print
    )
    console.print(
        f"baseline: trained in {summary['train_seconds']} s (data loading {summary['load_seconds']} s)"
    )
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="demo data and baseline weights")
    parser.add_argument(
        "--runs", type=Path, default=Path("runs/demo"), help="one RUN_DIR per benchmark × mode"
    )
    parser.add_argument(
        "--tables",
        type=Path,
        default=Path("leaderboards/demo"),
        help="demo leaderboard, report and consistency",
    )
    parser.add_argument("--n", type=int, default=DEMO_N, help="images per demo benchmark")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()

    from bench.run.cli_run import run_settings
    from bench.run.settings import ScoreSettings
    from bench.run.suite import run_suite

    console = Console()
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    data = ensure_data(args.out, args.n, DEMO_SEED, args.workers, console)
    weights = ensure_weights(args.out, data, DEMO_SEED, args.workers, console)
    run_suite(
        f"baseline:{weights}",
        "demo",
        args.runs,
        data,
        workers=args.workers,
        n_boot=args.bootstrap,
        settings=run_settings(ScoreSettings(n_boot=args.bootstrap, seed=DEMO_SEED)),
        fit_options=FINE_TUNE,
        console=console,
        progress=False,
    )
    publish(args.runs, args.tables, args.bootstrap, console)
    reader_study(args.out / "study", console)
    console.print(
        f"make demo: {time.perf_counter() - start:.1f} s in total; runs in {args.runs}/, tables in {args.tables}/"
    )
    print_summary(args.tables, args.out / "study")


def publish(runs: Path, tables: Path, n_boot: int, console: Console) -> None:
    """Leaderboard in four formats, the HTML report and the consistency table; then re-check every cell."""
    from leaderboards.cli import table_command, verify_command
    from leaderboards.consistency import consistency_command
    from leaderboards.report import report_command

    steps = [
        ("leaderboard", lambda: table_command("demo", [runs], tables)),
        ("HTML report", lambda: report_command([runs], tables / "report.html")),
        (
            "consistency",
            lambda: consistency_command([runs], tables / "consistency", n_boot=n_boot, seed=DEMO_SEED),
        ),
        ("verify", lambda: verify_command(table=tables)),
    ]
    for name, step in steps:
        code = step()
        if code != 0:
            raise SystemExit(f"make demo: {name} failed (exit {code})")


def reader_study(folder: Path, console: Console) -> None:
    """The blinded reader study: the demo study to read in the app (images, retrieval-baseline AI reports, blinding
    audit), and a simulated, locked 3-reader × 160-case study analysed end to end (chain check, preference with
    reader × case CIs, agreement, report)."""
    from readerstudy.analysis import analyze as run_analysis
    from readerstudy.store.coordinator_api import lock_study
    from readerstudy.store.engine import open_db
    from readerstudy.store.long_table import load_long_table, load_protocol
    from readerstudy.store.verify import verify_chain
    from readerstudy.study.demo import build_demo
    from readerstudy.study.simulate import simulate_into_db

    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "reading.db").exists():
        result, source = build_demo(folder / "reading.db", use_iu=False)
        console.print(f"reader study: demo study to read, {result.n_cases} cases ({source})")
    simulated = folder / "simulated.db"
    if not simulated.exists():
        simulate_into_db(simulated, 3, 160, DEMO_SEED)
        study_db = open_db(simulated)
        lock_study(study_db, "make demo")
        study_db.dispose()
    study_db = open_db(simulated)
    chain = verify_chain(study_db)
    if not chain.intact:
        raise SystemExit(f"make demo: the simulated study's audit chain is broken: {chain.problem}")
    run_analysis(
        load_long_table(study_db), folder / "analysis", load_protocol(study_db), audit_chain=chain.as_dict()
    )
    study_db.dispose()
    console.print(
        f"reader study: simulated study analysed -> {folder / 'analysis'} (chain head {chain.head})"
    )


def print_summary(tables: Path, study: Path | None = None) -> None:
    """The last lines of `make demo`: benchmarks × ZS / FT with CIs (fits 100 columns) and where the rest is."""
    from leaderboards.model import Table
    from leaderboards.render.text import render_summary
    from leaderboards.verify_table import CELLS_FILE

    table = Table.from_json(json.loads((tables / CELLS_FILE).read_text(encoding="utf-8")))
    print(render_summary(table, width=100), end="")  # plain print: rich would re-wrap and colour the columns
    print(f"Paper table: {(tables / 'table.tex').resolve()} (needs \\usepackage{{booktabs,siunitx}})")
    print(f"HTML report: {(tables / 'report.html').resolve()}")
    if study is not None:
        print(f"Reader study: {(study / 'analysis' / 'report.html').resolve()}; read the demo study with")
        print(f"  cxrbench study serve --db {study / 'reading.db'}")


if __name__ == "__main__":
    main()
