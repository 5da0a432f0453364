"""`hf-seg:DIR`: a semantic-segmentation network fine-tuned with transformers (SegFormer, BEiT, DPT, MobileViT,
UperNet ...), loaded from a local folder.

The grey image goes in as 8-bit RGB through the checkpoint's own image processor (PIL backend: no torchvision).
The logits are brought back to the original (H, W) by the processor's own `post_process_semantic_segmentation(
outputs, target_sizes=[(H, W)])`: `F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)` then
argmax over classes (transformers/models/segformer/image_processing_pil_segformer.py; the BEiT, DPT, MobileNetV2
and MobileViT processors do the same); a processor without that method gets the same interpolation here. One mask
per class (class index == structure), COCO RLE of the original size; background classes give no mask. A config
with `problem_type: multi_label_classification` has independent sigmoid heads: each class's mask is then
sigmoid(upsampled logit) > 0.5 (the processor's `segmentation_scores` are the upsampled logits).

A processor that centre-crops or pads is refused: its post-processing stretches the logits of the crop / padded
canvas over the whole image, which would misplace every mask.
"""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.metrics.segmentation import encode_mask
from bench.models.base import ModelAdapter, Sample, TaskSpec
from bench.models.hf_checkpoint import checkpoint_hashes
from bench.models.hf_vision_common import (
    PIL_SEGMENTATION_PROCESSORS,
    image_size,
    load_model_and_processor,
    map_class_names,
    mapping_summary,
    model_inputs,
    names_without_class,
    processor_settings,
    size_groups,
    to_pil_rgb,
)
from bench.records import Mask, Record

KIND = "hf-seg"
MULTI_LABEL = "multi_label_classification"


