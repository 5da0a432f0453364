"""Plain functions behind `cxrbench run`, `cxrbench train-baseline` and `cxrbench suite` (mounted by bench/cli.py).

Each returns an exit code: 0 ok, 1 bad arguments (unknown model spec / dataset / mode), 2 bad input data.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.errors import report
from bench.run.settings import ScoreSettings


def run_settings(settings: ScoreSettings | None = None, *, bertscore: bool = True) -> ScoreSettings:
    """The settings a run scores with: `settings` (default: ScoreSettings()), and, with `bertscore` and no
    BERTScore model named, the bundled MiniLM model when its package is installed (the demo extra)."""
    settings = settings or ScoreSettings()
    if not bertscore or settings.bertscore_model is not None:
        return settings
    try:
        from bench.metrics.report.bertscore import default_model_dir

        path = default_model_dir()
    except ImportError:
        return settings
    return replace(settings, bertscore_model=str(path), bertscore_layers=6) if path is not None else settings


def run_table(outcome: Any) -> Table:
    """Summary of one run: every scalar metric of every task with its 95 % CI."""
    table = Table(title=f"cxrbench run → {outcome.run_dir}")
    for column in ("task", "metric", "value", "95% CI"):
        table.add_column(column)
    for task, results in outcome.results.items():
        for name, metric in results["metrics"].items():
            if "/" in name:
                continue
            value = "n/a" if metric["value"] is None else f"{metric['value']:.4f}"
            ci = metric.get("ci95")
            table.add_row(task, name, value, f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
    return table


def run_command(
    model: str,
    dataset: str,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: str = "test",
    mode: str = "zero-shot",
    fraction: float = 1.0,
    device: str = "cpu",
    batch_size: int = 16,
    workers: int = 2,
    settings: ScoreSettings | None = None,
    bertscore: bool = True,
    model_options: dict[str, str] | None = None,
    limit: int | None = None,
    console: Console | None = None,
) -> int:
    """Run and score; `settings` carries the seed (fine-tune subset, training, bootstrap) and every scoring option."""
    from bench.run.context import model_options as typed_options
    from bench.run.runner import run

    console = console or Console()
    try:
        settings = run_settings(settings, bertscore=bertscore)
        outcome = run(
            model,
            dataset,
            root,
            split=split,
            mode=mode,
            fraction=fraction,
            seed=settings.seed,
            out_dir=out,
            device=device,
            batch_size=batch_size,
            workers=workers,
            settings=settings,
            model_options=typed_options(model, model_options or {}),
            limit=limit,
        )
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        return report(exc)
    if outcome.rank == 0:
        console.print(run_table(outcome))
        for task, why in outcome.unscored.items():
            console.print(f"[yellow]{task} not scored:[/yellow] {escape(why)}", highlight=False)
        partial = outcome.manifest.get("partial")
        if partial:
            console.print(
                f"partial run: the first {partial['limit']} of {partial['of']} images (--limit); it never enters a table"
            )
        console.print(f"predictions, results/ and manifest.json in {outcome.run_dir}")
    return 0


def train_baseline_command(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    seed: int = 0,
    epochs: int | None = None,
    size: int | None = None,
    workers: int = 2,
    console: Console | None = None,
) -> int:
    from bench.models.baseline.pretrain import train_baseline

    console = console or Console()
    config = {k: v for k, v in {"epochs": epochs, "size": size}.items() if v is not None}
    try:
        summary = train_baseline(
            data,
            out,
            seed=seed,
            workers=workers,
            config=config,
            progress=lambda m: console.print(m, highlight=False),
        )
    except Exception as exc:  # noqa: BLE001
        return report(exc)
    console.print(
        f"baseline weights {Path(out)} trained on {', '.join(summary['datasets'])} "
        f"in {summary['train_seconds']} s (best epoch {summary['log']['best_epoch']})"
    )
    return 0


def suite_command(
    model: str,
    suite: str,
    out: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    device: str = "cpu",
    batch_size: int = 16,
    workers: int = 2,
    n_boot: int | None = None,
    settings: ScoreSettings | None = None,
    bertscore: bool = True,
    model_options: dict[str, str] | None = None,
    console: Console | None = None,
) -> int:
    """Every benchmark × mode of a suite; `n_boot` None = the suite's own; seeds are the suite's."""
    from bench.run.context import model_options as typed_options
    from bench.run.suite import run_suite

    console = console or Console()
    try:
        run_suite(
            model,
            suite,
            out,
            data,
            device=device,
            batch_size=batch_size,
            workers=workers,
            n_boot=n_boot,
            settings=run_settings(settings, bertscore=bertscore),
            console=console,
            model_options=typed_options(model, model_options or {}),
        )
    except Exception as exc:  # noqa: BLE001
        return report(exc)
    return 0
