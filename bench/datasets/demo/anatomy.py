"""Synthetic radiograph-like cases with consistent anatomy, lesions, labels and reports (seeded numpy).

A `Case` is one frontal chest image (float32 in [0, 1], brighter = denser) with masks of both lungs, the heart and
both clavicles, a list of findings (label, side, box, outline, size, severity) and a report whose sentences state
the same findings with the same laterality, size and severity. The patient's right is the image's left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

FIELD_OF_VIEW_MM = 360.0

ROUND = {
    "Nodule": (0.012, 0.03),
    "Mass": (0.045, 0.07),
    "Calcification": (0.006, 0.012),
    "Lung Lesion": (0.015, 0.05),
}
ROUND["Nodule/Mass"] = (0.015, 0.06)
BASAL = {"Pleural Effusion"}
APICAL = {"Pneumothorax"}
LATERAL = {"Pleural Thickening"}
HEART = {"Cardiomegaly"}
BILATERAL = {"Edema", "Emphysema", "Diffuse Nodule", "ILD"}
OBJECT = {"Foreign Object"}
SEVERITIES = ("small", "moderate", "large")


@dataclass
class Finding:
    label: str
    side: str  # "right" / "left" (the patient's) or "bilateral" or "central"
    bbox: tuple[float, float, float, float]
    polygon: list[tuple[float, float]]
    size_mm: float | None = None
    severity: str | None = None
    zone: str | None = None
    shape: int = 0  # object-CXR annotation type: 0 box, 1 ellipse, 2 polygon


@dataclass
class Case:
    image: np.ndarray
    masks: dict[str, np.ndarray]
    findings: list[Finding]
    pixel_spacing_mm: float
    sex: str
    age: int
    uncertain: set[str] = field(default_factory=set)

    @property
    def positive(self) -> set[str]:
        return {f.label for f in self.findings}

    def labels(self, names: Sequence[str]) -> dict[str, int]:
        """1/0 per name; 'No Finding' is 1 exactly when there is no finding."""
        positive = self.positive
        return {name: int(not positive) if name == "No Finding" else int(name in positive) for name in names}


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    return (yy + 0.5) / size, (xx + 0.5) / size


def _window(size: int, y0: float, y1: float, x0: float, x1: float) -> tuple[slice, slice]:
    """Pixel slices covering the normalised box (shapes are evaluated only there: it is the hot path)."""
    rows = slice(max(int(y0 * size) - 1, 0), min(int(y1 * size) + 2, size))
    cols = slice(max(int(x0 * size) - 1, 0), min(int(x1 * size) + 2, size))
    return rows, cols


def _ellipse(size: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    out = np.zeros((size, size), bool)
    rows, cols = _window(size, cy - ry, cy + ry, cx - rx, cx + rx)
    yy, xx = _grid(size)
    out[rows, cols] = ((yy[rows, cols] - cy) / ry) ** 2 + ((xx[rows, cols] - cx) / rx) ** 2 <= 1.0
    return out


def _segment(size: int, p0: tuple[float, float], p1: tuple[float, float], half_width: float) -> np.ndarray:
    (x0, y0), (x1, y1) = p0, p1
    out = np.zeros((size, size), bool)
    rows, cols = _window(
        size,
        min(y0, y1) - half_width,
        max(y0, y1) + half_width,
        min(x0, x1) - half_width,
        max(x0, x1) + half_width,
    )
    yy, xx = (g[rows, cols] for g in _grid(size))
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    out[rows, cols] = (xx - x0 - t * dx) ** 2 + (yy - y0 - t * dy) ** 2 <= half_width**2
    return out


@lru_cache(maxsize=4)
def _backdrop(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The case-independent parts: body and spine, and the rib pattern seen through the lungs."""
    yy, xx = _grid(size)
    body = ((yy - 0.58) / 0.55) ** 2 + ((xx - 0.5) / 0.44) ** 2 <= 1.0
    image = np.full((size, size), 0.05, np.float32)
    image[body] = 0.45
    image[(np.abs(xx - 0.5) < 0.035) & body] = 0.62
    ribs = (np.sin(2 * np.pi * (yy * 11.0 + 2.5 * (xx - 0.5) ** 2)) > 0.55).astype(np.float32)
    lung_texture = 0.17 + 0.09 * ribs
    image.flags.writeable = lung_texture.flags.writeable = False
    return image, lung_texture


