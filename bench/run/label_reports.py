"""`cxrbench label-reports`: JSONL reports -> CSV of labels (1 / 0 / -1 / blank)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from bench.records import RecordError, atomic_write_text, read_records


def label_reports_file(in_path: str | Path, out_path: str | Path, labelset: str) -> int:
    from bench.metrics.labeler import LABELSETS, label_reports

    records = read_records(in_path, "any")
    for lineno, rec in records:
        if rec.report is None:
            raise RecordError(in_path, lineno, f"record {rec.id!r} has no 'report'")
    values = label_reports([rec.report or "" for _, rec in records], labelset=labelset)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", *LABELSETS[labelset]])
    for (_, rec), row in zip(records, values, strict=True):
        writer.writerow([rec.id, *("" if np.isnan(v) else str(int(v)) for v in row)])
    atomic_write_text(out_path, buffer.getvalue())
    return len(records)
