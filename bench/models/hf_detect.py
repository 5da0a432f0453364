"""`hf-detect:DIR`: an object detector fine-tuned with transformers (DETR family), loaded from a local folder.

The grey image goes in as 8-bit RGB through the checkpoint's own image processor (PIL backend: no torchvision),
and boxes come out through the processor's own `post_process_object_detection(outputs, threshold, target_sizes)`
with target_sizes = each image's original (H, W): it turns the box head's normalised (cx, cy, w, h) into corners
and multiplies by [W, H, W, H] (transformers/models/detr/image_processing_pil_detr.py,
`post_process_object_detection`: `center_to_corners_format(out_bbox)`, `boxes * scale_fct[:, None, :]`; the same in
the Conditional / Deformable DETR, RT-DETR and YOLOS processors), so boxes are in ORIGINAL pixels. Images are
forwarded in groups of equal size, so the processor never pads a batch and the normalised boxes are relative to
the image itself whichever padding convention the model was trained with (DETR: relative to the visible image,
facebookresearch/detr#286; transformers' processors in training: relative to the padded canvas since
huggingface/transformers PR #28363); the two agree when nothing is padded.
"""

from __future__ import annotations

import inspect
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.models.base import ModelAdapter, Sample, TaskSpec
from bench.models.hf_checkpoint import checkpoint_hashes
from bench.models.hf_vision_common import (
    PIL_DETECTION_PROCESSORS,
    ClassName,
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
from bench.records import Box, Record

KIND = "hf-detect"


class HfDetectionModel(ModelAdapter):
    tasks = frozenset({"localization"})
    score_type = "continuous"

    def __init__(
        self,
        path: str,
        *,
        threshold: float = 0.0,
        max_detections: int = 100,
        batch_size: int = 8,
        label_map: str | None = None,
        device: str = "cpu",
    ):
        import torch
        from transformers import AutoModelForObjectDetection

        if not 0.0 <= threshold < 1.0:
            raise ValueError(
                f"threshold {threshold} must be in [0, 1): boxes with score > threshold are kept"
            )
        if max_detections < 1 or batch_size < 1:
            raise ValueError(f"max_detections ({max_detections}) and batch_size ({batch_size}) must be >= 1")
        self.root = Path(path)
        self.threshold = float(threshold)
        self.max_detections = int(max_detections)
        self.batch_size = int(batch_size)
        self.label_map = label_map
        self.device = torch.device(device)
        self.model, self.processor = load_model_and_processor(
            KIND, self.root, AutoModelForObjectDetection, PIL_DETECTION_PROCESSORS
        )
        self.model.to(self.device).eval()
        self.classes, self.unmapped = map_class_names(KIND, self.root, self.model.config.id2label, label_map)
        self.class_by_index: dict[int, ClassName] = {c.index: c for c in self.classes}
        self.post_process_kwargs = self._post_process_kwargs()
        self.hashes = checkpoint_hashes(self.root)
        self.counts: Counter[str] = Counter()
        self.boxes_per_label: Counter[str] = Counter()
        self.labels_without_class: list[str] = []

    def _post_process_kwargs(self) -> dict[str, Any]:
        """Arguments some processors add: Conditional / Deformable DETR take the top_k (query, class) pairs,
        RT-DETR scores with a sigmoid unless the config says the model was not trained with focal loss."""
        params = inspect.signature(self.processor.post_process_object_detection).parameters
        kwargs: dict[str, Any] = {}
        if "top_k" in params:
            kwargs["top_k"] = self.max_detections
        if "use_focal_loss" in params and hasattr(self.model.config, "use_focal_loss"):
            kwargs["use_focal_loss"] = bool(self.model.config.use_focal_loss)
        return kwargs

    # ------------------------------------------------------------------ inference

    def detect(self, images: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Raw post-processed detections per image (scores, labels, boxes in original pixels), one forward per
        equal-size group of at most `batch_size` images."""
        import torch

        sizes = [(int(im.shape[0]), int(im.shape[1])) for im in images]
        found: list[dict[str, np.ndarray]] = [{} for _ in images]
        with torch.inference_mode():
            for members in size_groups(sizes, self.batch_size):
                inputs = self.processor(images=[to_pil_rgb(images[i]) for i in members], return_tensors="pt")
                mask = inputs.get("pixel_mask")
                if mask is not None and not bool(mask.all()):
                    self._note_padding(len(members))
                outputs = self.model(**model_inputs(inputs, self.model, self.device))
                # post-process in float32 whatever the checkpoint's dtype (scores of a bf16 softmax are coarse)
                outputs["logits"], outputs["pred_boxes"] = outputs.logits.float(), outputs.pred_boxes.float()
                results = self.processor.post_process_object_detection(
                    outputs,
                    threshold=self.threshold,
                    target_sizes=[sizes[i] for i in members],
                    **self.post_process_kwargs,
                )
                for i, result in zip(members, results, strict=True):
                    found[i] = {
                        "scores": result["scores"].float().cpu().numpy(),
                        "labels": result["labels"].cpu().numpy().astype(np.int64),
                        "boxes": result["boxes"].float().cpu().numpy().reshape(-1, 4),
                    }
        return found

    def _note_padding(self, n: int) -> None:
        if not self.counts["padded_images"]:
            warnings.warn(
                f"{KIND}:{self.root}: the processor pads images to a fixed pad_size; boxes are mapped back as "
                "relative to the visible image (the processor's post-processing rule)",
                stacklevel=3,
            )
        self.counts["padded_images"] += n

    def _boxes(self, found: dict[str, np.ndarray], height: int, width: int) -> list[Box]:
        kept: list[tuple[float, ClassName, str, list[float]]] = []
        for score, label, bbox in zip(found["scores"], found["labels"], found["boxes"], strict=True):
            cls = self.class_by_index.get(int(label))
            if cls is None:
                raise ValueError(
                    f"{KIND}:{self.root}: the model predicted class {int(label)}, absent from id2label"
                )
            if cls.name is None:
                self.counts["background_boxes_dropped"] += 1
                continue
            kept.append((float(score), cls, cls.name, [float(v) for v in bbox]))
        kept.sort(key=lambda item: -item[0])  # stable: ties keep the processor's order
        boxes = []
        for score, cls, name, (x0, y0, x1, y1) in kept[: self.max_detections]:
            clipped = (
                min(max(x0, 0.0), width),
                min(max(y0, 0.0), height),
                min(max(x1, 0.0), width),
                min(max(y1, 0.0), height),
            )
            if clipped != (x0, y0, x1, y1):
                self.counts["clipped_boxes"] += 1
            if cls.source == "unmapped":
                self.counts["boxes_with_unmapped_labels"] += 1
            self.boxes_per_label[name] += 1
            boxes.append(Box(label=name, bbox=clipped, score=score))
        self.counts["boxes_beyond_max_detections"] += max(0, len(kept) - self.max_detections)
        self.counts["boxes"] += len(boxes)
        return boxes

    # ------------------------------------------------------------------ adapter

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        sizes = [image_size(KIND, self.root, s) for s in batch]
        found = self.detect([s.image for s in batch])  # type: ignore[misc]
        self.labels_without_class = names_without_class(self.classes, spec.box_labels)
        records = []
        for sample, (height, width), detections in zip(batch, sizes, found, strict=True):
            boxes = self._boxes(detections, height, width) if "localization" in spec.tasks else None
            records.append(Record(id=sample.record.id, image=sample.record.image, boxes=boxes))
        self.counts["images"] += len(batch)
        return records

    def describe(self) -> dict[str, Any]:
        import transformers

        return {
            "spec": f"{KIND}:{self.root}",
            "model_class": type(self.model).__name__,
            "checkpoint": {"path": str(self.root), **self.hashes},
            "processor": processor_settings(self.processor),
            "threshold": self.threshold,
            "max_detections": self.max_detections,
            "post_process_kwargs": dict(self.post_process_kwargs),
            "label_map": self.label_map,
            **mapping_summary(self.classes),
            "benchmark_labels_without_class": list(self.labels_without_class),
            "batch_size": self.batch_size,
            "device": str(self.device),
            "dtype": str(self.model.dtype),
            "score_type": self.score_type,
            "transformers": transformers.__version__,
            "counts": {
                "images": self.counts["images"],
                "boxes": self.counts["boxes"],
                "clipped_boxes": self.counts["clipped_boxes"],
                "boxes_with_unmapped_labels": self.counts["boxes_with_unmapped_labels"],
                "background_boxes_dropped": self.counts["background_boxes_dropped"],
                "boxes_beyond_max_detections": self.counts["boxes_beyond_max_detections"],
                "padded_images": self.counts["padded_images"],
                "boxes_per_label": dict(sorted(self.boxes_per_label.items())),
            },
        }