def _outline(cy: float, cx: float, ry: float, rx: float, size: int, n: int = 16) -> list[tuple[float, float]]:
    angles = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    xs = np.clip((cx + rx * np.cos(angles)) * size, 0, size)
    ys = np.clip((cy + ry * np.sin(angles)) * size, 0, size)
    return [(round(float(x), 1), round(float(y), 1)) for x, y in zip(xs, ys, strict=True)]


def _clip_polygon(
    polygon: list[tuple[float, float]], box: tuple[float, float, float, float]
) -> list[tuple[float, float]]:
    """Keep an outline inside the lesion's box (the drawn region is the shape clipped to the lung)."""
    x0, y0, x1, y1 = box
    return [(min(max(x, x0), x1), min(max(y, y0), y1)) for x, y in polygon]


def _bbox(region: np.ndarray) -> tuple[float, float, float, float] | None:
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return None
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def _anatomy(rng: np.random.Generator, size: int, cardiomegaly: bool) -> dict[str, np.ndarray]:
    dx, dy = rng.uniform(-0.02, 0.02, 2)
    scale = rng.uniform(0.94, 1.04)
    heart_rx = 0.115 * scale * (rng.uniform(1.35, 1.5) if cardiomegaly else rng.uniform(0.9, 1.05))
    heart = _ellipse(size, 0.63 + dy, 0.54 + dx, 0.11 * scale, heart_rx)
    masks = {}
    for side, cx in (("right", 0.31), ("left", 0.69)):
        lung = _ellipse(size, 0.47 + dy, cx + dx, 0.27 * scale, 0.145 * scale)
        lung[int((0.47 + dy + 0.22 * scale) * size) :, :] = False
        masks[f"{side} lung"] = lung & ~heart
    masks["heart"] = heart
    for side, sign in (("right", -1.0), ("left", 1.0)):
        p0 = (0.5 + sign * 0.05 + dx, 0.235 + dy)
        p1 = (0.5 + sign * 0.33 + dx, 0.17 + dy + rng.uniform(-0.01, 0.01))
        masks[f"{side} clavicle"] = _segment(size, p0, p1, 0.014 * scale)
    return masks


