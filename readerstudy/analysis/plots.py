"""Figures for the reader study report, returned as base64 PNG strings (matplotlib, Agg backend)."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"better": "#2a9d8f", "equal": "#bdbdbd", "worse": "#e76f51"}


def _to_base64(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def forest_plot(rows: list[dict[str, Any]], margin: float, title: str) -> str:
    """Rows of {label, value, ci95 (list or None), kind}; a dashed line at 0 and a dotted one at -margin."""
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.4))
    for i, row in enumerate(reversed(rows)):
        if row["value"] is None:
            continue
        style = {"overall": ("D", "black"), "site": ("s", "#264653"), "reader": ("o", "#6c757d")}
        marker, color = style.get(row.get("kind", "reader"), ("o", "#6c757d"))
        if row.get("ci95"):
            lo, hi = row["ci95"]
            ax.plot([lo, hi], [i, i], color=color, lw=2)
        ax.plot(row["value"], i, marker=marker, color=color, ms=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["label"] for r in reversed(rows)])
    ax.axvline(0.0, color="black", ls="--", lw=1)
    if margin > 0:
        ax.axvline(-margin, color="#e76f51", ls=":", lw=1.5, label=f"non-inferiority margin -{margin:g}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("net preference P(AI better) - P(AI worse), 95 % CI")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _to_base64(fig)


def stacked_preference_bars(rows: list[dict[str, Any]], title: str) -> str:
    """Rows of {label, better, equal, worse} shares; horizontal 100 % stacked bars."""
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.4))
    labels = [r["label"] for r in reversed(rows)]
    left = [0.0] * len(rows)
    for key in ("better", "equal", "worse"):
        widths = [r[key] or 0.0 for r in reversed(rows)]
        ax.barh(
            labels, widths, left=left, color=COLORS[key], label=f"AI {key}" if key != "equal" else "equal"
        )
        for y, (x0, w) in enumerate(zip(left, widths, strict=True)):
            if w >= 0.06:
                ax.text(x0 + w / 2, y, f"{100 * w:.0f}%", ha="center", va="center", fontsize=8)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of reads")
    ax.set_title(title, fontsize=10)
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize=8, frameon=False)
    return _to_base64(fig)
