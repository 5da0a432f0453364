"""Training targets and the training loop of the reference baseline (shared by pre-training and fine-tuning)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pycocotools import mask as mask_utils

from bench.models.base import Sample
from bench.models.baseline.network import BaselineNet, box_targets, dice_bce_loss, focal_heat_loss


@dataclass
class Vocabulary:
    labels: list[str] = field(default_factory=list)
    box_labels: list[str] = field(default_factory=list)
    structures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {"labels": self.labels, "box_labels": self.box_labels, "structures": self.structures}


@dataclass
class TrainItem:
    image: np.ndarray  # (S, S) float32
    label_target: np.ndarray  # (L,)
    label_mask: np.ndarray  # (L,) 1 where the label is known for this image
    boxes: list[tuple[int, float, float, float, float]]  # in network-input pixels
    box_mask: np.ndarray  # (B,) 1 for box labels this image's dataset annotates (0 everywhere if no boxes)
    seg: dict[int, np.ndarray]  # structure index -> (S/4, S/4) float16 coverage
    report: str | None


def to_input(image: np.ndarray, size: int) -> np.ndarray:
    """Squash a float32 image to size x size (antialiased bilinear); no-op when already that size."""
    if image.shape == (size, size):
        return image.astype(np.float32, copy=False)
    resized = Image.fromarray(image.astype(np.float32, copy=False), mode="F").resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.asarray(resized, dtype=np.float32)


class ResizeTo:
    """Picklable preprocessing run in DataLoader workers (decode + resize off the main process)."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return to_input(image, self.size)


def dataset_box_labels(samples: list[Sample]) -> dict[str, set[str]]:
    """Per dataset, the box labels it annotates (taken from its records): a missing box is then a true negative."""
    seen: dict[str, set[str]] = {}
    for sample in samples:
        rec = sample.record
        if rec.boxes is not None:
            seen.setdefault(_dataset_of(sample), set()).update(b.label for b in rec.boxes)
    return seen


def _dataset_of(sample: Sample) -> str:
    return str((sample.record.meta or {}).get("dataset", ""))


def make_items(samples: list[Sample], vocab: Vocabulary, size: int) -> list[TrainItem]:
    label_index = {name: j for j, name in enumerate(vocab.labels)}
    box_index = {name: j for j, name in enumerate(vocab.box_labels)}
    struct_index = {name: j for j, name in enumerate(vocab.structures)}
    annotated = dataset_box_labels(samples)
    side = size // BaselineNet.STRIDE
    items = []
    for sample in samples:
        rec = sample.record
        if sample.image is None or rec.image is None:
            raise ValueError(f"training sample {rec.id!r} has no pixels / image size")
        width, height = rec.image.width, rec.image.height
        target = np.zeros(len(vocab.labels), np.float32)
        known = np.zeros(len(vocab.labels), np.float32)
        for name, value in (rec.labels or {}).items():
            if value is not None and name in label_index:
                target[label_index[name]] = float(value)
                known[label_index[name]] = 1.0
        boxes, box_mask = [], np.zeros(len(vocab.box_labels), np.float32)
        if rec.boxes is not None:
            for name in annotated.get(_dataset_of(sample), set()):
                box_mask[box_index[name]] = 1.0
            sx, sy = size / width, size / height
            boxes = [
                (box_index[b.label], b.bbox[0] * sx, b.bbox[1] * sy, b.bbox[2] * sx, b.bbox[3] * sy)
                for b in rec.boxes
                if b.label in box_index
            ]
        seg = {}
        for name, rle in (rec.masks or {}).items():
            if rle is not None and name in struct_index:
                full = mask_utils.decode({"size": list(rle.size), "counts": rle.counts.encode("ascii")})
                small = Image.fromarray(full.astype(np.float32), mode="F").resize(
                    (side, side), Image.Resampling.BOX
                )
                seg[struct_index[name]] = np.asarray(small, dtype=np.float16)
        items.append(TrainItem(to_input(sample.image, size), target, known, boxes, box_mask, seg, rec.report))
    return items


