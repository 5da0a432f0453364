"""The one record format: JSON Lines, one image per line, for ground truth and predictions alike.

See docs/formats.md. Every reader error names the file and the 1-based line.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bench.errors import BadInputError

Kind = Literal["gt", "pred", "any"]


class RecordError(BadInputError):
    """Bad input, located: `path:line: message`."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageInfo(_Strict):
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    pixel_spacing_mm: tuple[float, float] | None = None

    @field_validator("pixel_spacing_mm")
    @classmethod
    def _positive_spacing(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not all(math.isfinite(s) and s > 0 for s in v):
            raise ValueError("pixel_spacing_mm must be two positive numbers [row_mm, col_mm]")
        return v


class Box(_Strict):
    label: str = Field(min_length=1)
    bbox: tuple[float, float, float, float]
    score: float | None = None
    # The annotated object when it is not the rectangle itself (object-CXR): an ellipse inscribed in `bbox`,
    # or a polygon with vertices `points` = [x1, y1, x2, y2, ...]; `bbox` is then its bounding box.
    shape: Literal["ellipse", "polygon"] | None = None
    points: tuple[float, ...] | None = None

    @model_validator(mode="after")
    def _shape_points(self) -> Box:
        if self.shape == "polygon":
            pts = self.points or ()
            if len(pts) < 6 or len(pts) % 2 or not all(math.isfinite(v) for v in pts):
                raise ValueError(
                    "a polygon needs points [x1, y1, x2, y2, x3, y3, ...]: 3 or more finite points"
                )
        elif self.points is not None:
            raise ValueError("points are only allowed with shape 'polygon'")
        return self

    @field_validator("bbox")
    @classmethod
    def _valid_xyxy(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = v
        if not all(math.isfinite(c) for c in v):
            raise ValueError(f"bbox {list(v)} has a non-finite coordinate")
        if x1 < x0 or y1 < y0:
            raise ValueError(f"bbox {list(v)} is not [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1")
        return v

    @field_validator("score")
    @classmethod
    def _finite_score(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError(f"box score {v} is not a finite number")
        return v


class Mask(_Strict):
    size: tuple[int, int]
    counts: str

    def rle(self) -> dict[str, Any]:
        return {"size": list(self.size), "counts": self.counts}


# Finiteness is checked in pydantic's core (JSON's 1e999 parses to inf); `_format_validation` words the error.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Record(_Strict):
    id: str = Field(min_length=1)
    image: ImageInfo | None = None
    labels: dict[str, FiniteFloat | None] | None = None
    boxes: list[Box] | None = None
    masks: dict[str, Mask | None] | None = None
    report: str | None = None
    meta: dict[str, Any] | None = None

    # Field validators, not a model validator: a record without boxes or masks then costs no Python call.
    @field_validator("boxes")
    @classmethod
    def _boxes_inside_image(cls, boxes: list[Box] | None, info: ValidationInfo) -> list[Box] | None:
        image = info.data.get("image")
        if image is None or not boxes:
            return boxes
        w, h = image.width, image.height
        for i, box in enumerate(boxes):
            x0, y0, x1, y1 = box.bbox
            if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                raise ValueError(f"boxes[{i}] {list(box.bbox)} lies outside the {w}x{h} image")
        return boxes

    @field_validator("masks")
    @classmethod
    def _masks_fit_image(
        cls, masks: dict[str, Mask | None] | None, info: ValidationInfo
    ) -> dict[str, Mask | None] | None:
        image = info.data.get("image")
        if image is None or not masks:
            return masks
        w, h = image.width, image.height
        for name, mask in masks.items():
            if mask is not None and tuple(mask.size) != (h, w):
                raise ValueError(
                    f"mask {name!r} has size {list(mask.size)} but the image is [H, W] = [{h}, {w}]"
                )
        return masks


_GT_LABEL_VALUES = frozenset((None, 0, 1))  # 1.0 == 1 and hashes alike


def _check_kind(record: Record, kind: Kind) -> None:
    if kind == "any":
        return
    labels = record.labels
    if labels and not _label_values_fit(labels.values(), kind):
        _word_bad_label(labels, kind)
    for i, box in enumerate(record.boxes or []):
        if kind == "gt" and box.score is not None:
            raise ValueError(f"ground-truth boxes[{i}] has a score: ground truth carries no scores")
        if kind == "pred" and box.score is None:
            raise ValueError(f"predicted boxes[{i}] has no score (use 1.0 for unscored boxes)")


def _label_values_fit(values: Iterable[float | None], kind: Kind) -> bool:
    """Ground truth: 1, 0 or null; predictions: probabilities in [0, 1]. Tested in C, a whole file's at once."""
    if kind == "gt":
        return _GT_LABEL_VALUES.issuperset(values)
    if kind == "pred":
        try:
            array = np.fromiter(values, dtype=np.float64)
        except TypeError:  # a null
            return False
        return bool(array.size == 0 or (array.min() >= 0.0 and array.max() <= 1.0))
    return True


def _word_bad_label(labels: dict[str, float | None], kind: Kind) -> None:
    for name, value in labels.items():
        if kind == "gt" and value not in _GT_LABEL_VALUES:
            raise ValueError(f"ground-truth label {name!r} is {value}: it must be 1, 0 or null (unknown)")
        if kind == "pred" and (value is None or not 0.0 <= value <= 1.0):
            raise ValueError(
                f"predicted label {name!r} is {value}: predictions must be probabilities in [0, 1]"
            )


def _open_bytes(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads like a binary file
    return open(path, "rb")  # noqa: SIM115


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (use null for unknown values)")


def iter_records(path: str | os.PathLike[str], kind: Kind) -> Iterator[tuple[int, Record]]:
    """Yield (line number, record) with full validation; raises RecordError at the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(path, None, "file not found")
    seen: dict[str, int] = {}
    # Lines stay bytes: pydantic's core parses (and checks the UTF-8 of) bytes without a decode in Python.
    with _open_bytes(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _validate_fast(line, kind) or _validate_worded(path, lineno, line, kind)
            if record.id in seen:
                raise RecordError(
                    path, lineno, f"duplicate id {record.id!r} (first on line {seen[record.id]})"
                )
            seen[record.id] = lineno
            yield lineno, record


def _validate_worded(path: Path, lineno: int, line: bytes, kind: Kind) -> Record:
    """The record, or a RecordError that says what is wrong with the line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(path, lineno, f"not UTF-8 text: {exc}") from None
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise RecordError(path, lineno, f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise RecordError(path, lineno, "each line must be a JSON object")
    try:
        record = Record.model_validate(raw)
        _check_kind(record, kind)
    except ValidationError as exc:
        raise RecordError(path, lineno, _format_validation(exc, raw)) from None
    except ValueError as exc:
        raise RecordError(path, lineno, f"record {raw.get('id')!r}: {exc}") from None
    return record


def _validate_fast(line: bytes, kind: Kind) -> Record | None:
    """The record when `line` is valid, parsed and validated in pydantic's Rust core (about 3x the speed of
    json.loads + model_validate, same values); None sends the line through the slow path, which words the error.
    Lines naming NaN or Infinity always take the slow path: json.loads rejects those constants anywhere."""
    if b"NaN" in line or b"Infinity" in line:
        return None
    try:
        record = Record.model_validate_json(line)
        _check_kind(record, kind)
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None
    return record


def read_records(path: str | os.PathLike[str], kind: Kind) -> list[tuple[int, Record]]:
    """Every record of the file with its line number; RecordError at the first bad line."""
    records = _read_valid_file(Path(path), kind)
    if records is None:  # something is wrong: the line-by-line reader finds and words it
        records = list(iter_records(path, kind))
    if not records:
        raise RecordError(path, None, "contains no records")
    return records


def _read_valid_file(path: Path, kind: Kind) -> list[tuple[int, Record]] | None:
    """The records of a file without a fault, checked in bulk (the per-line work is pydantic's alone); None when
    any check fails, and `iter_records` then reports the first fault exactly. About 1.4x the line-by-line speed."""
    if not path.is_file():
        return None
    with _open_bytes(path) as handle:
        data = handle.read()
    if b"NaN" in data or b"Infinity" in data:  # constants json.loads rejects: the slow path says where
        return None
    numbered = [(lineno, line) for lineno, line in enumerate(data.split(b"\n"), start=1) if line.strip()]
    validate = Record.__pydantic_validator__.validate_json  # what model_validate_json calls, minus a wrapper
    try:
        records = [validate(line) for _, line in numbered]
    except ValueError:  # pydantic's ValidationError is a ValueError
        return None
    ids = [record.id for record in records]
    if len(set(ids)) != len(ids) or not _kind_holds(records, kind):
        return None
    return [(lineno, record) for (lineno, _), record in zip(numbered, records, strict=True)]


def _kind_holds(records: list[Record], kind: Kind) -> bool:
    """`_check_kind` for every record, the label values of all records tested at once."""
    values = itertools.chain.from_iterable(r.labels.values() for r in records if r.labels)
    if not _label_values_fit(values, kind):
        return False
    try:
        for record in records:
            if record.boxes:
                _check_kind(record, kind)
    except ValueError:
        return False
    return True


def _format_validation(exc: ValidationError, raw: dict[str, Any]) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        if err["type"] == "finite_number" and err["loc"][:1] == ("labels",):
            parts.append(
                f"label {err['loc'][-1]!r} has value {err['input']}: NaN/inf are not allowed (use null)"
            )
            continue
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(msg if msg.startswith(loc) else f"{loc}: {msg}")
    return f"record {raw.get('id')!r}: " + "; ".join(parts)


def record_to_json(record: Record) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude_none=True)


def write_records(path: str | os.PathLike[str], records: Iterable[Record | dict[str, Any]]) -> None:
    """Write JSONL atomically (temp file + rename), so a failure never leaves half a file."""
    lines = []
    for rec in records:
        obj = record_to_json(rec) if isinstance(rec, Record) else rec
        lines.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False))
    text = "\n".join(lines) + ("\n" if lines else "")
    if Path(path).suffix == ".gz":
        atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        atomic_write_text(path, text)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
