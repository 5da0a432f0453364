"""What `hf-detect:DIR` and `hf-seg:DIR` share: loading a local checkpoint and its image processor (PIL backend,
never downloaded), mapping the config's `id2label` onto the cxrbench vocabulary, and batching by image size.

Images of one original size always give one processed size, so forwarding each size group on its own means the
processor never pads a batch: every output is then independent of which other images share the batch.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.datasets.vocabulary import STRUCTURES, VOCABULARY
from bench.models.base import Sample
from bench.models.imt_parse import build_synonyms, normalise_name

# Class names that mean "no structure / no object" (compared after normalise_name: "__background__" -> "background").
BACKGROUND_NAMES = frozenset({"background", "bg", "void", "unlabeled", "unlabelled", "no object"})

# Processors cxrbench can load: those with a PIL backend in transformers' image_processing_auto mapping.
PIL_DETECTION_PROCESSORS = "DETR, Conditional / Deformable DETR, RT-DETR, YOLOS"
PIL_SEGMENTATION_PROCESSORS = "SegFormer / UperNet, BEiT, DPT, MobileNetV2, MobileViT"


def missing_checkpoint(kind: str, root: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"{kind}:{root}: no Hugging Face checkpoint there (no config.json); pass {kind}:DIR with a local folder "
        "written by save_pretrained (config.json, weights, preprocessor_config.json) - checkpoints are never "
        "downloaded"
    )


def load_model_and_processor(kind: str, root: Path, auto_model: Any, supported: str) -> tuple[Any, Any]:
    """`auto_model.from_pretrained` + `AutoImageProcessor` (PIL backend) from `root` only; every failure is one
    sentence (ValueError / FileNotFoundError) instead of a transformers traceback."""
    from transformers import AutoImageProcessor

    if not (root / "config.json").is_file():
        raise missing_checkpoint(kind, root)
    if not (root / "preprocessor_config.json").is_file():
        raise FileNotFoundError(
            f"{kind}:{root}: no preprocessor_config.json; save the image processor the model was trained with "
            "next to it (processor.save_pretrained(DIR)): its resize and normalisation decide the inputs"
        )
    try:
        model = auto_model.from_pretrained(root, local_files_only=True)
    except ImportError as exc:
        raise ValueError(
            f"{kind}:{root}: this model needs a library cxrbench does not install ({_first_line(exc)}); "
            "timm and torchvision do not import beside this torch - save the model with a transformers-native "
            "backbone (e.g. DETR with use_timm_backbone=False and a ResNetConfig backbone)"
        ) from None
    except OSError as exc:
        raise FileNotFoundError(f"{kind}:{root}: cannot load the weights: {_first_line(exc)}") from None
    except ValueError as exc:
        raise ValueError(
            f"{kind}:{root}: {auto_model.__name__} cannot load this config: {_first_line(exc)}"
        ) from None
    try:
        processor = AutoImageProcessor.from_pretrained(root, local_files_only=True, backend="pil")
    except ValueError as exc:
        if "torchvision" in str(exc):
            raise ValueError(
                f"{kind}:{root}: its image processor exists only for the torchvision backend (transformers' "
                f"'torchvision' extra), which cxrbench does not install; processors with a PIL version: {supported}"
            ) from None
        raise ValueError(f"{kind}:{root}: cannot load the image processor: {_first_line(exc)}") from None
    return model, processor


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def processor_settings(processor: Any) -> dict[str, Any]:
    """The processor's saved configuration (resize, rescale, normalise, pad, crop), JSON-ready."""
    settings = json.loads(processor.to_json_string())
    return {"class": type(processor).__name__, **settings}


def to_pil_rgb(image: np.ndarray) -> Any:
    """(H, W) float in [0, 1] -> 8-bit RGB PIL image (grey replicated), as images are read for training."""
    from PIL import Image

    grey = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def image_size(kind: str, root: Path, sample: Sample) -> tuple[int, int]:
    """(H, W) of the sample's pixels, checked against the record's declared size."""
    if sample.image is None:
        raise ValueError(f"{kind}:{root} needs pixels but sample {sample.record.id!r} has none")
    if sample.image.ndim != 2:
        raise ValueError(
            f"{kind}:{root}: sample {sample.record.id!r} has pixels of shape {sample.image.shape}, not (H, W)"
        )
    h, w = sample.image.shape
    info = sample.record.image
    if info is not None and (info.height, info.width) != (h, w):
        raise ValueError(
            f"{kind}:{root}: sample {sample.record.id!r} has {w}x{h} pixels but its record says "
            f"{info.width}x{info.height}"
        )
    return int(h), int(w)


