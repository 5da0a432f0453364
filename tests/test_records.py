"""The record format: valid files round-trip, every kind of bad line is located by file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bench.records import Record, RecordError, iter_records, read_records, write_records


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


GOOD_GT = {
    "id": "p10/p10000032/s50414267/02aa804e",
    "image": {"width": 100, "height": 80, "pixel_spacing_mm": [0.139, 0.139]},
    "labels": {"Cardiomegaly": 1, "Edema": None, "Effusion": 0},
    "boxes": [{"label": "Nodule", "bbox": [10, 10, 20, 30]}],
    "masks": {"left lung": {"size": [80, 100], "counts": "0"}},
    "report": "FINDINGS: normal. IMPRESSION: none.",
}


def test_round_trip(tmp_path: Path) -> None:
    src = _write(tmp_path / "gt.jsonl", [GOOD_GT, {"id": "b", "boxes": []}])
    records = read_records(src, "gt")
    assert [ln for ln, _ in records] == [1, 2]
    assert records[0][1].labels == {"Cardiomegaly": 1, "Edema": None, "Effusion": 0}
    assert records[1][1].boxes == []  # declared, no boxes: still an evaluated image
    out = tmp_path / "copy.jsonl.gz"
    write_records(out, [r for _, r in records])
    with gzip.open(out, "rt") as handle:
        assert handle.read().count("\n") == 2
    assert [r for _, r in read_records(out, "gt")] == [r for _, r in records]


@pytest.mark.parametrize(
    ("lines", "kind", "line", "fragment"),
    [
        ([{"id": "a"}, "{not json"], "gt", 2, "invalid JSON"),
        ([{"id": "a"}, {"id": "a"}], "gt", 2, "duplicate id 'a' (first on line 1)"),
        ([{"id": "a", "labels": {"X": 0.5}}], "gt", 1, "must be 1, 0 or null"),
        ([{"id": "a", "labels": {"X": 1.5}}], "pred", 1, "probabilities in [0, 1]"),
        (['{"id": "a", "labels": {"X": NaN}}'], "pred", 1, "NaN is not valid JSON"),
        ([{"id": "a"}, '{"id": "b", "labels": {"X": 1e999}}'], "gt", 2, "label 'X' has value inf: NaN/inf"),
        ([{"id": "a", "labels": {"X": 0.2}}, {"id": "b", "labels": {"X": -0.1}}], "pred", 2, "in [0, 1]"),
        ([{"id": "a", "labels": {"X": None}}], "pred", 1, "probabilities"),
        ([{"id": "a", "boxes": [{"label": "N", "bbox": [5, 5, 1, 9], "score": 1}]}], "pred", 1, "x0 <= x1"),
        (
            [
                {
                    "id": "a",
                    "image": {"width": 10, "height": 10},
                    "boxes": [{"label": "N", "bbox": [0, 0, 11, 5]}],
                }
            ],
            "gt",
            1,
            "outside the 10x10 image",
        ),
        ([{"id": "a", "boxes": [{"label": "N", "bbox": [0, 0, 1, 1]}]}], "pred", 1, "has no score"),
        (
            [{"id": "a", "boxes": [{"label": "N", "bbox": [0, 0, 1, 1], "score": 0.3}]}],
            "gt",
            1,
            "carries no scores",
        ),
        (
            [
                {
                    "id": "a",
                    "image": {"width": 10, "height": 8},
                    "masks": {"heart": {"size": [10, 8], "counts": "0"}},
                }
            ],
            "gt",
            1,
            "[H, W] = [8, 10]",
        ),
        ([{"id": "a"}, {"id": "b", "lables": {}}], "gt", 2, "Extra inputs are not permitted"),
        ([{"id": ""}], "gt", 1, "id"),
        (["[1, 2]"], "gt", 1, "JSON object"),
    ],
)
def test_bad_lines_are_located(
    tmp_path: Path, lines: list[object], kind: str, line: int, fragment: str
) -> None:
    path = _write(tmp_path / "f.jsonl", lines)
    with pytest.raises(RecordError) as info:
        read_records(path, kind)  # type: ignore[arg-type]
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert fragment in str(info.value)


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "\xff"}\n')
    with pytest.raises(RecordError, match=r":2: not UTF-8 text"):
        read_records(path, "gt")


def test_bulk_reader_equals_line_reader(tmp_path: Path) -> None:
    """`read_records` checks a whole file at once; `iter_records` line by line: same records, same line numbers,
    with blank lines, CRLF endings, boxes, masks and a gzip file."""
    good_pred = {
        "id": "c",
        "labels": {"Edema": 0.25},
        "boxes": [{"label": "N", "bbox": [1, 2, 3, 4], "score": 1}],
    }
    text = json.dumps(GOOD_GT) + "\r\n\r\n" + json.dumps({"id": "b", "labels": {"Edema": 1.0}}) + "\n  \n"
    (tmp_path / "gt.jsonl").write_text(text, newline="")
    (tmp_path / "pred.jsonl.gz").write_bytes(gzip.compress((json.dumps(good_pred) + "\n").encode()))
    for name, kind in (("gt.jsonl", "gt"), ("pred.jsonl.gz", "pred"), ("gt.jsonl", "any")):
        bulk = read_records(tmp_path / name, kind)  # type: ignore[arg-type]
        assert bulk == list(iter_records(tmp_path / name, kind))  # type: ignore[arg-type]
    assert [line for line, _ in read_records(tmp_path / "gt.jsonl", "gt")] == [1, 3]


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="file not found"):
        read_records(tmp_path / "nope.jsonl", "gt")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(RecordError, match="no records"):
        read_records(tmp_path / "empty.jsonl", "gt")


def test_write_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    bad = Record(id="x")
    with pytest.raises(TypeError):
        write_records(target, [bad, object()])  # type: ignore[list-item]
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]
