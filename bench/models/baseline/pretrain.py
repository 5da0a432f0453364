"""`cxrbench train-baseline`: pre-train the reference baseline on the train splits found under a data folder.

Only train splits (and validation splits, for early stopping) are read; test splits never are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.datasets import DATASETS, get_adapter
from bench.models.baseline.model import DEFAULT_CONFIG, BaselineModel
from bench.models.baseline.train import ResizeTo
from bench.run.loader import load_samples
from bench.run.suite import find_roots


def train_baseline(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    datasets: tuple[str, ...] | None = None,
    workers: int = 2,
    config: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train on DATA/<name>/ train splits of every benchmark present; writes OUT; returns a summary."""
    start = time.perf_counter()
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    roots = find_roots(data, datasets or tuple(DATASETS))
    if not roots:
        raise ValueError(f"no benchmark folder ({', '.join(datasets or DATASETS)}) under {data}")
    preprocess = ResizeTo(int(cfg["size"]))
    train, val, used = [], [], {}
    for name, root in roots.items():
        roles = get_adapter(name).roles(root)
        if roles["train"] is None:
            continue
        adapter = get_adapter(name)
        records = list(adapter.records(root, roles["train"]))
        train += load_samples(records, root, preprocess=preprocess, workers=workers, strip=False)
        n_val = 0
        if roles["val"]:
            val_records = list(adapter.records(root, roles["val"]))
            val += load_samples(val_records, root, preprocess=preprocess, workers=workers, strip=False)
            n_val = len(val_records)
        used[name] = {"train": roles["train"], "n_train": len(records), "val": roles["val"], "n_val": n_val}
        if progress:
            progress(f"{name}: {len(records)} {roles['train']} images, {n_val} validation")
    load_seconds = time.perf_counter() - start
    log = BaselineModel.pretrain(
        train, val, out, seed=seed, config=cfg, trained_on=sorted(used), progress=progress
    )
    return {
        "weights": str(Path(out)),
        "datasets": used,
        "load_seconds": round(load_seconds, 2),
        "train_seconds": round(time.perf_counter() - start - load_seconds, 2),
        "log": log,
    }
