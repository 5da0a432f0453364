"""Image and table writers in the publishers' encodings: PNG, JPEG, GIF masks, DICOM, JSRT raw .IMG, CSV."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image), mode="L").save(path, compress_level=1)


def save_rgba_png(path: Path, image: np.ndarray) -> None:
    """NIH ships a few RGBA PNGs among its grayscale ones; the demo keeps one such oddity."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gray = to_uint8(image)
    Image.fromarray(np.dstack([gray, gray, gray, np.full_like(gray, 255)]), mode="RGBA").save(
        path, compress_level=1
    )


def save_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8(image), mode="L").save(path, quality=90)


def save_mask(path: Path, mask: np.ndarray, fmt: str = "PNG") -> None:
    """Binary mask as 0/255 (PNG) or a 2-colour GIF as the SCR masks are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(path, format=fmt)


def save_jsrt_img(path: Path, image: np.ndarray) -> None:
    """Headerless 12-bit values in 16-bit big-endian words; the stored value grows with film darkness."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = np.round((1.0 - np.clip(image, 0.0, 1.0)) * 4095.0).astype(">u2")
    path.write_bytes(stored.tobytes())


def save_dicom(
    path: Path,
    image: np.ndarray,
    *,
    uid_key: str,
    patient_id: str,
    monochrome1: bool,
    pixel_spacing_mm: float,
    with_window: bool = True,
) -> None:
    """A valid DX DICOM Part-10 file: 12 bits stored, optional VOI window, MONOCHROME1 stored inverted.

    The image is mapped to stored values 600..3400 and a 2-pixel border is burned in at 0 / 4095, outside the
    window (center 2000, width 2800), so that readers that ignore the VOI LUT see a different picture.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    density = np.clip(image, 0.0, 1.0)
    stored = 600.0 + density * 2800.0
    if monochrome1:
        stored = 4000.0 - stored
    stored = np.round(stored).astype(np.uint16)
    stored[:2, :] = stored[-2:, :] = 4095
    stored[:, :2] = stored[:, -2:] = 0

    sop_class = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    sop_instance = generate_uid(entropy_srcs=[uid_key, "sop"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[uid_key, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_key, "series"])
    ds.PatientID = patient_id
    ds.Modality = "DX"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [f"{pixel_spacing_mm:.4f}", f"{pixel_spacing_mm:.4f}"]
    if with_window:
        ds.WindowCenter = "2000" if not monochrome1 else str(4000 - 2000)
        ds.WindowWidth = "2800"
    ds.PixelData = stored.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], gz: bool = False) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)


def fmt_label(value: int | None) -> str:
    """CheXpert-style cell: '1.0', '0.0', '-1.0' or '' (not mentioned)."""
    return "" if value is None else f"{float(value):.1f}"
