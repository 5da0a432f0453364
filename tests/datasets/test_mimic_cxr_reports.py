"""MIMIC-CXR report sections with the official semantics, and the CheXpert-labeller label conventions.

Expected texts were worked out by hand from the rules of MIT-LCP/mimic-cxr txt/section_parser.py and
create_section_files.py (docs/datasets/mimic-cxr.md) and confirmed once against that code; the reports are the
committed fixtures in tests/data/datasets/mimic-cxr/reports (invented text, real structure).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bench.datasets import get_adapter
from bench.datasets.chexpert import study_labels
from bench.datasets.mimic_sections import report_text, split_sections

REPORTS = Path(__file__).resolve().parents[1] / "data" / "datasets" / "mimic-cxr" / "reports"

EXPECTED = {
    # file: (findings_impression, its rule, impression rule text, findings rule text)
    "standard.txt": (
        "FINDINGS: The lungs are clear. No pleural effusion or pneumothorax. Heart size is normal.\n\n"
        "IMPRESSION: No acute cardiopulmonary process.",
        "findings+impression",
        "No acute cardiopulmonary process.",
        "The lungs are clear. No pleural effusion or pneumothorax. Heart size is normal.",
    ),
    "no_header.txt": (
        "Single frontal view of the chest was obtained. There is a small left pleural effusion. "
        "The cardiomediastinal silhouette is stable.",
        "last_paragraph",
        "Single frontal view of the chest was obtained. There is a small left pleural effusion. "
        "The cardiomediastinal silhouette is stable.",
        None,
    ),
    "conclusion.txt": (
        "FINDINGS: Mild cardiomegaly. Lungs are clear.\n\nIMPRESSION: Mild cardiomegaly without edema.",
        "findings+impression",
        "Mild cardiomegaly without edema.",
        "Mild cardiomegaly. Lungs are clear.",
    ),
    "recommendation.txt": (
        "FINDINGS: Patchy right basilar opacity.\n\nIMPRESSION: Right basilar pneumonia.",
        "findings+impression",
        "Right basilar pneumonia.",
        "Patchy right basilar opacity.",
    ),
    "findings_and_impression.txt": (
        "IMPRESSION: No acute process. Stable small hiatal hernia.",
        "impression",
        "No acute process. Stable small hiatal hernia.",
        None,
    ),
    "comparison_only.txt": (
        "Lines and tubes are unchanged. Mild bibasilar atelectasis.",
        "last_paragraph",
        "Lines and tubes are unchanged. Mild bibasilar atelectasis.",
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sections_follow_the_official_rules(name: str) -> None:
    text = (REPORTS / name).read_text()
    both, rule, impression, findings = EXPECTED[name]
    assert report_text(text, "s1", "findings_impression") == (both, rule)
    assert report_text(text, "s1", "impression")[0] == impression
    assert report_text(text, "s1", "findings")[0] == findings


def test_section_names_are_normalised() -> None:
    names = [s.name for s in split_sections((REPORTS / "recommendation.txt").read_text())]
    assert names == ["preamble", "indication", "findings", "impression", "recommendations", "notification"]
    names = [s.name for s in split_sections((REPORTS / "conclusion.txt").read_text())]
    assert names == ["preamble", "history", "findings", "impression"]


def test_header_needs_the_official_line_start_and_whitespace() -> None:
    # 'IMPRESSION:x' (no whitespace after the colon) and a header not at a line start are not headers.
    text = "\n FINDINGS: a.\n IMPRESSION:x b.\n see IMPRESSION: c.\n"
    assert [s.name for s in split_sections(text)] == ["preamble", "findings"]


def test_empty_findings_is_dropped_and_a_header_right_after_a_header_line_is_skipped() -> None:
    # The official search resumes after the line that follows a header's whitespace: an IMPRESSION header on
    # the line right after an empty 'FINDINGS:' line belongs to the findings text.
    text = "\n FINDINGS:\n IMPRESSION: clear.\n"
    sections = split_sections(text)
    assert [s.name for s in sections] == ["preamble", "findings"]
    assert " ".join(sections[1].text.split()) == "IMPRESSION: clear."


def test_official_custom_rules_apply_by_study_id() -> None:
    # s58235663 is one of the official reports with "no findings at all": character range [0, 0].
    assert report_text((REPORTS / "standard.txt").read_text(), "s58235663") == (None, "official custom range")


def test_unknown_section_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="findings_impression"):
        report_text("", "s1", "conclusion")


# ----------------------------------------------------------------------------- label conventions
NAMES = ("No Finding", "Cardiomegaly", "Edema", "Support Devices")


def _labels(row: dict[str, str], **rules: str) -> dict[str, float | None]:
    options = {"uncertain": "U-Ignore", "blank": "null", "no_finding": "implies_negative"} | rules
    return study_labels(Path("labels.csv"), 2, row, NAMES, **options)


def test_no_finding_implies_the_other_findings_are_negative() -> None:
    normal = {"No Finding": "1.0", "Cardiomegaly": "", "Edema": "", "Support Devices": "1.0"}
    assert _labels(normal) == {"No Finding": 1.0, "Cardiomegaly": 0.0, "Edema": 0.0, "Support Devices": 1.0}
    normal["Support Devices"] = ""
    assert _labels(normal)["Support Devices"] is None  # Support Devices is never implied
    assert _labels(normal, no_finding="ignore") == {
        "No Finding": 1.0,
        "Cardiomegaly": None,
        "Edema": None,
        "Support Devices": None,
    }


def test_blank_and_uncertain_rules() -> None:
    abnormal = {"No Finding": "", "Cardiomegaly": "-1.0", "Edema": "", "Support Devices": "0.0"}
    assert _labels(abnormal) == {
        "No Finding": 0.0,
        "Cardiomegaly": None,
        "Edema": None,
        "Support Devices": 0.0,
    }
    assert _labels(abnormal, blank="negative", uncertain="U-Ones") == {
        "No Finding": 0.0,
        "Cardiomegaly": 1.0,
        "Edema": 0.0,
        "Support Devices": 0.0,
    }
    assert _labels(abnormal, no_finding="ignore")["No Finding"] is None


@pytest.mark.parametrize(
    ("option", "value"),
    [("blank", "zero"), ("no_finding", "yes"), ("sections", "all"), ("uncertain", "U-Two")],
)
def test_bad_option_values_name_the_choices(option: str, value: str) -> None:
    with pytest.raises(ValueError, match=option):
        get_adapter("mimic-cxr", **{option: value})


def test_adapter_reads_header_less_and_conclusion_reports(demo_root: Path, tmp_path: Path) -> None:
    """The demo layout with its reports replaced by the fixtures: no crash, official sections, rule in meta."""
    import shutil

    root = tmp_path / "mimic"
    shutil.copytree(demo_root / "mimic-cxr", root)
    reports = sorted((root / "files").rglob("s*.txt"))
    fixtures = sorted(REPORTS.glob("*.txt"))
    for k, path in enumerate(reports):
        shutil.copy(fixtures[k % len(fixtures)], path)
    records = [
        r for split in ("train", "validate", "test") for r in get_adapter("mimic-cxr").records(root, split)
    ]
    by_study = {r.meta["study"]: r for r in records}
    for k, path in enumerate(reports):
        record = by_study[path.stem[1:]]
        fixture = fixtures[k % len(fixtures)].name
        assert (record.report, record.meta["report_rule"]) == EXPECTED[fixture][:2]
        assert record.meta["report_sections"] == "findings_impression"
    labels = gzip.decompress((root / "mimic-cxr-2.0.0-chexpert.csv.gz").read_bytes()).decode()
    assert "No Finding" in labels.splitlines()[0]


def test_results_record_the_ground_truth_conventions(demo_root: Path, tmp_path: Path) -> None:
    import json

    from bench.datasets import export_jsonl
    from bench.datasets.chexpert import label_conventions
    from bench.records import read_records
    from bench.run.score import ScoreSettings, build_results

    gt = tmp_path / "gt.jsonl"
    export_jsonl(get_adapter("mimic-cxr", sections="impression"), demo_root / "mimic-cxr", "test", gt)
    records = [r for _, r in read_records(gt, "gt")]
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        "".join(
            json.dumps(
                {"id": r.id, "labels": dict.fromkeys(r.labels or {}, 0.5), "report": "No acute process."}
            )
            + "\n"
            for r in records
        )
    )
    settings = ScoreSettings(n_boot=0, meteor=False)
    classification = build_results("classification", gt, pred, settings)
    assert classification["conventions"]["ground_truth"] == {
        "label_rules": label_conventions("U-Ignore", "null", "implies_negative")
    }
    report = build_results("report", gt, pred, settings)["conventions"]["ground_truth"]
    assert report["report_sections"] == "impression"
    studies = {r.meta["study"] for r in records if r.report is not None}
    assert sum(report["report_rule_counts"].values()) == len(studies)  # scored once per study


def test_reports_unpacked_beside_the_images(demo_root: Path, tmp_path: Path) -> None:
    """mimic-cxr-reports.zip may unpack to mimic-cxr-reports/files/… instead of merging into files/."""
    import shutil

    root = tmp_path / "mimic"
    shutil.copytree(demo_root / "mimic-cxr", root)
    merged = {r.id: r.report for r in get_adapter("mimic-cxr").records(root, "test")}
    for path in sorted((root / "files").rglob("s*.txt")):
        target = root / "mimic-cxr-reports" / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    apart = {r.id: r.report for r in get_adapter("mimic-cxr").records(root, "test")}
    assert apart == merged and any(apart.values())
