"""MIMIC-CXR-JPG 2.x (Johnson et al.) with the MIMIC-CXR free-text reports.

Besides labels and report, each record carries `meta["attributes"]`: the location and severity words the report
states for each positive (or hedged) finding, extracted by the rules of `bench.datasets.attributes`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bench.datasets.attributes import finding_attributes
from bench.datasets.base import DatasetAdapter, LayoutError, register
from bench.datasets.chexpert import (
    BlankRule,
    NoFindingRule,
    UncertainPolicy,
    check_label_options,
    label_conventions,
    study_labels,
)
from bench.datasets.demographics import normalise
from bench.datasets.io import find_file, read_csv, read_patients
from bench.datasets.mimic_sections import SECTION_RULES, SectionRule, report_text
from bench.datasets.vocabulary import MIMIC_CXR

OBSERVATIONS = tuple(MIMIC_CXR)
# Where the reports may sit (fact `reports_zip_member_prefix`): merged into files/, or as the zip unpacks.
REPORT_PREFIXES = ("files", "mimic-cxr-reports/files")
FIX = (
    "download MIMIC-CXR-JPG from PhysioNet and pass its top folder (the one with files/ and the csv.gz files)"
)


SEX_CODES = {"F": "F", "M": "M"}  # MIMIC-IV patients.gender (fact `subgroup_meta`)


def _subgroups(meta: dict[str, str], patient: dict[str, str] | None) -> dict[str, object]:
    """meta.view from ViewPosition; with MIMIC-IV's patients row, meta.sex from gender and meta.age at the study:
    anchor_age + (StudyDate's shifted year - anchor_year), both years shifted alike (fact `subgroup_meta`)."""
    sex = age = None
    if patient is not None:
        sex = patient["gender"]
        year = meta.get("StudyDate", "")[:4]
        if year.isdigit() and patient["anchor_age"].isdigit() and patient["anchor_year"].isdigit():
            age = str(int(patient["anchor_age"]) + int(year) - int(patient["anchor_year"]))
    return normalise(sex=sex, sex_codes=SEX_CODES, age=age, view=meta["ViewPosition"])


@register
class MimicCXR(DatasetAdapter):
    name = "mimic-cxr"
    title = "MIMIC-CXR-JPG 2.x + reports"
    tasks = ("report", "classification", "attributes")
    splits = ("train", "validate", "test")
    split_roles = ("train", "validate", "test")
    split_source = "official mimic-cxr-2.0.0-split.csv"
    expected_layout = """\
ROOT/
  mimic-cxr-2.0.0-split.csv.gz, mimic-cxr-2.0.0-chexpert.csv.gz, mimic-cxr-2.0.0-metadata.csv.gz  (or .csv)
  files/pXX/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg
  files/pXX/pNNNNNNNN/sNNNNNNNN.txt      (reports, from mimic-cxr-reports.zip, unpacked into the same files/)
One record per image (all views kept). Labels: the study's 14 CheXpert-labeller values under three options
(docs/datasets/mimic-cxr.md): uncertain=U-Ignore (default; -1 -> null) | U-Ones | U-Zeros; blank=null (default)
| negative; no_finding=implies_negative (default: No Finding = 1 => the others 0, Support Devices excepted) | ignore.
Report: sections=findings_impression (default: FINDINGS and IMPRESSION, else the official fallbacks: last
paragraph, comparison) | impression (the official MIMIC-CXR section choice) | findings; sections as the MIMIC-CXR
authors' section_parser.py defines them; meta["report_rule"] names the rule that produced each report.
Width/height come from the metadata Rows/Columns (the JPGs keep the DICOM size). meta.view: ViewPosition.
Option patients=PATH (MIMIC-IV hosp/patients.csv.gz): meta.sex (gender) and meta.age (anchor_age + StudyDate
year - anchor_year); without it records carry no sex or age (MIMIC-CXR-JPG has none).
Attributes: meta["attributes"] = {finding: {"location": [...], "severity": mild|moderate|severe|null,
"size_mm": float|null}} for each CheXpert finding the FINDINGS/IMPRESSION text states positively or hedged
(negated mentions carry none; null when the study has no report). Location terms: right, left, bilateral,
upper/middle/lower zone, apical, basal, retrocardiac, perihilar, the five lobes and the lingula. Severity:
trace/tiny/minimal/small/mild/slight -> mild, moderate -> moderate, large/severe/extensive/massive/marked ->
severe (the highest stated). Words count in the mention's sentence, clause and comma/'and' segment
(bench/datasets/attributes.py documents every rule)."""

    def __init__(
        self,
        uncertain: UncertainPolicy = "U-Ignore",
        blank: BlankRule = "null",
        no_finding: NoFindingRule = "implies_negative",
        sections: SectionRule = "findings_impression",
        require_reports: bool = True,
        attributes: bool = True,
        patients: str = "",
    ):
        check_label_options(uncertain, blank, no_finding)
        if sections not in SECTION_RULES:
            raise ValueError(f"sections={sections!r}: choose one of {', '.join(SECTION_RULES)}")
        self.uncertain = uncertain
        self.blank = blank
        self.no_finding = no_finding
        self.sections = sections
        self.require_reports = require_reports
        # ~1 ms per report (227k studies: a few minutes once); False leaves meta["attributes"] out.
        self.attributes = attributes
        # MIMIC-CXR-JPG has no sex or age: MIMIC-IV's hosp/patients.csv(.gz) does (fact `subgroup_meta`).
        if patients and not Path(patients).is_file():
            raise ValueError(f"patients={patients!r}: file not found (MIMIC-IV hosp/patients.csv or .csv.gz)")
        self.patients = patients

    def records(self, root: str | os.PathLike[str], split: str) -> Iterator:
        from bench.records import Record

        self._check_split(split)
        root = Path(root)
        split_path = find_file(root, ("mimic-cxr-2.0.0-split.csv",), fix=FIX)
        label_path = find_file(root, ("mimic-cxr-2.0.0-chexpert.csv",), fix=FIX)
        meta_path = find_file(root, ("mimic-cxr-2.0.0-metadata.csv",), fix=FIX)
        ids = ["dicom_id", "study_id", "subject_id"]
        split_rows = [(n, r) for n, r in read_csv(split_path, [*ids, "split"]) if r["split"] == split]
        labels_by_study = {
            row["study_id"]: study_labels(
                label_path,
                lineno,
                row,
                OBSERVATIONS,
                uncertain=self.uncertain,
                blank=self.blank,
                no_finding=self.no_finding,
            )
            for lineno, row in read_csv(label_path, ["subject_id", "study_id", *OBSERVATIONS])
        }
        label_rules = label_conventions(self.uncertain, self.blank, self.no_finding)
        metadata = {
            row["dicom_id"]: (lineno, row)
            for lineno, row in read_csv(meta_path, [*ids, "ViewPosition", "Rows", "Columns"])
        }
        attributes_by_study: dict[str, dict | None] = {}
        patients = read_patients(Path(self.patients)) if self.patients else {}
        for lineno, row in split_rows:
            dicom_id, study, subject = row["dicom_id"], row["study_id"], row["subject_id"]
            if dicom_id not in metadata:
                raise LayoutError(
                    split_path, f"dicom_id {dicom_id} is not in {meta_path.name}", row=lineno, fix=FIX
                )
            meta_line, meta = metadata[dicom_id]
            study_dir = root / "files" / f"p{subject[:2]}" / f"p{subject}"
            path = study_dir / f"s{study}" / f"{dicom_id}.jpg"
            if not path.is_file():
                raise LayoutError(path, f"image of {split_path.name} row {lineno} not found", fix=FIX)
            relative_report = Path(f"p{subject[:2]}") / f"p{subject}" / f"s{study}.txt"
            report_path = next(
                (
                    root / p / relative_report
                    for p in REPORT_PREFIXES
                    if (root / p / relative_report).is_file()
                ),
                study_dir / f"s{study}.txt",
            )
            report, report_rule = None, "no report file"
            if report_path.is_file():
                report, report_rule = report_text(
                    report_path.read_text(encoding="utf-8", errors="replace"), f"s{study}", self.sections
                )
                if self.attributes and study not in attributes_by_study:  # one report per study
                    attributes_by_study[study] = finding_attributes(report) if report else None
            elif self.require_reports:
                raise LayoutError(
                    report_path,
                    "report not found",
                    fix="unpack mimic-cxr-reports.zip into ROOT (its files/ merges; mimic-cxr-reports/files/ works too)",
                )
            try:
                width, height = int(meta["Columns"]), int(meta["Rows"])
                if width <= 0 or height <= 0:
                    raise ValueError("not positive")
            except ValueError:
                raise LayoutError(
                    meta_path,
                    "Rows/Columns are not positive integers",
                    row=meta_line,
                    fix="use the original file",
                ) from None
            yield Record.model_validate(
                {
                    "id": f"p{subject[:2]}/p{subject}/s{study}/{dicom_id}",
                    "image": {"width": width, "height": height},
                    "labels": labels_by_study.get(study),
                    "report": report,
                    "meta": {
                        "dataset": self.name,
                        "split": split,
                        "patient": subject,
                        "study": study,
                        "label_rules": label_rules,
                        "report_sections": self.sections,
                        "report_rule": report_rule,
                        "path": path.relative_to(root).as_posix(),
                    }
                    | _subgroups(meta, patients.get(subject))
                    | ({"attributes": attributes_by_study.get(study)} if self.attributes else {}),
                }
            )
