"""Fixture run directories in the runner's layout, scored with the real `bench.run.score.score_files`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.records import write_records
from bench.run.provenance import sha256_file
from bench.run.score import ScoreSettings, score_files

LABELS = ["Cardiomegaly", "Edema", "Effusion"]


def write_classification(folder: Path, n: int, seed: int, strengths: dict[str, float]) -> dict[str, Path]:
    """One ground truth and, per name, predictions whose separation grows with its strength."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(LABELS))) < 0.35).astype(int)
    folder.mkdir(parents=True, exist_ok=True)
    gt = [{"id": f"c{i:04d}", "labels": dict(zip(LABELS, map(int, y[i]), strict=True))} for i in range(n)]
    write_records(folder / "gt.jsonl", gt)
    paths = {"gt": folder / "gt.jsonl"}
    for name, strength in strengths.items():
        noise = rng.random((n, len(LABELS)))
        scores = np.clip(strength * y + (1 - strength) * noise, 0, 1).round(4)  # strength 0.5+: separable
        pred = [
            {"id": f"c{i:04d}", "labels": dict(zip(LABELS, map(float, scores[i]), strict=True))}
            for i in range(n)
        ]
        write_records(folder / f"{name}.jsonl", pred)
        paths[name] = folder / f"{name}.jsonl"
    return paths


def make_run(
    root: Path,
    name: str,
    *,
    model: str,
    dataset: str,
    gt: Path,
    pred: Path,
    mode: str = "zero-shot",
    fraction: float | None = None,
    seed: int = 0,
    tasks: tuple[str, ...] = ("classification",),
    n_boot: int = 50,
) -> Path:
    run = root / name
    (run / "results").mkdir(parents=True)
    shutil.copyfile(gt, run / "gt.jsonl")
    shutil.copyfile(pred, run / "predictions.jsonl")
    for task in tasks:
        settings = ScoreSettings(n_boot=n_boot, seed=0, meteor=False)
        score_files(
            task, run / "gt.jsonl", run / "predictions.jsonl", run / "results" / f"{task}.json", settings
        )
    manifest = {
        "model": {"spec": model, "describe": {"name": model.split(":")[0]}},
        "dataset": {"name": dataset, "split": "test"},
        "mode": mode,
        "fraction": fraction,
        "seed": seed,
        "files": {
            "gt": {"path": "gt.jsonl", "sha256": sha256_file(run / "gt.jsonl")},
            "predictions": {"path": "predictions.jsonl", "sha256": sha256_file(run / "predictions.jsonl")},
        },
        "command": ["cxrbench", "run", "--model", model, "--dataset", dataset],
        "timings": {"started": "2025-01-01T00:00:00Z"},
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return run


@pytest.fixture
def run_factory(tmp_path: Path) -> Callable[..., Path]:
    def factory(name: str, **kwargs: object) -> Path:
        return make_run(tmp_path / "runs", name, **kwargs)  # type: ignore[arg-type]

    return factory


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def write_all_tasks(folder: Path, n: int, seed: int, names: tuple[str, ...] = ("pred",)) -> dict[str, Path]:
    """Small ground truth with labels, boxes, masks and reports, and per name a noisy prediction of it."""
    rng = np.random.default_rng(seed)
    size = 64
    phrases = {
        "Cardiomegaly": ("the heart is enlarged", "heart size is normal"),
        "Edema": ("mild edema", "no edema"),
    }
    gt = []
    for i in range(n):
        labels = {k: int(rng.random() < 0.4) for k in phrases}
        x0, y0 = rng.uniform(2, 40, 2)
        mask = np.zeros((size, size), bool)
        mask[8 : 40 + i % 5, 10:30] = True
        report = ". ".join(phrases[k][1 - v] for k, v in labels.items()) + "."
        gt.append(
            {
                "id": f"m{i:03d}",
                "image": {"width": size, "height": size},
                "labels": labels,
                "boxes": [{"label": "Nodule", "bbox": [x0, y0, x0 + 12, y0 + 12]}],
                "masks": {"left lung": _rle(mask)},
                "report": report,
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    write_records(folder / "gt.jsonl", gt)
    paths = {"gt": folder / "gt.jsonl"}
    for name in names:
        pred = []
        for rec in gt:
            shift = rng.normal(0, 2, 2)
            x0, y0, x1, y1 = rec["boxes"][0]["bbox"]
            box = [float(np.clip(x0 + shift[0], 0, 50)), float(np.clip(y0 + shift[1], 0, 50))]
            mask = np.zeros((size, size), bool)
            mask[8 + rng.integers(0, 4) : 40, 10 : 30 + rng.integers(0, 4)] = True
            flipped = {k: (1 - v if rng.random() < 0.2 else v) for k, v in rec["labels"].items()}
            pred.append(
                {
                    "id": rec["id"],
                    "labels": {
                        k: float(np.clip(0.5 * v + 0.5 * rng.random(), 0, 1))
                        for k, v in rec["labels"].items()
                    },
                    "boxes": [
                        {
                            "label": "Nodule",
                            "bbox": [*box, box[0] + 12, box[1] + 12],
                            "score": float(rng.random()),
                        }
                    ],
                    "masks": {"left lung": _rle(mask)},
                    "report": ". ".join(phrases[k][1 - v] for k, v in flipped.items()) + ".",
                }
            )
        write_records(folder / f"{name}.jsonl", pred)
        paths[name] = folder / f"{name}.jsonl"
    return paths
