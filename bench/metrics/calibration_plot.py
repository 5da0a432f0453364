"""Reliability diagram of classification results (`notes['reliability_diagram']`) as SVG or PNG bytes.

A pure function of the results' data: no pyplot state, fixed SVG ids and no dates in the metadata, so the same
data give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import matplotlib
from matplotlib.figure import Figure

FORMATS = ("svg", "png")


def reliability_diagram(
    reliability: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    labels: Sequence[str] | None = None,
    fmt: Literal["svg", "png"] = "svg",
    title: str = "Reliability diagram",
    dpi: int = 96,
) -> bytes:
    """Observed frequency against mean predicted probability per bin, one line per label, with the bins'
    bootstrap 95 % CIs as error bars and the case counts per bin below (bins with no case left out)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: choose svg or png")
    names = [name for name in (labels if labels is not None else list(reliability)) if name in reliability]
    fig = Figure(figsize=(6.0, 6.4))
    grid = fig.add_gridspec(2, 1, height_ratios=(3.2, 1.0), hspace=0.08)
    ax, counts_ax = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="perfect calibration")
    for name in names:
        bins = [b for b in reliability[name] if b.get("count") and b.get("mean_predicted") is not None]
        if not bins:
            continue
        x = [b["mean_predicted"] for b in bins]
        y = [b["observed"] for b in bins]
        # a percentile interval need not contain the estimate: clip the bars at it
        low = [
            max(b["observed"] - b["observed_ci95"][0], 0.0) if b.get("observed_ci95") else 0.0 for b in bins
        ]
        high = [
            max(b["observed_ci95"][1] - b["observed"], 0.0) if b.get("observed_ci95") else 0.0 for b in bins
        ]
        line = ax.errorbar(x, y, yerr=[low, high], marker="o", ms=3.5, lw=1.2, capsize=2, label=name)
        centres = [(b["lower"] + b["upper"]) / 2 for b in reliability[name]]
        widths = [b["upper"] - b["lower"] for b in reliability[name]]
        counts_ax.bar(
            centres,
            [b.get("count") or 0 for b in reliability[name]],
            width=widths,
            fill=False,
            edgecolor=line.lines[0].get_color(),
            lw=1.0,
        )
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="observed frequency", title=title)
    ax.tick_params(labelbottom=False)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    counts_ax.set(xlim=(0, 1), xlabel="mean predicted probability", ylabel="cases")
    counts_ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "cxrbench-reliability", "svg.fonttype": "path"}):
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()
