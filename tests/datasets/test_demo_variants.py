"""Each real publisher variant the demo now re-creates from the fact sheets, read by its adapter.

One test per variant (bench/datasets/facts/<name>.yaml): the demo file is checked against the fact, then the
adapter is asked for what a researcher would expect from the publisher's file. Where an adapter does not yet
accept the real layout the test is marked xfail(strict=True, reason="adapter: ...") so that the fix shows up as an
unexpected pass (then drop the marker).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.datasets import LayoutError, get_adapter
from bench.datasets.factsheet import fact
from bench.datasets.io import load_image
from bench.metrics.segmentation import decode_mask


def _text(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("latin-1")


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_text(path))))


def _header(path: Path) -> list[str]:
    return next(csv.reader(io.StringIO(_text(path))))


def _records(name: str, root: Path, **options: object) -> dict[str, object]:
    adapter = get_adapter(name, **options)
    return {r.id: r for split in adapter.available_splits(root) for r in adapter.records(root, split)}


def _printf_regex(pattern: str) -> re.Pattern[str]:
    """'tb%04d.png (...)' -> ^tb\\d{4}\\.png$; '%d' -> \\d+."""
    first = re.escape(pattern.split()[0])
    return re.compile("^" + re.sub(r"%0(\d)d", r"\\d{\1}", first).replace("%d", r"\d+") + "$")


# ---------------------------------------------------------------------------------------------- VinDr-CXR


def test_vindr_headers_are_the_publishers(demo_root: Path) -> None:
    annotations = demo_root / "vindr-cxr" / "annotations"
    train, test = (
        _header(annotations / "image_labels_train.csv"),
        _header(annotations / "image_labels_test.csv"),
    )
    assert train == fact("vindr-cxr", "image_labels_train_columns")
    assert test == fact("vindr-cxr", "image_labels_test_columns")
    assert "rad_id" in train and "Other diseases" in train
    assert "rad_id" not in test and "Other disease" in test and "Other diseases" not in test


def test_vindr_test_labels_other_disease(demo_root: Path) -> None:
    """The test file's singular 'Other disease' column becomes the 'Other Disease' label of the test records."""
    root = demo_root / "vindr-cxr"
    rows = _rows(root / "annotations" / "image_labels_test.csv")
    positive = {r["image_id"] for r in rows if r["Other disease"] == "1"}
    assert positive, "the demo marks 'Other disease' on some test images"
    records = list(get_adapter("vindr-cxr").records(root, "test"))
    assert {r.id for r in records} == {r["image_id"] for r in rows}
    for record in records:
        assert record.labels["Other Disease"] == float(record.id in positive), record.id


def test_vindr_no_finding_rows_without_coordinates(demo_root: Path) -> None:
    root = demo_root / "vindr-cxr"
    for split in ("train", "test"):
        boxes = _rows(root / "annotations" / f"annotations_{split}.csv")
        empty = [b for b in boxes if b["class_name"] == "No finding"]
        assert empty and all(b[k] == "" for b in empty for k in ("x_min", "y_min", "x_max", "y_max"))
        with_boxes = {b["image_id"] for b in boxes if b["class_name"] != "No finding"}
        for record in get_adapter("vindr-cxr").records(root, split):
            if record.id not in with_boxes:
                assert record.boxes == [], record.id


# --------------------------------------------------------------------------------------------- ChestX-Det


def _chestx_det_variant(demo_root: Path, split: str, folder: str) -> None:
    root = demo_root / "chestx-det"
    listed = fact("chestx-det", "archive_layouts")[f"{split}_data.zip"]
    assert f"{folder}/*.png" in listed and (root / folder).is_dir()
    entries = _rows_json(root / f"ChestX_Det_{split}.json")
    records = list(get_adapter("chestx-det").records(root, split))
    assert [r.id for r in records] == [e["file_name"] for e in entries]
    assert all(r.meta["path"] == f"{folder}/{r.id}" for r in records)


def _rows_json(path: Path) -> list[dict]:
    import json

    return json.loads(path.read_text())


def test_chestx_det_train_archive_variant(demo_root: Path) -> None:
    """train_data.zip as some tools unpack it: train_data/train/*.png."""
    _chestx_det_variant(demo_root, "train", "train_data/train")


def test_chestx_det_test_archive_variant(demo_root: Path) -> None:
    """test_data.zip unpacked to test/*.png."""
    _chestx_det_variant(demo_root, "test", "test")


