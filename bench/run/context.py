"""What a run needs besides the loop: its error type, the torchrun context, and model construction."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

from bench.errors import BadInputError, FailedError
from bench.models import load_model
from bench.models.base import ModelAdapter


class RunError(BadInputError):
    """A run that cannot start (a bad option, dataset, split, model or output folder), with what to do (exit 2)."""


class RunFailed(FailedError):
    """A run that started and could not finish (exit 1)."""


class FineTuneUnsupported(RunError):
    """The model cannot be fine-tuned in-process (external models: the documented hook is a predictions file)."""


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


def _adapter_class(spec: str) -> type[ModelAdapter] | None:
    from importlib import import_module

    from bench.models import MODEL_KINDS

    kind = spec.partition(":")[0]
    if kind not in MODEL_KINDS:  # a plugin may add it
        from bench.plugins import load_plugins

        load_plugins()
    if kind not in MODEL_KINDS:
        return None
    module_name, class_name = MODEL_KINDS[kind].split(":")
    return getattr(import_module(module_name), class_name)


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _convert(kind: str, name: str, text: str, annotation: Any) -> Any:
    """One `--option NAME=TEXT` value -> the type the adapter's constructor declares (int, float, bool, str,
    or one of them | None, where `none` / empty text means None)."""
    hint = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    optional = "None" in hint
    if optional and text.strip().lower() in ("", "none", "null"):
        return None
    base = hint.replace("| None", "").replace("None |", "").strip()
    try:
        if base == "bool":
            lowered = text.strip().lower()
            if lowered not in _TRUE + _FALSE:
                raise ValueError
            return lowered in _TRUE
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
    except ValueError:
        wanted = {"bool": "true or false", "int": "an integer", "float": "a number"}[base]
        raise ValueError(f"model {kind}: option {name}={text!r} is not {wanted}") from None
    return text


def model_options(spec: str, raw: dict[str, str]) -> dict[str, Any]:
    """`--option KEY=VALUE` texts -> typed keyword arguments of the model adapter named by `spec`; an unknown
    name is a one-sentence error listing the adapter's options."""
    cls = _adapter_class(spec)
    kind = spec.partition(":")[0]
    if cls is None or not raw:
        return dict(raw)
    params = inspect.signature(cls.__init__).parameters
    allowed = {n: p for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n != "device"}
    typed: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in allowed:
            listing = ", ".join(sorted(allowed)) or "none"
            raise ValueError(f"model {kind}: has no option {name!r} (its options: {listing})")
        typed[name] = _convert(kind, name, text, allowed[name].annotation)
    return typed


def construct_model(spec: str, device: str, **options: Any) -> ModelAdapter:
    """load_model, passing `device` only to adapters whose constructor accepts it."""
    cls = _adapter_class(spec)
    if cls is not None:
        params = inspect.signature(cls.__init__).parameters
        if "device" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            options = {"device": device, **options}
    return load_model(spec, **options)
