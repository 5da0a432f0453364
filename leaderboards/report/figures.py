"""Matplotlib (Agg) figures of the HTML report, each returned as a `data:image/png;base64,...` URI."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.tasks import MODES
from leaderboards.report.curves import binary_curve_points  # noqa: E402

DPI = 72
GT_COLOUR, PRED_COLOUR = "#1a9850", "#d73027"


def to_data_uri(fig: Figure, dpi: int = DPI) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def roc_pr_figure(y_true: np.ndarray, y_score: np.ndarray, labels: Sequence[str]) -> str:
    """ROC and PR curves per label (rows with unknown truth dropped per label; one-class labels skipped)."""
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4.2))
    for j, label in enumerate(labels):
        known = ~np.isnan(y_true[:, j]) & ~np.isnan(y_score[:, j])
        t, s = y_true[known, j], y_score[known, j]
        if t.size == 0 or t.min() == t.max():
            continue
        points = binary_curve_points(t, s)
        roc_ax.plot(points["fpr"], points["tpr"], lw=1.3, label=label)
        pr_ax.plot(points["recall"], points["precision"], lw=1.3, label=label)
    roc_ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    roc_ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(0, 1), ylim=(0, 1.01)
    )
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "lower left")
    return to_data_uri(fig)


def detection_pr_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> str:
    """Detection PR curves at IoU 0.5: label -> (recall, precision, AP50)."""
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for label, (recall, precision, ap50) in curves.items():
        ax.step(recall, precision, where="post", lw=1.3, label=f"{label} (AP50 {ap50:.3f})")
    ax.set(xlabel="recall", ylabel="precision", title="Detection PR at IoU 0.5", xlim=(0, 1), ylim=(0, 1.01))
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=7, loc="lower left")
    return to_data_uri(fig)


def distribution_figure(values: dict[str, np.ndarray], xlabel: str, title: str) -> str:
    """One horizontal box plot plus jittered points per group (NaN dropped)."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.55 * max(1, len(names))))
    data = [np.asarray(values[k], dtype=float)[np.isfinite(values[k])] for k in names]
    ax.boxplot([d if d.size else [np.nan] for d in data], vert=False, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for k, d in enumerate(data):
        ax.scatter(d, k + 1 + rng.uniform(-0.15, 0.15, d.size), s=6, alpha=0.5, color="#4575b4")
    ax.set_yticks(range(1, len(names) + 1), [f"{n} (n={d.size})" for n, d in zip(names, data, strict=True)])
    ax.set(xlabel=xlabel, title=title)
    ax.grid(alpha=0.3, axis="x")
    return to_data_uri(fig)


def example_figure(
    pixels: np.ndarray | None,
    size: tuple[int, int],
    gt_boxes: Sequence[tuple[str, Sequence[float]]],
    pred_boxes: Sequence[tuple[str, Sequence[float], float]],
    gt_masks: dict[str, np.ndarray],
    pred_masks: dict[str, np.ndarray],
    title: str,
) -> str:
    """The image (or a blank canvas of its size) with true (green) and predicted (red, dashed) boxes/contours."""
    width, height = size
    fig, ax = plt.subplots(figsize=(3.6, 3.6 * height / max(width, 1)))
    if pixels is None:
        ax.imshow(np.full((height, width), 0.92), cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(pixels, cmap="gray", extent=(0, width, height, 0))
    for masks, colour, style in ((gt_masks, GT_COLOUR, "solid"), (pred_masks, PRED_COLOUR, "dashed")):
        for mask in masks.values():
            if mask.any():
                ax.contour(
                    mask.astype(float), levels=[0.5], colors=[colour], linewidths=1.0, linestyles=style
                )
    for label, (x0, y0, x1, y1) in gt_boxes:
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=GT_COLOUR, lw=1.4))
        ax.text(x0, y0, label, color=GT_COLOUR, fontsize=6, va="bottom")
    for label, (x0, y0, x1, y1), score in pred_boxes:
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=PRED_COLOUR, lw=1.2, ls="--"))
        ax.text(x0, y1, f"{label} {score:.2f}", color=PRED_COLOUR, fontsize=6, va="top")
    ax.set(xlim=(0, width), ylim=(height, 0), title=title)
    ax.title.set_fontsize(8)
    ax.axis("off")
    return to_data_uri(fig)


MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")


def overview_figure(
    rows: Sequence[str],
    models: Sequence[str],
    series: dict[tuple[str, str, str], tuple[float, float | None, float | None]],
) -> str:
    """Zero-shot beside fine-tuned: per benchmark row, one marker per model at its value with the CI as a bar.

    `series`: (row label, model, mode) -> (value, low, high)."""
    modes = [m for m in MODES if any(k[2] == m for k in series)]
    height = 1.0 + 0.32 * len(rows) * max(1, min(len(models), 4)) ** 0.5
    fig, axes = plt.subplots(
        1, len(modes), figsize=(4.2 * len(modes) + 1.6, height), sharey=True, squeeze=False
    )
    numbers = [v for triple in series.values() for v in triple if v is not None]
    unit = all(0.0 <= v <= 1.0 for v in numbers)
    offsets = np.linspace(-0.25, 0.25, len(models)) if len(models) > 1 else np.zeros(1)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, mode in zip(axes[0], modes, strict=True):
        for k, model in enumerate(models):
            colour, labelled = colours[k % len(colours)], False
            for y, row in enumerate(rows):
                point = series.get((row, model, mode))
                if point is None:
                    continue
                value, low, high = point
                if low is not None and high is not None:
                    ax.plot([low, high], [y + offsets[k]] * 2, color=colour, lw=1.4)
                label = None if labelled else model
                ax.plot(value, y + offsets[k], MARKERS[k % len(MARKERS)], color=colour, ms=6, label=label)
                labelled = True
        ax.set_title("zero-shot" if mode == "zero-shot" else "fine-tuned")
        ax.grid(alpha=0.3, axis="x")
        if unit:
            ax.set_xlim(0, 1.02)
        ax.set_yticks(range(len(rows)), list(rows))
        ax.set_ylim(len(rows) - 0.5, -0.5)
    unique: dict[str, Artist] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            unique.setdefault(label, handle)
    fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=min(len(unique), 4), fontsize=8,
               bbox_to_anchor=(0.5, 1.0), frameon=False)  # fmt: skip
    fig.tight_layout()
    return to_data_uri(fig, dpi=96)