def _batch(items: list[TrainItem], vocab: Vocabulary, size: int) -> dict[str, torch.Tensor]:
    side = size // BaselineNet.STRIDE
    n_struct = max(len(vocab.structures), 1)
    heats, whs, wh_masks = [], [], []
    seg = np.zeros((len(items), n_struct, side, side), np.float32)
    seg_mask = np.zeros((len(items), n_struct), np.float32)
    for i, item in enumerate(items):
        heat, wh, wh_mask = box_targets(item.boxes, size, len(vocab.box_labels))
        heats.append(heat)
        whs.append(wh)
        wh_masks.append(wh_mask)
        for j, cover in item.seg.items():
            seg[i, j] = cover
            seg_mask[i, j] = 1.0
    n_box = max(len(vocab.box_labels), 1)
    box_mask = np.zeros((len(items), n_box), np.float32)
    for i, item in enumerate(items):
        box_mask[i, : len(item.box_mask)] = item.box_mask
    return {
        "image": torch.from_numpy(np.stack([item.image for item in items])[:, None]),
        "label_target": torch.from_numpy(np.stack([item.label_target for item in items])),
        "label_mask": torch.from_numpy(np.stack([item.label_mask for item in items])),
        "heat": torch.from_numpy(np.stack(heats)),
        "wh": torch.from_numpy(np.stack(whs)),
        "wh_mask": torch.from_numpy(np.stack(wh_masks)),
        "box_mask": torch.from_numpy(box_mask),
        "seg": torch.from_numpy(seg),
        "seg_mask": torch.from_numpy(seg_mask),
    }


def multitask_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    n_labels = batch["label_target"].shape[1]
    logits = out["logits"][:, :n_labels]
    bce = F.binary_cross_entropy_with_logits(logits, batch["label_target"], reduction="none")
    cls = (bce * batch["label_mask"]).sum() / batch["label_mask"].sum().clamp(min=1.0)
    heat = focal_heat_loss(out["heat"], batch["heat"], batch["box_mask"])
    wh_mask = batch["wh_mask"][:, None]
    size = (F.l1_loss(out["size"], batch["wh"], reduction="none") * wh_mask).sum() / wh_mask.sum().clamp(
        min=1.0
    )
    seg = dice_bce_loss(out["seg"], batch["seg"], batch["seg_mask"])
    total = cls + heat + 0.5 * size + seg
    return {"total": total, "classification": cls, "heatmap": heat, "box_size": size, "segmentation": seg}


def _evaluate(
    net: BaselineNet, items: list[TrainItem], vocab: Vocabulary, size: int, batch_size: int
) -> float:
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            batch = _batch(chunk, vocab, size)
            total += float(multitask_loss(net(batch["image"]), batch)["total"]) * len(chunk)
            count += len(chunk)
    return total / max(count, 1)


def train_network(
    net: BaselineNet,
    train: list[TrainItem],
    val: list[TrainItem],
    vocab: Vocabulary,
    *,
    size: int,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
    patience: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Adam with a seeded shuffle; keeps the weights of the best validation epoch (early stopping on val loss)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    best_state, best_val, best_epoch, stale = copy.deepcopy(net.state_dict()), math.inf, 0, 0
    history = []
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        running = 0.0
        for start in range(0, len(order), batch_size):
            chunk = [train[i] for i in order[start : start + batch_size]]
            batch = _batch(chunk, vocab, size)
            loss = multitask_loss(net(batch["image"]), batch)["total"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += float(loss.detach()) * len(chunk)
        train_loss = running / max(len(train), 1)
        val_loss = _evaluate(net, val, vocab, size, batch_size) if val else train_loss
        history.append({"epoch": epoch, "train_loss": round(train_loss, 6), "val_loss": round(val_loss, 6)})
        if progress is not None:
            progress(f"epoch {epoch}/{epochs}: train loss {train_loss:.4f}, val loss {val_loss:.4f}")
        if val_loss < best_val - 1e-6:
            best_val, best_epoch, stale = val_loss, epoch, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if stale >= patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return {
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "best_val_loss": round(best_val, 6),
        "early_stopping": {"monitor": "val_loss" if val else "train_loss", "patience": patience},
        "history": history,
        "n_train": len(train),
        "n_val": len(val),
    }


def embed(net: BaselineNet, images: list[np.ndarray], batch_size: int = 64) -> torch.Tensor:
    """L2-normalised pooled encoder features (the report-retrieval embedding)."""
    net.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(np.stack(images[start : start + batch_size])[:, None])
            parts.append(F.normalize(net(x)["embedding"], dim=1))
    return torch.cat(parts) if parts else torch.zeros((0, net.embed_dim))
