"""Plain functions behind `cxrbench datasets`, `data check`, `data export` and `demo-data` (mounted by bench/cli.py)."""

from __future__ import annotations

import os
import sys
import typing
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.datasets import DATASETS, DatasetAdapter, LayoutError, export_jsonl, get_adapter
from bench.datasets.base import adapter_options
from bench.datasets.demo import write_demo
from bench.datasets.factsheet import count_warnings, sheet_names
from bench.errors import report as report_error


def option_lines(cls: type[DatasetAdapter]) -> list[str]:
    """'key=default (other|values)' per adapter option, from its __init__ signature (the one place they live)."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:
        hints = {}
    lines = []
    for key, parameter in adapter_options(cls).items():
        default = parameter.default
        choices = (
            typing.get_args(hints.get(key)) if typing.get_origin(hints.get(key)) is typing.Literal else ()
        )
        others = [str(c) for c in choices if c != default]
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        lines.append(f"{key}={shown}" + (f" ({'|'.join(others)})" if others else ""))
    return lines


def list_datasets() -> Table:
    """A rich Table of the ten adapters: name, tasks, splits (and their source), options, expected layout."""
    from bench.plugins import load_plugins

    load_plugins()  # adapters registered by plugins are listed too
    table = Table(title="cxrbench datasets", show_lines=True)
    for column in ("name", "tasks", "splits", "options (--option, default first)", "expected layout"):
        table.add_column(column, overflow="fold")
    for name, cls in DATASETS.items():
        table.add_row(
            name,
            ", ".join(cls.tasks),
            f"{', '.join(cls.splits)}\n({cls.split_source})",
            "\n".join(option_lines(cls)) or "—",
            cls.expected_layout
            + (f"\nFacts and sources: docs/datasets/{name}.md" if name in sheet_names() else ""),
        )
    return table


def check_dataset(
    name: str, root: str | os.PathLike[str], console: Console | None = None, **options: Any
) -> int:
    """Validate ROOT against NAME's layout and print counts.

    Returns 0 if OK, 2 on a bad layout and on a usage error (unknown dataset, unknown option or bad option value);
    the error is printed as one line (and, for a bad layout, the expected layout).
    """
    console = console or Console()
    try:
        adapter = get_adapter(name, **options)
        report = adapter.check(root)
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        status = report_error(exc)
        if isinstance(exc, LayoutError):
            print(f"expected layout for {name}:\n{adapter.expected_layout}", file=sys.stderr)
        return status
    console.print(report.render(), highlight=False, markup=False)
    counted = {split: counts.images for split, counts in report.splits.items()}
    for warning in count_warnings(name, counted):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    return 0


def export_dataset(
    name: str, root: str | os.PathLike[str], split: str, out: str | os.PathLike[str], **options: Any
) -> int:
    """Write SPLIT's ground truth to OUT (JSONL, .gz accepted); returns the number of records written.

    Raises LayoutError / ValueError (unknown split) / KeyError (unknown dataset) for the caller to report.
    """
    return export_jsonl(get_adapter(name, **options), root, split, out)


def write_demo_data(out_dir: str | os.PathLike[str], n: int | None = None, seed: int = 0) -> dict[str, Path]:
    """Write the embedded demo, one folder per dataset (each a valid --root); returns name -> folder."""
    return write_demo(out_dir, n=n, seed=seed)


if __name__ == "__main__":  # python -m bench.datasets.cli check NAME ROOT
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(check_dataset(sys.argv[2], sys.argv[3]))
    Console().print(list_datasets())
