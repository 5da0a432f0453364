"""`cxrbench suite`: every benchmark × mode of a suite, one RUN_DIR each, a summary table and DIR/suite.json."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.datasets import DATASETS, get_adapter
from bench.records import atomic_write_text
from bench.run.context import FineTuneUnsupported
from bench.run.settings import ScoreSettings
from bench.tasks import MODEL_TASKS, TASKS


@dataclass(frozen=True)
class Suite:
    datasets: tuple[str, ...]
    fractions: tuple[float, ...]
    seeds: tuple[int, ...]
    n_boot: int


SUITES = {
    "demo": Suite(tuple(DATASETS), (1.0,), (0,), 200),
    "paper": Suite(tuple(DATASETS), (0.01, 0.1, 1.0), (0,), 1000),
}


def find_roots(data: str | os.PathLike[str], names: tuple[str, ...]) -> dict[str, Path]:
    """DATA/<name>/ for each benchmark present (the layout `cxrbench demo-data` writes)."""
    data = Path(data)
    return {name: data / name for name in names if (data / name).is_dir()}


def headline(task: str, results: dict[str, Any]) -> tuple[str, float | None]:
    """The task's first headline metric (bench.tasks) that the results carry."""
    for key in TASKS[task].headline if task in TASKS else ():
        if key in results["metrics"]:
            return key, results["metrics"][key]["value"]
    return "", None


def run_suite(
    model_spec: str,
    suite: str,
    out: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    device: str = "cpu",
    batch_size: int = 16,
    workers: int = 2,
    n_boot: int | None = None,
    settings: ScoreSettings | None = None,
    fit_options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    from bench.run.runner import run

    console = console or Console()
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    plan = SUITES[suite]
    roots = find_roots(data, plan.datasets)
    if not roots:
        raise ValueError(
            f"none of the {suite} suite's benchmarks ({', '.join(plan.datasets)}) is under {data}/"
        )
    base = settings or ScoreSettings()
    out = Path(out)
    runs: list[dict[str, Any]] = []
    for name in plan.datasets:
        if name not in roots:
            runs.append({"dataset": name, "status": f"missing: no folder {Path(data) / name}"})
            continue
        roles = get_adapter(name).roles(roots[name])
        for mode, fraction, seed in _modes(plan):
            run_dir = out / name / (mode if (fraction, seed) == (1.0, 0) else f"{mode}-f{fraction:g}-s{seed}")
            task_settings = replace(
                base,
                n_boot=n_boot if n_boot is not None else plan.n_boot,
                seed=seed,
                # benchmarks publish different metadata: a field one lacks is recorded as absent, not an error
                subgroups_absent="skip" if base.subgroups else base.subgroups_absent,
            )
            start = time.perf_counter()
            try:
                outcome = run(
                    model_spec,
                    name,
                    roots[name],
                    split=roles["test"] or "test",
                    mode=mode,
                    fraction=fraction,
                    seed=seed,
                    out_dir=run_dir,
                    device=device,
                    batch_size=batch_size,
                    workers=workers,
                    settings=task_settings,
                    train_split=roles["train"],
                    val_split=roles["val"],
                    fit_options=fit_options,
                    model_options=model_options,
                    console=console,
                    progress=progress,
                )
            except (
                FineTuneUnsupported
            ) as exc:  # external models: fine-tune with your own code (docs/models.md)
                runs.append({"dataset": name, "mode": mode, "fraction": fraction, "seed": seed,
                             "status": f"skipped: {exc}"})  # fmt: skip
                console.print(f"[yellow]skipped[/yellow] {name} {mode}: {exc}", highlight=False)
                continue
            entry = {
                "dataset": name,
                "mode": mode,
                "fraction": fraction,
                "seed": seed,
                "split": roles["test"],
                "run_dir": str(run_dir.relative_to(out)),
                "status": "ok",
                "seconds": round(time.perf_counter() - start, 2),
                "run_seconds": outcome.manifest.get("timings", {}).get("total_seconds"),
                "results": {t: f"{run_dir.relative_to(out)}/results/{t}.json" for t in outcome.tasks},
                "headline": {t: dict([headline(t, r)]) for t, r in outcome.results.items()},
            }
            runs.append(entry)
            console.print(f"[green]done[/green] {name} {mode} in {entry['seconds']} s")
    summary = {"suite": suite, "model": model_spec, "data": str(data), "runs": runs}
    atomic_write_text(out / "suite.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    console.print(summary_table(summary))
    return summary


def _modes(plan: Suite) -> list[tuple[str, float, int]]:
    modes = [("zero-shot", 1.0, plan.seeds[0])]
    modes += [("fine-tune", f, s) for f in sorted(plan.fractions, reverse=True) for s in plan.seeds]
    return modes


def summary_table(summary: dict[str, Any]) -> Table:
    """One row per benchmark × mode; one column per task showing its headline metric."""
    table = Table(title=f"cxrbench suite {summary['suite']}: {summary['model']}")
    table.add_column("benchmark")
    table.add_column("mode")
    for task in MODEL_TASKS:
        table.add_column(task)
    table.add_column("s", justify="right")
    for entry in summary["runs"]:
        if entry["status"] != "ok":
            table.add_row(entry["dataset"], "-", entry["status"], *[""] * len(MODEL_TASKS))
            continue
        mode = entry["mode"] if entry["fraction"] == 1.0 else f"{entry['mode']} {entry['fraction']:g}"
        cells = []
        for task in MODEL_TASKS:
            metric = entry["headline"].get(task)
            if not metric:
                cells.append("-")
                continue
            ((key, value),) = metric.items()
            cells.append(f"{key} {value:.3f}" if value is not None else f"{key} n/a")
        table.add_row(entry["dataset"], mode, *cells, f"{entry.get('run_seconds') or entry['seconds']:.1f}")
    return table
