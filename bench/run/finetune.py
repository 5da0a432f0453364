"""Fine-tune mode: train on the target's train split (seeded fraction, validation-based early stopping), save the
weights in RUN_DIR so a resumed or sharded run predicts with the very same model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from bench.models.base import ModelAdapter, TaskSpec
from bench.run import manifest as mf
from bench.run.context import Distributed, FineTuneUnsupported, RunError, construct_model
from bench.run.loader import load_samples


def seeded_subset(ids: list[str], fraction: float, seed: int) -> list[str]:
    """ceil(fraction * n) ids (at least 1) drawn with a seeded permutation, returned in their original order."""
    if fraction >= 1.0:
        return list(ids)
    keep = max(1, int(np.ceil(fraction * len(ids))))
    chosen = set(np.random.default_rng(seed).permutation(len(ids))[:keep].tolist())
    return [i for k, i in enumerate(ids) if k in chosen]


@dataclass(frozen=True)
class FineTuneRequest:
    """What fine-tuning needs besides the model: the benchmark, the splits, the training draw and where to save."""

    model_spec: str
    mode: str
    adapter: Any
    root: Path
    split: str  # the test split (never trained on)
    train_split: str | None  # None: the adapter's train role
    val_split: str | None  # None: the adapter's validation role, else a seeded hold-out of train
    fraction: float
    seed: int
    spec: TaskSpec
    run_dir: Path
    workers: int
    device: str
    fit_options: dict[str, Any] = field(default_factory=dict)


def fine_tune(
    model: ModelAdapter, request: FineTuneRequest, ctx: Distributed, console: Console
) -> tuple[ModelAdapter, dict[str, Any] | None]:
    """The model to predict with and the fine-tuning record (None in zero-shot mode)."""
    r = request
    model_spec, mode, adapter, root, split = r.model_spec, r.mode, r.adapter, r.root, r.split
    train_split, val_split, fraction, seed, spec = r.train_split, r.val_split, r.fraction, r.seed, r.spec
    run_dir, workers, device, fit_options = r.run_dir, r.workers, r.device, r.fit_options
    if mode != "fine-tune":
        return model, None
    if not model.can_train:
        if not model.needs_images:  # predictions made elsewhere: the file holds the fine-tuned outputs
            return model, {"trained": "externally (predictions file)", "fraction": fraction, "seed": seed}
        raise FineTuneUnsupported(
            f"{model_spec} cannot be fine-tuned in-process: fine-tune it with your own training command, "
            "then pass its predictions as predictions:FILE with --mode fine-tune"
        )
    roles = adapter.roles(root, test=split)
    train_split = train_split or roles["train"]
    val_split = val_split if val_split is not None else roles["val"]
    if train_split is None or train_split == split:
        raise RunError(f"{adapter.name}: no train split distinct from {split!r} to fine-tune on")
    weights, log_path = run_dir / "finetuned.pt", run_dir / "fine_tune.json"
    can_save = hasattr(model, "save")
    if can_save and weights.is_file() and log_path.is_file():  # resumed run: reuse the fine-tuned weights
        return construct_model(f"{model_spec.partition(':')[0]}:{weights}", device), mf.read_state(log_path)
    if ctx.rank == 0 or not can_save:
        train_records = list(adapter.records(root, train_split))
        if val_split:
            val_records = list(adapter.records(root, val_split))
            val_source = f"split {val_split}"
        else:  # a seeded 10 % hold-out of train, set aside before the fraction is drawn
            held = (
                set(seeded_subset([r.id for r in train_records], 0.1, seed + 1))
                if len(train_records) > 2
                else set()
            )
            val_records = [r for r in train_records if r.id in held]
            train_records = [r for r in train_records if r.id not in held]
            val_source = f"seeded 10 % hold-out of {train_split} (seed {seed + 1})"
        kept = set(seeded_subset([r.id for r in train_records], fraction, seed))
        train_records = [r for r in train_records if r.id in kept]
        preprocess = getattr(model, "preprocess", None)
        train = load_samples(train_records, root, preprocess=preprocess, workers=workers, strip=False)
        val = load_samples(val_records, root, preprocess=preprocess, workers=workers, strip=False)
        console.print(
            f"fine-tuning on {len(train)} {train_split} images ({fraction:g}), validation: {val_source}"
        )
        log = model.fit(train, val, spec, seed=seed, **fit_options)
        fine_tune = {
            "train_split": train_split,
            "validation": val_source,
            "fraction": fraction,
            "seed": seed,
            "n_train": len(train),
            "n_val": len(val),
            "train_ids_sha256": mf.ids_sha256([r.id for r in train_records]),
            "log": log,
        }
        if can_save and ctx.rank == 0:
            model.save(weights)  # type: ignore[attr-defined]  # can_save: hasattr(model, "save")
            fine_tune["weights"] = {"path": weights.name, "sha256": mf.sha256_file(weights)}
            mf.write_state(log_path, {}, **fine_tune)
    ctx.barrier()
    if can_save and ctx.rank != 0:
        return construct_model(f"{model_spec.partition(':')[0]}:{weights}", device), mf.read_state(log_path)
    if can_save:
        # predict with the saved weights so a resumed run and an uninterrupted one use the very same model
        return construct_model(f"{model_spec.partition(':')[0]}:{weights}", device), fine_tune
    return model, fine_tune
