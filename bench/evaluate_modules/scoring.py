"""What the evaluate module scripts share: turn `compute()` inputs into cxrbench records, check the options against
the CLI's allowed values, and score through `bench.run.score.build_results` (the code behind `cxrbench score`)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.records import RecordError, write_records
from bench.tasks import OPTIONS, default_of

# compute() option -> the CLI enum whose values it accepts (same names as `cxrbench score --help`).
COMMON_OPTIONS: dict[str, Any] = {
    "bootstrap": 1000,
    "seed": 0,
    "cluster": None,
    "level": None,
    "ids": None,
    "patients": None,
    "studies": None,
}
TASK_OPTIONS: dict[str, dict[str, Any]] = {
    "classification": {
        "labels": None,
        "calibration": False,
        "study_aggregate": default_of("study_aggregate"),
    },
    "localization": {"labels": None, "froc_hit": default_of("froc_hit")},
    "segmentation": {"empty_rule": default_of("empty_rule"), "pixel_spacing_mm": None},
    "report": {
        "ce_labelset": default_of("ce_labelset"),
        "bertscore_model": None,
        "bertscore_layers": None,
        "bertscore_idf": False,
        "bertscore_baseline": None,
        "meteor": True,
        "meteor_nltk": False,
        "chexbert": None,
        "chexbert_tokenizer": None,
        "chexbert_batch_size": 32,
        "chexbert_cache": None,
        "device": "cpu",
        "radgraph": None,
        "radgraph_batch_size": 16,
    },
}
# Per-case lists passed as options, not as predictions / references.
_PER_CASE = ("ids", "patients", "studies", "pixel_spacing_mm")
_PATHS = (
    "bertscore_model",
    "bertscore_baseline",
    "chexbert",
    "chexbert_tokenizer",
    "chexbert_cache",
    "radgraph",
)


def checked_options(task: str, given: dict[str, Any], n: int) -> dict[str, Any]:
    """Defaults filled in; an unknown option or a value the CLI would refuse is a ValueError naming it."""
    allowed = COMMON_OPTIONS | TASK_OPTIONS[task]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for {task}; known: {', '.join(sorted(allowed))}"
        )
    options = allowed | given
    for name, option in OPTIONS.items():  # the task table's allowed values, as the CLI's
        value = options.get(name)
        if name in options and value is not None and value not in option.choices:
            raise ValueError(f"{name}={value!r}: choose one of {', '.join(option.choices)}")
    if isinstance(options.get("labels"), str):
        options["labels"] = [s.strip() for s in options["labels"].split(",") if s.strip()]
    for name in _PER_CASE:
        if options.get(name) is not None and len(options[name]) != n:
            raise ValueError(f"{name} has {len(options[name])} entries for {n} cases")
    if not isinstance(options["bootstrap"], int) or options["bootstrap"] < 0:
        raise ValueError(f"bootstrap={options['bootstrap']!r}: a number of replicates >= 0")
    return options


def score_settings(options: dict[str, Any]) -> Any:
    from bench.run.settings import ScoreSettings

    fields = {k: v for k, v in options.items() if k not in (*COMMON_OPTIONS, *_PER_CASE)}
    for name in _PATHS:
        if fields.get(name) is not None:
            fields[name] = str(fields[name])
    if "labels" in fields and fields["labels"] is not None:
        fields["labels"] = list(fields["labels"])
    return ScoreSettings(
        n_boot=options["bootstrap"],
        seed=options["seed"],
        cluster=options["cluster"],
        level=options["level"],
        **fields,
    )


def case_ids(options: dict[str, Any], n: int) -> list[str]:
    ids = (
        [str(i) for i in options["ids"]] if options.get("ids") is not None else [f"case{i}" for i in range(n)]
    )
    if len(set(ids)) != n:
        raise ValueError("ids must be unique")
    return ids


def case_meta(options: dict[str, Any], i: int) -> dict[str, Any] | None:
    meta = {
        key: str(options[plural][i])
        for key, plural in (("patient", "patients"), ("study", "studies"))
        if options.get(plural) is not None and options[plural][i] is not None
    }
    return meta or None


def classification_records(
    predictions: Sequence[Sequence[float]],
    references: Sequence[Sequence[float | None]],
    options: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    labels = options["labels"]
    if not labels:
        raise ValueError("labels: name the label of each column, e.g. labels=['Atelectasis', 'Edema']")
    gt, pred = [], []
    for i, (p, r) in enumerate(zip(predictions, references, strict=True)):
        for what, row in (("predictions", p), ("references", r)):
            if len(row) != len(labels):
                raise ValueError(f"{what}[{i}] has {len(row)} values for {len(labels)} labels")
        gt.append({"labels": dict(zip(labels, r, strict=True))})
        pred.append({"labels": dict(zip(labels, p, strict=True))})
    return gt, pred


def localization_records(
    predictions: Sequence[Sequence[dict[str, Any]]], references: Sequence[Sequence[dict[str, Any]]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    gt = [{"boxes": [{"label": b["label"], "bbox": list(b["bbox"])} for b in r]} for r in references]
    pred = [
        {"boxes": [{"label": b["label"], "bbox": list(b["bbox"]), "score": b["score"]} for b in p]}
        for p in predictions
    ]
    return gt, pred


def segmentation_records(
    predictions: Sequence[Sequence[dict[str, Any]]],
    references: Sequence[Sequence[dict[str, Any]]],
    options: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def masks(case: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {m["structure"]: {"size": list(m["size"]), "counts": m["counts"]} for m in case}

    gt, pred = [], []
    spacing = options.get("pixel_spacing_mm")
    for i, (p, r) in enumerate(zip(predictions, references, strict=True)):
        record: dict[str, Any] = {"masks": masks(r)}
        if spacing is not None and spacing[i] is not None:
            size = r[0]["size"] if r else None
            if size is None:
                raise ValueError(f"pixel_spacing_mm[{i}] is given but references[{i}] has no mask to size it")
            record["image"] = {"width": size[1], "height": size[0], "pixel_spacing_mm": list(spacing[i])}
        gt.append(record)
        pred.append({"masks": masks(p)})
    return gt, pred


def report_records(
    predictions: Sequence[str], references: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [{"report": r} for r in references], [{"report": p} for p in predictions]


def _case_error(exc: RecordError) -> ValueError:
    """A RecordError on the temporary files, said in terms of the compute() inputs (line k = case k - 1)."""
    what = Path(exc.path).stem
    where = f"{what}[{exc.line - 1}]" if exc.line is not None else what
    return ValueError(f"{where}: {exc.message}")


def score_cases(
    task: str, predictions: Sequence[Any], references: Sequence[Any], given: dict[str, Any]
) -> dict:
    """The results `cxrbench score` writes for these cases, less `provenance.inputs` (temporary file names)."""
    from bench.run.score import build_results

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    n = len(references)
    if n == 0:
        raise ValueError("no cases to score")
    options = checked_options(task, given, n)
    if task == "classification":
        gt, pred = classification_records(predictions, references, options)
    elif task == "localization":
        gt, pred = localization_records(predictions, references)
    elif task == "segmentation":
        gt, pred = segmentation_records(predictions, references, options)
    else:
        gt, pred = report_records(predictions, references)
    ids = case_ids(options, n)
    for i, (g, p) in enumerate(zip(gt, pred, strict=True)):
        g["id"] = p["id"] = ids[i]
        if meta := case_meta(options, i):
            g["meta"] = meta
    settings = score_settings({k: v for k, v in options.items() if k != "pixel_spacing_mm"})
    with tempfile.TemporaryDirectory(prefix="cxrbench-evaluate-") as folder:
        gt_path, pred_path = Path(folder, "references.jsonl"), Path(folder, "predictions.jsonl")
        try:
            write_records(gt_path, gt)
            write_records(pred_path, pred)
        except ValueError:  # json refuses NaN / infinity
            raise ValueError(
                "predictions and references must be finite numbers (None for an unknown reference label), "
                "not NaN or infinity"
            ) from None
        try:
            results = build_results(task, gt_path, pred_path, settings)
        except RecordError as exc:
            raise _case_error(exc) from None
    results["provenance"].pop("inputs", None)
    return results


# The options every task's module takes, after its own (the modules' `inputs_description`).
COMMON_ARGS_DESCRIPTION = """    bootstrap (int, default 1000): bootstrap replicates for the 95 % CIs (0 = none), as --bootstrap.
    seed (int, default 0): bootstrap seed, as --seed.
    cluster ("patient" | "study" | "image" | None): resampling unit, as --cluster (default: the coarsest unit given
        by patients / studies, else image).
    level ("image" | "study" | None): as --level.
    ids, patients, studies (lists, one entry per case, optional): case ids and the meta.patient / meta.study
        cluster keys of docs/formats.md.
Returns:
    dict with the keys of a `cxrbench score` results file: "schema_version", "task", "n", "metrics" ({name:
    {"value", "ci95"}}), "per_label", "conventions", "settings", "notes", "provenance" (without input files).
"""


def metric_info(description: str, inputs_description: str, features: dict[str, Any]) -> Any:
    """The `evaluate.MetricInfo` of a cxrbench module (no citation: the metrics' own are in the conventions)."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation="",
        inputs_description=inputs_description,
        features=datasets.Features(features),
    )
