"""The reference baseline network: a small shared CNN encoder with classification, box and segmentation heads.

Boxes are CenterNet-style: one centre heatmap per box label plus a (log-width, log-height) regression at stride 4.
Everything runs at a fixed low resolution (`size`², the image squashed to a square); outputs are mapped back to
the original pixels when decoding.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(min(8, c_out), c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.GroupNorm(min(8, c_out), c_out),
        nn.ReLU(inplace=True),
    )


class BaselineNet(nn.Module):
    """Encoder strides 2/4/8/16; a top-down path back to stride 4 feeds the box and segmentation heads."""

    STRIDE = 4

    def __init__(self, n_labels: int, n_box_labels: int, n_structures: int, width: int = 16):
        super().__init__()
        w = width
        self.enc = nn.ModuleList(
            [_block(1, w, 2), _block(w, 2 * w, 2), _block(2 * w, 4 * w, 2), _block(4 * w, 8 * w, 2)]
        )
        self.lateral = nn.ModuleList([nn.Conv2d(c, 2 * w, 1) for c in (2 * w, 4 * w, 8 * w)])
        self.fuse = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(inplace=True))
        self.embed_dim = 8 * w
        self.cls_head = nn.Linear(8 * w, max(n_labels, 1))
        self.heat_head = nn.Conv2d(2 * w, max(n_box_labels, 1), 1)
        self.size_head = nn.Conv2d(2 * w, 2, 1)
        self.seg_head = nn.Conv2d(2 * w, max(n_structures, 1), 1)
        heat_bias = self.heat_head.bias
        assert heat_bias is not None  # nn.Conv2d has a bias unless bias=False
        nn.init.constant_(heat_bias, -2.19)  # CenterNet prior: sigmoid = 0.1

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = []
        for block in self.enc:
            x = block(x)
            feats.append(x)
        top = self.lateral[2](feats[3])
        top = F.interpolate(top, scale_factor=2.0, mode="nearest") + self.lateral[1](feats[2])
        top = F.interpolate(top, scale_factor=2.0, mode="nearest") + self.lateral[0](feats[1])
        dense = self.fuse(top)
        embedding = feats[3].mean(dim=(2, 3))
        return {
            "embedding": embedding,
            "logits": self.cls_head(embedding),
            "heat": self.heat_head(dense),
            "size": self.size_head(dense),
            "seg": self.seg_head(dense),
        }


def resize_head(layer: nn.Linear | nn.Conv2d, n_old: int, n_new: int, generator: torch.Generator) -> None:
    """Grow a head's output rows from n_old to n_new (new rows small seeded random, old rows kept)."""
    weight = layer.weight.data
    shape = (n_new, *weight.shape[1:])
    new_weight = torch.randn(shape, generator=generator) * 0.01
    new_weight[:n_old] = weight[:n_old]
    layer.weight = nn.Parameter(new_weight)
    if layer.bias is not None:
        bias = torch.full((n_new,), float(layer.bias.data[: max(n_old, 1)].mean()))
        bias[:n_old] = layer.bias.data[:n_old]
        layer.bias = nn.Parameter(bias)
    if isinstance(layer, nn.Linear):
        layer.out_features = n_new
    else:
        layer.out_channels = n_new


def box_targets(
    boxes: list[tuple[int, float, float, float, float]], size: int, n_box_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian centre heatmaps (C, S, S), log-size targets (2, S, S) and their mask (S, S) at stride 4.

    `boxes` are (label index, x0, y0, x1, y1) in network-input pixels.
    """
    side = size // BaselineNet.STRIDE
    heat = np.zeros((max(n_box_labels, 1), side, side), np.float32)
    wh = np.zeros((2, side, side), np.float32)
    wh_mask = np.zeros((side, side), np.float32)
    yy, xx = np.mgrid[:side, :side].astype(np.float32)
    for label, x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2 / BaselineNet.STRIDE, (y0 + y1) / 2 / BaselineNet.STRIDE
        bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        sigma = max(min(bw, bh) / BaselineNet.STRIDE / 6.0, 0.5)
        ix, iy = min(int(cx), side - 1), min(int(cy), side - 1)
        gauss = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
        heat[label] = np.maximum(heat[label], gauss)
        wh[:, iy, ix] = (math.log(bw / size), math.log(bh / size))
        wh_mask[iy, ix] = 1.0
    return heat, wh, wh_mask


def focal_heat_loss(logits: torch.Tensor, target: torch.Tensor, channel_mask: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, over the (image, label) channels that are annotated."""
    prob = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = (target >= 1.0 - 1e-6).float()
    pos_loss = -torch.log(prob) * (1 - prob) ** 2 * pos
    neg_loss = -torch.log(1 - prob) * prob**2 * (1 - target) ** 4 * (1 - pos)
    mask = channel_mask[:, :, None, None]
    n_pos = (pos * mask).sum().clamp(min=1.0)
    return ((pos_loss + neg_loss) * mask).sum() / n_pos


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice per (image, structure) channel, averaged over annotated channels only."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=(2, 3))
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    return ((bce + dice) * mask).sum() / mask.sum().clamp(min=1.0)


def decode_boxes(
    heat_logits: torch.Tensor,
    size_pred: torch.Tensor,
    scale_xy: tuple[float, float],
    image_wh: tuple[int, int],
    input_size: int,
    top_k: int = 20,
    min_score: float = 0.05,
) -> list[tuple[int, float, list[float]]]:
    """One image's peaks -> (label index, score, [x0, y0, x1, y1] in original pixels), best first."""
    prob = torch.sigmoid(heat_logits)
    peaks = prob * (F.max_pool2d(prob[None], 3, stride=1, padding=1)[0] == prob)
    flat = peaks.flatten()
    k = min(top_k, flat.numel())
    scores, index = torch.topk(flat, k)
    side = prob.shape[-1]
    out = []
    sx, sy = scale_xy
    width, height = image_wh
    for score, idx in zip(scores.tolist(), index.tolist(), strict=True):
        if score < min_score:
            break
        label, rest = divmod(idx, side * side)
        iy, ix = divmod(rest, side)
        bw = math.exp(float(size_pred[0, iy, ix])) * input_size
        bh = math.exp(float(size_pred[1, iy, ix])) * input_size
        cx, cy = (ix + 0.5) * BaselineNet.STRIDE, (iy + 0.5) * BaselineNet.STRIDE
        x0 = min(max((cx - bw / 2) * sx, 0.0), width)
        x1 = min(max((cx + bw / 2) * sx, 0.0), width)
        y0 = min(max((cy - bh / 2) * sy, 0.0), height)
        y1 = min(max((cy + bh / 2) * sy, 0.0), height)
        out.append((label, round(score, 6), [round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)]))
    return out