def model_inputs(inputs: Mapping[str, Any], model: Any, device: Any) -> dict[str, Any]:
    """Processor tensors on the model's device; pixels in the model's dtype (a checkpoint saved in bf16 / fp16 loads
    in that dtype, and its convolutions refuse float32 inputs)."""
    return {
        key: value.to(device, dtype=model.dtype) if value.is_floating_point() else value.to(device)
        for key, value in inputs.items()
    }


def size_groups(sizes: list[tuple[int, int]], batch_size: int) -> Iterator[list[int]]:
    """Indices of equal-size images, in first-seen order, cut into forward batches of at most `batch_size`."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, size in enumerate(sizes):
        groups.setdefault(size, []).append(i)
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            yield members[start : start + batch_size]


# ----------------------------------------------------------------------------- label names


@dataclass(frozen=True)
class ClassName:
    index: int
    model_name: str
    name: str | None  # the name written into records; None for a background class (never a prediction)
    source: str  # "label_map" | "vocabulary" | "background" | "unmapped"

    def to_json(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "name": self.name, "source": self.source}


def read_label_map(path: str) -> dict[str, str | None]:
    """YAML mapping model label name -> vocabulary name (or null: a background class)."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"label_map {file}: file not found")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"label_map {file}: not valid YAML ({_first_line(exc)})") from None
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in data.items()
    ):
        raise ValueError(
            f"label_map {file}: must be a mapping of model label name -> vocabulary name (or null for background)"
        )
    known = set(VOCABULARY) | set(STRUCTURES)
    for key, value in data.items():
        if value is not None and value not in known:
            raise ValueError(
                f"label_map {file}: {key!r} -> {value!r}: {value!r} is not a cxrbench vocabulary name or structure "
                "(bench/datasets/vocabulary.py)"
            )
    return dict(data)


def map_class_names(
    kind: str, root: Path, id2label: Mapping[int, str], label_map: str | None
) -> tuple[list[ClassName], list[str]]:
    """Class index -> ClassName, and the model names kept unmapped (also warned about, never dropped).

    Order of precedence: the label_map file, a background name, the shared synonym table (vocabulary, every
    dataset's own names, common variants, structures), else the model's own name."""
    explicit = read_label_map(label_map) if label_map is not None else {}
    by_key = {normalise_name(k): v for k, v in explicit.items()}
    model_keys = {normalise_name(str(name)) for name in id2label.values()}
    stray = [k for k in explicit if normalise_name(k) not in model_keys]
    if stray:
        raise ValueError(
            f"label_map {label_map}: {stray} name no class of {kind}:{root} (its id2label has "
            f"{sorted(str(n) for n in id2label.values())})"
        )
    synonyms = build_synonyms()
    classes = []
    for index in sorted(int(i) for i in id2label):
        model_name = str(id2label[index])
        key = normalise_name(model_name)
        if key in by_key:
            classes.append(ClassName(index, model_name, by_key[key], "label_map"))
        elif key in BACKGROUND_NAMES:
            classes.append(ClassName(index, model_name, None, "background"))
        elif key in synonyms:
            classes.append(ClassName(index, model_name, synonyms[key], "vocabulary"))
        else:
            classes.append(ClassName(index, model_name, model_name, "unmapped"))
    unmapped = [c.model_name for c in classes if c.source == "unmapped"]
    if unmapped:
        warnings.warn(
            f"{kind}:{root}: class names not in the cxrbench vocabulary are kept under their own names and "
            f"ignored by the scorer: {unmapped}; map them with label_map=FILE.yaml",
            stacklevel=3,
        )
    return classes, unmapped


def mapping_summary(classes: list[ClassName]) -> dict[str, Any]:
    return {
        "id2label": {str(c.index): c.to_json() for c in classes},
        "unmapped_labels": [c.model_name for c in classes if c.source == "unmapped"],
        "background_classes": [c.model_name for c in classes if c.source != "unmapped" and c.name is None],
    }


def names_without_class(classes: list[ClassName], wanted: list[str]) -> list[str]:
    """Benchmark names (a TaskSpec's box labels or structures) that no class of the model predicts."""
    have = {c.name for c in classes if c.name is not None}
    return [name for name in wanted if name not in have]