def test_chestx_det_entries_without_findings(demo_root: Path) -> None:
    root = demo_root / "chestx-det"
    keys = fact("chestx-det", "json_fields")["keys_in_order"]
    checked = 0
    for split in ("train", "test"):
        entries = _rows_json(root / f"ChestX_Det_{split}.json")
        assert all(list(e) == keys for e in entries)
        empty = {e["file_name"] for e in entries if e["syms"] == [] == e["boxes"] == e["polygons"]}
        for record in get_adapter("chestx-det").records(root, split):
            if record.id in empty:
                assert record.boxes == [] and not any(record.labels.values())
                checked += 1
    assert checked


# ------------------------------------------------------------------------------------------------- TBX11K


def test_tbx11k_publisher_file_names(demo_root: Path) -> None:
    """health/h0001.png, sick/s0001.png, tb/tb0001.png as fact `file_name_patterns` says."""
    root = demo_root / "tbx11k"
    patterns = fact("tbx11k", "file_name_patterns")
    seen = set()
    records = _records("tbx11k", root)
    for split in ("train", "val"):
        listed = (root / "lists" / f"TBX11K_{split}.txt").read_text().split()
        for line in listed:
            folder, name = line.split("/")
            assert _printf_regex(patterns[folder]).match(name), line
            seen.add(folder)
            assert records[line].meta["class"] == folder
    assert seen == {"health", "sick", "tb"}
    assert any(r.boxes for r in records.values() if r.meta["class"] == "tb")
    with Image.open(root / "imgs" / listed[0]) as image:  # 8-bit RGB PNGs (fact image_format)
        assert image.mode == "RGB"
    assert load_image(root / "imgs" / listed[0]).ndim == 2


# --------------------------------------------------------------------------------------------------- JSRT


