from __future__ import annotations

import pytest

from readerstudy.study.deid import find_identifiers


def rules(text: str, institutions: tuple[str, ...] = ()) -> set[str]:
    return {hit.rule for hit in find_identifiers(text, institutions)}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Compared with the study of 03/14/2021.", "date"),
        ("Compared with 3-4-21.", "date"),
        ("Prior exam 2019-11-02 shows the same.", "date"),
        ("Seen on January 5, 2020 as well.", "date"),
        ("Seen on 5th Jan 2020 as well.", "date"),
        ("Unchanged since March 2018.", "date"),
        ("Discussed with Dr. Smith at noon.", "person name"),
        ("Discussed with Dr Jones.", "person name"),
        ("Patient Mrs. O'Neil was informed.", "person name"),
        ("Findings called to MS. Baker.", "person name"),
        ("MRN: 12345678.", "record number"),
        ("Accession number A1234567.", "record number"),
        ("Accession #: 99-1234.", "record number"),
        ("Reference 123456789 noted.", "record number"),
        ("Call 555-123-4567 with results.", "phone"),
        ("Call (555) 123 4567 with results.", "phone"),
        ("Questions to reading.room@hospital.org please.", "email"),
        ("A 92-year-old woman.", "age over 89"),
        ("Patient aged 95 with cough.", "age over 89"),
        ("History: 101 yo male.", "age over 89"),
    ],
)
def test_each_rule_fires(text: str, rule: str) -> None:
    assert rule in rules(text)


@pytest.mark.parametrize(
    "text",
    [
        "No pleural effusion. Heart size is normal.",
        "An 85-year-old man with a 3 cm nodule.",  # ages up to 89 are allowed
        "Degenerative changes at T4-5 and C5-6.",
        "Dr. XXXX was notified.",  # already de-identified placeholder
        "MR imaging recommended. MS lesion history.",  # MR/MS as abbreviations, not titles
        "Accession number pending.",  # no identifier after the keyword
        "Ratio 0.5, 1/2 of the hemithorax.",
        "Tube 4.5 cm above the carina.",
    ],
)
def test_clean_text_passes(text: str) -> None:
    assert rules(text) == set()


def test_institution_names_case_and_space_insensitive() -> None:
    hits = find_identifiers("Transferred from st  mary's HOSPITAL today.", ["St Mary's Hospital"])
    assert [h.rule for h in hits] == ["institution"]
    assert hits[0].match == "st  mary's HOSPITAL"
    assert rules("Transferred from St Maryland.", ("St Mary",)) == set()


def test_hit_reports_the_matched_text() -> None:
    hits = find_identifiers("Call 555-123-4567 or Dr. Who.")
    assert {(h.rule, h.match) for h in hits} == {("phone", "555-123-4567"), ("person name", "Dr. Who")}
