"""What a run needs besides the loop: its error type, the torchrun context, and model construction."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

from bench.models import load_model
from bench.models.base import ModelAdapter


class RunError(ValueError):
    """A run that cannot start or go on, with what to do about it."""


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    initialised_here: bool = False

    @classmethod
    def from_env(cls) -> Distributed:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        ctx = cls(rank, world)
        if world > 1 and "MASTER_ADDR" in os.environ:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo")
                ctx.initialised_here = True
        return ctx

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.initialised_here:
            import torch.distributed as dist

            dist.destroy_process_group()


def construct_model(spec: str, device: str, **options: Any) -> ModelAdapter:
    """load_model, passing `device` only to adapters whose constructor accepts it."""
    from importlib import import_module

    from bench.models import MODEL_KINDS

    kind = spec.partition(":")[0]
    if kind in MODEL_KINDS:
        module_name, class_name = MODEL_KINDS[kind].split(":")
        params = inspect.signature(getattr(import_module(module_name), class_name).__init__).parameters
        if "device" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            options = {"device": device, **options}
    return load_model(spec, **options)
