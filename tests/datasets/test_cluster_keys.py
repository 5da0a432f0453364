"""Cluster keys in the ground truth (issue 11): meta.patient / meta.study exactly where each fact sheet's
`cluster_keys` says the publisher gives them, a study never spanning two patients, and Montgomery's repeat
patients (readings saying "same pt as ...") sharing one key."""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from bench.datasets import DATASETS, get_adapter
from bench.datasets.factsheet import FACTS_DIR, fact
from bench.records import Record


def _records(name: str, root: Path) -> dict[str, tuple[str, Record]]:
    """id -> (split, record) over every split present."""
    adapter = get_adapter(name)
    return {
        r.id: (split, r) for split in adapter.available_splits(root) for r in adapter.records(root, split)
    }


def _chestx_det_mapping() -> dict:
    """The mapping file the fact names, read directly (not through the adapter)."""
    file_name = fact("chestx-det", "cluster_keys")["mapping_file"].split()[0]
    return json.loads((FACTS_DIR / file_name).read_text(encoding="utf-8"))


def _expected(name: str, key: str, record_id: str) -> bool:
    """Whether the fact sheet says this record carries meta.<key>."""
    spec = fact(name, "cluster_keys")[key]
    if spec is None:
        return False
    if "only_for" in spec:  # ChestX-Det: the images whose NIH name the publisher released
        assert name == "chestx-det", f"{name}: only_for needs a rule in this test"
        return Path(record_id).name in _chestx_det_mapping()["nih_image_index"]
    return True


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_sheet_states_its_cluster_keys(name: str) -> None:
    value = fact(name, "cluster_keys")
    for key in ("patient", "study"):
        spec = value[key]
        assert spec is None or {"from", "meta"} <= set(spec), (name, key)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_keys_present_exactly_where_the_fact_sheet_says(demo_root: Path, name: str) -> None:
    records = _records(name, demo_root / name)
    assert records
    seen: dict[str, set[bool]] = {"patient": set(), "study": set()}
    for record_id, (_, record) in records.items():
        meta = record.meta or {}
        for key in ("patient", "study"):
            expected = _expected(name, key, record_id)
            assert (key in meta) == expected, (name, record_id, key, meta.get(key))
            if expected:
                assert isinstance(meta[key], str) and meta[key], (name, record_id, key, meta[key])
            seen[key].add(expected)
    if name == "chestx-det":  # the demo holds images with and without a published NIH name
        assert seen["patient"] == seen["study"] == {True, False}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_a_study_is_one_patients(demo_root: Path, name: str) -> None:
    patients_of: dict[str, set[str]] = defaultdict(set)
    for record_id, (_, record) in _records(name, demo_root / name).items():
        meta = record.meta or {}
        if "study" in meta:
            assert "patient" in meta, (name, record_id)
            patients_of[meta["study"]].add(meta["patient"])
    spanning = {study: sorted(p) for study, p in patients_of.items() if len(p) > 1}
    assert not spanning, (name, spanning)


def test_the_demo_has_clusters_larger_than_one_image(demo_root: Path) -> None:
    """Otherwise the tests above could not fail: studies of several views, patients of several images."""
    for name, key in (("mimic-cxr", "study"), ("chexpert", "study"), ("chestxray14", "patient"),
                      ("chestx-det", "patient"), ("montgomery", "patient")):  # fmt: skip
        sizes: dict[str, int] = defaultdict(int)
        for _, record in _records(name, demo_root / name).values():
            if key in (record.meta or {}):
                sizes[record.meta[key]] += 1
        assert max(sizes.values()) > 1, (name, key)


def test_chestxray14_keys_follow_the_image_index(demo_root: Path) -> None:
    """Patient ID = the first 8 digits of the Image Index, unpadded; the study is the image (fact)."""
    for record_id, (_, record) in _records("chestxray14", demo_root / "chestxray14").items():
        assert record.meta["study"] == record_id
        assert record.meta["patient"] == str(int(record_id.split("_")[0]))


def test_chestx_det_keys_are_the_nih_ones(demo_root: Path) -> None:
    nih = _chestx_det_mapping()["nih_image_index"]
    for record_id, (_, record) in _records("chestx-det", demo_root / "chestx-det").items():
        if record_id in nih:
            assert record.meta["study"] == nih[record_id]
            assert record.meta["patient"] == str(int(nih[record_id][:8]))


def test_chestx_det_mapping_file_matches_its_fact() -> None:
    mapping = _chestx_det_mapping()
    nih, unnamed = mapping["nih_image_index"], mapping["without_nih_name"]
    counts = fact("chestx-det", "cluster_keys")["mapped_images"]
    assert len(nih) == len(set(nih.values())) == counts["images"]
    assert all(re.fullmatch(r"\d+\.png", k) and re.fullmatch(r"\d{8}_\d{3}\.png", v) for k, v in nih.items())
    per_patient: dict[str, int] = defaultdict(int)
    for name in nih.values():
        per_patient[name[:8]] += 1
    assert len(per_patient) == counts["patients"]
    assert max(per_patient.values()) == counts["max_images_per_patient"]
    all_unnamed = [n for names in unnamed.values() for n in names]
    assert len(all_unnamed) == len(set(all_unnamed)) == 35 and not set(all_unnamed) & set(nih)
    assert len(nih) + len(all_unnamed) == fact("chestx-det", "official_counts")["total"]


@pytest.mark.realdata
def test_chestx_det_real_file_names_are_all_accounted_for(shared_data: Path) -> None:
    """Every image of the publisher's two JSON files is either mapped to an NIH name or listed as unnamed."""
    mapping = _chestx_det_mapping()
    folder = shared_data / "detection" / "annotations_only" / "chestx_det"
    for split in ("train", "test"):
        names = [
            e["file_name"]
            for e in json.loads(gzip.decompress((folder / f"ChestX_Det_{split}.json.gz").read_bytes()))
        ]
        unnamed = {n for n in names if n not in mapping["nih_image_index"]}
        assert unnamed == set(mapping["without_nih_name"][split]), split


def test_montgomery_adapter_groups_are_the_fact_sheets() -> None:
    from bench.datasets.montgomery import SAME_PATIENT

    groups = fact("montgomery", "cluster_keys")["same_patient"]
    expected = {stem[:-2]: group[0][:-2] for group in groups for stem in group[1:]}
    assert expected == SAME_PATIENT
    readings = fact("montgomery", "cluster_keys")["readings"]
    for group in groups:  # each later image's reading names the first one
        for stem in group[1:]:
            assert "same pt as" in readings[stem] and group[0] in readings[stem], stem


def test_montgomery_same_patient_images_share_a_key(demo_root: Path) -> None:
    records = _records("montgomery", demo_root / "montgomery")
    groups = fact("montgomery", "cluster_keys")["same_patient"]
    in_group = {stem for group in groups for stem in group}
    for group in groups:
        assert set(group) <= set(records), f"the demo lacks the repeat patient {group}"
        keys = {records[stem][1].meta["patient"] for stem in group}
        splits = {records[stem][0] for stem in group}
        assert keys == {group[0][:-2]}, group  # the first image's case number
        assert len(splits) == 1, (group, splits)  # the seeded split assigns by patient
        readings = {records[stem][1].meta.get("reading") for stem in group[1:]}
        assert all("same pt as" in (r or "") for r in readings), readings
    for record_id, (_, record) in records.items():
        if record_id not in in_group:
            assert record.meta["patient"] == record_id[:-2]
    patients = {record.meta["patient"] for _, record in records.values()}
    assert len(patients) == len(records) - sum(len(group) - 1 for group in groups)
