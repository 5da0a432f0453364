"""Rule-based report labeler: hand-written cases, the CheXpert labeler's own sample output, Open-i gold."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from bench.metrics.labeler import LABELER_VERSION, LABELSETS, label_reports

DATA = Path(__file__).parent / "data" / "labeler"
SHARED_REPORTS = Path("/work/shared/data/reports")
if not SHARED_REPORTS.exists():
    SHARED_REPORTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reports"
OPENI_TGZ = SHARED_REPORTS / "iu_xray_openi" / "NLMCXR_reports.tgz"
OPENI_GOLD = SHARED_REPORTS / "iu_xray_openi" / "openi_gold_labels_dev.csv"

NAN = math.nan
# Measured agreement with the CheXpert labeler's labeled_reports.csv is 56/56 cells; margin for rule edits.
CHEXPERT_SAMPLE_MIN_AGREEMENT = 0.95
# Measured micro-F1 on the 3,080 Open-i dev reports: 0.926 (uncertain counted negative; 95% CI 0.914-0.937).
OPENI_DEV_MIN_MICRO_F1 = 0.90


def _value(text: str, label: str, labelset: str = "chexpert") -> float:
    return float(label_reports([text], labelset)[0, LABELSETS[labelset].index(label)])


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


CHEXPERT_CASES = [
    # negation and its scope
    ("No pleural effusion.", "Pleural Effusion", 0.0),
    ("There is no pneumothorax or pleural effusion.", "Pleural Effusion", 0.0),
    ("No focal consolidation, pneumothorax, or large pleural effusion is seen.", "Pneumothorax", 0.0),
    ("Lungs are clear without focal consolidation.", "Consolidation", 0.0),
    ("The lungs do not demonstrate focal infiltrate or effusion.", "Pleural Effusion", 0.0),
    ("No visualized pneumothorax.", "Pneumothorax", 0.0),
    ("No focal consolidation, but there is a small left effusion.", "Pleural Effusion", 1.0),
    ("No focal consolidation, but there is a small left effusion.", "Consolidation", 0.0),
    ("No pneumothorax is seen, a small effusion is present.", "Pleural Effusion", 1.0),
    ("There is no focal airspace opacity to suggest pneumonia.", "Pneumonia", 0.0),
    ("No change in the small left pleural effusion.", "Pleural Effusion", 1.0),
    ("The previously seen pneumothorax has resolved.", "Pneumothorax", 0.0),
    ("Pulmonary edema is not seen.", "Edema", 0.0),
    ("No evidence of acute fracture.", "Fracture", 0.0),
    # pre-negation uncertainty, uncertainty
    ("Pneumonia cannot be excluded.", "Pneumonia", -1.0),
    ("Cannot exclude pneumonia.", "Pneumonia", -1.0),
    ("Pneumothorax is not ruled out.", "Pneumothorax", -1.0),
    ("Possible right lower lobe pneumonia.", "Pneumonia", -1.0),
    ("Opacity may represent atelectasis.", "Atelectasis", -1.0),
    ("Atelectasis versus pneumonia.", "Pneumonia", -1.0),
    ("Atelectasis versus pneumonia.", "Atelectasis", -1.0),
    ("Small bilateral pleural effusions suspected.", "Pleural Effusion", -1.0),
    ("Patchy opacity, which may be atelectasis.", "Lung Opacity", 1.0),
    # CheXpert-specific rules
    ("No new consolidation.", "Consolidation", -1.0),
    ("Stable cardiac silhouette.", "Cardiomegaly", -1.0),
    ("Borderline heart size.", "Cardiomegaly", -1.0),
    ("Findings consistent with congestive heart failure.", "Cardiomegaly", -1.0),
    ("Mild pulmonary vascular congestion.", "Edema", -1.0),
    # structures need a size word
    ("The heart size is normal.", "Cardiomegaly", 0.0),
    ("The heart is not enlarged.", "Cardiomegaly", 0.0),
    ("The heart is mildly enlarged.", "Cardiomegaly", 1.0),
    ("Stable heart size, enlarged tortuous aorta.", "Cardiomegaly", -1.0),
    ("Catheter tip projects over the heart.", "Cardiomegaly", NAN),
    ("Stable mild cardiomegaly.", "Cardiomegaly", 1.0),
    # lexicon details
    ("Right PICC line with tip in the SVC.", "Support Devices", 1.0),
    ("Massive right pleural effusion.", "Lung Lesion", NAN),
    ("Calcified nodule in the right upper lobe.", "Lung Lesion", NAN),
    ("Small pericardial effusion.", "Pleural Effusion", NAN),
    # No Finding
    ("Lungs are clear. No acute cardiopulmonary process.", "No Finding", 1.0),
    ("Left PICC in place. Lungs are clear.", "No Finding", 1.0),
    ("Mild degenerative changes of the spine.", "No Finding", NAN),
    ("Small right pleural effusion.", "No Finding", NAN),
    # sections: the request is not a finding
    ("INDICATION: Rule out pneumonia.\nFINDINGS: Lungs are clear.", "Pneumonia", NAN),
    ("History: pneumothorax. Impression: No pneumothorax.", "Pneumothorax", 0.0),
]


@pytest.mark.parametrize(("text", "label", "expected"), CHEXPERT_CASES)
def test_chexpert_hand_written(text: str, label: str, expected: float) -> None:
    got = _value(text, label)
    assert _same(got, expected), f"{text!r}: {label} = {got}, expected {expected}"


CXR14_CASES = [
    ("Moderate hiatal hernia.", "Hernia", 1.0),
    ("Probable small left effusion.", "Effusion", 1.0),  # likely-type hedge: positive in this label set
    ("Possible small left effusion.", "Effusion", -1.0),
    ("Borderline cardiomegaly.", "Cardiomegaly", 1.0),
    ("Subsegmental atelectasis or scarring.", "Atelectasis", 1.0),
    ("No new consolidation.", "Consolidation", 0.0),
    ("Calcified nodule in the right upper lobe.", "Nodule", 1.0),
    ("No nodules or masses.", "Mass", 0.0),
    ("There may be mild interstitial edema.", "Edema", -1.0),
    ("Mild pulmonary vascular congestion.", "Edema", NAN),
    ("Sequelae of prior granulomatous infection.", "Pneumonia", NAN),
    ("Subcutaneous emphysema in the chest wall.", "Emphysema", NAN),
    ("Mild right apical pleural thickening.", "Pleural_Thickening", 1.0),
]


@pytest.mark.parametrize(("text", "label", "expected"), CXR14_CASES)
def test_chestxray14_hand_written(text: str, label: str, expected: float) -> None:
    got = _value(text, label, "chestxray14")
    assert _same(got, expected), f"{text!r}: {label} = {got}, expected {expected}"


def test_api_shapes_and_values() -> None:
    assert set(LABELSETS) == {"chexpert", "chestxray14"}
    assert all(len(names) == 14 for names in LABELSETS.values())
    assert LABELSETS["chexpert"][0] == "No Finding" and LABELSETS["chexpert"][-1] == "Support Devices"
    assert isinstance(LABELER_VERSION, str) and LABELER_VERSION
    reports = ["No effusion.", "", "Large left pneumothorax. Possible pneumonia.", "Heart size normal."]
    for labelset in LABELSETS:
        out = label_reports(reports, labelset)
        assert out.shape == (4, 14) and out.dtype == np.float64
        finite = out[np.isfinite(out)]
        assert set(np.unique(finite)) <= {-1.0, 0.0, 1.0}
    assert label_reports([], "chexpert").shape == (0, 14)
    with pytest.raises(ValueError):
        label_reports(["x"], "mimic")


def test_order_of_reports_does_not_matter() -> None:
    reports = [row[0] for row in _read_chexpert_samples()[1]]
    forward = label_reports(reports)
    backward = label_reports(reports[::-1])[::-1]
    np.testing.assert_array_equal(forward, backward)


def _read_chexpert_samples() -> tuple[list[str], list[list[str]]]:
    with open(DATA / "labeled_reports.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_agreement_with_chexpert_labeler_samples() -> None:
    """stanfordmlgroup/chexpert-labeler sample_reports.csv -> labeled_reports.csv (its expected output)."""
    header, rows = _read_chexpert_samples()
    assert header[1:] == LABELSETS["chexpert"]
    with open(DATA / "sample_reports.csv", newline="") as handle:
        inputs = [row[0] for row in csv.reader(handle)]
    assert inputs == [row[0] for row in rows]
    expected = np.array([[float(v) if v else NAN for v in row[1:]] for row in rows])
    got = label_reports(inputs, "chexpert")
    agree = (got == expected) | (np.isnan(got) & np.isnan(expected))
    assert agree.mean() >= CHEXPERT_SAMPLE_MIN_AGREEMENT, np.argwhere(~agree)


@pytest.mark.realdata
@pytest.mark.skipif(not (OPENI_TGZ.exists() and OPENI_GOLD.exists()), reason="shared Open-i data absent")
def test_openi_dev_micro_f1() -> None:
    """NegBio gold labels for 3,080 Open-i dev reports; a label is positive iff the labeler says 1."""
    from bench.metrics.labeler.openi import read_openi_gold, read_openi_reports

    reports = read_openi_reports(OPENI_TGZ)
    keys, names, gold = read_openi_gold(OPENI_GOLD)
    assert names == LABELSETS["chestxray14"]
    predicted = label_reports([reports[key] for key in keys], "chestxray14")
    micro_f1 = f1_score(gold, (predicted == 1).astype(int), average="micro")
    assert micro_f1 >= OPENI_DEV_MIN_MICRO_F1
