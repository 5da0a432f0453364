"""`cxrbench run`: one model on one benchmark split in one mode -> predictions, results per task, manifest.

Work is cut into chunks of `batch_size` consecutive records (dataset order). Each chunk is one model batch and
is written atomically to RUN_DIR/parts/ once predicted, so a killed run resumes at the first missing chunk and
batch composition (hence every number) never depends on interruptions or on the number of processes: under
`torchrun`, rank r predicts chunks k with k % WORLD_SIZE == r, and rank 0 merges them in order and scores.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bench.datasets import get_adapter
from bench.models.base import ModelAdapter, Sample, TaskSpec
from bench.models.imt_parse import summarise_answer_meta
from bench.records import Record, RecordError, atomic_write_text, iter_records, record_to_json, write_records
from bench.run import manifest as mf
from bench.run.align import task_value
from bench.run.context import Distributed, RunError, RunFailed, construct_model
from bench.run.finetune import FineTuneRequest, fine_tune
from bench.run.loader import ImageDataset, iter_batches, strip_answers
from bench.run.score import ScoreSettings, score_files
from bench.tasks import MODES


@dataclass
class RunOutcome:
    run_dir: Path
    tasks: list[str]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    rank: int = 0
    unscored: dict[str, str] = field(
        default_factory=dict
    )  # task -> why it has no results (unparseable answers)


class RateColumn(ProgressColumn):
    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} img/s" if speed else "… img/s")


def build_spec(records: list[Record], tasks: list[str]) -> TaskSpec:
    labels = dict.fromkeys(name for r in records for name in (r.labels or {}))
    box_labels = dict.fromkeys(b.label for r in records for b in (r.boxes or []))
    structures = dict.fromkeys(name for r in records for name in (r.masks or {}))
    return TaskSpec(tuple(tasks), list(labels), list(box_labels), list(structures))


def run(
    model_spec: str,
    dataset: str,
    root: str | os.PathLike[str],
    split: str = "test",
    *,
    mode: str = "zero-shot",
    fraction: float = 1.0,
    seed: int = 0,
    out_dir: str | os.PathLike[str] = "run",
    device: str = "cpu",
    batch_size: int = 16,
    workers: int = 2,
    settings: ScoreSettings | None = None,
    train_split: str | None = None,
    val_split: str | None = None,
    fit_options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    limit: int | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> RunOutcome:
    """`model_options` go to the model adapter's constructor; `limit` keeps the first N records of the split for a
    smoke run, recorded as partial (`manifest.partial`) so that it never enters a table."""
    started, t0 = mf.now_iso(), time.perf_counter()
    console = console or Console(stderr=True)
    if mode not in MODES:
        raise RunError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not 0.0 < fraction <= 1.0:
        raise RunError(f"--fraction {fraction} must be in (0, 1]")
    try:
        adapter = get_adapter(dataset)
    except KeyError as exc:
        raise RunError(str(exc.args[0])) from None
    root = Path(root)
    records = list(adapter.records(root, split))
    if not records:
        raise RunError(f"{dataset} split {split!r} under {root} has no records")
    if limit is not None and limit < 1:
        raise RunError(f"--limit {limit} must be at least 1")
    partial = None
    if limit is not None and limit < len(records):
        partial = {"limit": limit, "of": len(records), "rule": "first N records in the dataset's order"}
        records = records[:limit]
    model_options = dict(model_options or {})
    settings = settings or ScoreSettings(seed=seed)
    run_dir = Path(out_dir)
    ctx = Distributed.from_env()
    try:
        model = construct_model(model_spec, device, **model_options)
        ids = [r.id for r in records]
        present = [t for t in adapter.tasks if any(task_value(r, t) is not None for r in records)]
        tasks = [t for t in present if t in model.tasks]
        if not tasks:
            raise RunError(
                f"model {model_spec} answers {sorted(model.tasks)}; {dataset}/{split} has ground truth for {present}"
            )
        spec = build_spec(records, tasks)
        identity = mf.run_identity(
            model=model_spec, dataset=dataset, split=split, mode=mode, fraction=fraction, seed=seed,
            batch_size=batch_size, device=device.split(":")[0], ids_sha256=mf.ids_sha256(ids), tasks=tasks,
            model_options=_identity_options(model_options), limit=limit,
        )  # fmt: skip
        state_path = run_dir / "run_state.json"
        mf.check_identity(state_path, identity)
        finished = _finished(run_dir, tasks)
        if finished is not None:
            return finished
        if ctx.rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            if not state_path.is_file():
                mf.write_state(state_path, identity, status="started")
            write_records(run_dir / "gt.jsonl", records)
        if hasattr(model, "use_cache_dir"):  # served models keep every answer in the run dir (resume, rerun)
            model.use_cache_dir(run_dir)
        t_fit = time.perf_counter()
        request = FineTuneRequest(
            model_spec=model_spec,
            mode=mode,
            adapter=adapter,
            root=root,
            split=split,
            train_split=train_split,
            val_split=val_split,
            fraction=fraction,
            seed=seed,
            spec=spec,
            run_dir=run_dir,
            workers=workers,
            device=device,
            fit_options=fit_options or {},
        )
        model, fine_tune_log = fine_tune(model, request, ctx, console)
        fit_seconds = time.perf_counter() - t_fit
        t_pred = time.perf_counter()
        done_before = _predict(
            model, records, spec, root, run_dir, ctx, batch_size, workers, progress, console
        )
        predict_seconds = time.perf_counter() - t_pred
        ctx.barrier()
        if ctx.rank != 0:
            return RunOutcome(run_dir, tasks, rank=ctx.rank)
        _merge(run_dir, len(records), batch_size, identity)
        t_score = time.perf_counter()
        # after prediction, so requests / cache hits are final; answer counts come from the merged predictions
        # file, which is right after a resume or under torchrun where one process saw only part of the answers
        accounting = summarise_answer_meta(
            rec.meta for _, rec in iter_records(run_dir / "predictions.jsonl", "any")
        )
        description = model.describe()
        description.update({k: v for k, v in accounting.items() if k in description})
        kinds = sorted(accounting.get("score_types") or {})
        if kinds:  # text answers: per-record score types counted over the whole predictions file
            description["score_type"] = kinds[0] if len(kinds) == 1 else "mixed"
        results, unscored = {}, {}
        for task in tasks:
            try:
                results[task] = score_files(
                    task, run_dir / "gt.jsonl", run_dir / "predictions.jsonl",
                    run_dir / "results" / f"{task}.json", settings,
                )  # fmt: skip
            except RecordError as exc:
                if not _unparseable_answers(run_dir / "predictions.jsonl"):
                    raise
                # unparseable answers left values out under the adapter's policy: the run is kept, the task is not
                # scored, and the manifest says why and what to pass to score it
                unscored[task] = (
                    f"{exc}; the model's answers had parse failures (manifest notes.parse_failures): score them "
                    "with --option unparseable_labels=negative, or fix the answers"
                )
                console.print(
                    f"[yellow]warning:[/yellow] {task} not scored: {unscored[task]}", highlight=False
                )
        timings = {
            "started_at": started,
            "finished_at": mf.now_iso(),
            "fine_tune_seconds": round(fit_seconds, 3),
            "predict_seconds": round(predict_seconds, 3),
            "score_seconds": round(time.perf_counter() - t_score, 3),
            "total_seconds": round(time.perf_counter() - t0, 3),
            "chunks_already_done": done_before,
            "images_per_second": round(len(records) / predict_seconds, 2) if predict_seconds > 0 else None,
        }
        manifest = mf.build_manifest(
            model_spec=model_spec,
            model_description=description,
            dataset={
                "name": dataset,
                "title": adapter.title,
                "version": getattr(adapter, "version", None) or adapter.split_source,
                "split": split,
                "root": str(root),
                "n": len(records),
                "ids_sha256": identity["ids_sha256"],
            },
            mode=mode, fraction=fraction, seed=seed, device=device, world_size=ctx.world, batch_size=batch_size,
            tasks=tasks, fine_tune=fine_tune_log,
            files={"gt": run_dir / "gt.jsonl", "predictions": run_dir / "predictions.jsonl"},
            timings=timings,
            notes={
                "score_settings": {t: settings.for_task(t) for t in tasks},
                "score_type": description.get("score_type", "continuous"),
                **{key: value for key, value in accounting.items() if value},
                **({"unscored_tasks": unscored} if unscored else {}),
            },
            model_options=model_options,
            partial=partial,
        )  # fmt: skip
        mf.write_manifest(run_dir / "manifest.json", manifest)
        mf.write_state(state_path, identity, status="complete")
        return RunOutcome(run_dir, tasks, results, manifest, unscored=unscored)
    finally:
        ctx.close()


def _identity_options(options: dict[str, Any]) -> dict[str, Any]:
    """Model options that change outputs make a different run; how fast answers are fetched does not."""
    speed_only = ("concurrency", "timeout", "max_retries", "backoff", "api_key_env", "cache")
    return {k: v for k, v in sorted(options.items()) if k not in speed_only}


def _unparseable_answers(predictions: Path) -> bool:
    return any((rec.meta or {}).get("parse_failures") for _, rec in iter_records(predictions, "any"))


def _finished(run_dir: Path, tasks: list[str]) -> RunOutcome | None:
    """A completed run (same identity) is reused as is: its results are read back, nothing is recomputed."""
    import json

    if mf.read_state(run_dir / "run_state.json").get("status") != "complete":
        return None
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    unscored = manifest.get("notes", {}).get("unscored_tasks", {})
    paths = {t: run_dir / "results" / f"{t}.json" for t in tasks if t not in unscored}
    if not all(p.is_file() for p in paths.values()):
        return None
    results = {t: json.loads(p.read_text(encoding="utf-8")) for t, p in paths.items()}
    return RunOutcome(run_dir, tasks, results, manifest, unscored=unscored)


def _chunk_path(run_dir: Path, k: int) -> Path:
    return run_dir / "parts" / f"chunk-{k:07d}.jsonl"


def _predict(
    model: ModelAdapter,
    records: list[Record],
    spec: TaskSpec,
    root: Path,
    run_dir: Path,
    ctx: Distributed,
    batch_size: int,
    workers: int,
    show: bool,
    console: Console,
) -> int:
    """Predict this rank's missing chunks; returns how many of its chunks were already done."""
    if mf.read_state(run_dir / "run_state.json").get("status") in ("predicted", "complete"):
        return -1
    n_chunks = (len(records) + batch_size - 1) // batch_size
    mine = [k for k in range(n_chunks) if k % ctx.world == ctx.rank]
    todo = [k for k in mine if not _chunk_path(run_dir, k).is_file()]
    (run_dir / "parts").mkdir(parents=True, exist_ok=True)
    dataset = ImageDataset(
        records, root, preprocess=getattr(model, "preprocess", None), load_pixels=model.needs_images
    )
    batches = [list(range(k * batch_size, min((k + 1) * batch_size, len(records)))) for k in todo]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show or ctx.rank != 0, transient=False) as bar:
        task = bar.add_task(f"{spec.tasks and '/'.join(spec.tasks)}", total=sum(len(b) for b in batches))
        for k, batch in zip(todo, iter_batches(dataset, batches, workers), strict=True):
            samples = [Sample(strip_answers(records[i]), pixels) for i, pixels in batch]
            predictions = model.predict(samples, spec)
            got = [p.id for p in predictions]
            if got != [s.record.id for s in samples]:
                raise RunFailed(
                    f"{type(model).__name__}.predict returned ids {got[:3]}… not matching its batch"
                )
            lines = "".join(_json_line(p) for p in predictions)
            atomic_write_text(_chunk_path(run_dir, k), lines)
            bar.advance(task, len(samples))
    return len(mine) - len(todo)


def _json_line(record: Record) -> str:
    import json

    return (
        json.dumps(record_to_json(record), separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    )


def _merge(run_dir: Path, n_records: int, batch_size: int, identity: dict[str, Any]) -> None:
    state = mf.read_state(run_dir / "run_state.json").get("status")
    if state in ("predicted", "complete") and (run_dir / "predictions.jsonl").is_file():
        return
    n_chunks = (n_records + batch_size - 1) // batch_size
    missing = [k for k in range(n_chunks) if not _chunk_path(run_dir, k).is_file()]
    if missing:
        raise RunFailed(
            f"{len(missing)} prediction chunks are missing under {run_dir / 'parts'}; rerun to finish"
        )
    text = "".join(_chunk_path(run_dir, k).read_text(encoding="utf-8") for k in range(n_chunks))
    atomic_write_text(run_dir / "predictions.jsonl", text)
    mf.write_state(run_dir / "run_state.json", identity, status="predicted")
    shutil.rmtree(run_dir / "parts", ignore_errors=True)
