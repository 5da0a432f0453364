"""The `cxrbench` command line. Commands stay thin: they parse, call `bench.run`, and report errors cleanly."""

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bench.cli_options import (  # the option types shared by score, run, suite and compare
    AgeBinsOption,
    BertScoreBaselineOption,
    BertScoreIdfOption,
    BertScoreLayersOption,
    BertScoreModelOption,
    CalibrationOption,
    CeLabelsetOption,
    ChexbertBatchOption,
    ChexbertCacheOption,
    ChexbertOption,
    ChexbertTokenizerOption,
    ClusterOption,
    ClusterUnit,
    DeviceOption,
    EmptyRuleOption,
    FrocHitOption,
    LabelSet,
    LabelsOption,
    Level,
    LevelOption,
    MeteorNltkOption,
    MeteorOption,
    Mode,
    NoFindingThresholdOption,
    RadGraphBatchOption,
    RadGraphOption,
    StudyAggregate,
    StudyAggregateOption,
    SubgroupsOption,
    Task,
    _bertscore_settings,
    _chexbert_settings,
    _default,
    _guarded,
    _split_labels,
    score_settings,
)

app = typer.Typer(
    name="cxrbench",
    help="Evaluation and reader-study harness for unified chest X-ray models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()
T = TypeVar("T")


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _print_metrics(results: dict[str, Any]) -> None:
    table = Table(title=f"{results['task']} (n = {results['n']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for name, m in results["metrics"].items():
        value = "—" if m["value"] is None else f"{m['value']:.4f}"
        ci = "—" if m["ci95"] is None else f"[{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}]"
        table.add_row(name, value, ci)
    out.print(table)


@app.command()
def score(
    task: Annotated[Task, typer.Option(help="Which task's metrics to compute.")],
    gt: Annotated[Path, typer.Option(help="Ground-truth JSONL (record format, docs/formats.md).")],
    pred: Annotated[Path, typer.Option(help="Predictions JSONL with the same ids.")],
    out_path: Annotated[Path, typer.Option("--out", help="Results JSON to write.")],
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Bootstrap replicates for 95% CIs (0 = none).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    labels: LabelsOption = None,
    froc_hit: FrocHitOption = _default("froc_hit"),
    empty_rule: EmptyRuleOption = _default("empty_rule"),
    ce_labelset: CeLabelsetOption = _default("ce_labelset"),
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bertscore_idf: BertScoreIdfOption = False,
    bertscore_baseline: BertScoreBaselineOption = None,
    meteor: MeteorOption = True,
    meteor_nltk: MeteorNltkOption = False,
    chexbert: ChexbertOption = None,
    chexbert_tokenizer: ChexbertTokenizerOption = None,
    chexbert_batch_size: ChexbertBatchOption = 32,
    chexbert_cache: ChexbertCacheOption = None,
    device: DeviceOption = "cpu",
    radgraph: RadGraphOption = None,
    radgraph_batch_size: RadGraphBatchOption = 16,
    cluster: ClusterOption = None,
    level: LevelOption = None,
    study_aggregate: StudyAggregateOption = _default("study_aggregate"),
    calibration: CalibrationOption = False,
    subgroups: SubgroupsOption = None,
    age_bins: AgeBinsOption = None,
    nofinding_threshold: NoFindingThresholdOption = 0.5,
    quiet: Annotated[bool, typer.Option(help="Do not print the metric table.")] = False,
) -> None:
    """Score a prediction file against ground truth and write one results JSON."""
    from bench.run.score import score_files

    settings = score_settings(
        bootstrap,
        seed,
        labels=labels,
        froc_hit=froc_hit,
        empty_rule=empty_rule,
        ce_labelset=ce_labelset,
        bertscore=(bertscore_model, bertscore_layers, bertscore_idf, bertscore_baseline),
        meteor=meteor,
        meteor_nltk=meteor_nltk,
        chexbert=(chexbert, chexbert_tokenizer, chexbert_batch_size, chexbert_cache),
        device=device,
        radgraph=(radgraph, radgraph_batch_size),
        cluster=cluster,
        level=level,
        study_aggregate=study_aggregate,
        calibration=calibration,
        subgroups=(subgroups, age_bins, nofinding_threshold),
    )
    results = _guarded(lambda: score_files(task.value, gt, pred, out_path, settings))
    if not quiet:
        _print_metrics(results)
    err.print(f"wrote {out_path}")


@app.command()
def compare(
    task: Annotated[Task, typer.Option(help="Which task's metrics to compare.")],
    gt: Annotated[Path, typer.Option(help="Ground-truth JSONL.")],
    pred_a: Annotated[Path, typer.Option(help="Predictions of model A.")],
    pred_b: Annotated[Path, typer.Option(help="Predictions of model B.")],
    out_path: Annotated[Path, typer.Option("--out", help="Comparison JSON to write.")],
    metrics: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated metric names, built-in or registered by a plugin (default: the task's headline)."
        ),
    ] = None,
    froc_hit: FrocHitOption = _default("froc_hit"),
    empty_rule: EmptyRuleOption = _default("empty_rule"),
    ce_labelset: CeLabelsetOption = _default("ce_labelset"),
    bootstrap: Annotated[int, typer.Option(min=1, help="Paired bootstrap replicates.")] = 1000,
    permutations: Annotated[int, typer.Option(min=1, help="Approximate-randomization permutations.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels (default: all in GT).")] = None,
    cluster: Annotated[
        ClusterUnit | None,
        typer.Option(
            help="Unit the paired tests resample and swap: whole patients, studies or images "
            "(default: patient where the ground truth carries meta.patient, else study, else image)."
        ),
    ] = None,
    level: Annotated[
        Level | None, typer.Option(help="One case per image or per study, as for score (default: as score).")
    ] = None,
    study_aggregate: Annotated[
        StudyAggregate, typer.Option(help="Classification at study level: a study's score per label.")
    ] = _default("study_aggregate"),
    chexbert: ChexbertOption = None,
    chexbert_tokenizer: ChexbertTokenizerOption = None,
    chexbert_batch_size: ChexbertBatchOption = 32,
    chexbert_cache: ChexbertCacheOption = None,
    device: DeviceOption = "cpu",
    radgraph: RadGraphOption = None,
    radgraph_batch_size: RadGraphBatchOption = 16,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bertscore_idf: BertScoreIdfOption = False,
    bertscore_baseline: BertScoreBaselineOption = None,
) -> None:
    """Paired tests between two prediction files on the same cases (bootstrap, approximate randomization, per-label
    AUC test: DeLong, or Obuchowski's clustered test when the unit is a patient or study). Reports: the model
    options are score's; RadCliQ-v1 (lower is better) is tested when BERTScore, CheXbert and RadGraph are given."""
    from bench.run.compare import compare_files

    results = _guarded(
        lambda: compare_files(
            task.value,
            gt,
            pred_a,
            pred_b,
            out_path,
            metrics=_split_labels(metrics),
            n_boot=bootstrap,
            n_perm=permutations,
            seed=seed,
            labels=_split_labels(labels),
            froc_hit=froc_hit.value,
            empty_rule=empty_rule.value,
            ce_labelset=ce_labelset.value,
            cluster=cluster.value if cluster else None,
            level=level.value if level else None,
            study_aggregate=study_aggregate.value,
            **_chexbert_settings(chexbert, chexbert_tokenizer, chexbert_batch_size, chexbert_cache, device),
            radgraph=str(radgraph) if radgraph else None,
            radgraph_batch_size=radgraph_batch_size,
            **_bertscore_settings(bertscore_model, bertscore_layers, bertscore_idf, bertscore_baseline),
        )
    )
    unit = results["settings"]["cluster"]
    plural = {"patient": "patients", "study": "studies"}
    clusters = "" if unit == "image" else f", {results['settings']['n_clusters']} {plural[unit]} resampled"
    table = Table(title=f"{task.value}: A = {pred_a.name}, B = {pred_b.name} (n = {results['n']}{clusters})")
    shown = [f"{k} ↓" if c.get("lower_is_better") else k for k, c in results["comparisons"].items()]
    for col in ("metric", "A", "B", "A − B", "95% CI", "p (bootstrap)", "p (AR)"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for name, c in zip(shown, results["comparisons"].values(), strict=True):
        ci = c["paired_bootstrap"]["ci95"]
        table.add_row(
            name,
            _fmt(c["a"], ".4f"),
            _fmt(c["b"], ".4f"),
            _fmt(c["diff"], "+.4f"),
            "—" if ci is None else f"[{ci[0]:+.4f}, {ci[1]:+.4f}]",
            _fmt(c["paired_bootstrap"]["p_value"], ".4g"),
            _fmt(c["approximate_randomization"]["p_value"], ".4g"),
        )
    if any(c.get("lower_is_better") for c in results["comparisons"].values()):
        table.caption = "↓ lower is better"
    out.print(table)
    for name, why in results.get("unavailable", {}).items():
        err.print(f"{name}: unavailable ({why})", highlight=False, soft_wrap=True)
    err.print(f"wrote {out_path}")


@app.command("label-reports")
def label_reports_command(
    in_path: Annotated[Path, typer.Option("--in", help="JSONL with 'id' and 'report' per line.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="CSV to write: one row per id, one column per label.")
    ],
    labelset: Annotated[LabelSet, typer.Option(help="Which labels to extract.")] = _default("ce_labelset"),
) -> None:
    """Label free-text reports with the offline rule-based labeler (values 1 / 0 / -1 / blank)."""
    from bench.run.label_reports import label_reports_file

    n = _guarded(lambda: label_reports_file(in_path, out_path, labelset.value))
    err.print(f"labelled {n} reports -> {out_path}")


def _adapter_options(options: list[str] | None) -> dict[str, Any]:
    """`--option key=value` pairs for an adapter (e.g. chexpert's uncertain=U-Ones), values as text.

    `get_adapter` checks the names against the adapter's options and converts each value to the option's type
    (true/false for booleans); a bad name or value is a one-line usage error (exit status 2).
    """
    parsed: dict[str, Any] = {}
    for item in options or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--option {item!r} is not KEY=VALUE", param_hint="--option")
        parsed[key.strip().replace("-", "_")] = value.strip()
    return parsed


def _model_options(options: list[str] | None, concurrency: int | None = None) -> dict[str, str]:
    """`--option` texts (typed later against the adapter's constructor) plus `--concurrency`."""
    parsed = _adapter_options(options)
    if concurrency is not None:
        parsed["concurrency"] = str(concurrency)
    return parsed


OptionList = Annotated[
    list[str] | None,
    typer.Option("--option", help="Adapter option KEY=VALUE (repeatable), e.g. uncertain=U-Ones."),
]


ModelOptionList = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        help="Model adapter option KEY=VALUE (repeatable), e.g. unparseable_labels=negative, max_new_tokens=128, "
        "resize=pad, prompts=FILE.yaml, trust_remote_code=true (see docs/models.md).",
    ),
]


data_app = typer.Typer(
    help="Check and export benchmark datasets held in their publishers' layouts.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@app.command("datasets")
def datasets_command() -> None:
    """List the benchmarks (the ten, and any from plugins) with their tasks, splits and expected on-disk layout."""
    from bench.datasets.cli import list_datasets

    out.print(_guarded(list_datasets))


@data_app.command("check")
def data_check(
    name: Annotated[str, typer.Argument(help="Dataset name (see `cxrbench datasets`).")],
    root: Annotated[Path, typer.Option(help="Folder holding the dataset as its publisher ships it.")],
    option: OptionList = None,
) -> None:
    """Validate a dataset folder and print counts per split and label."""
    from bench.datasets.cli import check_dataset

    raise typer.Exit(check_dataset(name, root, **_adapter_options(option)))


@data_app.command("export")
def data_export(
    name: Annotated[str, typer.Argument(help="Dataset name (see `cxrbench datasets`).")],
    root: Annotated[Path, typer.Option(help="Folder holding the dataset as its publisher ships it.")],
    split: Annotated[str, typer.Option(help="Split to export (e.g. test).")],
    out_path: Annotated[Path, typer.Option("--out", help="Ground-truth JSONL to write.")],
    option: OptionList = None,
) -> None:
    """Write one split's ground truth in the record format."""
    from bench.datasets.cli import export_dataset

    def run() -> int:
        try:
            return export_dataset(name, root, split, out_path, **_adapter_options(option))
        except KeyError as exc:
            raise ValueError(str(exc).strip("'\"")) from None

    n = _guarded(run)
    err.print(f"wrote {n} records to {out_path}")


@app.command("demo-data")
def demo_data(
    out_path: Annotated[Path, typer.Option("--out", help="Folder to write the ten demo datasets into.")],
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 0,
) -> None:
    """Write the embedded demo: the ten benchmarks in their publishers' layouts, small and synthetic."""
    from bench.datasets.cli import write_demo_data

    written = write_demo_data(out_path, seed=seed)
    for name, path in written.items():
        out.print(f"{name:12s} {path}")


@app.command()
def run(
    model: Annotated[
        str,
        typer.Option(
            help="baseline:WEIGHTS | predictions:FILE.jsonl | imt-text:FILE.jsonl | hf:DIR | clip:DIR | "
            "hf-detect:DIR | hf-seg:DIR | openai:URL#MODEL | a plugin's KIND:ARG (docs/extending.md)"
        ),
    ],
    dataset: Annotated[str, typer.Option(help="Benchmark name (see `cxrbench datasets`).")],
    root: Annotated[Path, typer.Option(help="The dataset folder in its publisher's layout.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="RUN_DIR: predictions, results/<task>.json, manifest.")
    ],
    split: Annotated[str, typer.Option(help="Split to predict.")] = "test",
    mode: Annotated[
        Mode, typer.Option(help="zero-shot (model as given) or fine-tune (train on the train split).")
    ] = Mode("zero-shot"),
    fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fine-tune: fraction of the train split.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed (fine-tune subset, training, bootstrap).")] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    batch_size: Annotated[
        int, typer.Option(min=1, help="Images per model batch (= per resumable chunk).")
    ] = 16,
    workers: Annotated[int, typer.Option(min=0, help="DataLoader workers for decoding and resizing.")] = 2,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates for the 95% CIs.")] = 1000,
    option: ModelOptionList = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Smoke run: the first N images only (a partial run: never enters a table)."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Served models (openai:): requests in flight at once.")
    ] = None,
    labels: LabelsOption = None,
    froc_hit: FrocHitOption = _default("froc_hit"),
    empty_rule: EmptyRuleOption = _default("empty_rule"),
    ce_labelset: CeLabelsetOption = _default("ce_labelset"),
    bertscore: Annotated[
        bool,
        typer.Option(help="Report: BERTScore (with the bundled MiniLM unless --bertscore-model names one)."),
    ] = True,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bertscore_idf: BertScoreIdfOption = False,
    bertscore_baseline: BertScoreBaselineOption = None,
    meteor: MeteorOption = True,
    meteor_nltk: MeteorNltkOption = False,
    chexbert: ChexbertOption = None,
    chexbert_tokenizer: ChexbertTokenizerOption = None,
    chexbert_batch_size: ChexbertBatchOption = 32,
    chexbert_cache: ChexbertCacheOption = None,
    radgraph: RadGraphOption = None,
    radgraph_batch_size: RadGraphBatchOption = 16,
    cluster: ClusterOption = None,
    level: LevelOption = None,
    study_aggregate: StudyAggregateOption = _default("study_aggregate"),
    calibration: CalibrationOption = False,
    subgroups: SubgroupsOption = None,
    age_bins: AgeBinsOption = None,
    nofinding_threshold: NoFindingThresholdOption = 0.5,
) -> None:
    """Run a model on a benchmark (resumable; sharded under torchrun) and score it."""
    from bench.run.cli_run import run_command

    raise typer.Exit(
        run_command(
            model,
            dataset,
            root,
            out_path,
            split=split,
            mode=mode.value,
            fraction=fraction,
            device=device,
            batch_size=batch_size,
            workers=workers,
            settings=score_settings(
                bootstrap,
                seed,
                labels=labels,
                froc_hit=froc_hit,
                empty_rule=empty_rule,
                ce_labelset=ce_labelset,
                bertscore=(bertscore_model, bertscore_layers, bertscore_idf, bertscore_baseline),
                meteor=meteor,
                meteor_nltk=meteor_nltk,
                chexbert=(chexbert, chexbert_tokenizer, chexbert_batch_size, chexbert_cache),
                device=device,
                radgraph=(radgraph, radgraph_batch_size),
                cluster=cluster,
                level=level,
                study_aggregate=study_aggregate,
                calibration=calibration,
                subgroups=(subgroups, age_bins, nofinding_threshold),
            ),
            bertscore=bertscore,
            model_options=_model_options(option, concurrency),
            limit=limit,
            console=err,
        )
    )


