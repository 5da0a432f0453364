"""File access shared by the adapters: CSV with located errors, image headers, pixels (DICOM, JSRT raw, PNG)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.base import LayoutError

SPLITS_DIR = Path(__file__).resolve().parent / "splits"
DICOM_SUFFIXES = (".dcm", ".dicom")


def find_file(root: Path, names: Sequence[str], fix: str) -> Path:
    """The first of `names` (each also tried with .gz) under root, else a LayoutError naming them."""
    for name in names:
        for candidate in (root / name, root / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise LayoutError(root / names[0], f"file not found (looked for {', '.join(names)} and .gz)", fix=fix)


def read_bytes(path: Path, fix: str = "") -> bytes:
    """The file's bytes, gunzipped when it ends in .gz; LayoutError when it cannot be read or unpacked."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise LayoutError(path, f"cannot read ({exc})", fix=fix or "re-download the file") from None


def read_json(path: Path, fix: str = "") -> Any:
    """Parsed JSON (.gz unpacked); LayoutError when the file cannot be read or is not JSON."""
    raw = read_bytes(path, fix)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise LayoutError(path, f"not readable JSON ({exc})", fix=fix or "re-download the file") from None


def read_text(path: Path, fix: str = "") -> str:
    """UTF-8 text (a BOM is dropped; .gz unpacked); LayoutError naming the byte offset when it is not UTF-8."""
    raw = read_bytes(path, fix)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LayoutError(
            path,
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})",
            row=line,
            fix=fix or "re-download the file; do not re-save it in another encoding",
        ) from None


def read_csv(
    path: Path, required: Iterable[str], *, delimiter: str = ",", fix: str = ""
) -> list[tuple[int, dict[str, str]]]:
    """Rows as (1-based line number, {column: value}); the header must hold every `required` column."""
    text = read_text(path, fix)
    # newline="": the csv module itself ends a row at \n, \r\n or a bare \r (and keeps them inside quotes)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        raise LayoutError(
            path, f"not a readable CSV ({exc})", row=1, fix=fix or "re-download the file"
        ) from None
    missing = [column for column in required if column not in header]
    if missing:
        raise LayoutError(
            path,
            f"missing column(s) {', '.join(repr(m) for m in missing)}; the header has {header}",
            row=1,
            fix=fix or "use the publisher's original file (columns are matched by exact name)",
        )
    rows = []
    try:
        for lineno, row in enumerate(reader, start=2):
            rows.append(
                (lineno, {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None})
            )
    except csv.Error as exc:
        raise LayoutError(
            path, f"not a readable CSV ({exc})", row=reader.line_num, fix=fix or "re-download the file"
        ) from None
    return rows


def read_patients(path: Path) -> dict[str, dict[str, str]]:
    """MIMIC-IV hosp/patients.csv(.gz): subject_id -> its row (gender, anchor_age, anchor_year, ...)."""
    fix = "pass MIMIC-IV's hosp/patients.csv.gz unchanged (subject_id, gender, anchor_age, anchor_year, ...)"
    rows = read_csv(path, ["subject_id", "gender", "anchor_age", "anchor_year"], fix=fix)
    return {row["subject_id"]: row for _, row in rows}


def read_lines(path: Path, fix: str = "") -> list[str]:
    """Non-empty stripped lines of a (possibly gzipped) UTF-8 text file; LayoutError when unreadable."""
    return [line.strip() for line in read_text(path, fix).splitlines() if line.strip()]


def finite_numbers(values: object, n: int | None = None) -> list[float] | None:
    """`values` as floats when it is a list of `n` (any when None) finite JSON numbers (not booleans), else None."""
    if not isinstance(values, list) or (n is not None and len(values) != n):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    try:
        floats = [float(v) for v in values]
    except OverflowError:  # an integer too large for a float
        return None
    return floats if all(math.isfinite(v) for v in floats) else None


def relative_name(value: object) -> str | None:
    """`value` when it is a usable relative file name ('a/b.png': not empty, not absolute, no '..'), else None."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        return None
    parts = Path(value).parts
    if not parts or Path(value).is_absolute() or ".." in parts or value.startswith(("/", "\\")):
        return None
    return value


def require_image(path: Path, fix: str) -> Path:
    if not path.is_file():
        raise LayoutError(path, "image not found", fix=fix)
    return path


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header only; DICOM through pydicom. LayoutError if missing or unreadable."""
    if not path.is_file():
        raise LayoutError(
            path, "image not found", fix="extract the publisher's image archives under the root"
        )
    if path.suffix.lower() in DICOM_SUFFIXES:
        import pydicom

        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            size = int(ds.Columns), int(ds.Rows)
        except Exception as exc:  # pydicom raises many types on a damaged file
            raise LayoutError(
                path, f"not a readable DICOM file ({exc})", fix="re-download this file"
            ) from None
    else:
        from PIL import Image

        try:
            with Image.open(path) as image:
                size = image.size
        except (
            Exception
        ) as exc:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
            raise LayoutError(
                path, f"not a readable image ({exc})", fix="re-download or re-extract this file"
            ) from None
    if size[0] <= 0 or size[1] <= 0:
        raise LayoutError(
            path, f"the image header says {size[0]}x{size[1]} pixels", fix="re-download this file"
        )
    return size


