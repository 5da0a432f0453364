from __future__ import annotations

import pytest

from readerstudy.study.harmonise import harmonise_report, split_sections


def test_headers_unified_and_order_fixed() -> None:
    assert harmonise_report("Impressions: normal chest\nFinding: lungs clear") == (
        "FINDINGS: Lungs clear.\n\nIMPRESSION: Normal chest."
    )
    assert harmonise_report("Conclusion: normal. Findings: clear lungs.") == (
        "FINDINGS: Clear lungs.\n\nIMPRESSION: Normal."
    )


def test_header_on_its_own_line_without_colon() -> None:
    assert harmonise_report("FINDINGS\nLungs clear.\nIMPRESSION\nNo acute disease.") == (
        "FINDINGS: Lungs clear.\n\nIMPRESSION: No acute disease."
    )


def test_text_without_headers_is_findings() -> None:
    assert harmonise_report("lungs are clear") == "FINDINGS: Lungs are clear."


def test_other_sections_dropped_by_default_and_kept_on_request() -> None:
    text = "INDICATION: cough. COMPARISON: none. FINDINGS: clear. IMPRESSION: normal."
    assert harmonise_report(text) == "FINDINGS: Clear.\n\nIMPRESSION: Normal."
    assert harmonise_report(text, ["INDICATION", "FINDINGS"]) == "INDICATION: Cough.\n\nFINDINGS: Clear."


def test_case_normalised_with_acronyms_kept() -> None:
    assert harmonise_report("FINDINGS: RIGHT PICC LINE TIP IN THE SVC. NO PNEUMOTHORAX. T7 FRACTURE") == (
        "FINDINGS: Right PICC line tip in the SVC. No pneumothorax. T7 fracture."
    )


def test_whitespace_and_punctuation_spacing() -> None:
    assert harmonise_report("FINDINGS:   lungs\n\n  clear  .   heart   normal ,  stable") == (
        "FINDINGS: Lungs clear. Heart normal, stable."
    )


@pytest.mark.parametrize(
    "signature",
    [
        "Electronically signed by: John Doe, MD on 01/01/2020",
        "Dictated by Jane Roe",
        "Transcribed by JR",
        "Radiologist: Someone",
        "E-signed by XYZ",
    ],
)
def test_signatures_removed(signature: str) -> None:
    assert harmonise_report(f"FINDINGS: lungs clear.\n{signature}\nIMPRESSION: normal.") == (
        "FINDINGS: Lungs clear.\n\nIMPRESSION: Normal."
    )


@pytest.mark.parametrize(
    "placeholder", ["___", "[redacted]", "[ REDACTED ]", "<redacted>", "[**Name**]", "XXXX"]
)
def test_placeholders_removed(placeholder: str) -> None:
    assert (
        harmonise_report(f"FINDINGS: seen by {placeholder}. lungs clear.")
        == "FINDINGS: Seen by. Lungs clear."
    )


def test_two_formats_of_same_content_become_identical() -> None:
    clinical = (
        "FINDINGS:\n  THE LUNGS ARE CLEAR.  NO EFFUSION\n\nIMPRESSION:  NORMAL CHEST.\nDictated by: Dr X ___"
    )
    generated = "Findings: The lungs are clear. No effusion.\nImpression: Normal chest."
    assert harmonise_report(clinical) == harmonise_report(generated)


def test_split_sections_merges_repeated_headers() -> None:
    sections = split_sections("Findings: a. Impression: b. Findings: c.")
    assert sections["FINDINGS"].split() == ["a.", "c."]
    assert sections["IMPRESSION"].strip() == "b."
