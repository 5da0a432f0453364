"""meta.sex / meta.age / meta.view (docs/formats.md "Subgroup fields"; facts `subgroup_meta` of each sheet).

Two kinds of reference: hand-written publisher values with the normalised value the fact sheet implies (the rare
and ugly ones included), and the demo's publisher files read independently of the adapters (csv / gzip / pydicom)
and mapped by the same hand-written rules.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path

import pydicom
import pytest

from bench.datasets import get_adapter
from bench.datasets.base import OptionError
from bench.datasets.demographics import normalise, parse_age

# Hand-written from the fact sheets (`subgroup_meta`): publisher value -> meta value, None = key absent.
NIH_SEX = {"M": "M", "F": "F"}
CHEXPERT_SEX = {"Male": "M", "Female": "F", "Unknown": None}
VINDR_SEX = {"M": "M", "F": "F", "O": None, "": None, None: None}
JSRT_SEX = {"male": "M", "female": "F"}


def _records(name: str, root: Path, **options: object) -> dict[str, object]:
    adapter = get_adapter(name, **options)
    return {r.id: r for split in adapter.available_splits(root) for r in adapter.records(root, split)}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    return list(csv.DictReader(io.StringIO(text)))


# ------------------------------------------------------------------------------------------ the shared rules


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("045Y", 45),
        ("027Y", 27),
        ("000Y", 0),
        ("006M", 0.5),
        ("018M", 1.5),
        ("010W", 0.19),  # 70 days / 365.25
        ("020D", 0.05),
        ("64D", 0.18),
        ("58", 58),
        (" 58 ", 58),
        ("", None),
        ("Y", None),
        ("?", None),
        ("45.5", None),
        ("1234", None),
        ("045X", None),
    ],
)
def test_parse_age(text: str, years: int | float | None) -> None:
    got = parse_age(text)
    assert got == years
    assert type(got) is type(years)  # whole years stay int, other units are float


def test_normalise_leaves_out_and_keeps_what_it_drops() -> None:
    assert normalise(sex="M", sex_codes=NIH_SEX, age="61", view="PA") == {"sex": "M", "age": 61, "view": "PA"}
    assert normalise(sex="O", sex_codes=NIH_SEX, age="148", view="") == {
        "subgroup_dropped": {"sex": "O", "age": "148"}
    }
    assert normalise(sex=" female ", sex_codes=JSRT_SEX, age="120", view="ap") == {
        "sex": "F",
        "age": 120,
        "view": "AP",
    }
    assert normalise(sex="", sex_codes=NIH_SEX, age=None) == {}  # blanks are absent, not dropped values
    assert normalise(
        sex="Female", sex_codes=CHEXPERT_SEX | {"Female": "F"}, age="0", placeholder_ages=(0,)
    ) == {
        "sex": "F",
        "subgroup_dropped": {"age": "0"},
    }


# ------------------------------------------------------------------------------------ hand-written publisher rows


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"Patient Gender": "M", "Patient Age": "58", "View Position": "PA"},
            {"sex": "M", "age": 58, "view": "PA"},
        ),
        (
            {"Patient Gender": "F", "Patient Age": "0", "View Position": "AP"},
            {"sex": "F", "age": 0, "view": "AP"},
        ),
        # the reported Box variant of the v2020 header
        (
            {"Patient Sex": "F", "Patient Age": "47", "View Position": "AP"},
            {"sex": "F", "age": 47, "view": "AP"},
        ),
        # a 2017-file typing error: over 120, left out and kept for the counts
        (
            {"Patient Gender": "M", "Patient Age": "414", "View Position": "PA"},
            {"sex": "M", "view": "PA", "subgroup_dropped": {"age": "414"}},
        ),
    ],
)
def test_chestxray14_row(row: dict[str, str], expected: dict[str, object]) -> None:
    from bench.datasets.chestxray14 import _subgroups

    assert _subgroups(row) == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            {"Sex": "Male", "Age": "68", "Frontal/Lateral": "Frontal", "AP/PA": "AP"},
            {"sex": "M", "age": 68, "view": "AP"},
        ),
        (
            {"Sex": "Female", "Age": "87", "Frontal/Lateral": "Lateral", "AP/PA": ""},
            {"sex": "F", "age": 87, "view": "LATERAL"},
        ),
        (
            {"Sex": "Female", "Age": "44", "Frontal/Lateral": "Frontal", "AP/PA": "LL"},
            {"sex": "F", "age": 44, "view": "LL"},
        ),
        (
            {"Sex": "Unknown", "Age": "34", "Frontal/Lateral": "Frontal", "AP/PA": "PA"},
            {"age": 34, "view": "PA", "subgroup_dropped": {"sex": "Unknown"}},
        ),
        (
            {"Sex": "Female", "Age": "0", "Frontal/Lateral": "Frontal", "AP/PA": "AP"},
            {"sex": "F", "view": "AP", "subgroup_dropped": {"age": "0"}},
        ),
        ({"Path": "test/patient64741/study1/view1_frontal.jpg"}, {}),  # test_labels.csv: no such columns
    ],
)
def test_chexpert_row(row: dict[str, str], expected: dict[str, object]) -> None:
    from bench.datasets.chexpert import subgroups

    assert subgroups(row) == expected


@pytest.mark.parametrize(
    ("patient", "expected"),
    [
        (None, {"view": "PA"}),  # without MIMIC-IV: view only
        ({"gender": "F", "anchor_age": "52", "anchor_year": "2180"}, {"sex": "F", "age": 52, "view": "PA"}),
        ({"gender": "M", "anchor_age": "60", "anchor_year": "2177"}, {"sex": "M", "age": 63, "view": "PA"}),
        ({"gender": "M", "anchor_age": "91", "anchor_year": "2179"}, {"sex": "M", "age": 92, "view": "PA"}),
        # a shift that does not fit gives an impossible age: left out and kept
        (
            {"gender": "F", "anchor_age": "30", "anchor_year": "2300"},
            {"sex": "F", "view": "PA", "subgroup_dropped": {"age": "-90"}},
        ),
    ],
)
def test_mimic_row(patient: dict[str, str] | None, expected: dict[str, object]) -> None:
    from bench.datasets.mimic_cxr import _subgroups

    meta = {"ViewPosition": "PA", "StudyDate": "21800506"}
    assert _subgroups(meta, patient) == expected
    assert _subgroups({"ViewPosition": "", "StudyDate": ""}, patient) == (
        {} if patient is None else {"sex": patient["gender"]}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patient's Sex: F \nPatient's Age: 027Y\nnormal", {"sex": "F", "age": 27}),
        ("Patient's Sex: O \nPatient's Age: 005Y\nnormal", {"age": 5, "subgroup_dropped": {"sex": "O"}}),
        ("Patient's Sex: M\nPatient's Age: 018M\nnormal", {"sex": "M", "age": 1.5}),
        ("male 45yrs\nnormal", {"sex": "M", "age": 45}),
        ("femal 32yrs\nnormal", {"sex": "F", "age": 32}),
        ("female24yrs\nnormal", {"sex": "F", "age": 24}),
        ("male , 29yrs  \t\nnormal", {"sex": "M", "age": 29}),
        ("male 42\nnormal", {"sex": "M", "age": 42}),
        ("male 16month\nnormal", {"sex": "M", "age": 1.33}),
        ("female 64days\nnormal", {"sex": "F", "age": 0.18}),
        ("female 3weeks\nnormal", {"sex": "F", "subgroup_dropped": {"age": "3weeks"}}),
        ("normal", {}),
    ],
)
def test_nlm_reading(text: str, expected: dict[str, object], tmp_path: Path) -> None:
    from bench.datasets.nlm_tb import reading

    path = tmp_path / "reading.txt"
    path.write_text(text)
    got = reading(path)
    assert {k: v for k, v in got.items() if k != "reading"} == expected
    assert got["reading"] == "normal"


def test_jsrt_lists(tmp_path: Path) -> None:
    """Both clinical lists as distributed: CLNDAT tab-separated with CR ends and run-together records, CNNDAT
    with runs of spaces; '?' is the missing age."""
    from bench.datasets.jsrt import read_demographics

    folder = tmp_path / "Clinical_Information"
    folder.mkdir()
    clndat = (
        "JPCLN001.IMG\t5\t15\t53\tmale\t1634\t692\tmalignant\tl.upper lobe\tlung cancer\r"
        "JPCLN002.IMG\t5\t30\t?\tfemale\t1300\t1000\tbenign\tr.lower lobe\tpulmonary hema\ttoma"
        "JPCLN003.IMG\t3\t20\t61\tfemale\t500\t700\tbenign\tl.lower lobe\tinflammation\r"
    )
    (folder / "CLNDAT_EN.txt").write_bytes(clndat.encode("latin-1"))
    (folder / "CNNDAT_EN.TXT").write_bytes(
        b"JPCNN010.IMG 54  male non-nodule\rJPCNN011.IMG 70  female non-nodule\r"
    )
    assert read_demographics(tmp_path) == {
        "JPCLN001": ("53", "male"),
        "JPCLN002": ("?", "female"),
        "JPCLN003": ("61", "female"),
        "JPCNN010": ("54", "male"),
        "JPCNN011": ("70", "female"),
    }
    from bench.datasets.jsrt import _subgroups

    assert _subgroups(("?", "female")) == {"sex": "F", "subgroup_dropped": {"age": "?"}}
    assert _subgroups(("54", "male")) == {"sex": "M", "age": 54}
    assert _subgroups(None) == {}


# ------------------------------------------------------------------------- the demo's publisher files, read apart


def test_chestxray14_demo(demo_root: Path) -> None:
    root = demo_root / "chestxray14"
    rows = _csv_rows(root / "Data_Entry_2017.csv")
    records = _records("chestxray14", root)
    over = 0
    for row in rows:
        meta = records[row["Image Index"]].meta
        assert meta.get("sex") == NIH_SEX[row["Patient Gender"]]
        assert meta["view"] == row["View Position"]
        if int(row["Patient Age"]) > 120:
            over += 1
            assert "age" not in meta and meta["subgroup_dropped"] == {"age": row["Patient Age"]}
        else:
            assert meta["age"] == int(row["Patient Age"]) and "subgroup_dropped" not in meta
    assert over == 1  # the demo's three-digit age


def test_chexpert_demo(demo_root: Path) -> None:
    root = demo_root / "chexpert"
    records = _records("chexpert", root)
    seen: set[str] = set()
    for file_name in ("train.csv", "valid.csv"):
        for row in _csv_rows(root / file_name):
            meta = records[row["Path"]].meta
            assert meta.get("sex") == CHEXPERT_SEX[row["Sex"]], row
            assert meta.get("age") == (None if row["Age"] == "0" else int(row["Age"])), row
            view = row["AP/PA"] if row["Frontal/Lateral"] == "Frontal" else "LATERAL"
            assert meta["view"] == view, row
            seen |= {row["Sex"], f"age {row['Age']}", view}
    assert {"Unknown", "age 0", "LL", "LATERAL", "AP", "PA"} <= seen  # every rare value was exercised
    for row in _csv_rows(root / "test_labels.csv"):
        assert not {"sex", "age", "view"} & set(records[row["Path"]].meta)


def test_mimic_demo_with_and_without_patients(demo_root: Path) -> None:
    root = demo_root / "mimic-cxr"
    patients_path = root / "hosp" / "patients.csv.gz"
    patients = {row["subject_id"]: row for row in _csv_rows(patients_path)}
    metadata = {row["dicom_id"]: row for row in _csv_rows(root / "mimic-cxr-2.0.0-metadata.csv.gz")}
    plain = _records("mimic-cxr", root, attributes=False)
    joined = _records("mimic-cxr", root, attributes=False, patients=str(patients_path))
    assert plain.keys() == joined.keys()
    assert any(row["anchor_age"] == "91" for row in patients.values())
    for key, record in joined.items():
        dicom_id = key.rsplit("/", 1)[1]
        patient = patients[record.meta["patient"]]
        year = int(metadata[dicom_id]["StudyDate"][:4])
        assert record.meta["sex"] == patient["gender"]
        assert record.meta["age"] == int(patient["anchor_age"]) + year - int(patient["anchor_year"])
        assert record.meta["view"] == metadata[dicom_id]["ViewPosition"]
        assert not {"sex", "age"} & set(plain[key].meta) and plain[key].meta["view"] == record.meta["view"]


def test_mimic_patients_option_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "patients.csv.gz"
    with pytest.raises(OptionError, match=re.escape(f"patients={str(missing)!r}: file not found")):
        get_adapter("mimic-cxr", patients=str(missing))


def test_vindr_demo(demo_root: Path) -> None:
    root = demo_root / "vindr-cxr"
    records = _records("vindr-cxr", root)
    tags: set[object] = set()
    for record in records.values():
        ds = pydicom.dcmread(root / record.meta["path"], stop_before_pixels=True)
        sex, age = ds.get("PatientSex"), ds.get("PatientAge")
        assert record.meta.get("sex") == VINDR_SEX[sex], record.id
        expected_age = None
        if age:
            number, unit = int(age[:3]), age[3]
            expected_age = number if unit == "Y" else round(number / 12, 2)  # the demo writes Y and M only
        assert record.meta.get("age") == expected_age, (record.id, age)
        assert record.meta.get("subgroup_dropped") == ({"sex": "O"} if sex == "O" else None)
        assert "view" not in record.meta
        tags |= {("sex", sex), ("age", age if not age or age.endswith("M") else "NNNY")}
    # every variant was exercised: O, blank, absent sex; blank, absent, month and year ages
    assert {("sex", "O"), ("sex", ""), ("sex", None), ("age", ""), ("age", None), ("age", "006M")} <= tags


def test_jsrt_demo(demo_root: Path) -> None:
    root = demo_root / "jsrt"
    folder = root / "Clinical_Information"
    listed: dict[str, tuple[str, str]] = {}
    for match in re.finditer(
        r"(JPCLN\d{3})\.IMG\t\d\t\d+\t(\S+)\t(\S+)", (folder / "CLNDAT_EN.txt").read_text()
    ):
        listed[match.group(1)] = (match.group(2), match.group(3))
    for match in re.finditer(r"(JPCNN\d{3})\.IMG +(\S+) +(\S+)", (folder / "CNNDAT_EN.TXT").read_text()):
        listed[match.group(1)] = (match.group(2), match.group(3))
    records = _records("jsrt", root)
    assert listed.keys() == records.keys()
    assert any(age == "?" for age, _ in listed.values())
    for stem, (age, sex) in listed.items():
        meta = records[stem].meta
        assert meta["sex"] == JSRT_SEX[sex]
        assert meta.get("age") == (None if age == "?" else int(age))
        assert "view" not in meta


@pytest.mark.parametrize("name", ["tbx11k", "chestx-det", "object-cxr"])
def test_no_subgroup_meta_where_the_publisher_gives_none(name: str, demo_root: Path) -> None:
    records = _records(name, demo_root / name)
    assert records
    for record in records.values():
        assert not {"sex", "age", "view", "site", "subgroup_dropped"} & set(record.meta)


def test_check_counts_what_was_left_out(demo_root: Path) -> None:
    report = get_adapter("chexpert").check(demo_root / "chexpert").render()
    assert "sex 'Unknown' x1" in report and "age '0' x1" in report
    valid = _csv_rows(demo_root / "chexpert" / "valid.csv") + _csv_rows(demo_root / "chexpert" / "train.csv")
    assert "LATERAL" in report and sum(r["Frontal/Lateral"] == "Lateral" for r in valid) > 0


# ------------------------------------------------------------------------------------------------- real rows


@pytest.mark.realdata
def test_chestxray14_real_rows(shared_data: Path, tmp_path: Path) -> None:
    """The 621 real NIH rows (age, sex, view from the v2020 Data_Entry, ../shared/data): a Data_Entry file is
    rebuilt from them, and the adapter's meta counts must equal pandas' counts of the same rows."""
    import pandas as pd
    from PIL import Image

    base = shared_data / "classification" / "nih_chexnet_starter_621"
    frame = pd.read_csv(base / "labels.csv")
    header = (
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
    )
    lines = [header] + [
        f"{r.image},{r.nih_finding_labels},{r.follow_up},{r.patient_id},{r.age},{r.sex},{r.view},2500,2048,0.143,0.143"
        for r in frame.itertuples()
    ]
    (tmp_path / "Data_Entry_2017_v2020.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "test_list.txt").write_text("\n".join(frame["image"]) + "\n")
    (tmp_path / "train_val_list.txt").write_text("")
    images = tmp_path / "images"
    images.mkdir()
    blank = images / "_blank.png"
    Image.new("L", (8, 8)).save(blank)
    for name in frame["image"]:
        (images / name).write_bytes(blank.read_bytes())
    blank.unlink()
    records = list(get_adapter("chestxray14").records(tmp_path, "test"))
    assert len(records) == len(frame) == 621
    counts = pd.Series([r.meta["sex"] for r in records]).value_counts().to_dict()
    assert counts == frame["sex"].value_counts().to_dict()
    views = pd.Series([r.meta["view"] for r in records]).value_counts().to_dict()
    assert views == frame["view"].value_counts().to_dict() == {"PA": 518, "AP": 103}
    ages = {r.id: r.meta["age"] for r in records}
    assert ages == dict(zip(frame["image"], frame["age"].astype(int), strict=True))
