"""Subgroup metadata of a record: meta.sex, meta.age, meta.view (docs/formats.md, "Subgroup fields").

- `sex` is "F" or "M"; a publisher's other / unknown value leaves the key out.
- `age` is in years: an int when the publisher gives whole years, else a float rounded to 2 decimals (DICOM
  age strings such as "006M" or "020D"); a missing-age placeholder or an implausible value leaves it out.
- `view` is the publisher's view position, uppercased (PA, AP, LL, LATERAL, ...); blank leaves it out.

Whatever a rule leaves out is kept, as the publisher wrote it, in `meta["subgroup_dropped"]` (e.g.
{"sex": "Unknown"}), so that `cxrbench data check` can count it and nobody has to guess why a key is absent.
"""

from __future__ import annotations

import re
from typing import Any

# DICOM PS3.5 Table 6.2-1, VR "AS": nnnD, nnnW, nnnM or nnnY (days, weeks, months, years).
_DICOM_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_WHOLE_NUMBER = re.compile(r"^\s*(\d{1,3})\s*$")
DAYS_PER_YEAR = 365.25
UNITS_PER_YEAR = {"Y": 1.0, "M": 12.0, "W": DAYS_PER_YEAR / 7, "D": DAYS_PER_YEAR}
# Oldest documented human: 122 years. Older values in a CXR list are typing errors (ChestX-ray14's 148-414).
MAX_PLAUSIBLE_AGE = 120


def age_in_years(count: int, unit: str = "Y") -> int | float:
    """`count` units (Y, M, W, D) in years: an int for years, else rounded to 2 decimals."""
    unit = unit.upper()
    if unit == "Y":
        return count
    return round(count / UNITS_PER_YEAR[unit], 2)


def parse_age(text: str | None) -> int | float | None:
    """A DICOM age string ('045Y', '006M', '010W', '020D') or a plain whole number ('45') in years; else None."""
    if text is None:
        return None
    if match := _WHOLE_NUMBER.match(text):
        return int(match.group(1))
    if match := _DICOM_AGE.match(text):
        return age_in_years(int(match.group(1)), match.group(2))
    return None


def subgroup_meta(
    *,
    sex: str | None = None,
    age: int | float | None = None,
    view: str | None = None,
    site: str | None = None,
    dropped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The meta keys for the given values: only those present, `view` uppercased, and `subgroup_dropped`."""
    if sex is not None and sex not in ("F", "M"):
        raise ValueError(f"sex must be 'F' or 'M', got {sex!r}")
    out: dict[str, Any] = {}
    if sex is not None:
        out["sex"] = sex
    if age is not None:
        out["age"] = age
    if view is not None and view.strip():
        out["view"] = view.strip().upper()
    if site is not None:
        out["site"] = site
    if dropped:
        out["subgroup_dropped"] = dict(dropped)
    return out


def normalise(
    *,
    sex: str | None,
    sex_codes: dict[str, str],
    age: str | None,
    placeholder_ages: tuple[int | float, ...] = (),
    view: str | None = None,
    site: str | None = None,
) -> dict[str, Any]:
    """Publisher values -> subgroup meta: `sex_codes` maps the publisher's spellings (compared case-insensitively,
    stripped) to F / M; any other non-blank value is dropped. `age` goes through `parse_age`; blanks, text that is
    not an age, `placeholder_ages` and ages above MAX_PLAUSIBLE_AGE are dropped."""
    dropped: dict[str, str] = {}
    codes = {key.strip().lower(): value for key, value in sex_codes.items()}
    sex_code = None
    if sex is not None and sex.strip():
        sex_code = codes.get(sex.strip().lower())
        if sex_code is None:
            dropped["sex"] = sex
    years = None
    if age is not None and age.strip():
        years = parse_age(age)
        if years is None or years in placeholder_ages or years > MAX_PLAUSIBLE_AGE:
            dropped["age"] = age
            years = None
    return subgroup_meta(sex=sex_code, age=years, view=view, site=site, dropped=dropped)
