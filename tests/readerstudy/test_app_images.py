"""What ``/case-image/{order}`` sends: 8-bit PNG and JPEG files as they are (no re-encoding, which cost about 0.5 s
of server CPU per 2500 x 3000 film), anything else as an 8-bit PNG rescaled from its own minimum and maximum."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from readerstudy.app.web import browser_image

RNG = np.random.default_rng(12)


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


@pytest.mark.parametrize(
    ("name", "mode", "media_type"),
    [("gray.png", "L", "image/png"), ("rgb.png", "RGB", "image/png"), ("gray.jpg", "L", "image/jpeg")],
)
def test_eight_bit_png_and_jpeg_are_sent_unchanged(
    tmp_path: Path, name: str, mode: str, media_type: str
) -> None:
    shape = (40, 30) if mode == "L" else (40, 30, 3)
    path = tmp_path / name
    Image.fromarray(RNG.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)
    data, sent_type = browser_image(str(path), _mtime(path))
    assert data == path.read_bytes() and sent_type == media_type


def test_sixteen_bit_png_is_rescaled_to_eight_bits(tmp_path: Path) -> None:
    pixels = RNG.integers(1000, 40000, (20, 16), dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(pixels).save(path)
    data, sent_type = browser_image(str(path), _mtime(path))
    assert sent_type == "image/png" and data != path.read_bytes()
    low, high = float(pixels.min()), float(pixels.max())
    expected = np.round((pixels - low) * 255.0 / (high - low)).astype(np.uint8)  # min-max to 0..255
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image), expected)
