"""Extra metrics: a metric a user adds without editing cxrbench (docs/extending.md, "A new metric").

    from bench.metrics.extra import register_metric
    register_metric("sens_at_spec90", "classification", sens_at_spec90)

`cxrbench score` (and `run`, `suite`, `verify`) then adds it to the results of every scored file of that task, with
a 95 % percentile CI over the SAME bootstrap draws as the built-in metrics (`bootstrap_counts` with the run's seed
and resampling clusters): replicate b is the function on the rows `np.repeat(np.arange(n), counts[b])`. The
results' `conventions.extra_metrics[name]` names the function (module, qualname) and the sha256 of its module's
source file as imported, so a number names the code that made it. `cxrbench compare --metrics name` tests it
(`paired_inputs`): both systems scored on the same drawn cases, or with their predictions swapped per case.

The function takes the task's arrays, as `bench.run.scoring.score_aligned` builds them, and returns a float
(NaN: undefined on these cases; the value is then null, and NaN replicates are left out of the CI):

- classification: `fn(y_true, y_score, label_names)`: `y_true` (n, L) float with 1 / 0 and NaN for unknown,
  `y_score` (n, L) float, `label_names` the L labels in column order;
- report: `fn(refs, hyps)`: two `list[str]` of n reference and generated reports;
- segmentation: `fn(gt, pred, spacing)`: `gt` / `pred` map each structure to n COCO RLE dicts (None: no mask; a
  ground-truth None is an image where the structure is not annotated), `spacing` n (row, col) mm or None;
- localization: `fn(detections)`: a `bench.metrics.localization.DetectionSet` of n images (boxes xyxy in pixels);
- attributes: `fn(gt, pred)`: two lists of n `meta.attributes` mappings ({finding: {"location", "severity"}}).
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BadInputError
from bench.metrics.types import MetricValue, TaskResult
from bench.tasks import CALIBRATION_FAMILIES, TASK_NAMES, TASKS, Direction, register_direction

if TYPE_CHECKING:
    from bench.run.align import Aligned
    from bench.run.settings import ScoreSettings

MetricFn = Callable[..., float]

# What a metric function receives, per task (the module docstring says it in full).
TASK_ARGUMENTS = {
    "classification": "(y_true (n, L) float, NaN = unknown; y_score (n, L) float; label_names list[str])",
    "report": "(refs list[str]; hyps list[str])",
    "segmentation": "(gt {structure: [RLE | None] * n}; pred {structure: [RLE | None] * n}; spacing [(mm, mm) | None] * n)",
    "localization": "(detections: bench.metrics.localization.DetectionSet of n images)",
    "attributes": "(gt [meta.attributes] * n; pred [meta.attributes] * n)",
}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Built-in names a plugin can never take (checked again, against every metric actually scored, at scoring time).
_RESERVED = {"classification": CALIBRATION_FAMILIES}
REPLICATE_RULE = (
    "replicate b is the function on the rows np.repeat(arange(n), counts[b]), counts = "
    "bench.metrics.bootstrap.bootstrap_counts(n, bootstrap_replicates, seed, clusters): the draws of every other "
    "metric of these results; the CI is the 2.5th and 97.5th percentile of the finite replicates"
)


@dataclass(frozen=True)
class ExtraMetric:
    name: str
    task: str
    fn: MetricFn
    direction: Direction
    module: str
    qualname: str
    source_sha256: str | None  # of the module's source file when it was registered; None without a file

    def provenance(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "qualname": self.qualname,
            "source_sha256": self.source_sha256,
            "direction": self.direction.describe(),
            "arguments": TASK_ARGUMENTS[self.task],
            "bootstrap": REPLICATE_RULE,
        }


EXTRA_METRICS: dict[str, dict[str, ExtraMetric]] = {task: {} for task in TASK_NAMES}


def _source_sha256(module_name: str) -> str | None:
    path = getattr(sys.modules.get(module_name), "__file__", None)
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def register_metric(
    name: str,
    task: str,
    fn: MetricFn,
    *,
    lower_is_better: bool = False,
    target: float | None = None,
) -> MetricFn:
    """Add metric `name` to every results file of `task` (see the module docstring for `fn`'s arguments).

    `lower_is_better` / `target` (best = closest to it) declare its direction for tables and `compare`
    (bench.tasks.metric_direction). BadInputError for an unknown task, a bad name, a name a built-in metric of the
    task has, or a name another function already holds. Returns `fn`, unchanged.
    """
    where = f"register_metric({name!r}, {task!r})"
    if task not in TASK_NAMES:
        raise BadInputError(f"{where}: task {task!r} is not one of {', '.join(TASK_NAMES)}")
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadInputError(f"{where}: a metric name is a letter then letters, digits or _ (no '/')")
    if not callable(fn):
        raise BadInputError(f"{where}: {fn!r} is not a function")
    if lower_is_better and target is not None:
        raise BadInputError(f"{where}: give lower_is_better or target (best = closest to it), not both")
    if name in TASKS[task].headline or name.startswith(_RESERVED.get(task, ())):
        raise BadInputError(f"{where}: {name!r} is a built-in {task} metric; choose another name")
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or repr(fn)
    held = EXTRA_METRICS[task].get(name)
    if held is not None and (held.module, held.qualname) != (module, qualname):
        raise BadInputError(f"{where}: the name is already registered by {held.module}:{held.qualname}")
    direction = Direction(
        lower_is_better=bool(lower_is_better), target=None if target is None else float(target)
    )
    try:
        register_direction(name, direction)
    except ValueError as exc:
        raise BadInputError(f"{where}: {exc}") from None
    EXTRA_METRICS[task][name] = ExtraMetric(
        name, task, fn, direction, module, qualname, _source_sha256(module)
    )
    return fn


def unregister_metric(name: str, task: str) -> None:
    """Remove a registered metric (and its direction when no other task uses the name)."""
    from bench.tasks import REGISTERED_DIRECTIONS

    EXTRA_METRICS[task].pop(name, None)
    if not any(name in metrics for metrics in EXTRA_METRICS.values()):
        REGISTERED_DIRECTIONS.pop(name, None)


def registered_metrics(task: str) -> dict[str, ExtraMetric]:
    """The extra metrics of `task`, plugins loaded first (bench.plugins)."""
    from bench.plugins import load_plugins

    load_plugins()
    return dict(EXTRA_METRICS.get(task, {}))


def task_arguments(data: Aligned, settings: ScoreSettings) -> tuple[Any, ...]:
    """The arrays a metric function of `data.task` receives, built as `score_aligned` builds them."""
    from bench.run import align

    if data.task == "classification":
        return align.classification_arrays(data, settings.labels)
    if data.task == "report":
        return align.report_texts(data)
    if data.task == "segmentation":
        inputs = align.segmentation_inputs(data)
        return inputs["gt"], inputs["pred"], inputs["spacing"]
    if data.task == "localization":
        from bench.metrics.localization import DetectionSet

        inputs = align.detection_inputs(data, settings.labels)
        inputs.pop("ignored_pred_boxes")
        return (DetectionSet(**inputs),)
    return align.attribute_inputs(data)


def subset(task: str, arguments: tuple[Any, ...], rows: np.ndarray) -> tuple[Any, ...]:
    """The task's arguments restricted to `rows` (case indices, repeats allowed), in that order."""
    picked = [int(i) for i in rows]
    if task == "classification":
        y_true, y_score, labels = arguments
        return y_true[rows], y_score[rows], labels
    if task == "segmentation":
        gt, pred, spacing = arguments
        return (
            {s: [masks[i] for i in picked] for s, masks in gt.items()},
            {s: [masks[i] for i in picked] for s, masks in pred.items()},
            [spacing[i] for i in picked],
        )
    if task == "localization":
        (detections,) = arguments
        fields = ("gt_boxes", "gt_labels", "pred_boxes", "pred_labels", "pred_scores")
        shapes = detections.gt_shapes
        return (
            replace(
                detections,
                **{f: [getattr(detections, f)[i] for i in picked] for f in fields},
                gt_shapes=None if shapes is None else [shapes[i] for i in picked],
            ),
        )
    return tuple([values[i] for i in picked] for values in arguments)  # report, attributes: two lists


def _evaluate(metric: ExtraMetric, arguments: tuple[Any, ...], what: str) -> float:
    try:
        value = metric.fn(*arguments)
        return float(value)
    except Exception as exc:
        # a bug in the plugin's function: its traceback stays, with which metric and which cases
        exc.add_note(
            f"in cxrbench extra metric {metric.name!r} ({metric.module}:{metric.qualname}) on {what}"
        )
        raise


def add_extra_metrics(
    result: TaskResult, data: Aligned, settings: ScoreSettings, clusters: np.ndarray | None
) -> None:
    """Add every registered metric of `data.task` to `result` (value, CI on the run's draws, provenance)."""
    metrics = registered_metrics(data.task)
    if not metrics:
        return
    from bench.metrics.bootstrap import bootstrap_counts, percentile_ci

    for name, metric in metrics.items():
        if name in result.metrics:
            raise BadInputError(
                f"extra metric {name!r} ({metric.module}:{metric.qualname}) has the name of a built-in "
                f"{data.task} metric: register it under another name"
            )
    arguments = task_arguments(data, settings)
    n = len(data.gt)
    counts = (
        bootstrap_counts(n, settings.n_boot, settings.seed, clusters=clusters)
        if settings.n_boot > 0
        else None
    )
    cases = np.arange(n)
    recorded = result.conventions.setdefault("extra_metrics", {})
    for name, metric in metrics.items():
        value = _evaluate(metric, arguments, f"all {n} cases")
        ci = None
        if counts is not None:
            replicates = np.array(
                [
                    _evaluate(
                        metric,
                        subset(data.task, arguments, np.repeat(cases, row)),
                        f"bootstrap replicate {b}",
                    )
                    for b, row in enumerate(counts)
                ]
            )
            ci = percentile_ci(replicates)
        result.metrics[name] = MetricValue(value if math.isfinite(value) else None, ci)
        recorded[name] = metric.provenance()


def concatenate(task: str, first: tuple[Any, ...], second: tuple[Any, ...]) -> tuple[Any, ...]:
    """The task's arguments of `first`'s cases followed by `second`'s (the same label or structure names)."""
    if task == "classification":
        (y_first, s_first, labels), (y_second, s_second, other) = first, second
        if list(labels) != list(other):
            raise ValueError(f"the two systems are scored on different labels: {labels} and {other}")
        return np.vstack([y_first, y_second]), np.vstack([s_first, s_second]), labels
    if task == "segmentation":
        (gt_1, pred_1, spacing_1), (gt_2, pred_2, spacing_2) = first, second
        if list(gt_1) != list(gt_2) or list(pred_1) != list(pred_2):
            raise ValueError("the two systems are scored on different structures")
        return (
            {s: [*gt_1[s], *gt_2[s]] for s in gt_1},
            {s: [*pred_1[s], *pred_2[s]] for s in pred_1},
            [*spacing_1, *spacing_2],
        )
    if task == "localization":
        (one,), (two,) = first, second
        if list(one.label_names) != list(two.label_names):
            raise ValueError(
                f"the two systems are scored on different labels: {one.label_names}, {two.label_names}"
            )
        fields = ("gt_boxes", "gt_labels", "pred_boxes", "pred_labels", "pred_scores")
        shapes = None
        if one.gt_shapes is not None or two.gt_shapes is not None:
            shapes = [*_shapes_or_boxes(one), *_shapes_or_boxes(two)]
        return (replace(one, **{f: [*getattr(one, f), *getattr(two, f)] for f in fields}, gt_shapes=shapes),)
    return tuple([*x, *y] for x, y in zip(first, second, strict=True))  # report, attributes: two lists


def _shapes_or_boxes(detections: Any) -> list[list[Any]]:
    """Per image the annotated shape of each ground-truth box; None (the rectangle) where none is given."""
    if detections.gt_shapes is not None:
        return list(detections.gt_shapes)
    return [[None] * len(boxes) for boxes in detections.gt_boxes]


def paired_inputs(
    metric: ExtraMetric, first: tuple[Any, ...], second: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[Any, np.ndarray], float]]:
    """`bench.metrics.significance`'s (gt, pred_a, pred_b, metric_fn) for a registered metric: systems A and B
    (`first`, `second`: `task_arguments` of the same ground-truth cases) are stacked as 2n cases, case i of A is
    row i and of B row n + i, and a replicate or permutation is a vector of rows. So a resample draws the same
    cases for both systems, and a swap hands a case's B prediction to A (with its own copy of the ground truth)."""
    if metric.direction.target is not None:
        raise ValueError(
            f"no paired test of {metric.name}: its best value is the one closest to {metric.direction.target:g}, "
            "so A - B says nothing about which system is better"
        )
    combined = concatenate(metric.task, first, second)
    n = _case_total(metric.task, first)
    cases = np.arange(n)

    def on_rows(_cases: np.ndarray, rows: np.ndarray) -> float:
        return _evaluate(metric, subset(metric.task, combined, rows), f"{rows.size} cases of a paired test")

    return cases, cases, cases + n, on_rows


def _case_total(task: str, arguments: tuple[Any, ...]) -> int:
    if task == "classification":
        return int(arguments[0].shape[0])
    if task == "segmentation":
        return len(arguments[2])
    if task == "localization":
        return int(arguments[0].n_images)
    return len(arguments[0])