def _clndat(root: Path) -> dict[str, list[str]]:
    """CLNDAT_EN.txt split by record (each starts at its image name), fields by tab."""
    text = (root / fact("jsrt", "clndat_format")["file"]).read_bytes().decode("latin-1")
    starts = [m.start() for m in re.finditer(r"JPCLN\d{3}\.IMG", text)]
    records = [text[a:b].strip("\r") for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return {r.split("\t")[0][:8]: r.split("\t") for r in records}


def test_jsrt_clinical_lists_as_distributed(demo_root: Path) -> None:
    root = demo_root / "jsrt"
    clndat = (root / "Clinical_Information" / "CLNDAT_EN.txt").read_bytes()
    assert b"\n" not in clndat and clndat.count(b"\r") >= 3  # CR record separators
    run_together = re.findall(rb"[^\r]JPCLN\d{3}\.IMG", clndat)
    assert len(run_together) >= 2  # one record's last field directly followed by the next image name
    fields = fact("jsrt", "clndat_format")["fields"]
    assert all(len(r) >= len(fields) for r in _clndat(root).values())
    cnndat = (root / "Clinical_Information" / "CNNDAT_EN.TXT").read_bytes()
    assert b"\t" not in cnndat and b"\n" not in cnndat and b"  " in cnndat and cnndat.endswith(b"\r")


def test_jsrt_every_nodule_image_has_its_box(demo_root: Path) -> None:
    """Run-together CLNDAT records still give each JPCLN image its nodule box (centre x, y; size in mm)."""
    root = demo_root / "jsrt"
    nodules = _clndat(root)
    raw = fact("jsrt", "raw_format")
    records = _records("jsrt", root)
    jpcln = [r for r in records.values() if r.id.startswith("JPCLN")]
    assert len(jpcln) == len(nodules) > 0
    for record in jpcln:
        fields = nodules[record.id]
        size_mm, x, y = float(fields[2]), float(fields[5]), float(fields[6])
        scale = record.image.width / raw["width"]
        assert len(record.boxes) == 1, record.id
        half = size_mm / raw["pixel_spacing_mm"] / 2 * scale
        side = record.image.width
        expected = [
            min(max(v, 0.0), side)
            for v in (x * scale - half, y * scale - half, x * scale + half, y * scale + half)
        ]
        assert list(record.boxes[0].bbox) == pytest.approx(expected), record.id


def test_jsrt_scr_masks_as_the_archive_unpacks(demo_root: Path) -> None:
    """scratch/fold1|fold2/masks/<structure with spaces>/<name>.gif, fold by the image number's parity."""
    root = demo_root / "jsrt"
    scr = fact("jsrt", "scr_layout")
    for structure in scr["structure_folders"]:
        assert " " in structure or structure == "heart"
        for fold in (1, 2):
            assert list((root / "scratch" / f"fold{fold}" / "masks" / structure).glob("*.gif"))
    for record in _records("jsrt", root).values():
        fold = 1 if int(record.id[-3:]) % 2 else 2
        assert record.meta["split"] == f"fold{fold}"
        gif = root / "scratch" / f"fold{fold}" / "masks" / "left lung" / f"{record.id}.gif"
        with Image.open(gif) as image:
            published = np.asarray(image.convert("L")) > 0
        mask = decode_mask(record.masks["left lung"].rle())
        assert np.array_equal(mask[::2, ::2], published)


# ---------------------------------------------------------------------------------------------- MIMIC-CXR

HEADER = re.compile(r"\n ([A-Z ()/,-]+):\s")


@pytest.fixture(scope="module")
def mimic(demo_root: Path) -> tuple[Path, dict[str, object]]:
    root = demo_root / "mimic-cxr"
    records = {r.meta["study"]: r for r in _records("mimic-cxr", root).values()}
    return root, records


def _reports(root: Path, records: dict[str, object]) -> dict[str, str]:
    out = {}
    for study, record in records.items():
        path = root / "files" / Path(record.id).parent.parent / f"s{study}.txt"
        out[study] = path.read_text()
    return out


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_mimic_report_without_headers(mimic) -> None:
    """No 'UPPER CASE:' header at all: the official fallback, the paragraphs after the first."""
    root, records = mimic
    headerless = {s: t for s, t in _reports(root, records).items() if not HEADER.search(t)}
    assert headerless
    for study, text in headerless.items():
        record = records[study]
        assert record.meta["report_rule"] == "last_paragraph"
        assert record.report == _squash(text.split("\n \n", 1)[1])


def test_mimic_conclusion_only_report(mimic) -> None:
    """A study-describing header ('CHEST, TWO VIEWS:') and CONCLUSION: read as findings and impression."""
    root, records = mimic
    reports = {s: t for s, t in _reports(root, records).items() if "\n CONCLUSION:" in t}
    assert reports
    for study, text in reports.items():
        findings = _squash(text.split("CHEST, TWO VIEWS:", 1)[1].split("\n \n")[0])
        conclusion = _squash(text.split("CONCLUSION:", 1)[1])
        assert records[study].report == f"FINDINGS: {findings}\n\nIMPRESSION: {conclusion}"


def test_mimic_findings_and_impression_report(mimic) -> None:
    root, records = mimic
    reports = {s: t for s, t in _reports(root, records).items() if "FINDINGS AND IMPRESSION:" in t}
    assert reports
    for study, text in reports.items():
        body = _squash(text.split("FINDINGS AND IMPRESSION:", 1)[1])
        assert records[study].report == f"IMPRESSION: {body}"
        assert records[study].meta["report_rule"] == "impression"


def test_mimic_recommendations_stay_out_of_the_impression(mimic) -> None:
    root, records = mimic
    reports = {s: t for s, t in _reports(root, records).items() if "RECOMMENDATION(S):" in t}
    assert reports
    for study, text in reports.items():
        recommendation = _squash(text.split("RECOMMENDATION(S):", 1)[1])
        impression = _squash(text.split("IMPRESSION:", 1)[1].split("RECOMMENDATION(S):")[0])
        assert recommendation not in records[study].report
        assert records[study].report.endswith(f"IMPRESSION: {impression}")


# ----------------------------------------------------------------------------------------------- CheXpert


def test_chexpert_test_split_as_released_with_chexlocalize(demo_root: Path) -> None:
    root = demo_root / "chexpert"
    assert _header(root / "test_labels.csv") == fact("chexpert", "test_labels_csv_columns")
    rows = _rows(root / "test_labels.csv")
    assert rows and all(r["Path"].startswith("test/patient") for r in rows)
    adapter = get_adapter("chexpert", labels="all")
    assert "test" in adapter.available_splits(root)
    records = list(adapter.records(root, "test"))
    assert [r.id for r in records] == [r["Path"] for r in rows]
    for record, row in zip(records, rows, strict=True):
        assert record.meta["path"] == row["Path"]
        for name, value in record.labels.items():
            assert value == float(row[name]), (record.id, name)


def test_chexpert_missing_test_image_names_the_test_path(demo_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "chexpert"
    shutil.copytree(demo_root / "chexpert", root)
    relative = _rows(root / "test_labels.csv")[0]["Path"]
    (root / relative).unlink()
    with pytest.raises(LayoutError) as info:
        list(get_adapter("chexpert").records(root, "test"))
    assert info.value.path.endswith(relative) and "not found" in str(info.value)


def test_chexpert_train_and_valid_carry_the_release_prefix(demo_root: Path) -> None:
    root = demo_root / "chexpert"
    release = fact("chexpert", "path_prefixes")["train_small"].split("/")[0]
    for split, columns in (("train", "train_csv_columns"), ("valid", "valid_csv_columns")):
        assert _header(root / f"{split}.csv") == fact("chexpert", columns)
        rows = _rows(root / f"{split}.csv")
        assert all(r["Path"].startswith(f"{release}/{split}/patient") for r in rows)
        records = list(get_adapter("chexpert").records(root, split))
        assert [r.meta["path"] for r in records] == [r["Path"].split("/", 1)[1] for r in rows]


# -------------------------------------------------------------------------------------------- ChestX-ray14


def test_chestxray14_headers_as_published(demo_root: Path) -> None:
    """'OriginalImage[Width', 'Height]', a trailing empty column; 'Bbox [x', 'y', 'w', 'h]' and 3 empty fields."""
    root = demo_root / "chestxray14"
    entry = (root / "Data_Entry_2017.csv").read_text().splitlines()
    assert next(csv.reader([entry[0]])) == fact("chestxray14", "data_entry_columns")["Data_Entry_2017.csv"]
    assert all(line.endswith(",") for line in entry)  # rows end with the trailing comma too
    bbox = (root / "BBox_List_2017.csv").read_text().splitlines()
    assert next(csv.reader([bbox[0]])) == fact("chestxray14", "bbox_csv_columns")
    assert all(len(next(csv.reader([line]))) == 6 for line in bbox[1:])
    records = _records("chestxray14", root)
    assert len(records) == len(entry) - 1
    boxed: dict[str, int] = {}
    for row in _rows(root / "BBox_List_2017.csv"):
        boxed[row["Image Index"]] = boxed.get(row["Image Index"], 0) + 1
    assert boxed and all(len(records[name].boxes) == n for name, n in boxed.items())


# --------------------------------------------------------------------------------------------- object-CXR


def test_object_cxr_rectangles_ellipses_polygons_and_empty(demo_root: Path) -> None:
    root = demo_root / "object-cxr"
    grammar = fact("object-cxr", "annotation_grammar")
    kinds = {code: name for code, name in grammar["types"].items()}
    seen = set()
    records = _records("object-cxr", root)
    for split in ("train", "dev"):
        assert _header(root / f"{split}.csv") == fact("object-cxr", "csv_columns")[f"{split}.csv"]
        for row in _rows(root / f"{split}.csv"):
            record = records[row["image_name"]]
            objects = [o.split(" ") for o in row["annotation"].split(";") if o]
            assert record.labels["Foreign Object"] == float(bool(objects))
            assert len(record.boxes) == len(objects)
            for obj, box in zip(objects, record.boxes, strict=True):
                kind = kinds[obj[0]]
                seen.add(kind)
                shape = getattr(box, "shape", None)
                if kind == "ellipse":
                    assert shape == "ellipse"
                elif kind == "polygon":
                    assert shape == "polygon" and list(box.points) == [float(v) for v in obj[1:]]
                else:
                    assert shape in (None, "box", "rectangle")
    assert seen == {"rectangle", "ellipse", "polygon"}
    assert any(not r.boxes for r in records.values())


# ------------------------------------------------------------------------------------------------ Shenzhen

SHENZHEN_VARIANTS = fact("shenzhen", "clinical_readings_format")["observed_variants"]
# Variants the Shenzhen adapter (bench/datasets/nlm_tb.py `reading`) does not parse yet.
SHENZHEN_FAILING: dict[str, str] = {}


def _shenzhen_expected(first: str) -> tuple[str, int | float | None]:
    """Sex and age in years (fact `subgroup_meta`): months / 12 and days / 365.25, to 2 decimals."""
    sex = "F" if first.strip().lower().startswith("f") else "M"
    number = re.search(r"(\d+)\s*(month|day)?", first)
    if number is None:
        return sex, None
    n, unit = int(number.group(1)), number.group(2)
    return sex, {None: n, "month": round(n / 12, 2), "day": round(n / 365.25, 2)}[unit]


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(v, marks=pytest.mark.xfail(strict=True, reason=SHENZHEN_FAILING[v]))
        if v in SHENZHEN_FAILING
        else v
        for v in SHENZHEN_VARIANTS
    ],
)
def test_shenzhen_clinical_reading_variant(variant: str, demo_root: Path) -> None:
    """Each real first-line variant gives sex, age (when in years) and the reading alone."""
    from bench.datasets.demo.shenzhen import first_line

    root = demo_root / "shenzhen"
    records = _records("shenzhen", root)
    shape = re.compile(re.escape(first_line(variant, 99)).replace("99", r"\d+") + "$")
    matched = 0
    for path in sorted((root / "ClinicalReadings").glob("*.txt")):
        lines = path.read_text().split("\n")
        if not shape.match(lines[0]):
            continue
        record = records[path.stem]
        sex, age = _shenzhen_expected(lines[0])
        reading = [line for line in lines[1:] if line.strip()][0]
        assert record.meta["sex"] == sex, (path.name, lines[0])
        assert record.meta.get("age") == age, (path.name, lines[0])
        assert record.meta["reading"] == reading, (path.name, lines[0])
        matched += 1
    assert matched