@app.command("train-baseline")
def train_baseline(
    data: Annotated[
        Path, typer.Option(help="Folder of benchmark folders (e.g. the demo data); train splits only.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Weights file to write.")],
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default: the baseline's).")] = None,
    workers: Annotated[int, typer.Option(min=0, help="DataLoader workers.")] = 2,
) -> None:
    """Pre-train the reference baseline on the suite's train splits (never their test splits)."""
    from bench.run.cli_run import train_baseline_command

    raise typer.Exit(
        train_baseline_command(data, out_path, seed=seed, epochs=epochs, workers=workers, console=err)
    )


@app.command()
def suite(
    model: Annotated[str, typer.Option(help="Model spec, e.g. baseline:WEIGHTS.")],
    suite_name: Annotated[str, typer.Option("--suite", help="demo or paper.")],
    data: Annotated[Path, typer.Option(help="Folder holding one folder per benchmark.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Runs go to OUT/<dataset>/<mode>/; OUT/suite.json lists them.")
    ],
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    workers: Annotated[int, typer.Option(min=0, help="DataLoader workers.")] = 2,
    bootstrap: Annotated[
        int | None, typer.Option(min=0, help="Bootstrap replicates (default: the suite's own).")
    ] = None,
    option: ModelOptionList = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Served models (openai:): requests in flight at once.")
    ] = None,
    labels: LabelsOption = None,
    froc_hit: FrocHitOption = _default("froc_hit"),
    empty_rule: EmptyRuleOption = _default("empty_rule"),
    ce_labelset: CeLabelsetOption = _default("ce_labelset"),
    bertscore: Annotated[
        bool,
        typer.Option(help="Report: BERTScore (with the bundled MiniLM unless --bertscore-model names one)."),
    ] = True,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bertscore_idf: BertScoreIdfOption = False,
    bertscore_baseline: BertScoreBaselineOption = None,
    meteor: MeteorOption = True,
    meteor_nltk: MeteorNltkOption = False,
    chexbert: ChexbertOption = None,
    chexbert_tokenizer: ChexbertTokenizerOption = None,
    chexbert_batch_size: ChexbertBatchOption = 32,
    chexbert_cache: ChexbertCacheOption = None,
    radgraph: RadGraphOption = None,
    radgraph_batch_size: RadGraphBatchOption = 16,
    cluster: ClusterOption = None,
    level: LevelOption = None,
    study_aggregate: StudyAggregateOption = _default("study_aggregate"),
    calibration: CalibrationOption = False,
    subgroups: SubgroupsOption = None,
    age_bins: AgeBinsOption = None,
    nofinding_threshold: NoFindingThresholdOption = 0.5,
) -> None:
    """Run every benchmark × task × mode of a suite."""
    from bench.run.cli_run import suite_command

    raise typer.Exit(
        suite_command(
            model,
            suite_name,
            out_path,
            data,
            device=device,
            workers=workers,
            n_boot=bootstrap,
            settings=score_settings(
                0,
                0,
                labels=labels,
                froc_hit=froc_hit,
                empty_rule=empty_rule,
                ce_labelset=ce_labelset,
                bertscore=(bertscore_model, bertscore_layers, bertscore_idf, bertscore_baseline),
                meteor=meteor,
                meteor_nltk=meteor_nltk,
                chexbert=(chexbert, chexbert_tokenizer, chexbert_batch_size, chexbert_cache),
                device=device,
                radgraph=(radgraph, radgraph_batch_size),
                cluster=cluster,
                level=level,
                study_aggregate=study_aggregate,
                calibration=calibration,
                subgroups=(subgroups, age_bins, nofinding_threshold),
            ),
            bertscore=bertscore,
            model_options=_model_options(option, concurrency),
            console=err,
        )
    )


def main() -> None:
    """bench's commands alone; the `cxrbench` program is `cxrbench.cli:main` (with tables and the reader study)."""
    app(prog_name="cxrbench")


if __name__ == "__main__":
    main()
