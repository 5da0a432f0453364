"""Run directories as the runner writes them, read back for tables and verification.

RUN_DIR/manifest.json   model spec + describe(), dataset name/split, mode, fraction, seed, versions, timings
RUN_DIR/gt.jsonl        the ground truth that was scored
RUN_DIR/predictions.jsonl
RUN_DIR/results/<task>.json   written by bench.run.score.score_files

The manifest is read tolerantly (a string or a mapping for `model` / `dataset`), so that small layout changes in
the runner do not silently drop runs: anything unreadable is an error naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BadInputError

MANIFEST = "manifest.json"
GT_FILE = "gt.jsonl"
PRED_FILE = "predictions.jsonl"


class RunDirError(BadInputError):
    pass


def normalise_mode(mode: Any) -> str:
    text = str(mode or "zero-shot").strip().lower().replace("_", "-")
    return {"zeroshot": "zero-shot", "finetune": "fine-tune", "fine-tuned": "fine-tune"}.get(text, text)


@dataclass
class RunInfo:
    path: Path
    model_names: list[str]  # the model spec string first, then any name from describe()
    dataset: str
    split: str | None
    mode: str
    fraction: float | None
    seed: int | None
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def model(self) -> str:
        return self.model_names[0]

    def results_path(self, task: str) -> Path:
        return self.path / "results" / f"{task}.json"


def _model_names(model: Any) -> list[str]:
    if isinstance(model, str):
        return [model]
    if isinstance(model, dict):
        names = [model.get("spec"), model.get("name"), model.get("kind")]
        describe = model.get("describe")
        if isinstance(describe, dict):
            names += [describe.get("spec"), describe.get("name")]
        return [str(n) for n in names if n]
    return []


def read_run(path: str | Path) -> RunInfo:
    folder = Path(path)
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{folder} is not a run directory: {MANIFEST} is missing") from None
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{manifest_path}: not valid JSON ({exc})") from None
    names = _model_names(manifest.get("model"))
    if not names:
        raise RunDirError(f"{manifest_path}: no model spec ('model' or 'model.spec')")
    dataset = manifest.get("dataset")
    if isinstance(dataset, dict):
        name, split = dataset.get("name"), dataset.get("split")
    else:
        name, split = dataset, manifest.get("split")
    if not name:
        raise RunDirError(f"{manifest_path}: no dataset name ('dataset' or 'dataset.name')")
    fraction = manifest.get("fraction", manifest.get("train_fraction"))
    seed = manifest.get("seed")
    return RunInfo(
        path=folder,
        model_names=names,
        dataset=str(name),
        split=None if split is None else str(split),
        mode=normalise_mode(manifest.get("mode")),
        fraction=None if fraction is None else float(fraction),
        seed=None if seed is None else int(seed),
        manifest=manifest,
    )


def discover_runs(paths: list[str | Path]) -> list[RunInfo]:
    """Each path is a run directory or a folder searched recursively for run directories; sorted by path.

    Partial runs (`cxrbench run --limit N` smoke runs, `manifest.partial`) are left out: their numbers are of the
    first N images only and never enter a table. `partial_runs` lists them."""
    found: dict[Path, RunInfo] = {}
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"runs folder {root} does not exist")
        manifests = [root / MANIFEST] if (root / MANIFEST).is_file() else sorted(root.rglob(MANIFEST))
        for manifest in manifests:
            run = read_run(manifest.parent)
            if not run.manifest.get("partial"):
                found[run.path.resolve()] = run
    return [found[k] for k in sorted(found)]


def partial_runs(paths: list[str | Path]) -> list[Path]:
    """The `--limit` smoke runs under `paths` that `discover_runs` leaves out."""
    out = []
    for given in paths:
        root = Path(given)
        manifests = [root / MANIFEST] if (root / MANIFEST).is_file() else sorted(root.rglob(MANIFEST))
        out += [m.parent for m in manifests if read_run(m.parent).manifest.get("partial")]
    return out