def test_shenzhen_palette_and_rgb_pngs(demo_root: Path) -> None:
    root = demo_root / "shenzhen"
    modes = {}
    for path in (root / "CXR_png").glob("*.png"):
        with Image.open(path) as image:
            modes.setdefault(image.mode, []).append(path)
    assert set(modes) == {"P", "RGB"}  # fact image_format channels_as_stored
    records = _records("shenzhen", root)
    for mode, paths in modes.items():
        pixels = load_image(paths[0])
        assert pixels.shape == (records[paths[0].stem].image.height, records[paths[0].stem].image.width), mode


def test_shenzhen_masks_only_where_published(demo_root: Path) -> None:
    root = demo_root / "shenzhen"
    masks = {p.name for p in (root / "mask").glob("*_mask.png")}
    records = _records("shenzhen", root)
    assert 0 < len(masks) < len(records)
    for record in records.values():
        assert (record.masks is not None) == (f"{record.id}_mask.png" in masks)


# ---------------------------------------------------------------------------------------------- Montgomery


def test_montgomery_clinical_readings(demo_root: Path) -> None:
    root = demo_root / "montgomery"
    records = _records("montgomery", root)
    sexes = set()
    for path in sorted((root / "ClinicalReadings").glob("*.txt")):
        sex_line, age_line, reading = path.read_text().split("\n", 2)
        record = records[path.stem]
        sex = sex_line.split(":")[1].strip()
        sexes.add(sex)
        if sex == "O":  # other: no meta.sex, the publisher's value kept for the counts (fact `subgroup_meta`)
            assert "sex" not in record.meta and record.meta["subgroup_dropped"] == {"sex": "O"}, path.name
        else:
            assert record.meta["sex"] == sex, path.name
        assert record.meta["age"] == int(age_line.split(":")[1].strip().rstrip("Y")), path.name
        assert record.meta["reading"] == reading.strip(), path.name
    assert sexes == set(fact("montgomery", "clinical_readings_format")["sex_values"])


def test_montgomery_mask_sides(demo_root: Path) -> None:
    """'left lung' is the patient's left lung (as in SCR / JSRT): on the image's right half."""
    for record in _records("montgomery", demo_root / "montgomery").values():
        left = decode_mask(record.masks["left lung"].rle())
        half = left.shape[1] // 2
        assert left[:, half:].sum() > left[:, :half].sum(), record.id


def test_montgomery_sparse_numbering_and_one_bit_masks(demo_root: Path) -> None:
    root = demo_root / "montgomery"
    pattern = fact("montgomery", "image_name_pattern")
    names = sorted(p.name for p in (root / "CXR_png").glob("*.png"))
    assert all(re.match(pattern["regex"], n) for n in names)
    numbers = [int(re.match(pattern["regex"], n).group(1)) for n in names]
    assert max(numbers) > len(names)  # sparse, as published (not 1..n)
    assert all((n <= 103) == name.endswith("_0.png") for n, name in zip(numbers, names, strict=True))
    for folder in ("leftMask", "rightMask"):
        with Image.open(root / "ManualMask" / folder / names[0]) as mask:
            assert mask.mode == "1"
    assert len(_records("montgomery", root)) == len(names)
