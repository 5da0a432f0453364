"""`cxrbench report RUN_DIR... --out report.html`: one self-contained HTML page per set of runs.

Per run: the results tables (metric, value, 95 % CI; per-label statistics), ROC / PR curves per label, detection
PR curves at IoU 0.5 (COCO matching), Dice distributions per structure, per-case ROUGE-L / CIDEr-D distributions,
a few qualitative examples and the manifest. Plots are PNGs embedded as data URIs; the page loads nothing.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from bench.errors import report
from bench.records import RecordError, atomic_write_text
from bench.tasks import MODEL_TASKS
from leaderboards.runs import GT_FILE, PRED_FILE, RunDirError, RunInfo, discover_runs

TASK_ORDER = (*MODEL_TASKS, "consistency")

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#1b1b1b;max-width:1300px}
h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:8px 0;font-size:0.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}img.overview{border:none}
.wrap{overflow-x:auto;max-width:100%}table.comparison th,table.comparison td{background:#fff}
table.comparison th:first-child,table.comparison td:first-child{position:sticky;left:0;z-index:1}
td.num .ci{display:block;font-size:0.82em;color:#555}tr.section td{font-style:italic;font-weight:600}
details.run{border:1px solid #ddd;padding:4px 10px;margin:6px 0}details.run>summary{font-weight:600;cursor:pointer}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:0.8em;white-space:pre-wrap}
.examples{display:flex;flex-wrap:wrap;gap:16px}.example{flex:1 1 340px;border:1px solid #ddd;padding:8px}
.note{color:#555;font-size:0.85em}.toc a{margin-right:12px}img.forest{display:block;margin:6px 0}
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: Any) -> str:
    """A number cell: 4 decimals shown, the exact value kept in data-value (and title)."""
    if value is None:
        return '<td class="num missing">—</td>'
    return f'<td class="num" data-value="{value!r}" title="{value!r}">{value:.4f}</td>'


def _ci(ci: Any) -> str:
    if not ci:
        return '<td class="num">—</td>'
    lo, hi = ci
    if lo is None or hi is None:
        return '<td class="num">—</td>'
    return f'<td class="num" data-ci="{lo!r},{hi!r}">[{lo:.4f}, {hi:.4f}]</td>'


def _no_value_line(names: list[str], what: str) -> str:
    if not names:
        return ""
    return f'<p class="note">No value ({_esc(what)}): {_esc(", ".join(names))}.</p>'


def metrics_table(results: dict[str, Any]) -> str:
    metrics = results.get("metrics", {})
    rows = [
        f"<tr><td>{_esc(name)}</td>{_num(m.get('value'))}{_ci(m.get('ci95'))}</tr>"
        for name, m in metrics.items()
        if m.get("value") is not None
    ]
    empty = [name for name, m in metrics.items() if m.get("value") is None]
    head = "<tr><th>metric</th><th>value</th><th>95 % CI</th></tr>"
    settings = results.get("settings") or {}
    unit = settings.get("cluster") or "image"
    caption = (
        f"<caption>95 % CIs: bootstrap over {_esc(unit)}s"
        + (f" ({settings['n_clusters']} clusters)" if "n_clusters" in settings else "")
        + f", {settings.get('bootstrap_replicates', 0)} replicates"
        + ("; one case per study" if settings.get("level") == "study" else "")
        + "</caption>"
    )
    return f'<table class="metrics">{caption}{head}{"".join(rows)}</table>' + _no_value_line(
        empty, "undefined for this benchmark or run; see the notes"
    )


def per_label_table(results: dict[str, Any]) -> str:
    per_label = results.get("per_label") or {}
    if not per_label:
        return ""
    stats = list(per_label)
    labels: dict[str, None] = {}
    for values in per_label.values():
        labels.update(dict.fromkeys(values))
    head = "<tr><th>label</th>" + "".join(f"<th>{_esc(s)}</th>" for s in stats) + "</tr>"
    rows = [
        f"<tr><td>{_esc(label)}</td>" + "".join(_num(per_label[s].get(label)) for s in stats) + "</tr>"
        for label in labels
        if any(per_label[s].get(label) is not None for s in stats)
    ]
    empty = [label for label in labels if all(per_label[s].get(label) is None for s in stats)]
    return (
        f'<details><summary>per-label values</summary><table class="per-label">{head}{"".join(rows)}</table>'
        + _no_value_line(empty, "no statistic defined")
        + "</details>"
    )


def _notes(results: dict[str, Any]) -> str:
    undefined = (results.get("notes") or {}).get("undefined") or (results.get("notes") or {}).get(
        "unavailable"
    )
    parts = []
    if undefined:
        parts.append(f'<p class="note">Undefined / unavailable: {_esc(json.dumps(undefined))}</p>')
    conventions = results.get("conventions")
    if conventions:
        parts.append(
            "<details><summary>conventions</summary><pre>"
            + _esc(json.dumps(conventions, indent=2, ensure_ascii=False))
            + "</pre></details>"
        )
    return "".join(parts)


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{_esc(alt)}">'


def _reliability(results: dict[str, Any]) -> str:
    """The reliability diagram of a run scored with --calibration (results.notes.reliability_diagram)."""
    import base64

    from bench.metrics.calibration_plot import reliability_diagram

    reliability = (results.get("notes") or {}).get("reliability_diagram")
    if not reliability:
        return ""
    png = reliability_diagram(reliability, fmt="png")
    binning = ((results.get("conventions") or {}).get("calibration") or {}).get("binning", "")
    return (
        "<h4>Reliability diagram</h4>"
        + _img("data:image/png;base64," + base64.b64encode(png).decode("ascii"), "reliability diagram")
        + f"<p class='note'>Observed frequency against mean predicted probability per bin ({_esc(binning)} bins), "
        "bootstrap 95 % CIs.</p>"
    )


def _plots(task: str, run: RunInfo, results: dict[str, Any]) -> str:
    from leaderboards.report import curves, figures

    gt, pred = run.path / GT_FILE, run.path / PRED_FILE
    settings = results.get("settings") or {}
    try:
        if task == "classification":
            y_true, y_score, labels = curves.classification_data(gt, pred, settings)
            return (
                "<h4>ROC and PR curves per label</h4>"
                + _img(figures.roc_pr_figure(y_true, y_score, labels), "ROC/PR")
                + _reliability(results)
            )
        if task == "localization":
            pr = curves.detection_pr_curves(gt, pred, settings)
            caption = "<p class='note'>Raw precision / recall in score order, COCO matching at IoU 0.5; " \
                "AP50 in the legend is COCO's 101-point interpolated AP.</p>"  # fmt: skip
            return (
                "<h4>Detection PR curves (IoU 0.5)</h4>"
                + _img(figures.detection_pr_figure(pr), "detection PR")
                + caption
            )
        if task == "segmentation":
            dice = curves.dice_per_structure(gt, pred, settings)
            return "<h4>Dice per image, per structure</h4>" + _img(
                figures.distribution_figure(dice, "Dice", "Dice per image"), "Dice distributions"
            )
        if task == "report":
            per_case = curves.report_per_case(gt, pred)
            return "<h4>Per-report ROUGE-L and CIDEr-D</h4>" + _img(
                figures.distribution_figure(per_case, "score", "Per-report NLG metrics"), "report metrics"
            )
    except (RecordError, ValueError, KeyError) as exc:
        return f'<p class="note">Plots unavailable: {_esc(exc)}</p>'
    return ""


def _examples(run: RunInfo) -> str:
    from leaderboards.report.examples import build_examples

    try:
        examples = build_examples(run.path, run.manifest)
    except (RecordError, ValueError) as exc:
        return f'<p class="note">Examples unavailable: {_esc(exc)}</p>'
    if not examples:
        return ""
    blocks = []
    for ex in examples:
        parts = [f"<h4>{_esc(ex.id)}</h4>"]
        if ex.figure:
            parts.append(_img(ex.figure, f"example {ex.id}"))
            parts.append(
                f'<p class="note">{_esc(ex.source)}; green = ground truth, red dashed = prediction</p>'
            )
        if ex.reference_report is not None or ex.generated_report is not None:
            parts.append(
                "<table><tr><th>reference report</th><th>generated report</th></tr>"
                f"<tr><td>{_esc(ex.reference_report or '—')}</td><td>{_esc(ex.generated_report or '—')}</td></tr></table>"
            )
        blocks.append(f'<div class="example">{"".join(parts)}</div>')
    return f'<h3>Qualitative examples</h3><div class="examples">{"".join(blocks)}</div>'


def run_title(run: RunInfo) -> str:
    fraction = (
        f" {run.fraction * 100:g} %" if run.mode == "fine-tune" and run.fraction not in (None, 1.0) else ""
    )
    seed = f", seed {run.seed}" if run.mode == "fine-tune" and run.seed is not None else ""
    return (
        f"{run.model} on {run.dataset}"
        + (f" / {run.split}" if run.split else "")
        + f" ({run.mode}{fraction}{seed})"
    )


def run_section(run: RunInfo, anchor: str) -> str:
    from leaderboards.report.subgroups import subgroup_section

    parts = [
        f'<details class="run" id="{anchor}"><summary>{_esc(run_title(run))}</summary>'
        f'<p class="note">{_esc(run.path)}</p>'
    ]
    tasks = [t for t in TASK_ORDER if run.results_path(t).is_file()]
    tasks += sorted(p.stem for p in (run.path / "results").glob("*.json") if p.stem not in tasks)
    if not tasks:
        parts.append('<p class="note">No results file in this run.</p>')
    for task in tasks:
        results = json.loads(run.results_path(task).read_text(encoding="utf-8"))
        n = results.get("n")
        parts.append(
            f'<h3 id="{anchor}-{_esc(task)}" class="task">{_esc(task)}'
            + (f" (n = {n})" if n else "")
            + "</h3>"
        )
        parts.append(metrics_table(results) + per_label_table(results) + _notes(results))
        parts.append(_plots(task, run, results))
        parts.append(subgroup_section(results))
    parts.append(_examples(run))
    manifest = json.dumps(run.manifest, indent=2, ensure_ascii=False)
    parts.append(
        f"<h3>Manifest</h3><details><summary>manifest.json</summary><pre>{_esc(manifest)}</pre></details>"
    )
    parts.append("</details>")
    return "".join(parts)


def build_report(runs: list[RunInfo]) -> str:
    from leaderboards.report.overview import overview_section

    ordered = sorted(
        runs, key=lambda r: (r.dataset, r.mode != "zero-shot", r.fraction or 0.0, r.model, r.seed or 0)
    )
    sections = []
    for dataset in dict.fromkeys(r.dataset for r in ordered):
        mine = [(k, r) for k, r in enumerate(ordered) if r.dataset == dataset]
        body = "".join(run_section(r, f"run{k}") for k, r in mine)
        sections.append(
            f'<section id="{_esc(dataset)}"><h3>{_esc(dataset)} ({len(mine)} run(s))</h3>{body}</section>'
        )
    models = sorted({r.model for r in runs})
    summary = f"{len(runs)} run(s) of {len(models)} model(s) on {len({r.dataset for r in runs})} benchmark(s)"
    toc = (
        '<a href="#overview">overview</a> <a href="#comparison">side by side</a> <a href="#runs">per run</a>'
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>cxrbench report</title><style>{CSS}</style></head><body>"
        f'<h1>cxrbench report</h1><p class="note">{_esc(summary)}: {_esc(", ".join(models))}</p>'
        f'<p class="toc">{toc}</p>{overview_section(ordered)}'
        f'<h2 id="runs">Per run</h2><p class="note">Each run\'s tables, curves, examples and manifest (click to open).</p>'
        f"{''.join(sections)}</body></html>\n"
    )


def report_command(run_dirs: list[Path], out_html: Path) -> int:
    """Write one self-contained HTML page for the run directories (or folders of them) in RUN_DIRS."""
    try:
        runs = discover_runs(list(run_dirs))
        if not runs:
            raise RunDirError("no run directory found")
        page = build_report(runs)
    except Exception as exc:  # noqa: BLE001 - bench.errors.report re-raises what is not a user's error
        return report(exc)
    atomic_write_text(out_html, page)
    print(f"{len(runs)} run(s) -> {out_html}")
    return 0
