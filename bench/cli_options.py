"""The command line's option types, shared by `score`, `run`, `suite` and `compare` so that each option is declared
once: choices come from the task table (bench.tasks), errors go through the one error model (bench.errors)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from bench.tasks import MODES, OPTIONS, TASK_NAMES, default_of

T = TypeVar("T")


def _choices(name: str, values: tuple[str, ...]) -> Any:
    """A typer choice type whose values are the task table's (bench.tasks): the CLI never restates a list."""
    return StrEnum(name, [(value, value) for value in values])


if TYPE_CHECKING:  # built at run time from the task table: to the type checker each is just a StrEnum
    Task = StrEnum
    LabelSet = StrEnum
    FrocHit = StrEnum
    ClusterUnit = StrEnum
    Level = StrEnum
    StudyAggregate = StrEnum
    EmptyRule = StrEnum
    Mode = StrEnum
else:
    Task = _choices("Task", TASK_NAMES)
    LabelSet = _choices("LabelSet", OPTIONS["ce_labelset"].choices)
    FrocHit = _choices("FrocHit", OPTIONS["froc_hit"].choices)
    ClusterUnit = _choices("ClusterUnit", OPTIONS["cluster"].choices)
    Level = _choices("Level", OPTIONS["level"].choices)
    StudyAggregate = _choices("StudyAggregate", OPTIONS["study_aggregate"].choices)
    EmptyRule = _choices("EmptyRule", OPTIONS["empty_rule"].choices)
    Mode = _choices("Mode", MODES)


def _default(option: str) -> Any:
    """The enum member of an option's default in the task table."""
    choice_type = {
        "froc_hit": FrocHit,
        "empty_rule": EmptyRule,
        "ce_labelset": LabelSet,
        "study_aggregate": StudyAggregate,
    }[option]
    return choice_type(default_of(option))


def _exit(status: int) -> NoReturn:
    raise typer.Exit(status)


def _guarded(action: Callable[[], T]) -> T:
    """Run a command body; a user's error becomes one line on stderr and its exit status (bench.errors)."""
    from bench.errors import guarded

    return guarded(action, _exit)


def _split_labels(labels: str | None) -> list[str] | None:
    return [s.strip() for s in labels.split(",") if s.strip()] if labels else None


ChexbertOption = Annotated[
    Path | None,
    typer.Option(
        "--chexbert",
        help="Report: CheXbert checkpoint (the authors' chexbert.pth) for F1-CheXbert and RadCliQ-v1 (omit to skip).",
    ),
]
ChexbertTokenizerOption = Annotated[
    Path | None,
    typer.Option(
        help="Report: local bert-base-uncased tokenizer folder (vocab.txt) that goes with --chexbert."
    ),
]
ChexbertBatchOption = Annotated[int, typer.Option(min=1, help="Report: reports per CheXbert forward pass.")]
ChexbertCacheOption = Annotated[
    Path | None,
    typer.Option(
        help="Report: folder caching CheXbert labels of reference reports (default: ~/.cache/cxrbench)."
    ),
]
DeviceOption = Annotated[
    str, typer.Option(help="Report: device of the CheXbert labeller and RadGraph, cpu or cuda.")
]
RadGraphOption = Annotated[
    Path | None,
    typer.Option(
        "--radgraph",
        help="Report: local RadGraph model folder (config.json, vocabulary/, weights.th) for radgraph_f1_* "
        "(omit to skip).",
    ),
]
RadGraphBatchOption = Annotated[int, typer.Option(min=1, help="Report: reports per RadGraph forward pass.")]
BertScoreModelOption = Annotated[
    Path | None,
    typer.Option(help="Report: local model directory for BERTScore (omit to skip BERTScore)."),
]
BertScoreLayersOption = Annotated[int | None, typer.Option(help="Report: BERTScore layer.")]
BertScoreIdfOption = Annotated[bool, typer.Option(help="Report: BERTScore idf weighting.")]
BertScoreBaselineOption = Annotated[
    Path | None, typer.Option(help="Report: baseline-rescaling file (only for published models).")
]
CalibrationOption = Annotated[
    bool,
    typer.Option(
        help="Classification: Brier, ECE, calibration slope / intercept with bootstrap CIs (slower: a "
        "logistic refit per replicate)."
    ),
]
SubgroupsOption = Annotated[
    str | None,
    typer.Option(
        help="Every metric per group of these ground-truth meta fields, comma-separated (e.g. sex,age_bin,view; "
        "age_bin bins meta.age), with CIs, gaps and Holm-adjusted tests on the same bootstrap draws."
    ),
]
AgeBinsOption = Annotated[
    str | None,
    typer.Option(help="--subgroups age_bin: age edges in years, e.g. 0,40,60,80 (default: 0,20,40,60,80)."),
]
NoFindingThresholdOption = Annotated[
    float,
    typer.Option(help="--subgroups, classification: No Finding counts as predicted at score >= this."),
]


