"""Adapters on the real annotation files in ../shared/data (and a small real fixture in tests/data)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from bench.datasets import get_adapter
from bench.datasets.vocabulary import CHESTX_DET, NIH_CHESTXRAY14
from bench.metrics.segmentation import decode_mask

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "datasets"


def _placeholder_images(folder: Path, names: list[str], side: int = 1024) -> None:
    """ChestX-Det ships its images separately: write one blank 1024x1024 PNG under every name (header only matters)."""
    folder.mkdir(parents=True)
    blank = folder / "_blank.png"
    Image.new("L", (side, side)).save(blank)
    data = blank.read_bytes()
    blank.unlink()
    for name in names:
        (folder / name).write_bytes(data)


def _check_chestx_det(entries: list[dict], root: Path, split: str) -> None:
    records = {r.id: r for r in get_adapter("chestx-det").records(root, split)}
    assert len(records) == len(entries)
    expected = Counter(CHESTX_DET[s] for e in entries for s in e["syms"])
    assert Counter(b.label for r in records.values() for b in r.boxes) == expected
    for entry in entries[:40]:
        record = records[entry["file_name"]]
        for sym in set(entry["syms"]):
            polys = [
                [float(v) for p in poly for v in p]
                for s, poly in zip(entry["syms"], entry["polygons"], strict=True)
                if s == sym
            ]
            reference = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polys, 1024, 1024))).astype(
                bool
            )
            assert np.array_equal(decode_mask(record.masks[CHESTX_DET[sym]].rle()), reference)


def test_chestx_det_real_fixture(tmp_path: Path):
    entries = json.loads((FIXTURES / "chestx_det_test_first12.json").read_text())
    shutil.copy(FIXTURES / "chestx_det_test_first12.json", tmp_path / "ChestX_Det_test.json")
    _placeholder_images(tmp_path / "test_data", [e["file_name"] for e in entries])
    _check_chestx_det(entries, tmp_path, "test")


@pytest.mark.realdata
def test_chestx_det_real_annotations(shared_data: Path, tmp_path: Path):
    source = shared_data / "detection" / "annotations_only" / "chestx_det" / "ChestX_Det_test.json.gz"
    entries = json.loads(gzip.decompress(source.read_bytes()))
    shutil.copy(source, tmp_path / source.name)
    _placeholder_images(tmp_path / "test", [e["file_name"] for e in entries])
    _check_chestx_det(entries, tmp_path, "test")


@pytest.mark.realdata
def test_tbx11k_real_sample(shared_data: Path):
    root = shared_data / "detection" / "tbx11k_sample"
    coco = json.loads((root / "annotations" / "json" / "TBX11K_train.json").read_text())
    records = {r.id: r for r in get_adapter("tbx11k").records(root, "train")}
    assert set(records) == {im["file_name"] for im in coco["images"]}
    by_id = {im["id"]: im["file_name"] for im in coco["images"]}
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        assert [x, y, x + w, y + h] in [list(b.bbox) for b in records[by_id[ann["image_id"]]].boxes]
    assert records["health/h0001.png"].boxes == [] and records["health/h0001.png"].labels["Healthy"] == 1.0
    assert records["tb/tb0005.png"].labels == {"Healthy": 0.0, "Sick Non-TB": 0.0, "Tuberculosis": 1.0}


@pytest.mark.realdata
def test_chestxray14_real_621(shared_data: Path, tmp_path: Path):
    """The 621 real NIH test images (256 px) with a Data_Entry file rebuilt from their labels and the real box list."""
    base = shared_data / "classification" / "nih_chexnet_starter_621"
    rows = list(csv.DictReader((base / "labels.csv").open()))
    header = "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
    lines = [header] + [
        f"{r['image']},{r['nih_finding_labels']},{r['follow_up']},{r['patient_id']},{r['age']},{r['sex']},{r['view']},{r['orig_width']},{r['orig_height']},0.143,0.143"
        for r in rows
    ]
    (tmp_path / "Data_Entry_2017_v2020.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "test_list.txt").write_text("\n".join(r["image"] for r in rows) + "\n")
    (tmp_path / "train_val_list.txt").write_text("")
    shutil.copy(
        shared_data / "detection" / "annotations_only" / "nih_BBox_List_2017.csv.gz",
        tmp_path / "BBox_List_2017.csv.gz",
    )
    (tmp_path / "images").symlink_to(base / "images_256")
    records = {r.id: r for r in get_adapter("chestxray14").records(tmp_path, "test")}
    assert len(records) == 621
    for row in rows:
        labels = records[row["image"]].labels
        for column in ("Atelectasis", "Effusion", "Pleural_Thickening", "Hernia", "Infiltration"):
            assert labels[NIH_CHESTXRAY14[column]] == float(row[column])
        assert labels["No Finding"] == float(row["No_Finding"])
    positives = Counter(name for r in records.values() for name, v in r.labels.items() if v == 1.0)
    assert (
        positives["Pleural Effusion"] == 82 and positives["Hernia"] == 20 and positives["No Finding"] == 100
    )
    boxes = [
        r
        for r in csv.DictReader(
            (shared_data / "detection" / "nih_starter_boxes" / "annotations_1024px.csv").open()
        )
        if r["source"] == "nih_bbox2017"
    ]
    assert len(boxes) == 12 and sum(len(r.boxes or []) for r in records.values()) == 12
    for box in boxes:
        x, y, w, h = (float(box[k]) * 0.25 for k in ("x", "y", "w", "h"))
        got = records[box["image"]].boxes
        assert any(np.allclose(b.bbox, [x, y, x + w, y + h], atol=1e-6) for b in got)