def _lung_extent(lung: np.ndarray, size: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = _bbox(lung)  # type: ignore[misc]  # the lung mask is never empty
    return x0 / size, y0 / size, x1 / size, y1 / size


def _zone(cy: float, extent: tuple[float, float, float, float]) -> str:
    rel = (cy - extent[1]) / max(extent[3] - extent[1], 1e-6)
    return "upper" if rel < 1 / 3 else "middle" if rel < 2 / 3 else "lower"


def _place(
    label: str, rng: np.random.Generator, size: int, masks: dict[str, np.ndarray], spacing: float
) -> tuple[list[Finding], list[tuple[np.ndarray, float | None]]]:
    """Findings for one label, with (region, intensity) edits; intensity None means 'darken to air'."""
    side = str(rng.choice(["right", "left"]))
    lung = masks[f"{side} lung"]
    ex0, ey0, ex1, ey1 = _lung_extent(lung, size)
    lcx, lw, lh = (ex0 + ex1) / 2, ex1 - ex0, ey1 - ey0
    severity_index = int(rng.integers(0, 3))
    severity: str | None = SEVERITIES[severity_index]
    if label in HEART:
        x0, y0, x1, y1 = _bbox(masks["heart"])  # type: ignore[misc]  # the heart mask is never empty
        polygon = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        return [Finding(label, "central", (x0, y0, x1, y1), polygon, severity=severity)], []
    if label in OBJECT:
        cy, cx = rng.uniform(0.25, 0.8), rng.uniform(0.2, 0.8)
        r = rng.uniform(0.012, 0.03)
        shape = int(rng.integers(0, 3))
        if shape == 0:
            region = np.zeros((size, size), bool)
            region[
                int((cy - r) * size) : int((cy + r) * size),
                int((cx - r * 1.4) * size) : int((cx + r * 1.4) * size),
            ] = True
            poly = [
                (cx - r * 1.4, cy - r),
                (cx + r * 1.4, cy - r),
                (cx + r * 1.4, cy + r),
                (cx - r * 1.4, cy + r),
            ]
            polygon = [(round(x * size, 1), round(y * size, 1)) for x, y in poly]
        else:
            region = _ellipse(size, cy, cx, r, r)
            polygon = _outline(cy, cx, r, r, size, 8 if shape == 2 else 16)
        side = "right" if cx < 0.5 else "left"
        polygon = _clip_polygon(polygon, _bbox(region))  # type: ignore[arg-type]  # an object lies inside the image
        finding = Finding(label, side, _bbox(region), polygon, size_mm=2 * r * size * spacing, shape=shape)  # type: ignore[arg-type]  # as above
        return [finding], [(region, 1.0)]
    if label in BILATERAL:
        findings, edits = [], []
        for lung_side in ("right", "left"):
            lung_mask = masks[f"{lung_side} lung"]
            region = lung_mask & (rng.random((size, size)) < 0.6) if label != "Emphysema" else lung_mask
            intensity = None if label == "Emphysema" else 0.42
            bx = _bbox(region)
            if bx is None:
                continue
            polygon = [(bx[0], bx[1]), (bx[2], bx[1]), (bx[2], bx[3]), (bx[0], bx[3])]
            findings.append(Finding(label, "bilateral", bx, polygon, severity=severity))
            edits.append((region, intensity))
        return findings, edits
    if label in ROUND:
        lo, hi = ROUND[label]
        r = rng.uniform(lo, hi)
        cy, cx = rng.uniform(ey0 + r + 0.02, ey1 - r - 0.05), rng.uniform(ex0 + r + 0.01, ex1 - r - 0.01)
        region = _ellipse(size, cy, cx, r, r) & lung
        intensity, polygon, size_mm = 0.62, _outline(cy, cx, r, r, size), 2 * r * size * spacing
        severity = None
    elif label in BASAL:
        ry = lh * (0.12, 0.22, 0.35)[severity_index]
        cy, cx, rx = ey1, lcx, lw * 0.7
        region = _ellipse(size, cy, cx, ry, rx) & lung
        intensity, polygon, size_mm = 0.6, _outline(cy, cx, ry, rx, size), None
    elif label in APICAL:
        ry, rx = lh * (0.15, 0.25, 0.35)[severity_index], lw * 0.45
        cy, cx = ey0 + ry * 0.6, (ex0 + rx * 0.8) if side == "right" else (ex1 - rx * 0.8)
        region = _ellipse(size, cy, cx, ry, rx) & lung
        intensity, polygon, size_mm = None, _outline(cy, cx, ry, rx, size), None
    elif label in LATERAL:
        ry, rx = lh * 0.3, lw * 0.08
        cy, cx = ey0 + lh * 0.5, (ex0 + rx * 0.5) if side == "right" else (ex1 - rx * 0.5)
        region = _ellipse(size, cy, cx, ry, rx) & lung
        intensity, polygon, size_mm = 0.5, _outline(cy, cx, ry, rx, size), None
    else:  # patchy airspace / interstitial opacity somewhere in one lung
        ry, rx = lh * (0.08, 0.13, 0.2)[severity_index], lw * (0.2, 0.28, 0.36)[severity_index]
        upper = label in {"Tuberculosis", "Active Tuberculosis", "Obsolete Tuberculosis", "Fibrosis"}
        cy = rng.uniform(ey0 + ry, ey0 + lh * 0.45) if upper else rng.uniform(ey0 + lh * 0.35, ey1 - ry)
        cx = rng.uniform(ex0 + rx * 0.6, ex1 - rx * 0.6)
        region = _ellipse(size, cy, cx, ry, rx) & lung & (rng.random((size, size)) < 0.75)
        intensity, polygon, size_mm = 0.5, _outline(cy, cx, ry, rx, size), None
    box = _bbox(region)
    if box is None:
        return [], []
    polygon = _clip_polygon(polygon, box)
    finding = Finding(
        label, side, box, polygon, size_mm=size_mm, severity=severity, zone=_zone(cy, (ex0, ey0, ex1, ey1))
    )
    return [finding], [(region, intensity)]


def synth_case(
    rng: np.random.Generator,
    size: int,
    label_pool: Sequence[str],
    *,
    p_normal: float = 0.4,
    max_findings: int = 3,
    p_uncertain: float = 0.0,
) -> Case:
    """One case; findings are drawn without replacement from `label_pool` (vocabulary names)."""
    pool = list(label_pool)
    labels: list[str] = []
    if pool and rng.random() >= p_normal:
        k = int(rng.integers(1, min(max_findings, len(pool)) + 1))
        labels = [pool[i] for i in sorted(rng.choice(len(pool), size=k, replace=False))]
    masks = _anatomy(rng, size, cardiomegaly="Cardiomegaly" in labels)
    spacing = FIELD_OF_VIEW_MM / size
    findings: list[Finding] = []
    edits: list[tuple[np.ndarray, float | None]] = []
    for label in labels:
        for _ in range(20):  # a lesion drawn outside the lung (e.g. behind the heart) is drawn again
            new_findings, new_edits = _place(label, rng, size, masks, spacing)
            if new_findings:
                break
        findings += new_findings
        edits += new_edits
    image = _render(rng, size, masks, edits)
    uncertain = {f.label for f in findings if rng.random() < p_uncertain}
    return Case(
        image, masks, findings, spacing, str(rng.choice(["M", "F"])), int(rng.integers(18, 90)), uncertain
    )


def _render(
    rng: np.random.Generator,
    size: int,
    masks: dict[str, np.ndarray],
    edits: list[tuple[np.ndarray, float | None]],
) -> np.ndarray:
    # In-place masked writes (copyto / where=) instead of fancy indexing: this runs once per demo image.
    backdrop, lung_texture = _backdrop(size)
    image = backdrop.copy()
    np.copyto(image, lung_texture, where=masks["right lung"] | masks["left lung"])
    image[masks["heart"]] = 0.7
    np.add(image, 0.25, out=image, where=masks["right clavicle"] | masks["left clavicle"])
    for region, intensity in edits:
        if intensity is None:
            image[region] = 0.06
        else:
            np.maximum(image, np.float32(intensity), out=image, where=region)
    image = _blur(image, size / 256.0)
    image += _noise(rng, size)
    return np.clip(image, 0.0, 1.0, out=image)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; sigma 1 (the 256-pixel demo) is the 5-tap binomial kernel, whose sigma is exactly 1."""
    if sigma != 1.0:
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(image, sigma=sigma)
    padded = np.pad(image, 2, mode="symmetric")  # scipy's default "reflect" boundary
    rows = padded[:-4] + padded[4:] + 4.0 * (padded[1:-3] + padded[3:-1]) + 6.0 * padded[2:-2]
    out = rows[:, :-4] + rows[:, 4:] + 4.0 * (rows[:, 1:-3] + rows[:, 3:-1]) + 6.0 * rows[:, 2:-2]
    out *= np.float32(1.0 / 256.0)
    return out


NOISE_FIELD = 1024


@lru_cache(maxsize=2)
def _noise_field(size: int) -> np.ndarray:
    """A fixed field of quantum-like noise (std 0.015), larger than an image: each case reads a random window."""
    field = np.random.default_rng(20240601).standard_normal((NOISE_FIELD + size,) * 2, dtype=np.float32)
    field *= np.float32(0.015)
    field.flags.writeable = False
    return field


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Noise for one case: a window of the shared field at a random offset, randomly flipped / transposed.

    Drawing a fresh 256x256 normal field per image cost as much as the rest of the rendering; 8 orientations x
    1024^2 offsets make two cases' noise coincide with probability ~1e-7.
    """
    y, x, orientation = rng.integers(0, NOISE_FIELD, 2).tolist() + [int(rng.integers(0, 8))]
    window = _noise_field(size)[y : y + size, x : x + size]
    if orientation & 1:
        window = window[::-1]
    if orientation & 2:
        window = window[:, ::-1]
    return window.T if orientation & 4 else window
