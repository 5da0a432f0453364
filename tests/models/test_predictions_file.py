"""`predictions:FILE.jsonl`: records served by id, restricted to the asked tasks, validated once, hashed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bench.models import Sample, TaskSpec, load_model
from bench.models.predictions_file import PredictionsFileModel
from bench.records import Record, RecordError

ROWS = [
    {
        "id": "x1",
        "image": {"width": 100, "height": 80},
        "labels": {"Nodule": 0.25, "Mass": 0.9},
        "boxes": [{"label": "Nodule", "bbox": [10, 10, 20, 30], "score": 0.7}],
        "report": "No acute findings.",
        "meta": {"source": "cluster"},
    },
    {"id": "x2", "labels": {"Nodule": 0.5, "Mass": 0.0}, "boxes": [], "report": ""},
    {"id": "x3", "labels": {"Nodule": 1.0, "Mass": 0.1}, "boxes": [], "report": "Nodule."},
]


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _samples(*ids: str) -> list[Sample]:
    return [Sample(Record(id=i)) for i in ids]


def test_serves_records_by_id_in_batch_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.jsonl", ROWS)
    model = load_model(f"predictions:{path}")
    assert isinstance(model, PredictionsFileModel) and not model.needs_images
    assert model.tasks == {"classification", "localization", "report"}
    spec = TaskSpec(tasks=("classification", "localization", "report"))
    out = model.predict(_samples("x3", "x1"), spec)
    assert [r.id for r in out] == ["x3", "x1"]
    assert out[1] == Record.model_validate(ROWS[0])


def test_restricted_to_the_asked_tasks(tmp_path: Path) -> None:
    model = PredictionsFileModel(str(_write(tmp_path / "preds.jsonl", ROWS)))
    (rec,) = model.predict(_samples("x1"), TaskSpec(tasks=("classification",)))
    assert rec.labels == {"Nodule": 0.25, "Mass": 0.9}
    assert rec.boxes is None and rec.report is None and rec.masks is None
    assert rec.image is not None and rec.meta == {"source": "cluster"}


def test_missing_id_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.jsonl", ROWS)
    model = PredictionsFileModel(str(path))
    with pytest.raises(RecordError, match=r"preds\.jsonl: has no prediction for id 'x9'"):
        model.predict(_samples("x1", "x9"), TaskSpec(tasks=("classification",)))


def test_invalid_file_is_rejected_with_its_line(tmp_path: Path) -> None:
    rows = [ROWS[0], {"id": "bad", "labels": {"Nodule": 1.5}}]
    with pytest.raises(RecordError, match=r"preds\.jsonl:2: .*probabilities in \[0, 1\]"):
        PredictionsFileModel(str(_write(tmp_path / "preds.jsonl", rows)))
    with pytest.raises(RecordError, match="file not found"):
        PredictionsFileModel(str(tmp_path / "absent.jsonl"))


def test_describe_hashes_the_file_and_flags_binary_scores(tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.jsonl", ROWS)
    info = PredictionsFileModel(str(path)).describe()
    assert info["file"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["file"]["records"] == 3 and info["score_type"] == "continuous"
    binary = [{"id": "a", "labels": {"Nodule": 1.0, "Mass": 0.0}}, {"id": "b", "labels": {"Nodule": 0}}]
    assert PredictionsFileModel(str(_write(tmp_path / "bin.jsonl", binary))).score_type == "binary"
