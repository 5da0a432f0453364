"""Every adapter on its demo layout: valid records, counts, vocabulary, geometry, uncertain policies, exports."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from bench.datasets import DATASETS, get_adapter, record_from_row, to_hf_dataset
from bench.datasets.cli import check_dataset, export_dataset, list_datasets
from bench.datasets.demo import generator
from bench.datasets.io import load_image
from bench.datasets.vocabulary import MAPS, STRUCTURES, VOCABULARY
from bench.metrics.segmentation import decode_mask
from bench.records import read_records

ALL = list(DATASETS)


def _csv(path: Path) -> list[dict[str, str]]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode())))


def test_registry_lists_the_ten_in_order():
    assert ALL == [
        "mimic-cxr", "vindr-cxr", "chestx-det", "chestxray14", "chexpert",
        "tbx11k", "object-cxr", "jsrt", "shenzhen", "montgomery",
    ]  # fmt: skip
    table = list_datasets()
    assert table.row_count == 10


def test_every_map_targets_the_vocabulary():
    for dataset, mapping in MAPS.items():
        assert set(mapping.values()) <= set(VOCABULARY), dataset


@pytest.mark.parametrize("name", ALL)
def test_demo_records_are_valid_and_consistent(name: str, demo_root: Path, tmp_path: Path):
    adapter = get_adapter(name)
    root = demo_root / name
    total, ids = 0, set()
    for split in adapter.available_splits(root):
        out = tmp_path / f"{split}.jsonl"
        n = export_dataset(name, root, split, out)
        records = [r for _, r in read_records(out, "gt")]  # full reader validation, ground-truth rules
        assert len(records) == n > 0
        for record in records:
            assert record.meta["dataset"] == name and record.meta["split"] == split
            assert (root / record.meta["path"]).is_file()
            assert record.id not in ids
            ids.add(record.id)
            for label in record.labels or {}:
                assert label in VOCABULARY
            for box in record.boxes or []:
                assert box.label in VOCABULARY
                x0, y0, x1, y1 = box.bbox
                assert 0 <= x0 < x1 <= record.image.width and 0 <= y0 < y1 <= record.image.height
            for mask in (record.masks or {}).values():
                if mask is not None:
                    assert decode_mask(mask.rle()).shape == (record.image.height, record.image.width)
        total += n
    assert total == sum(1 for _ in _image_files(root))


def _image_files(root: Path):
    suffixes = {".png", ".jpg", ".dicom", ".IMG"}
    skip = ("mask", "Mask", "scr")
    return (p for p in root.rglob("*") if p.suffix in suffixes and not any(s in p.as_posix() for s in skip))


def test_chestxray14_labels_match_data_entry(demo_root: Path):
    root = demo_root / "chestxray14"
    rows = {r["Image Index"]: r["Finding Labels"].split("|") for r in _csv(root / "Data_Entry_2017.csv")}
    boxes = _csv(root / "BBox_List_2017.csv")
    records = {r.id: r for s in ("train_val", "test") for r in get_adapter("chestxray14").records(root, s)}
    for image, findings in rows.items():
        labels = records[image].labels
        assert labels["Pleural Effusion"] == float("Effusion" in findings)
        assert labels["Pleural Thickening"] == float("Pleural_Thickening" in findings)
        assert labels["No Finding"] == float(findings == ["No Finding"])
        assert sum(labels.values()) == len(findings)
    assert sum(len(r.boxes or []) for r in records.values()) == len(boxes)
    first = boxes[0]
    x, y, w = (float(first[k]) for k in ("Bbox [x", "y", "w"))
    got = [b.bbox for b in records[first["Image Index"]].boxes]
    assert any(np.allclose(b[:3], [x / 4, y / 4, x / 4 + w / 4]) for b in got)  # 1024 px -> 256 px file


@pytest.mark.parametrize("policy", ["U-Ones", "U-Zeros", "U-Ignore"])
def test_chexpert_uncertainty_policy(policy: str, demo_root: Path):
    root = demo_root / "chexpert"
    rows = _csv(root / "train.csv")
    # no_finding=ignore: each cell on its own (the No Finding implication is tested in test_mimic_cxr_reports.py)
    adapter = get_adapter("chexpert", uncertain=policy, labels="all", no_finding="ignore")
    records = list(adapter.records(root, "train"))
    assert [r.id for r in records] == [r["Path"] for r in rows]
    for name in ("Edema", "Lung Lesion", "Cardiomegaly"):
        cells = [r[name] for r in rows]
        values = [r.labels[name] for r in records]
        assert values.count(1.0) == cells.count("1.0") + (cells.count("-1.0") if policy == "U-Ones" else 0)
        assert values.count(0.0) == cells.count("0.0") + (cells.count("-1.0") if policy == "U-Zeros" else 0)
        assert values.count(None) == cells.count("") + (cells.count("-1.0") if policy == "U-Ignore" else 0)
    default = next(get_adapter("chexpert").records(root, "valid"))
    assert set(default.labels) == {
        "Atelectasis",
        "Cardiomegaly",
        "Consolidation",
        "Edema",
        "Pleural Effusion",
    }


def test_chestx_det_masks_follow_polygons_and_boxes(demo_root: Path):
    for record in get_adapter("chestx-det").records(demo_root / "chestx-det", "test"):
        for label, mask in record.masks.items():
            area = decode_mask(mask.rle())
            assert area.any() == bool(record.labels[label]), (record.id, label)
            if area.any():  # every mask pixel lies inside one of the class's boxes
                inside = np.zeros_like(area)
                for box in record.boxes:
                    if box.label == label:
                        x0, y0, x1, y1 = (int(round(c)) for c in box.bbox)
                        inside[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = True
                assert not (area & ~inside).any()


def test_mimic_reports_agree_with_labels(demo_root: Path):
    """The demo reports have the real structures (fact `report_format_examples`: with and without FINDINGS /
    IMPRESSION headers), so the text checked is whatever the section rule selected, never empty."""
    checked = 0
    for record in get_adapter("mimic-cxr", uncertain="U-Ones").records(demo_root / "mimic-cxr", "train"):
        assert record.report, record.meta["report_rule"]
        if record.meta["report_rule"] == "findings+impression":
            assert record.report.startswith("FINDINGS:") and "IMPRESSION:" in record.report
        text = record.report.lower()
        for label, phrase in (("Pneumothorax", "pneumothorax"), ("Pleural Effusion", "pleural effusion")):
            if record.labels[label] == 1.0:
                assert f"no {phrase}" not in text and phrase in text
                checked += 1
            elif record.labels[label] == 0.0:
                assert f"no {phrase}" in text
    assert checked > 0


def test_images_read_as_radiographs(demo_root: Path):
    """Lungs darker than the heart after DICOM VOI/MONOCHROME1 handling and JSRT raw inversion."""
    jsrt = next(get_adapter("jsrt").records(demo_root / "jsrt", "fold1"))
    vindr = list(get_adapter("vindr-cxr").records(demo_root / "vindr-cxr", "train"))[:2]
    cases = [(demo_root / "jsrt" / jsrt.meta["path"], decode_mask(jsrt.masks["right lung"].rle()), None)]
    for record in vindr:  # the demo alternates MONOCHROME2 / MONOCHROME1
        cases.append((demo_root / "vindr-cxr" / record.meta["path"], None, record))
    for path, lung, _ in cases:
        image = load_image(path)
        size = image.shape[0]
        lung_patch = image[size * 40 // 100 : size * 50 // 100, size * 25 // 100 : size * 32 // 100]
        heart_patch = image[size * 62 // 100 : size * 66 // 100, size * 52 // 100 : size * 56 // 100]
        assert lung_patch.mean() + 0.2 < heart_patch.mean(), path
        if lung is not None:
            assert image[lung].mean() < 0.35


def test_jsrt_masks_and_nodules(demo_root: Path):
    records = list(get_adapter("jsrt").records(demo_root / "jsrt", "fold2"))
    assert all(int(r.id[-3:]) % 2 == 0 for r in records)
    for record in records:
        assert set(record.masks) == set(STRUCTURES)
        assert (
            record.labels["Nodule"] == float(record.id.startswith("JPCLN")) == float(len(record.boxes) == 1)
        )
        lungs = decode_mask(record.masks["left lung"].rle())
        assert (
            lungs[:, : lungs.shape[1] // 2].sum() < lungs[:, lungs.shape[1] // 2 :].sum()
        )  # patient's left = image right


def test_demo_is_deterministic(tmp_path: Path):
    def digest(folder: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
        return h.hexdigest()

    for run in ("a", "b"):
        generator("vindr-cxr")(tmp_path / run, n=6, seed=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    generator("vindr-cxr")(tmp_path / "c", n=6, seed=4)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_hf_dataset_round_trip(demo_root: Path, tmp_path: Path):
    adapter = get_adapter("chestx-det")
    records = list(adapter.records(demo_root / "chestx-det", "test"))
    dataset = to_hf_dataset(adapter, demo_root / "chestx-det", "test", cache_dir=tmp_path / "hf")
    assert dataset.cache_files  # on disk, memory-mapped Arrow
    assert [record_from_row(row) for row in dataset] == records
    again = to_hf_dataset(adapter, demo_root / "chestx-det", "test", cache_dir=tmp_path / "hf")
    assert again.cache_files[0]["filename"] == dataset.cache_files[0]["filename"]


def test_cli_check_prints_counts(demo_root: Path):
    console = Console(file=io.StringIO(), width=200)
    assert check_dataset("tbx11k", demo_root / "tbx11k", console=console) == 0
    text = console.file.getvalue()
    assert "layout OK" in text and "Tuberculosis:" in text
    assert check_dataset("no-such-dataset", demo_root, console=console) == 2  # a usage error
