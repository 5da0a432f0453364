"""The demo generator's fast paths give what the reference encoders / filters give (pydicom, Pillow, scipy)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from bench.datasets.demo.anatomy import _blur, _noise
from bench.datasets.demo.writers import encode_gray_png, save_dicom, save_mask, save_png, to_uint8


def _pydicom_reference(
    path: Path,
    image: np.ndarray,
    uid_key: str,
    patient_id: str,
    monochrome1: bool,
    spacing: float,
    window: bool,
    sex: str | None = None,
    age: str | None = None,
) -> None:
    """The dataset built and written with pydicom, as the generator did before it encoded the bytes itself."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    stored = 600.0 + np.clip(image, 0.0, 1.0) * 2800.0
    if monochrome1:
        stored = 4000.0 - stored
    stored = np.round(stored).astype(np.uint16)
    stored[:2, :] = stored[-2:, :] = 4095
    stored[:, :2] = stored[:, -2:] = 0
    sop_class = "1.2.840.10008.5.1.4.1.1.1.1"
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
    if sex is not None:
        ds.PatientSex = sex
    if age is not None:
        ds.PatientAge = age
    ds.Modality = "DX"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]
    if window:
        ds.WindowCenter = "2000"
        ds.WindowWidth = "2800"
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize(
    ("monochrome1", "window", "patient_id", "shape", "sex", "age"),
    [
        (False, True, "ab12cd34", (64, 48), None, None),
        (True, True, "odd", (33, 17), "F", "045Y"),
        (True, False, "x" * 7, (8, 8), "", ""),  # empty elements, as some publishers leave them
        (False, True, "y", (9, 9), "O", None),
    ],
)
def test_dicom_bytes_equal_pydicom(
    monochrome1: bool,
    window: bool,
    patient_id: str,
    shape: tuple[int, int],
    sex: str | None,
    age: str | None,
    tmp_path: Path,
) -> None:
    image = np.random.default_rng(7).random(shape).astype(np.float32)
    ours, reference = tmp_path / "ours.dicom", tmp_path / "reference.dicom"
    key = f"key-{shape}-{monochrome1}"
    save_dicom(
        ours,
        image,
        uid_key=key,
        patient_id=patient_id,
        monochrome1=monochrome1,
        pixel_spacing_mm=1.40625,
        with_window=window,
        patient_sex=sex,
        patient_age=age,
    )
    _pydicom_reference(reference, image, key, patient_id, monochrome1, 1.40625, window, sex, age)
    assert ours.read_bytes() == reference.read_bytes()
    ds = pydicom.dcmread(ours)
    assert ds.pixel_array.shape == shape and ds.PatientID == patient_id
    assert ds.get("PatientSex") == sex and ds.get("PatientAge") == age


@pytest.mark.parametrize("shape", [(256, 256), (1, 5), (7, 3), (31, 200)])
def test_png_decodes_to_the_same_pixels(shape: tuple[int, int], tmp_path: Path) -> None:
    rng = np.random.default_rng(shape[0])
    image = rng.random(shape).astype(np.float32)
    save_png(tmp_path / "a.png", image)
    with Image.open(tmp_path / "a.png") as decoded:
        assert decoded.mode == "L" and decoded.format == "PNG"
        np.testing.assert_array_equal(np.asarray(decoded), to_uint8(image))
    mask = rng.random(shape) < 0.3
    save_mask(tmp_path / "m.png", mask)
    save_mask(tmp_path / "m.gif", mask, fmt="GIF")
    with Image.open(tmp_path / "m.png") as png, Image.open(tmp_path / "m.gif") as gif:
        np.testing.assert_array_equal(np.asarray(png), np.where(mask, 255, 0))
        np.testing.assert_array_equal(np.asarray(gif.convert("L")), np.where(mask, 255, 0))
    # the GIF is the file Pillow writes from the 0/255 gray image
    reference = io.BytesIO()
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(reference, format="GIF")
    assert (tmp_path / "m.gif").read_bytes() == reference.getvalue()
    assert encode_gray_png(np.zeros((4, 4), np.uint8)).startswith(b"\x89PNG\r\n\x1a\n")


def test_blur_is_a_sigma_one_gaussian() -> None:
    yy, xx = np.mgrid[:256, :256] / 256.0
    smooth = (
        0.5 + 0.3 * np.sin(7 * xx) * np.cos(5 * yy) + (((xx - 0.4) ** 2 + (yy - 0.5) ** 2) < 0.05)
    ).astype(np.float32)
    ours, reference = _blur(smooth, 1.0), gaussian_filter(smooth, sigma=1.0)
    assert ours.dtype == np.float32 and ours.shape == smooth.shape
    assert np.abs(ours - reference).max() < 0.02  # at the disc's edge; elsewhere far smaller
    assert np.abs(ours - reference).mean() < 1e-3
    np.testing.assert_allclose(_blur(smooth, 2.0), gaussian_filter(smooth, sigma=2.0))


def test_noise_is_white_with_the_demo_std() -> None:
    rng = np.random.default_rng(0)
    a, b = _noise(rng, 256), _noise(rng, 256)
    assert a.shape == (256, 256) and abs(float(a.std()) - 0.015) < 0.001 and abs(float(a.mean())) < 0.001
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.02  # two cases do not share their noise
    lag = np.corrcoef(a[:, 1:].ravel(), a[:, :-1].ravel())[0, 1]
    assert abs(lag) < 0.02
