"""The top of the report: one figure with each benchmark's headline metric and a side-by-side table of models.

The headline metric of a benchmark and task is the one the IMT-CXR protocol table (`leaderboards/specs/
imt-cxr.yaml`) shows for it, else the task's usual one. Several seeds of one model on one benchmark and mode are
shown as their mean with ± sd; fine-tuning at several fractions shows the largest.
"""

from __future__ import annotations

import html
import json
import statistics
from dataclasses import dataclass
from functools import lru_cache

from bench.tasks import MODEL_TASKS, MODES
from leaderboards.runs import RunInfo

TASK_DEFAULTS = {
    "classification": ("auc_macro", "AUC"),
    "localization": ("map_coco", "mAP"),
    "segmentation": ("dice_mean", "Dice"),
    "report": ("ce_micro_f1", "CE-F1"),
}
TASK_ORDER = MODEL_TASKS


@dataclass(frozen=True)
class Point:
    """One model's headline number on one benchmark and mode."""

    value: float
    low: float | None  # CI (one run) or mean - sd (seeds)
    high: float | None
    n_seeds: int
    fraction: float | None


@dataclass(frozen=True)
class Row:
    benchmark: str
    task: str
    metric: str
    label: str


@lru_cache(maxsize=1)
def _protocol_headlines() -> dict[tuple[str, str], tuple[str, str]]:
    from leaderboards.specs import load_spec

    headlines: dict[tuple[str, str], tuple[str, str]] = {}
    for col in load_spec("imt-cxr").columns:
        label = col.label.removesuffix(" (ZS)").removesuffix(" (FT)")
        headlines.setdefault((col.benchmark, col.task), (col.metric, label))
    return headlines


def headline(benchmark: str, task: str, title: str) -> tuple[str, str]:
    """(metric key, row label) for a benchmark and task."""
    found = _protocol_headlines().get((benchmark, task))
    if found is not None:
        return found
    metric, short = TASK_DEFAULTS.get(task, ("", task))
    return metric, f"{title} {short}"


def _title(run: RunInfo) -> str:
    dataset = run.manifest.get("dataset")
    return str(dataset.get("title") or run.dataset) if isinstance(dataset, dict) else run.dataset


def model_name(run: RunInfo) -> str:
    """The model spec, with a weights path shortened to its file name (the full spec is in each run's manifest)."""
    kind, sep, rest = run.model.partition(":")
    return f"{kind}{sep}{rest.rstrip('/').rsplit('/', 1)[-1]}" if "/" in rest else run.model


def _primary_tasks() -> dict[str, str]:
    """benchmark -> the task of its first column in the protocol table."""
    primary: dict[str, str] = {}
    for benchmark, task in _protocol_headlines():
        primary.setdefault(benchmark, task)
    return primary


def figure_rows(rows: list[Row]) -> list[Row]:
    """One row per benchmark for the overview figure: its protocol task, else its first task in TASK_ORDER."""
    primary = _primary_tasks()
    by_benchmark: dict[str, list[Row]] = {}
    for row in rows:
        by_benchmark.setdefault(row.benchmark, []).append(row)
    chosen = {
        next((r for r in rs if r.task == primary.get(b)), min(rs, key=lambda r: TASK_ORDER.index(r.task)))
        for b, rs in by_benchmark.items()
    }
    return [r for r in rows if r in chosen]


