"""Readers for the Open-i / IU X-ray report archive and the NegBio gold labels (dev and benchmark use)."""

from __future__ import annotations

import csv
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

OPENI_SECTIONS = ("FINDINGS", "IMPRESSION")


def read_openi_reports(tgz_path: str | Path) -> dict[str, str]:
    """Report key ("CXR<N>", from ecgen-radiology/<N>.xml) -> "FINDINGS: ...\\nIMPRESSION: ..." text.

    Empty sections are written as empty headers, so every report has both.
    """
    reports: dict[str, str] = {}
    with tarfile.open(tgz_path) as archive:
        for member in archive.getmembers():
            if not member.name.endswith(".xml"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            root = ET.fromstring(handle.read())
            key = f"CXR{Path(member.name).stem}"
            sections = {node.get("Label"): (node.text or "").strip() for node in root.iter("AbstractText")}
            reports[key] = "\n".join(f"{name}: {sections.get(name, '')}" for name in OPENI_SECTIONS)
    return reports


def read_openi_gold(csv_path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """(keys, finding names, (n, 14) 0/1 int array) from openi_gold_labels_dev.csv.

    The `normal` column is dropped: it is not a ChestX-ray14 finding.
    """
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = [c for c in rows[0] if c not in ("filename", "normal")]
    keys = [row["filename"] for row in rows]
    labels = np.array([[int(row[name]) for name in names] for row in rows], dtype=np.int64)
    return keys, names, labels
