"""Model adapters. `load_model("baseline:WEIGHTS" | "predictions:FILE" | "imt-text:FILE" | "hf:DIR" | "clip:DIR"
| "hf-detect:DIR" | "hf-seg:DIR" | "openai:URL#MODEL")`."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from bench.models.base import TASKS, ModelAdapter, Sample, TaskSpec

# prefix -> "module:Class"; modules import lazily (torch / transformers are heavy)
MODEL_KINDS = {
    "baseline": "bench.models.baseline:BaselineModel",
    "predictions": "bench.models.predictions_file:PredictionsFileModel",
    "imt-text": "bench.models.imt_text:ImtTextModel",
    "hf": "bench.models.hf_checkpoint:HfCheckpointModel",
    "clip": "bench.models.clip_zero_shot:ClipZeroShotModel",
    "hf-detect": "bench.models.hf_detect:HfDetectionModel",
    "hf-seg": "bench.models.hf_segment:HfSegmentationModel",
    "openai": "bench.models.openai_served:OpenAIServedModel",
}

__all__ = ["MODEL_KINDS", "TASKS", "ModelAdapter", "Sample", "TaskSpec", "load_model"]


def load_model(spec: str, **options: Any) -> ModelAdapter:
    kind, sep, target = spec.partition(":")
    if kind not in MODEL_KINDS:  # a plugin may add it (bench.plugins)
        from bench.plugins import load_plugins

        load_plugins()
    if not sep or kind not in MODEL_KINDS or not target:
        raise ValueError(f"model spec {spec!r} is not one of " + ", ".join(f"{k}:PATH" for k in MODEL_KINDS))
    module_name, class_name = MODEL_KINDS[kind].split(":")
    cls = getattr(import_module(module_name), class_name)
    return cls(target, **options)
