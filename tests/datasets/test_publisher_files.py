"""Adapters on the structures the publishers really ship, from committed fixtures written from the fact sheets
(tests/data/datasets/*/README.md): JSRT's run-together nodule list and the SCR archive folder, object-CXR's
ellipses and polygons, CheXpert's released test split (test/… paths)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.datasets import LayoutError, get_adapter
from bench.datasets.factsheet import count_warnings, fact
from bench.datasets.jsrt import read_nodule_list

DATA = Path(__file__).resolve().parents[1] / "data" / "datasets"
SIDE = 64  # tiny raw JSRT images: boxes scale by 64 / 2048


def _jsrt(tmp_path: Path, scr_parent: str = "scratch") -> Path:
    root = tmp_path / "jsrt"
    shutil.copytree(DATA / "jsrt" / "Clinical_Information", root / "Clinical_Information")
    stems = ["JPCLN001", "JPCLN002", "JPCLN003", "JPCLN004", "JPCNN001", "JPCNN002"]
    (root / "All247images").mkdir(parents=True)
    structures = fact("jsrt", "scr_layout")["structure_folders"]
    for stem in stems:
        np.full((SIDE, SIDE), 2000, dtype=">u2").tofile(root / "All247images" / f"{stem}.IMG")
        fold = "fold1" if int(stem[-3:]) % 2 else "fold2"
        for structure in structures:
            folder = root / scr_parent / fold / "masks" / structure
            folder.mkdir(parents=True, exist_ok=True)
            mask = np.zeros((SIDE // 2, SIDE // 2), np.uint8)
            mask[4:20, 4:12] = 255
            Image.fromarray(mask).save(folder / f"{stem}.gif")
    return root


def test_clndat_is_read_by_record_not_by_line() -> None:
    nodules = read_nodule_list(DATA / "jsrt")
    assert nodules == {
        "JPCLN001": (15.0, 1634.0, 692.0),
        "JPCLN002": (22.0, 512.0, 1200.0),
        "JPCLN003": (9.0, 1024.0, 900.0),  # run together with JPCLN002's diagnosis
        "JPCLN004": (30.0, 1400.0, 1500.0),
    }


def test_jsrt_reads_the_scr_archive_as_it_unpacks(tmp_path: Path) -> None:
    root = _jsrt(tmp_path)
    adapter = get_adapter("jsrt")
    records = {r.id: r for split in ("fold1", "fold2") for r in adapter.records(root, split)}
    assert sorted(records) == ["JPCLN001", "JPCLN002", "JPCLN003", "JPCLN004", "JPCNN001", "JPCNN002"]
    assert {k for k, r in records.items() if r.meta["split"] == "fold1"} == {
        "JPCLN001",
        "JPCLN003",
        "JPCNN001",
    }
    scale = SIDE / 2048
    for stem, (size_mm, x, y) in read_nodule_list(DATA / "jsrt").items():
        (box,) = records[stem].boxes
        half = size_mm / 0.175 / 2
        assert box.bbox == pytest.approx(
            [max((x - half) * scale, 0), max((y - half) * scale, 0), (x + half) * scale, (y + half) * scale]
        )
    assert records["JPCNN001"].boxes == []
    assert set(records["JPCLN001"].masks) == set(fact("jsrt", "scr_layout")["structure_folders"])


def test_jsrt_nodule_image_without_a_record_is_an_error(tmp_path: Path) -> None:
    root = _jsrt(tmp_path)
    path = root / "Clinical_Information" / "CLNDAT_EN.txt"
    text = path.read_bytes().decode("latin-1")
    path.write_bytes(text[: text.index("JPCLN004.IMG")].encode("latin-1"))  # the last record is missing
    with pytest.raises(LayoutError, match="JPCLN004"):
        list(get_adapter("jsrt").records(root, "fold2"))


def test_jsrt_counts_are_checked_against_the_release(tmp_path: Path) -> None:
    report = get_adapter("jsrt").check(_jsrt(tmp_path))
    counted = {split: counts.images for split, counts in report.splits.items()}
    warnings = count_warnings("jsrt", counted)
    assert warnings and "fold1" in warnings[0] and "124" in warnings[0] and "3 images" in warnings[0]


def test_object_cxr_keeps_ellipses_and_polygons(tmp_path: Path) -> None:
    root = tmp_path / "object-cxr"
    (root / "dev").mkdir(parents=True)
    shutil.copy(DATA / "object-cxr" / "dev.csv", root / "dev.csv")
    (root / "train.csv").write_text("image_name,annotation\n")
    with (root / "dev.csv").open() as handle:
        for row in csv.DictReader(handle):
            Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / "dev" / row["image_name"])
    records = {r.id: r for r in get_adapter("object-cxr").records(root, "dev")}
    assert records["08001.jpg"].boxes[0].shape is None
    assert records["08002.jpg"].boxes[0].shape == "ellipse"
    assert records["08002.jpg"].boxes[0].bbox == (8.0, 8.0, 56.0, 40.0)
    polygon = records["08003.jpg"].boxes[0]
    assert polygon.shape == "polygon" and polygon.points == (
        4.0,
        4.0,
        60.0,
        4.0,
        60.0,
        60.0,
        32.0,
        20.0,
        4.0,
        60.0,
    )
    assert polygon.bbox == (4.0, 4.0, 60.0, 60.0)
    assert [b.shape for b in records["08004.jpg"].boxes] == [None, "ellipse"]
    assert records["08005.jpg"].boxes == [] and records["08005.jpg"].labels == {"Foreign Object": 0.0}


def test_object_cxr_header_variants(tmp_path: Path) -> None:
    root = tmp_path / "object-cxr"
    (root / "dev").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / "dev" / "08001.jpg")
    (root / "dev.csv").write_text("image_path,annotations\n/data/dev/08001.jpg,0 1 1 5 5\n")
    (record,) = get_adapter("object-cxr").records(root, "dev")
    assert record.id == "08001.jpg" and record.boxes[0].bbox == (1.0, 1.0, 5.0, 5.0)
    (root / "dev.csv").write_text("name,boxes\n08001.jpg,\n")
    with pytest.raises(LayoutError, match="image_name"):
        list(get_adapter("object-cxr").records(root, "dev"))


def _chexpert_test(tmp_path: Path) -> Path:
    root = tmp_path / "CheXpert"
    columns = fact("chexpert", "test_labels_csv_columns")
    rows = [
        ["test/patient64741/study1/view1_frontal.jpg", "1", *["0"] * (len(columns) - 2)],
        ["test/patient64742/study1/view1_frontal.jpg", "0", "0", "1", *["0"] * (len(columns) - 4)],
    ]
    root.mkdir()
    with (root / "test_labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    for row in rows:
        path = root / row[0]
        path.parent.mkdir(parents=True)
        Image.fromarray(np.zeros((32, 40), np.uint8)).save(path)
    train_columns = fact("chexpert", "train_csv_columns")
    for split in ("train", "valid"):
        (root / f"{split}.csv").write_text(",".join(train_columns) + "\n")
    return root


def test_chexpert_released_test_split(tmp_path: Path) -> None:
    root = _chexpert_test(tmp_path)
    adapter = get_adapter("chexpert", labels="all")
    assert "test" in adapter.available_splits(root)
    records = list(adapter.records(root, "test"))
    assert [r.id for r in records] == [
        "test/patient64741/study1/view1_frontal.jpg",
        "test/patient64742/study1/view1_frontal.jpg",
    ]
    assert records[0].labels["No Finding"] == 1.0 and records[0].labels["Cardiomegaly"] == 0.0
    assert records[1].labels["Cardiomegaly"] == 1.0
    assert records[0].meta["patient"] == "patient64741" and records[0].image.width == 40


def test_chexpert_missing_test_image_names_its_test_path(tmp_path: Path) -> None:
    root = _chexpert_test(tmp_path)
    (root / "test/patient64742/study1/view1_frontal.jpg").unlink()
    with pytest.raises(LayoutError) as error:
        list(get_adapter("chexpert").records(root, "test"))
    assert str(error.value).startswith(str(root / "test/patient64742/study1/view1_frontal.jpg"))


def test_chexlocalize_validation_file_and_airspace_opacity(tmp_path: Path) -> None:
    """CheXlocalize ships val_labels.csv with val/… paths and calls Lung Opacity 'Airspace Opacity'."""
    root = _chexpert_test(tmp_path)
    (root / "valid.csv").unlink()
    columns = [
        "Airspace Opacity" if c == "Lung Opacity" else c for c in fact("chexpert", "test_labels_csv_columns")
    ]
    row = ["val/patient64541/study1/view1_frontal.jpg"] + ["0"] * (len(columns) - 1)
    row[columns.index("Airspace Opacity")] = "1"
    (root / "val_labels.csv").write_text(",".join(columns) + "\n" + ",".join(row) + "\n")
    (root / "val/patient64541/study1").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / row[0])
    (record,) = get_adapter("chexpert", labels="all").records(root, "valid")
    assert record.labels["Lung Opacity"] == 1.0 and record.labels["Edema"] == 0.0


@pytest.mark.parametrize(
    ("name", "wrapper"),
    [
        ("shenzhen", "ChinaSet_AllFiles/ChinaSet_AllFiles"),
        ("shenzhen", "Shenzhen-Hospital-CXR-Set"),
        ("montgomery", "NLM-MontgomeryCXRSet/MontgomerySet"),
        ("montgomery", "Montgomery-County-CXR-Set/MontgomerySet"),
    ],
)
def test_nlm_release_wrappers(name: str, wrapper: str, demo_root: Path, tmp_path: Path) -> None:
    """The NLM sets as their archives and mirrors unpack (facts `layout`): ROOT above the wrapper folder."""
    adapter = get_adapter(name)
    flat = {r.id: r for s in adapter.splits for r in adapter.records(demo_root / name, s)}
    shutil.copytree(demo_root / name, tmp_path / wrapper)
    wrapped = {r.id: r for s in adapter.splits for r in adapter.records(tmp_path, s)}
    assert wrapped.keys() == flat.keys()
    for key, record in wrapped.items():
        assert (tmp_path / record.meta["path"]).is_file()
        assert record.masks == flat[key].masks and record.meta.get("sex") == flat[key].meta.get("sex")


def test_shenzhen_kaggle_mask_folder(demo_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "shenzhen"
    shutil.copytree(demo_root / "shenzhen", root)
    shutil.move(root / "mask", tmp_path / "mask")
    (root / "mask").mkdir()
    shutil.move(tmp_path / "mask", root / "mask" / "mask")
    adapter = get_adapter("shenzhen")
    with_masks = [r for s in adapter.splits for r in adapter.records(root, s) if r.masks]
    assert with_masks and len(with_masks) == len(list((root / "mask" / "mask").glob("*.png")))


def test_data_check_warns_about_a_partial_download(tmp_path: Path) -> None:
    import io as text_io

    from rich.console import Console

    from bench.datasets.cli import check_dataset

    out = text_io.StringIO()
    assert check_dataset("jsrt", _jsrt(tmp_path), console=Console(file=out, width=300)) == 0
    text = out.getvalue()
    assert "warning: jsrt: 3 images in split 'fold1', the publisher's release has 124" in text
    assert "split 'fold2'" in text and "123" in text


def test_datasets_listing_names_each_convention_and_its_default() -> None:
    from bench.datasets import DATASETS
    from bench.datasets.cli import option_lines

    assert option_lines(DATASETS["mimic-cxr"])[:4] == [
        "uncertain=U-Ignore (U-Ones|U-Zeros)",
        "blank=null (negative)",
        "no_finding=implies_negative (ignore)",
        "sections=findings_impression (impression|findings)",
    ]
    assert "blank=null (negative)" in option_lines(DATASETS["chexpert"])
    assert option_lines(DATASETS["tbx11k"]) == []