def dicom_pixel_spacing(path: Path) -> tuple[float, float] | None:
    """PixelSpacing (else ImagerPixelSpacing) in mm; None when absent or not two positive numbers."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
        if spacing is None or isinstance(spacing, (str, bytes)) or len(spacing) != 2:
            return None
        values = (float(spacing[0]), float(spacing[1]))
    except (TypeError, ValueError):  # a damaged or non-numeric spacing element
        return None
    except Exception as exc:  # pydicom raises many types on a damaged file
        raise LayoutError(path, f"not a readable DICOM file ({exc})", fix="re-download this file") from None
    return values if all(math.isfinite(v) and v > 0 for v in values) else None


def dicom_patient_tags(path: Path) -> tuple[str | None, str | None]:
    """(PatientSex, PatientAge) as stored (None when the element is absent); LayoutError on a damaged file."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["PatientSex", "PatientAge"])
        values = [ds.get(keyword) for keyword in ("PatientSex", "PatientAge")]
    except Exception as exc:  # pydicom raises many types on a damaged file
        raise LayoutError(path, f"not a readable DICOM file ({exc})", fix="re-download this file") from None
    sex, age = (None if value is None else str(value) for value in values)
    return sex, age


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Pixels as a 2-D float32 array in [0, 1] where brighter = denser (radiograph convention).

    DICOM: rescale, then the VOI LUT / window in the file, then MONOCHROME1 inverted. JSRT .IMG: 12-bit big-endian
    raw, where the stored value grows with optical density (film darkness), so it is inverted. Others: Pillow.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut

        ds = pydicom.dcmread(path)
        pixels = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(np.float64)
        lo, hi = float(pixels.min()), float(pixels.max())
        scaled = (pixels - lo) / (hi - lo) if hi > lo else np.zeros_like(pixels)
        if ds.get("PhotometricInterpretation") == "MONOCHROME1":
            scaled = 1.0 - scaled
        return scaled.astype(np.float32)
    if suffix == ".img":
        side = jsrt_side(path)
        raw = np.fromfile(path, dtype=">u2").reshape(side, side)
        return (1.0 - raw.astype(np.float32) / 4095.0).clip(0.0, 1.0)
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("L"), dtype=np.float32)
    return array / 255.0


def jsrt_side(path: Path) -> int:
    """JSRT .IMG files are square, 16-bit, headerless: the side follows from the file size (2048 in the original)."""
    n_bytes = path.stat().st_size
    side = math.isqrt(n_bytes // 2)
    if side == 0 or side * side * 2 != n_bytes:
        raise LayoutError(
            path,
            f"{n_bytes} bytes is not a square 16-bit raw image (JSRT .IMG is 2048x2048x2 = 8388608 bytes)",
            fix="re-download the JSRT image; do not convert it",
        )
    return side


def read_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A binary mask image (PNG/GIF, any non-zero = inside) as bool, resized nearest to (width, height)."""
    from PIL import Image

    if not path.is_file():
        raise LayoutError(path, "mask not found", fix="extract the publisher's mask archive under the root")
    try:
        with Image.open(path) as opened:
            image = opened.convert("L")
            if size is not None and image.size != size:
                image = image.resize(size, Image.Resampling.NEAREST)
            return np.asarray(image) > 0
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
        raise LayoutError(path, f"not a readable mask image ({exc})", fix="re-download this file") from None


def clip_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> list[float]:
    """Clamp to the image: publishers' boxes sometimes overshoot the border by a pixel or two."""
    x0, x1 = sorted((min(max(x0, 0.0), width), min(max(x1, 0.0), width)))
    y0, y1 = sorted((min(max(y0, 0.0), height), min(max(y1, 0.0), height)))
    return [x0, y0, x1, y1]


def clip_bbox(box: Sequence[float], width: int, height: int) -> list[float]:
    """`clip_box` of an [x0, y0, x1, y1] box (checked to hold 4 numbers where it was read)."""
    x0, y0, x1, y1 = box
    return clip_box(x0, y0, x1, y1, width, height)


def hashed_split(dataset: str, patient: str, fractions: dict[str, float]) -> str:
    """Seeded patient-level split: a patient's bucket is sha256 of 'cxrbench-split-v1:<dataset>:<patient>'."""
    digest = hashlib.sha256(f"cxrbench-split-v1:{dataset}:{patient}".encode()).hexdigest()
    u = int(digest[:8], 16) / 2**32
    cumulative = 0.0
    for split, fraction in fractions.items():
        cumulative += fraction
        if u < cumulative:
            return split
    return next(reversed(fractions))


def shipped_split(dataset: str) -> dict[str, Any]:
    """The split file that ships with cxrbench: {"rule", "fractions", "assignments": {patient: split}}."""
    return json.loads((SPLITS_DIR / f"{dataset}.json").read_text(encoding="utf-8"))


def split_of(dataset: str, patient: str, shipped: dict[str, Any]) -> str:
    assigned = shipped["assignments"].get(patient)
    return assigned if assigned is not None else hashed_split(dataset, patient, shipped["fractions"])
