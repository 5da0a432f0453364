"""The one model interface: a model declares its tasks and turns a batch of samples into prediction records."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.errors import BadInputError
from bench.records import Record
from bench.tasks import MODEL_TASKS

TASKS = MODEL_TASKS  # the tasks a model answers (bench.tasks)


@dataclass
class TaskSpec:
    """What a benchmark asks of a model: which tasks, and the label vocabulary of each."""

    tasks: tuple[str, ...]
    labels: list[str] = field(default_factory=list)  # classification labels
    box_labels: list[str] = field(default_factory=list)  # localization labels
    structures: list[str] = field(default_factory=list)  # segmentation structures


@dataclass
class Sample:
    """One image to predict on. `record` is the ground-truth record stripped to id / image / meta (no answers);
    `image` is float32 (H, W) in [0, 1], brighter = denser, at the original resolution, or None when the model
    does not need pixels (`ModelAdapter.needs_images` False)."""

    record: Record
    image: np.ndarray | None = None


class ModelAdapter(ABC):
    """Base class of every model adapter (`bench/models/`)."""

    #: tasks this model can answer
    tasks: frozenset[str] = frozenset()
    #: False for adapters that read predictions made elsewhere: the runner then skips image decoding
    needs_images: bool = True
    #: True when `fit` is implemented (fine-tune mode trains in-process); otherwise fine-tuned predictions come as a file
    can_train: bool = False

    @abstractmethod
    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        """One prediction record per sample, same ids and order; only the tasks in `spec.tasks & self.tasks`."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-ready identity for the run manifest: spec string, weight / file hashes, settings that change outputs."""

    def fit(
        self, train: list[Sample], val: list[Sample], spec: TaskSpec, *, seed: int, **options: Any
    ) -> dict[str, Any]:
        """Fine-tune on `train` with validation-based early stopping; returns a training log for the manifest."""
        raise BadInputError(f"{type(self).__name__} cannot train: pass fine-tuned predictions as a file")
