"""Image and table writers in the publishers' encodings: PNG, JPEG, GIF masks, DICOM, JSRT raw .IMG, CSV."""

from __future__ import annotations

import csv
import gzip
import io
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def write_file(path: Path, data: bytes) -> None:
    """Write bytes, creating the parent folders only when missing (a mkdir per file cost as much as the write)."""
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _pil_bytes(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_gray_png(pixels: np.ndarray, strategy: int = zlib.Z_HUFFMAN_ONLY) -> bytes:
    """8-bit grayscale PNG (as the publishers ship): 'Up' filter on every row, fast deflate.

    Pillow's encoder tries all five filters per row and spends 3-5x longer on these noisy images for files
    ~10% larger; any PNG reader decodes this one to the same pixels. Huffman-only suits noisy images,
    run-length (`zlib.Z_RLE`) suits masks.
    """
    height, width = pixels.shape
    raw = np.empty((height, width + 1), np.uint8)
    raw[:, 0] = 2  # filter type Up: each row minus the row above, mod 256
    raw[0, 1:] = pixels[0]
    np.subtract(pixels[1:], pixels[:-1], out=raw[1:, 1:])
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 9, strategy)
    idat = compressor.compress(raw.tobytes()) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # bit depth 8, colour type 0 (gray)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def encode_png(pixels: np.ndarray, mode: str = "L", strategy: int = zlib.Z_HUFFMAN_ONLY) -> bytes:
    """8-bit gray pixels as a PNG stored in `mode`, with the fast encoder of `encode_gray_png`.

    "L": 8-bit grayscale; "P": 8-bit palette with a gray ramp (index = gray value); "RGB": 8-bit truecolour with
    R = G = B; "1": 1-bit grayscale (pixels must be 0 or 255). Every mode decodes (convert("L")) to the same pixels.
    """
    if mode == "L":
        return encode_gray_png(pixels, strategy)
    height, width = pixels.shape
    if mode == "1":
        rows = np.packbits(pixels > 127, axis=1)
        bit_depth, colour_type = 1, 0
    elif mode == "RGB":
        rows = np.repeat(pixels, 3, axis=1)
        bit_depth, colour_type = 8, 2
    elif mode == "P":
        rows = pixels
        bit_depth, colour_type = 8, 3
    else:
        raise ValueError(f"unsupported PNG mode {mode!r}")
    raw = np.empty((height, rows.shape[1] + 1), np.uint8)
    raw[:, 0] = 2  # filter type Up (on whole bytes: valid for every bit depth)
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    compressor = zlib.compressobj(1, zlib.DEFLATED, 15, 9, strategy)
    idat = compressor.compress(raw.tobytes()) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", header)]
    if mode == "P":
        chunks.append(_png_chunk(b"PLTE", np.repeat(np.arange(256, dtype=np.uint8), 3).tobytes()))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def save_png(path: Path, image: np.ndarray, mode: str = "L") -> None:
    """A radiograph as PNG; `mode` as the publisher stores it (see `encode_png`)."""
    write_file(path, encode_png(to_uint8(image), mode))


def save_rgba_png(path: Path, image: np.ndarray) -> None:
    """NIH ships a few RGBA PNGs among its grayscale ones; the demo keeps one such oddity."""
    gray = to_uint8(image)
    rgba = Image.fromarray(np.dstack([gray, gray, gray, np.full_like(gray, 255)]), mode="RGBA")
    write_file(path, _pil_bytes(rgba, format="PNG", compress_level=1))


def save_jpeg(path: Path, image: np.ndarray) -> None:
    write_file(path, _pil_bytes(Image.fromarray(to_uint8(image), mode="L"), format="JPEG", quality=90))


def save_mask(path: Path, mask: np.ndarray, fmt: str = "PNG") -> None:
    """Binary mask as 0/255 (8-bit gray "PNG"), 1-bit PNG ("PNG1") or a 2-colour GIF as the SCR masks are."""
    if fmt == "PNG":
        write_file(path, encode_gray_png(np.where(mask, 255, 0).astype(np.uint8), zlib.Z_RLE))
        return
    if fmt == "PNG1":  # 1-bit grayscale PNG (as the Montgomery masks are)
        write_file(path, encode_png(np.where(mask, 255, 0).astype(np.uint8), "1", zlib.Z_RLE))
        return
    # A palette image skips Pillow's L -> P conversion; the GIF bytes are the same.
    paletted = Image.fromarray(mask.astype(np.uint8), mode="P")
    paletted.putpalette([0, 0, 0, 255, 255, 255])
    write_file(path, _pil_bytes(paletted, format=fmt))


def save_jsrt_img(path: Path, image: np.ndarray) -> None:
    """Headerless 12-bit values in 16-bit big-endian words; the stored value grows with film darkness."""
    stored = np.round((1.0 - np.clip(image, 0.0, 1.0)) * 4095.0).astype(">u2")
    write_file(path, stored.tobytes())


DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
_LONG_LENGTH_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN"}


def _element(group: int, number: int, vr: str, value: bytes | str) -> bytes:
    """One explicit-VR little-endian element; text is padded to even length (UI with NUL, others with space)."""
    if isinstance(value, str):
        value = value.encode("ascii")
        if len(value) % 2:
            value += b"\0" if vr == "UI" else b" "
    if vr in _LONG_LENGTH_VRS:
        return struct.pack("<HH2s2xI", group, number, vr.encode(), len(value)) + value
    return struct.pack("<HH2sH", group, number, vr.encode(), len(value)) + value


def _us(value: int) -> bytes:
    return struct.pack("<H", value)


def save_dicom(
    path: Path,
    image: np.ndarray,
    *,
    uid_key: str,
    patient_id: str,
    monochrome1: bool,
    pixel_spacing_mm: float,
    with_window: bool = True,
    patient_sex: str | None = None,
    patient_age: str | None = None,
) -> None:
    """A valid DX DICOM Part-10 file: 12 bits stored, optional VOI window, MONOCHROME1 stored inverted.

    The image is mapped to stored values 600..3400 and a 2-pixel border is burned in at 0 / 4095, outside the
    window (center 2000, width 2800), so that readers that ignore the VOI LUT see a different picture.
    The bytes are those `pydicom` writes for the same dataset (`save_as(enforce_file_format=True)`; a test checks
    it), encoded here directly: building and writing a pydicom Dataset cost 15 ms a file, most of VinDr's demo.
    `patient_sex` / `patient_age` write (0010,0040) CS and (0010,1010) AS when not None ("" = an empty element).
    """
    from pydicom import __version__ as pydicom_version
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, generate_uid

    density = np.clip(image, 0.0, 1.0)
    stored = 600.0 + density * 2800.0
    if monochrome1:
        stored = 4000.0 - stored
    stored = np.round(stored).astype("<u2")
    stored[:2, :] = stored[-2:, :] = 4095
    stored[:, :2] = stored[:, -2:] = 0

    sop_instance = generate_uid(entropy_srcs=[uid_key, "sop"])
    meta = b"".join(
        [
            _element(0x0002, 0x0001, "OB", b"\0\1"),
            _element(0x0002, 0x0002, "UI", DX_FOR_PRESENTATION),
            _element(0x0002, 0x0003, "UI", sop_instance),
            _element(0x0002, 0x0010, "UI", EXPLICIT_VR_LITTLE_ENDIAN),
            _element(0x0002, 0x0012, "UI", PYDICOM_IMPLEMENTATION_UID),
            _element(0x0002, 0x0013, "SH", f"PYDICOM {pydicom_version}"),
        ]
    )
    spacing = f"{pixel_spacing_mm:.4f}"
    elements = [
        _element(0x0008, 0x0016, "UI", DX_FOR_PRESENTATION),
        _element(0x0008, 0x0018, "UI", sop_instance),
        _element(0x0008, 0x0060, "CS", "DX"),
        _element(0x0010, 0x0020, "LO", patient_id),
        *([] if patient_sex is None else [_element(0x0010, 0x0040, "CS", patient_sex)]),
        *([] if patient_age is None else [_element(0x0010, 0x1010, "AS", patient_age)]),
        _element(0x0020, 0x000D, "UI", generate_uid(entropy_srcs=[uid_key, "study"])),
        _element(0x0020, 0x000E, "UI", generate_uid(entropy_srcs=[uid_key, "series"])),
        _element(0x0028, 0x0002, "US", _us(1)),  # samples per pixel
        _element(0x0028, 0x0004, "CS", "MONOCHROME1" if monochrome1 else "MONOCHROME2"),
        _element(0x0028, 0x0010, "US", _us(stored.shape[0])),  # rows
        _element(0x0028, 0x0011, "US", _us(stored.shape[1])),  # columns
        _element(0x0028, 0x0030, "DS", f"{spacing}\\{spacing}"),
        _element(0x0028, 0x0100, "US", _us(16)),  # bits allocated
        _element(0x0028, 0x0101, "US", _us(12)),  # bits stored
        _element(0x0028, 0x0102, "US", _us(11)),  # high bit
        _element(0x0028, 0x0103, "US", _us(0)),  # unsigned
    ]
    if with_window:
        elements.append(_element(0x0028, 0x1050, "DS", "2000"))  # the same centre for both photometrics
        elements.append(_element(0x0028, 0x1051, "DS", "2800"))
    elements.append(_element(0x7FE0, 0x0010, "OW", stored.tobytes()))
    group_length = _element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta)))
    write_file(path, b"\0" * 128 + b"DICM" + group_length + meta + b"".join(elements))


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
