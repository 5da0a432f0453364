"""Location / severity attributes of report findings: hand-written sentences and the demo MIMIC-CXR truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.datasets import get_adapter
from bench.datasets.attributes import LOCATIONS, SEVERITY_GRADES, finding_attributes
from bench.datasets.demo import generator


def attrs(location: list[str], severity: str | None = None, size_mm: float | None = None) -> dict:
    return {"location": location, "severity": severity, "size_mm": size_mm}


CASES = [
    # laterality and size grade
    (
        "FINDINGS: Small left pleural effusion. No pneumothorax.",
        {"Pleural Effusion": attrs(["left"], "mild")},
    ),
    # two findings in one sentence keep their own words
    (
        "Small left effusion and right lower lobe consolidation.",
        {
            "Consolidation": attrs(["right", "right lower lobe"]),
            "Pleural Effusion": attrs(["left"], "mild"),
        },
    ),
    (
        "Mild pulmonary edema and small bilateral effusions.",
        {"Edema": attrs([], "mild"), "Pleural Effusion": attrs(["bilateral"], "mild")},
    ),
    # a bare coordinated mention shares the location stated after the next one
    (
        "Atelectasis and consolidation in the left lower lobe.",
        {
            "Consolidation": attrs(["left", "left lower lobe"]),
            "Atelectasis": attrs(["left", "left lower lobe"]),
        },
    ),
    # pseudo-negation: "no change in" does not negate
    ("No change in the small left effusion.", {"Pleural Effusion": attrs(["left"], "mild")}),
    # negated mentions carry nothing, even with attribute words
    (
        "No left pleural effusion. Moderate right pneumothorax.",
        {"Pneumothorax": attrs(["right"], "moderate")},
    ),
    ("Trace left effusion has resolved.", {}),
    ("There is no focal consolidation, pleural effusion or pneumothorax.", {}),
    # both sides -> bilateral; a mention-less segment joins the finding before it
    (
        "Small bilateral pleural effusions, left greater than right.",
        {"Pleural Effusion": attrs(["bilateral"], "mild")},
    ),
    ("Right and left basilar atelectasis.", {"Atelectasis": attrs(["bilateral", "basal"])}),
    # a leading location phrase qualifies the finding of its sentence
    ("On the left, there is a small effusion.", {"Pleural Effusion": attrs(["left"], "mild")}),
    # the highest grade wins; region words
    ("Moderate to large right apical pneumothorax.", {"Pneumothorax": attrs(["right", "apical"], "severe")}),
    ("Bibasilar atelectasis.", {"Atelectasis": attrs(["bilateral", "basal"])}),
    ("Possible mild perihilar edema.", {"Edema": attrs(["perihilar"], "mild")}),
    ("Extensive retrocardiac consolidation.", {"Consolidation": attrs(["retrocardiac"], "severe")}),
    # sizes and lobes
    (
        "12 mm nodule in the right upper lung zone.",
        {"Lung Lesion": attrs(["right", "upper zone"], None, 12.0)},
    ),
    ("A 1.2 x 3.4 cm mass in the lingula.", {"Lung Lesion": attrs(["left", "lingula"], None, 34.0)}),
    ("Opacity in the RLL.", {"Lung Opacity": attrs(["right", "right lower lobe"])}),
    ("Opacity in the lower lobe on the right.", {"Lung Opacity": attrs(["right", "right lower lobe"])}),
    # "with" opens a new clause: the severity of the effusion does not reach the atelectasis
    (
        "IMPRESSION: Large right pleural effusion with adjacent atelectasis. Heart size is normal.",
        {"Atelectasis": attrs([]), "Pleural Effusion": attrs(["right"], "severe")},
    ),
    # anatomy mention with a size statement; a normal heart is no finding
    ("The heart is mildly enlarged.", {"Cardiomegaly": attrs([], "mild")}),
    ("Heart size is normal. Lungs are clear.", {}),
    # mentions in FINDINGS and IMPRESSION merge
    (
        "FINDINGS: Small right effusion.\n\nIMPRESSION: Moderate right basal effusion.",
        {"Pleural Effusion": attrs(["right", "basal"], "moderate")},
    ),
]


@pytest.mark.parametrize(("report", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_hand_written_sentences(report: str, expected: dict) -> None:
    assert finding_attributes(report) == expected


def test_vocabulary_is_closed() -> None:
    reports = [report for report, _ in CASES]
    for report in reports:
        for entry in finding_attributes(report).values():
            assert set(entry["location"]) <= set(LOCATIONS)
            assert entry["location"] == sorted(entry["location"], key=LOCATIONS.index)
            assert entry["severity"] in (None, *SEVERITY_GRADES)


def test_demo_mimic_attributes_match_generator_truth(tmp_path: Path) -> None:
    truth = generator("mimic-cxr")(tmp_path, n=80, seed=5)
    adapter = get_adapter("mimic-cxr")
    compared = with_findings = 0
    seen_terms: set[str] = set()
    seen_grades: set[str] = set()
    for split in adapter.splits:
        for record in adapter.records(tmp_path, split):
            expected = {
                label: {**entry, "location": sorted(entry["location"], key=LOCATIONS.index)}
                for label, entry in truth[record.meta["study"]].items()
            }
            assert record.meta["attributes"] == expected, record.report
            compared += 1
            with_findings += bool(expected)
            for entry in expected.values():
                seen_terms.update(entry["location"])
                seen_grades.add(entry["severity"])
    assert compared >= 80 and with_findings >= 30
    # the comparison exercised sides, zones, a region and all three grades
    assert {"right", "left", "bilateral", "apical"} <= seen_terms
    assert seen_terms & {"upper zone", "middle zone", "lower zone"}
    assert set(SEVERITY_GRADES) <= seen_grades


def test_demo_reports_state_graded_words(demo_root: Path) -> None:
    """Cardiomegaly / edema are graded mild..severe, effusion / pneumothorax small..large, in every report."""
    records = list(get_adapter("mimic-cxr").records(demo_root / "mimic-cxr", "train"))
    for record in records:
        text = record.report.lower()
        assert "small cardiomegaly" not in text and "large cardiomegaly" not in text
        for label in record.meta["attributes"]:
            assert record.labels[label] != 0.0, (label, text)


def test_adapter_option_and_missing_sections(demo_root: Path, tmp_path: Path) -> None:
    record = next(get_adapter("mimic-cxr", attributes=False).records(demo_root / "mimic-cxr", "test"))
    assert "attributes" not in record.meta
    root = tmp_path / "mimic-cxr"
    shutil.copytree(demo_root / "mimic-cxr", root)
    first = next(get_adapter("mimic-cxr").records(root, "test"))
    report = root / "files" / Path(first.id).parent.parent / f"s{first.meta['study']}.txt"
    report.write_text("WET READ: small left effusion.\n")  # neither FINDINGS nor IMPRESSION
    again = next(get_adapter("mimic-cxr").records(root, "test"))
    assert again.report is None and again.meta["attributes"] is None
