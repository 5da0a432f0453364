"""Forest plots of a run's subgroup results (results["subgroups"], docs/leaderboards.md "Subgroup tables"): one
figure per field, one panel per metric (each group's value with its 95 % CI, the overall value as a dashed line
and its CI as a band), plus the underdiagnosis FPR panel where the results have it. Small groups are hollow."""

from __future__ import annotations

import html
from typing import Any

from leaderboards.report.figures import plt, to_data_uri

MAX_METRIC_PANELS = 3  # the first metrics of the results (headline first); all values are in the table below
COLOUR, SMALL_FACE = "#2166ac", "white"


def _panels(results: dict[str, Any], block: dict[str, Any]) -> list[str]:
    names = [m for m in results.get("metrics", {}) if any(
        ((g.get("metrics") or {}).get(m) or {}).get("value") is not None for g in block.get("groups", []))]  # fmt: skip
    return names[:MAX_METRIC_PANELS]


def _draw(ax: Any, labels: list[str], points: list[tuple[Any, Any, bool]], title: str, overall: Any) -> None:
    for y, (value, ci, small) in enumerate(points):
        if value is None:
            ax.text(
                0.02,
                y,
                "undefined",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=8,
                color="grey",
            )
            continue
        if ci:
            ax.plot([ci[0], ci[1]], [y, y], color=COLOUR, lw=1.6)
        face = SMALL_FACE if small else COLOUR
        ax.plot(value, y, "o", color=COLOUR, markerfacecolor=face, ms=7, zorder=3)
    if overall is not None and overall.get("value") is not None:
        ci = overall.get("ci95")
        if ci and None not in ci:
            ax.axvspan(ci[0], ci[1], color="grey", alpha=0.15, lw=0)
        ax.axvline(overall["value"], color="black", ls="--", lw=1.0, label=f"overall {overall['value']:.3f}")
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")


def forest_figure(results: dict[str, Any], field: str) -> str:
    """One field's forest plot as a PNG data URI."""
    block = results["subgroups"]["fields"][field]
    groups = block.get("groups", [])
    labels = [f"{g['value']} (n={g.get('n')})" + (" §" if g.get("small") else "") for g in groups]
    metrics = _panels(results, block)
    fpr = block.get("underdiagnosis")
    count = max(1, len(metrics) + (1 if fpr else 0))
    fig, axes = plt.subplots(
        1, count, figsize=(3.6 * count + 1.2, 0.9 + 0.42 * max(len(groups), 2)), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=False):
        points = [(((g.get("metrics") or {}).get(metric) or {}).get("value"),
                   ((g.get("metrics") or {}).get(metric) or {}).get("ci"), bool(g.get("small"))) for g in groups]  # fmt: skip
        _draw(ax, labels, points, metric, results["metrics"].get(metric))
    if fpr:
        fpr_groups = {str(g["value"]): g for g in fpr.get("groups", [])}
        points = [((fpr_groups.get(str(g["value"])) or {}).get("fpr"), (fpr_groups.get(str(g["value"])) or {}).get("ci"),
                   bool(g.get("small"))) for g in groups]  # fmt: skip
        _draw(axes[0][len(metrics)], labels, points, f"{fpr.get('label')} FPR (underdiagnosis)", None)
    for ax in axes[0][1:]:
        ax.tick_params(labelleft=False)
    fig.suptitle(f"by {field}", fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    return to_data_uri(fig, dpi=80)


def _numbers(results: dict[str, Any], field: str, metrics: list[str]) -> str:
    block = results["subgroups"]["fields"][field]
    head = "<tr><th>group</th><th>n</th><th>small</th>" + "".join(
        f"<th>{html.escape(m)}</th><th>95 % CI</th><th>gap to overall</th><th>p (Holm)</th>" for m in metrics) + "</tr>"  # fmt: skip
    rows = []
    for group in block.get("groups", []):
        cells = [html.escape(str(group["value"])), str(group.get("n")), "yes" if group.get("small") else ""]
        for metric in metrics:
            entry = (group.get("metrics") or {}).get(metric) or {}
            gap = (group.get("gap_to_overall") or {}).get(metric) or {}
            ci = entry.get("ci")
            cells += [_fmt(entry.get("value")), "—" if not ci else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]",
                      _fmt(gap.get("value")), _fmt(gap.get("p_holm"))]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<details><summary>numbers by {html.escape(field)}</summary><table class="subgroups">{head}{"".join(rows)}</table></details>'


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.4f}"


def subgroup_section(results: dict[str, Any]) -> str:
    """The forest plots of a run's results, or "" when the results carry no subgroups."""
    sub = results.get("subgroups")
    if not sub or not sub.get("fields"):
        return ""
    conventions = sub.get("conventions") or {}
    parts = ["<h4>Subgroups</h4>"]
    for field, block in sub["fields"].items():
        uri = forest_figure(results, field)
        parts.append(f'<img class="forest" src="{uri}" alt="forest plot: {html.escape(field)}">')
        parts.append(_numbers(results, field, _panels(results, block)))
    small = conventions.get("small_group") or {}
    parts.append(
        "<p class='note'>Each group's value with its 95 % CI (bootstrap over "
        f"{html.escape(str(conventions.get('cluster', 'image')))}s, {conventions.get('bootstrap_replicates')} "
        "replicates); dashed line and grey band: the overall value and its CI; hollow markers (§): small groups "
        f"(fewer than {small.get('min_cases')} cases or {small.get('min_positives')} positives), reported, not "
        f"dropped. Gaps: {html.escape(str(conventions.get('multiplicity', '')))}.</p>"
    )
    return "".join(parts)