class HfSegmentationModel(ModelAdapter):
    tasks = frozenset({"segmentation"})
    score_type = "continuous"

    def __init__(
        self,
        path: str,
        *,
        batch_size: int = 8,
        label_map: str | None = None,
        device: str = "cpu",
    ):
        import torch
        from transformers import AutoModelForSemanticSegmentation

        if batch_size < 1:
            raise ValueError(f"batch_size ({batch_size}) must be >= 1")
        self.root = Path(path)
        self.batch_size = int(batch_size)
        self.label_map = label_map
        self.device = torch.device(device)
        self.model, self.processor = load_model_and_processor(
            KIND, self.root, AutoModelForSemanticSegmentation, PIL_SEGMENTATION_PROCESSORS
        )
        self._refuse_partial_geometry()
        self.model.to(self.device).eval()
        self.classes, self.unmapped = map_class_names(KIND, self.root, self.model.config.id2label, label_map)
        # several classes may map to one name (e.g. "Effusion" and "pleural effusion"): their masks are joined
        self.indices_by_name: dict[str, list[int]] = {}
        for cls in self.classes:
            if cls.name is not None:
                self.indices_by_name.setdefault(cls.name, []).append(cls.index)
        self.activation = (
            "sigmoid" if getattr(self.model.config, "problem_type", None) == MULTI_LABEL else "argmax"
        )
        post = getattr(self.processor, "post_process_semantic_segmentation", None)
        self.upsampling = "processor.post_process_semantic_segmentation" if post is not None else "adapter"
        self.hashes = checkpoint_hashes(self.root)
        self.counts: Counter[str] = Counter()
        self.structures_without_class: list[str] = []

    def _refuse_partial_geometry(self) -> None:
        for flag in ("do_center_crop", "do_pad"):
            if getattr(self.processor, flag, False):
                raise ValueError(
                    f"{KIND}:{self.root}: the image processor has {flag}=true, so the logits cover a crop or a padded "
                    "canvas that its post-processing would stretch over the whole image; set it to false in "
                    "preprocessor_config.json if the model was trained on whole resized images"
                )

    # ------------------------------------------------------------------ inference

    def class_maps(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Per image: (H, W) int class map (argmax) or (C, H, W) bool (sigmoid), at the original size."""
        import torch

        sizes = [(int(im.shape[0]), int(im.shape[1])) for im in images]
        maps: list[np.ndarray] = [np.empty(0) for _ in images]
        with torch.inference_mode():
            for members in size_groups(sizes, self.batch_size):
                inputs = self.processor(images=[to_pil_rgb(images[i]) for i in members], return_tensors="pt")
                logits = self.model(**model_inputs(inputs, self.model, self.device)).logits.float()
                for offset, i in enumerate(members):
                    maps[i] = self._upsampled(logits[offset : offset + 1], sizes[i])
        return maps

    def _upsampled(self, logits: Any, size: tuple[int, int]) -> np.ndarray:
        """One image's logits (1, C, h, w) -> its class map; one image at a time, so only one full-size
        (C, H, W) score array is alive at once."""
        import torch

        sigmoid = self.activation == "sigmoid"
        if self.upsampling == "adapter" or (sigmoid and not self._processor_returns_scores()):
            scores = torch.nn.functional.interpolate(logits, size=size, mode="bilinear", align_corners=False)
            return (scores[0] > 0).cpu().numpy() if sigmoid else scores[0].argmax(dim=0).cpu().numpy()
        outputs = SimpleNamespace(logits=logits)  # the post-processors read only `.logits`
        if sigmoid:
            result = self.processor.post_process_semantic_segmentation(
                outputs, target_sizes=[size], return_segmentation_scores=True
            )[0]
            return (result["segmentation_scores"] > 0).cpu().numpy()  # sigmoid(x) > 0.5  <=>  x > 0
        return (
            self.processor.post_process_semantic_segmentation(outputs, target_sizes=[size])[0].cpu().numpy()
        )

    def _processor_returns_scores(self) -> bool:
        params = inspect.signature(self.processor.post_process_semantic_segmentation).parameters
        return "return_segmentation_scores" in params

    def _masks(self, class_map: np.ndarray) -> dict[str, Mask | None]:
        masks: dict[str, Mask | None] = {}
        for name, indices in self.indices_by_name.items():
            if class_map.ndim == 3:
                binary = np.logical_or.reduce([class_map[i] for i in indices])
            else:
                binary = np.isin(class_map, indices)
            rle = encode_mask(binary)
            masks[name] = Mask(size=tuple(rle["size"]), counts=rle["counts"])
            self.counts["masks"] += 1
            self.counts["empty_masks"] += int(not binary.any())
        return masks

    # ------------------------------------------------------------------ adapter

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        for sample in batch:
            image_size(KIND, self.root, sample)
        maps = self.class_maps([s.image for s in batch])  # type: ignore[misc]
        self.structures_without_class = names_without_class(self.classes, spec.structures)
        records = []
        for sample, class_map in zip(batch, maps, strict=True):
            masks = self._masks(class_map) if "segmentation" in spec.tasks else None
            records.append(Record(id=sample.record.id, image=sample.record.image, masks=masks))
        self.counts["images"] += len(batch)
        return records

    def describe(self) -> dict[str, Any]:
        import transformers

        return {
            "spec": f"{KIND}:{self.root}",
            "model_class": type(self.model).__name__,
            "checkpoint": {"path": str(self.root), **self.hashes},
            "processor": processor_settings(self.processor),
            "activation": self.activation,
            "mask_rule": "sigmoid(logit) > 0.5 per class"
            if self.activation == "sigmoid"
            else "argmax over classes",
            "upsampling": {"by": self.upsampling, "mode": "bilinear", "align_corners": False},
            "label_map": self.label_map,
            **mapping_summary(self.classes),
            "benchmark_structures_without_class": list(self.structures_without_class),
            "batch_size": self.batch_size,
            "device": str(self.device),
            "dtype": str(self.model.dtype),
            "score_type": self.score_type,
            "transformers": transformers.__version__,
            "counts": {
                "images": self.counts["images"],
                "masks": self.counts["masks"],
                "empty_masks": self.counts["empty_masks"],
            },
        }