def _subgroup_settings(
    subgroups: str | None, age_bins: str | None, nofinding_threshold: float
) -> dict[str, Any]:
    """ScoreSettings' subgroup fields; a bad --age-bins is one line on stderr and exit status 2."""
    edges = None
    if age_bins:
        from bench.run.subgroups import parse_age_edges

        edges = _guarded(lambda: parse_age_edges(age_bins))
    return {
        "subgroups": _split_labels(subgroups),
        "age_bins": edges,
        "nofinding_threshold": nofinding_threshold,
    }


def _chexbert_settings(
    chexbert: Path | None, tokenizer: Path | None, batch_size: int, cache: Path | None, device: str
) -> dict[str, Any]:
    return {
        "chexbert": str(chexbert) if chexbert else None,
        "chexbert_tokenizer": str(tokenizer) if tokenizer else None,
        "chexbert_batch_size": batch_size,
        "chexbert_cache": str(cache) if cache else None,
        "device": device,
    }


def _bertscore_settings(
    model: Path | None, layers: int | None, idf: bool, baseline: Path | None
) -> dict[str, Any]:
    return {
        "bertscore_model": str(model) if model else None,
        "bertscore_layers": layers,
        "bertscore_idf": idf,
        "bertscore_baseline": str(baseline) if baseline else None,
    }


LabelsOption = Annotated[
    str | None, typer.Option(help="Comma-separated labels to score (default: all in GT).")
]
FrocHitOption = Annotated[FrocHit, typer.Option(help="Localization: " + OPTIONS["froc_hit"].help)]
EmptyRuleOption = Annotated[EmptyRule, typer.Option(help="Segmentation: " + OPTIONS["empty_rule"].help)]
CeLabelsetOption = Annotated[LabelSet, typer.Option(help="Report: " + OPTIONS["ce_labelset"].help)]
ClusterOption = Annotated[ClusterUnit | None, typer.Option(help=OPTIONS["cluster"].help)]
LevelOption = Annotated[Level | None, typer.Option(help=OPTIONS["level"].help)]
StudyAggregateOption = Annotated[
    StudyAggregate, typer.Option(help="Classification at study level: " + OPTIONS["study_aggregate"].help)
]
MeteorOption = Annotated[bool, typer.Option(help="Report: run METEOR 1.5 (needs Java).")]
MeteorNltkOption = Annotated[
    bool,
    typer.Option(
        help="Report: also NLTK's METEOR as metric meteor_nltk (Hugging Face evaluate's 'meteor'; needs "
        "WordNet: Debian's wordnet-base or $WNSEARCHDIR)."
    ),
]


def score_settings(
    bootstrap: int,
    seed: int,
    *,
    labels: str | None = None,
    froc_hit: StrEnum | None = None,
    empty_rule: StrEnum | None = None,
    ce_labelset: StrEnum | None = None,
    bertscore: tuple[Path | None, int | None, bool, Path | None] = (None, None, False, None),
    meteor: bool = True,
    meteor_nltk: bool = False,
    chexbert: tuple[Path | None, Path | None, int, Path | None] = (None, None, 32, None),
    device: str = "cpu",
    radgraph: tuple[Path | None, int] = (None, 16),
    cluster: StrEnum | None = None,
    level: StrEnum | None = None,
    study_aggregate: StrEnum | None = None,
    calibration: bool = False,
    subgroups: tuple[str | None, str | None, float] = (None, None, 0.5),
) -> Any:
    """The `ScoreSettings` of the options every scoring command shares (score, run, suite): one mapping from
    command line to settings, so a command cannot forget one."""
    from bench.run.settings import ScoreSettings

    return ScoreSettings(
        n_boot=bootstrap,
        seed=seed,
        labels=_split_labels(labels),
        froc_hit=(froc_hit or _default("froc_hit")).value,
        empty_rule=(empty_rule or _default("empty_rule")).value,
        ce_labelset=(ce_labelset or _default("ce_labelset")).value,
        **_bertscore_settings(*bertscore),
        meteor=meteor,
        meteor_nltk=meteor_nltk,
        **_chexbert_settings(*chexbert, device),
        radgraph=str(radgraph[0]) if radgraph[0] else None,
        radgraph_batch_size=radgraph[1],
        cluster=cluster.value if cluster else None,
        level=level.value if level else None,
        study_aggregate=(study_aggregate or _default("study_aggregate")).value,
        calibration=calibration,
        **_subgroup_settings(*subgroups),
    )
