"""DataLoader plumbing: decode (and optionally resize) images in worker processes, batches aligned to chunks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, Dataset

from bench.datasets.io import load_image
from bench.models.base import Sample
from bench.records import Record

# ground truth kept in meta (MIMIC-CXR's finding attributes, read from the report): never shown to a model
ANSWER_META_KEYS = ("attributes",)


def strip_answers(record: Record) -> Record:
    """What a model may see: id, image size and meta; no labels, boxes, masks, report or answers kept in meta."""
    meta = record.meta
    if meta and any(key in meta for key in ANSWER_META_KEYS):
        meta = {k: v for k, v in meta.items() if k not in ANSWER_META_KEYS}
    return Record(id=record.id, image=record.image, meta=meta)


def image_path(root: Path, record: Record) -> Path:
    path = (record.meta or {}).get("path")
    if not path:
        raise ValueError(f"record {record.id!r} has no meta.path: cannot find its image under {root}")
    return root / path


class ImageDataset(Dataset):
    """Item i -> (i, pixels or None); `preprocess` (picklable) runs in the worker after decoding."""

    def __init__(
        self,
        records: Sequence[Record],
        root: str | os.PathLike[str],
        *,
        preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
        load_pixels: bool = True,
    ):
        self.records = list(records)
        self.root = Path(root)
        self.preprocess = preprocess
        self.load_pixels = load_pixels

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray | None]:
        if not self.load_pixels:
            return index, None
        pixels = load_image(image_path(self.root, self.records[index]))
        if self.preprocess is not None:
            pixels = self.preprocess(pixels)
        return index, pixels


def _collate(items: list[tuple[int, np.ndarray | None]]) -> list[tuple[int, np.ndarray | None]]:
    return items


def iter_batches(
    dataset: ImageDataset, batches: Sequence[Sequence[int]], workers: int
) -> Iterator[list[tuple[int, np.ndarray | None]]]:
    """Yield the given index batches in order (so batch composition never depends on workers or resume)."""
    if not batches:
        return
    loader = DataLoader(
        dataset,
        batch_sampler=[list(b) for b in batches],
        num_workers=workers if dataset.load_pixels else 0,
        collate_fn=_collate,
        persistent_workers=False,
        prefetch_factor=4 if workers and dataset.load_pixels else None,
    )
    yield from loader


def load_samples(
    records: Sequence[Record],
    root: str | os.PathLike[str],
    *,
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
    workers: int = 2,
    batch_size: int = 32,
    strip: bool = True,
) -> list[Sample]:
    """All of `records` as Samples with pixels (for training sets, `strip=False` keeps the answers)."""
    dataset = ImageDataset(records, root, preprocess=preprocess)
    batches = [list(range(i, min(i + batch_size, len(records)))) for i in range(0, len(records), batch_size)]
    samples: list[Sample | None] = [None] * len(records)
    for batch in iter_batches(dataset, batches, workers):
        for index, pixels in batch:
            rec = records[index]
            samples[index] = Sample(strip_answers(rec) if strip else rec, pixels)
    return [s for s in samples if s is not None]
