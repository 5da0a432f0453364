"""The task table: the one place that says what each task is, which metrics lead it, which way each metric is
better, and which options change its numbers (with their allowed values and defaults).

Everything else reads it: the CLI's choices, the runner, suites, `compare`, the leaderboards and the report. It
imports nothing heavy, so the CLI can build its options from it at start-up. In the spirit of RadEval's metric
registry and lm-evaluation-harness's task configs; adding a task or a metric is one entry here (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("zero-shot", "fine-tune")  # the paper's two evaluation settings: direct inference, fine-tuned


@dataclass(frozen=True)
class Option:
    """A setting that changes a task's numbers: recorded in every results and comparison file."""

    name: str  # ScoreSettings attribute / results `settings` key
    flag: str  # the CLI option
    choices: tuple[str, ...]
    default: str | None  # None: decided from the data (see help)
    help: str


OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option(
            "froc_hit",
            "--froc-hit",
            ("center_in_object", "center_in_box", "iou@0.5"),
            "center_in_object",
            "FROC hit rule: the predicted box centre inside the annotated object (its ellipse or polygon when "
            "the ground truth has one), inside its bounding box, or IoU >= 0.5.",
        ),
        Option(
            "empty_rule",
            "--empty-rule",
            ("exclude", "one"),
            "exclude",
            "Dice when ground truth and prediction are both empty: exclude the image, or count it as 1.",
        ),
        Option(
            "ce_labelset",
            "--ce-labelset",
            ("chexpert", "chestxray14"),
            "chexpert",
            "Label set of the clinical-efficacy labeler (reports).",
        ),
        Option(
            "cluster",
            "--cluster",
            ("patient", "study", "image"),
            None,
            "Resampling unit of every CI and test (default: the coarsest unit the ground truth carries).",
        ),
        Option(
            "level",
            "--level",
            ("image", "study"),
            None,
            "Score per image or per study (default: study for reports whose ground truth names every study).",
        ),
        Option(
            "study_aggregate",
            "--study-aggregate",
            ("max", "mean"),
            "max",
            "How a study's label scores are reduced at study level.",
        ),
    )
}


@dataclass(frozen=True)
class Task:
    name: str
    field: str  # the record field holding its ground truth and predictions ("meta.attributes": inside meta)
    # The metrics `compare` tests by default; a suite's summary shows the first one the results carry.
    headline: tuple[str, ...]
    options: tuple[str, ...]  # OPTIONS that change its numbers (besides bootstrap, seed, cluster and level)
    # False: read from a model's other answers (attributes from its answers to report questions).
    answered_by_models: bool = True
    paired_test: bool = True  # `cxrbench compare` can test two systems on it

    @property
    def in_meta(self) -> bool:
        return self.field.startswith("meta.")

    @property
    def meta_key(self) -> str:
        return self.field.removeprefix("meta.")


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("classification", "labels", ("auc_macro",), ()),
        Task("localization", "boxes", ("ap50", "map_coco"), ("froc_hit",)),
        Task("segmentation", "masks", ("dice_mean",), ("empty_rule",)),
        Task("report", "report", ("bleu4", "cider", "ce_micro_f1"), ("ce_labelset",)),
        Task("attributes", "meta.attributes", ("location_accuracy", "severity_accuracy"), (), False, False),
    )
}
TASK_NAMES = tuple(TASKS)
MODEL_TASKS = tuple(name for name, task in TASKS.items() if task.answered_by_models)


@dataclass(frozen=True)
class Direction:
    lower_is_better: bool = False
    target: float | None = None  # set: the best value is the one closest to it

    def describe(self) -> str:
        if self.target is not None:
            return f"closest to {self.target:g} is best"
        return "lower is better" if self.lower_is_better else "higher is better"


# Metric families (a results metric name, or `stat/label`, starts with its family) whose better value is not the
# higher one; every other metric (AUC, AP, Dice, BLEU, F1, accuracy, ...) is higher-is-better.
# - distances and errors: HD95 (pixels or mm), RadCliQ-v1 (Yu et al. 2023: lower = closer to radiologists);
# - Brier score and ECE (bench.metrics.calibration): 0 for a perfectly calibrated, perfectly sharp model;
# - calibration slope (ideal 1) and intercept (ideal 0), Van Calster et al. 2016 (J Clin Epidemiol 74:167) and
#   2019 (BMC Med 17:230): a slope below 1 means too extreme predictions, above 1 too modest ones; an intercept
#   below 0 overestimated risks, above 0 underestimated ones, so neither higher nor lower is better.
LOWER_IS_BETTER_FAMILIES = ("hd95", "radcliq", "brier", "ece")
TARGET_FAMILIES = {"calibration_slope": 1.0, "calibration_intercept": 0.0}
CALIBRATION_FAMILIES = ("brier", "ece", "calibration_slope", "calibration_intercept")


def metric_family(metric: str) -> str:
    return metric.split("/")[0]


# Exact metric names with a declared direction: plugin metrics (bench.metrics.extra.register_metric fills it).
# Looked up before the families, so a plugin's name never takes a direction from a prefix it happens to share.
REGISTERED_DIRECTIONS: dict[str, Direction] = {}


def register_direction(metric: str, direction: Direction) -> None:
    """Declare the direction of one metric name; ValueError when the name already has a different one."""
    known = REGISTERED_DIRECTIONS.get(metric)
    if known is not None and known != direction:
        raise ValueError(
            f"metric {metric!r} is already registered as {known.describe()}, not {direction.describe()}"
        )
    REGISTERED_DIRECTIONS[metric] = direction


def metric_direction(metric: str) -> Direction:
    if metric in REGISTERED_DIRECTIONS:
        return REGISTERED_DIRECTIONS[metric]
    family = metric_family(metric)
    for prefix, target in TARGET_FAMILIES.items():
        if family.startswith(prefix):
            return Direction(target=target)
    return Direction(lower_is_better=family.startswith(LOWER_IS_BETTER_FAMILIES))


def default_of(option: str) -> str:
    """The default value of an option that has one (TypeError for those decided from the data)."""
    default = OPTIONS[option].default
    if default is None:
        raise TypeError(f"option {option!r} has no fixed default: it is decided from the data")
    return default