def collect(runs: list[RunInfo]) -> tuple[list[Row], list[str], dict[tuple[Row, str, str], Point]]:
    """Rows (benchmark × task), models, and (row, model, mode) -> point."""
    raw: dict[tuple[Row, str, str, float | None], list[tuple[float, list | None]]] = {}
    for run in runs:
        for task in TASK_ORDER:
            path = run.results_path(task)
            if not path.is_file():
                continue
            results = json.loads(path.read_text(encoding="utf-8"))
            metric, label = headline(run.dataset, task, _title(run))
            entry = (results.get("metrics") or {}).get(metric) or {}
            if entry.get("value") is None:
                continue
            row = Row(run.dataset, task, metric, label)
            fraction = run.fraction if run.mode == "fine-tune" else None
            raw.setdefault((row, model_name(run), run.mode, fraction), []).append(
                (entry["value"], entry.get("ci95"))
            )
    points: dict[tuple[Row, str, str], Point] = {}
    for (row, model, mode, fraction), values in sorted(raw.items(), key=lambda kv: kv[0][3] or 0.0):
        if len(values) == 1:
            value, ci = values[0]
            low, high = (ci[0], ci[1]) if ci and None not in ci else (None, None)
            point = Point(value, low, high, 1, fraction)
        else:
            numbers = [v for v, _ in values]
            mean, sd = statistics.fmean(numbers), statistics.stdev(numbers)
            point = Point(mean, mean - sd, mean + sd, len(numbers), fraction)
        points[(row, model, mode)] = point  # sorted by fraction: the largest fraction wins
    rows = sorted({k[0] for k in points}, key=lambda r: (TASK_ORDER.index(r.task), r.label))
    models = sorted({k[1] for k in points})
    return rows, models, points


def comparison_table(rows: list[Row], models: list[str], points: dict[tuple[Row, str, str], Point]) -> str:
    """Benchmarks as rows, one column group per model with its zero-shot and fine-tuned headline numbers."""
    modes = [m for m in MODES if any(k[2] == m for k in points)]
    esc = html.escape
    head = "<tr><th></th>" + "".join(
        f'<th class="group" colspan="{len(modes)}">{esc(m)}</th>' for m in models
    )
    head += (
        "</tr><tr><th>Benchmark</th>"
        + "".join(f"<th>{'ZS' if mode == 'zero-shot' else 'FT'}</th>" for _ in models for mode in modes)
        + "</tr>"
    )
    body = []
    task = None
    for row in rows:
        if row.task != task:
            task = row.task
            body.append(
                f'<tr class="section"><td colspan="{1 + len(models) * len(modes)}">{esc(task)}</td></tr>'
            )
        best = {}
        for mode in modes:
            values = [points[(row, m, mode)].value for m in models if (row, m, mode) in points]
            lower = row.metric.startswith("hd95")
            best[mode] = (min if lower else max)(values) if len(values) > 1 else None
        cells = []
        for model in models:
            for mode in modes:
                point = points.get((row, model, mode))
                if point is None:
                    cells.append('<td class="num missing" title="no run">—</td>')
                    continue
                text = f"{point.value:.3f}"
                best_value = best[mode]
                if best_value is not None and round(point.value, 3) == round(best_value, 3):
                    text = f"<b>{text}</b>"
                if point.low is not None and point.high is not None:
                    spread = f"± sd, {point.n_seeds} seeds" if point.n_seeds > 1 else ""
                    text += f'<span class="ci">[{point.low:.3f}, {point.high:.3f}]{(" " + spread) if spread else ""}</span>'
                if mode == "fine-tune" and point.fraction not in (None, 1.0):
                    text += f'<span class="ci">at {point.fraction * 100:g} %</span>'
                cells.append(f'<td class="num" data-value="{point.value!r}">{text}</td>')
        body.append(f"<tr><td>{esc(row.label)}</td>{''.join(cells)}</tr>")
    return f'<div class="wrap"><table class="comparison"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table></div>'


def overview_section(runs: list[RunInfo]) -> str:
    from leaderboards.report.figures import overview_figure

    rows, models, points = collect(runs)
    if not rows:
        return '<p class="note">No headline metric with a value in these runs.</p>'
    series = {(row.label, model, mode): (p.value, p.low, p.high) for (row, model, mode), p in points.items()}
    figure = overview_figure([r.label for r in figure_rows(rows)], models, series)
    note = (
        "One headline metric per benchmark (the IMT-CXR protocol table's), 95 % bootstrap CI as the bar; "
        "several seeds: mean ± sd. Fine-tuned: the largest training fraction run. The table below has every "
        "task of every benchmark."
    )
    return (
        '<section id="overview"><h2>Overview</h2>'
        f'<img class="overview" src="{figure}" alt="headline metric per benchmark, zero-shot and fine-tuned">'
        f'<p class="note">{html.escape(note)}</p>'
        f'<h2 id="comparison">Models side by side</h2>{comparison_table(rows, models, points)}</section>'
    )
