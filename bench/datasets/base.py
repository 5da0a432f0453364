"""The dataset adapter interface, the registry, layout errors, `check` reports and exports (JSONL, HF datasets).

An adapter reads one benchmark in the layout its publisher ships and yields ground-truth `Record`s
(docs/formats.md): labels 1/0/null (null = unknown, never silently 0), boxes `[x0, y0, x1, y1]` in pixels of the
image file on disk, masks as COCO RLE, the report text, and `meta` (dataset, split, patient, view, path).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import typing
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bench.errors import BadInputError
from bench.records import Record, write_records

if TYPE_CHECKING:
    import datasets


class LayoutError(BadInputError):
    """The folder does not hold the publisher's layout: names the file (and row) and the likely fix."""

    def __init__(self, path: str | os.PathLike[str], message: str, *, row: int | None = None, fix: str = ""):
        self.path = str(path)
        self.row = row
        self.fix = fix
        where = f"{self.path}:{row}" if row is not None else self.path
        text = f"{where}: {message}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)


@dataclass
class SplitCounts:
    images: int = 0
    with_labels: int = 0
    with_boxes: int = 0
    boxes: int = 0
    with_masks: int = 0
    with_report: int = 0
    # label -> (positives, negatives, unknown)
    labels: dict[str, list[int]] = field(default_factory=dict)
    box_labels: Counter[str] = field(default_factory=Counter)
    # subgroup fields (bench/datasets/demographics.py): values seen, and publisher values the rules dropped
    sexes: Counter[str] = field(default_factory=Counter)
    with_age: int = 0
    views: Counter[str] = field(default_factory=Counter)
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)

    def subgroup_line(self) -> str | None:
        """'sex F 3, M 4; age on 7; view AP 2, PA 5; dropped sex 'Unknown' x1', or None without any field."""
        if not (self.sexes or self.with_age or self.views or self.dropped):
            return None
        parts = [
            "sex " + (", ".join(f"{k} {n}" for k, n in sorted(self.sexes.items())) or "none"),
            f"age on {self.with_age}",
            "view " + (", ".join(f"{k} {n}" for k, n in sorted(self.views.items())) or "none"),
        ]
        if self.dropped:
            listed = ", ".join(f"{key} {value!r} x{n}" for (key, value), n in sorted(self.dropped.items()))
            parts.append(f"left out (publisher value): {listed}")
        return "; ".join(parts)


@dataclass
class CheckReport:
    dataset: str
    root: str
    splits: dict[str, SplitCounts]

    def render(self) -> str:
        lines = [f"{self.dataset} at {self.root}: layout OK"]
        for split, counts in self.splits.items():
            lines.append(
                f"  {split}: {counts.images} images, labels on {counts.with_labels}, boxes on {counts.with_boxes}"
                f" ({counts.boxes} boxes), masks on {counts.with_masks}, reports on {counts.with_report}"
            )
            for label, (pos, neg, unknown) in sorted(counts.labels.items()):
                lines.append(f"    {label}: {pos} positive, {neg} negative, {unknown} unknown")
            for label, n in sorted(counts.box_labels.items()):
                lines.append(f"    box {label}: {n}")
            if (subgroups := counts.subgroup_line()) is not None:
                lines.append(f"    subgroups: {subgroups}")
        return "\n".join(lines)


class DatasetAdapter(ABC):
    """One benchmark in its publisher's layout. Subclasses set the class attributes and implement `records`."""

    name: ClassVar[str]
    title: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    splits: ClassVar[tuple[str, ...]]
    # (train, validation, test) roles of the splits; validation None = none published (then a seeded hold-out).
    # None: the first split trains and the last tests.
    split_roles: ClassVar[tuple[str, str | None, str] | None] = None
    expected_layout: ClassVar[str]
    # How the split comes about (official file, or the seeded patient-level split shipped with cxrbench).
    split_source: ClassVar[str]

    @abstractmethod
    def records(self, root: str | os.PathLike[str], split: str) -> Iterator[Record]:
        """Yield one ground-truth record per image of `split`; raise LayoutError on a bad layout."""

    def available_splits(self, root: str | os.PathLike[str]) -> tuple[str, ...]:
        """Splits present under `root` (optional files such as a test-label CSV may be absent)."""
        return self.splits

    def roles(self, root: str | os.PathLike[str], test: str | None = None) -> dict[str, str | None]:
        """Train / val / test split names present under root (e.g. CheXpert without its test labels: the
        validation split becomes the test split, with no separate validation)."""
        available = self.available_splits(root)
        train, val, default_test = self.split_roles or (available[0], None, available[-1])
        chosen_test = test or (default_test if default_test in available else None)
        if chosen_test is None:
            chosen_test, val = val, None
        if val == chosen_test or val not in available:
            val = None
        return {"train": train if train in available else None, "val": val, "test": chosen_test}

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name}: unknown split {split!r}; choose one of {', '.join(self.splits)}")

    def check(self, root: str | os.PathLike[str]) -> CheckReport:
        """Read every split fully (labels, boxes, masks, image headers) and count; raises LayoutError."""
        root = Path(root)
        if not root.is_dir():
            raise LayoutError(root, "folder not found", fix=f"pass the folder that holds {self.name}")
        report = CheckReport(self.name, str(root), {})
        for split in self.available_splits(root):
            counts = SplitCounts()
            for record in self.records(root, split):
                _count(counts, record)
            if counts.images == 0:
                raise LayoutError(
                    root,
                    f"split {split!r} has no images",
                    fix=f"check that the split files of {self.name} list images present under {root}",
                )
            report.splits[split] = counts
        return report

    def fingerprint(self, root: str | os.PathLike[str], split: str) -> str:
        """Cheap content key for caches: names, sizes and mtimes of the top-level files under root."""
        digest = hashlib.sha256(f"{self.name}\0{split}\0{Path(root).resolve()}".encode())
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            stat = entry.stat()
            digest.update(f"{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:16]


def _count(counts: SplitCounts, record: Record) -> None:
    counts.images += 1
    if record.labels is not None:
        counts.with_labels += 1
        for label, value in record.labels.items():
            slot = counts.labels.setdefault(label, [0, 0, 0])
            slot[0 if value == 1 else 1 if value == 0 else 2] += 1
    if record.boxes is not None:
        counts.with_boxes += 1
        counts.boxes += len(record.boxes)
        counts.box_labels.update(box.label for box in record.boxes)
    if record.masks is not None:
        counts.with_masks += 1
    if record.report is not None:
        counts.with_report += 1
    meta = record.meta or {}
    if "sex" in meta:
        counts.sexes[str(meta["sex"])] += 1
    counts.with_age += "age" in meta
    if "view" in meta and meta["view"] is not None:
        counts.views[str(meta["view"])] += 1
    counts.dropped.update((str(k), str(v)) for k, v in (meta.get("subgroup_dropped") or {}).items())


DATASETS: dict[str, type[DatasetAdapter]] = {}


def register(cls: type[DatasetAdapter]) -> type[DatasetAdapter]:
    """Add an adapter to the registry; its tasks must be rows of the task table (bench.tasks)."""
    from bench.tasks import TASK_NAMES

    unknown = [task for task in cls.tasks if task not in TASK_NAMES]
    if unknown:
        raise TypeError(
            f"dataset adapter {cls.name!r} names tasks {unknown} not in bench.tasks: {TASK_NAMES}"
        )
    if cls.name in DATASETS and DATASETS[cls.name].__module__ != cls.__module__:  # (a reload is the same)
        raise TypeError(
            f"two dataset adapters are named {cls.name!r}: {DATASETS[cls.name].__module__}, {cls.__module__}"
        )
    DATASETS[cls.name] = cls
    return cls


class UnknownDatasetError(BadInputError, KeyError):
    """No adapter of that name (a KeyError, as before; its text is the plain message, not its repr)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OptionError(BadInputError):
    """An adapter option that does not exist, or a value it does not accept: a usage error (exit status 2)."""


def adapter_options(cls: type[DatasetAdapter]) -> dict[str, inspect.Parameter]:
    """The options of an adapter: the keyword parameters of its __init__ (name -> parameter)."""
    if cls.__init__ is object.__init__:
        return {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
    return {p.name: p for p in parameters if p.kind in kinds}


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _coerce_option(cls: type[DatasetAdapter], name: str, value: Any) -> Any:
    """A command-line value (text) converted to the option's annotated type; OptionError when it does not fit."""
    try:
        hint = typing.get_type_hints(cls.__init__).get(name)
    except Exception:  # an annotation that cannot be resolved: only true / false are converted
        return {"true": True, "false": False}.get(value.lower(), value) if isinstance(value, str) else value
    choices = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()
    if choices and value not in choices:
        raise OptionError(f"{cls.name} option {name}={value!r}: choose one of {', '.join(map(str, choices))}")
    if hint is bool and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text not in _TRUE + _FALSE:
            raise OptionError(f"{cls.name} option {name}={value!r}: expected true or false")
        return text in _TRUE
    if hint in (int, float) and isinstance(value, str):
        try:
            return hint(value)
        except ValueError:
            raise OptionError(f"{cls.name} option {name}={value!r}: expected a number") from None
    return value


def get_adapter(name: str, **options: Any) -> DatasetAdapter:
    """The adapter `name` with `options` (its __init__ keywords); UnknownDatasetError / OptionError otherwise."""
    if name not in DATASETS:  # a plugin may add it (bench.plugins)
        from bench.plugins import load_plugins

        load_plugins()
    if name not in DATASETS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    cls = DATASETS[name]
    known = adapter_options(cls)
    unknown = [key for key in options if key not in known]
    if unknown:
        listed = ", ".join(repr(key) for key in unknown)
        if not known:
            raise OptionError(f"{name} has no options (got {listed})")
        raise OptionError(f"{name} has no option {listed}; its options are {', '.join(known)}")
    coerced = {key: _coerce_option(cls, key, value) for key, value in options.items()}
    try:
        return cls(**coerced)
    except OptionError:
        raise
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{name}: {exc}") from None


def export_jsonl(
    adapter: DatasetAdapter, root: str | os.PathLike[str], split: str, out: str | os.PathLike[str]
) -> int:
    """Write the split's ground truth as JSONL (atomic); returns the number of records."""
    records = list(adapter.records(root, split))
    if not records:
        raise LayoutError(root, f"split {split!r} has no images", fix="check the split files and the images")
    write_records(out, records)
    return len(records)


def to_hf_dataset(
    adapter: DatasetAdapter,
    root: str | os.PathLike[str],
    split: str,
    cache_dir: str | os.PathLike[str] | None = None,
) -> datasets.Dataset:
    """The split as a Hugging Face `datasets.Dataset` (Arrow cache on disk, memory-mapped).

    Columns: id, split, width, height, labels (a struct with the adapter's label names, null = unknown),
    boxes (list of {label, bbox}), and masks / meta as JSON text (their keys vary per image); `report` is text.
    `record_from_row` turns a row back into a `Record`. The cache key includes `adapter.fingerprint`.
    """
    import datasets as hf

    rows = [_row(record, split) for record in adapter.records(root, split)]
    label_names = sorted({name for row in rows for name in row["labels"]})
    for row in rows:
        row["labels"] = {name: row["labels"].get(name) for name in label_names}
    features = hf.Features(
        {
            "id": hf.Value("string"),
            "split": hf.Value("string"),
            "width": hf.Value("int32"),
            "height": hf.Value("int32"),
            "has_labels": hf.Value("bool"),
            "labels": {name: hf.Value("float32") for name in label_names} or hf.Value("null"),
            "has_boxes": hf.Value("bool"),
            "boxes": [{"label": hf.Value("string"), "bbox": [hf.Value("float64")]}],
            "masks": hf.Value("string"),
            "report": hf.Value("string"),
            "meta": hf.Value("string"),
        }
    )
    if not label_names:
        for row in rows:
            row["labels"] = None
    fingerprint = adapter.fingerprint(root, split)
    return hf.Dataset.from_generator(
        _yield_rows,
        features=features,
        cache_dir=str(cache_dir) if cache_dir is not None else None,
        gen_kwargs={"rows": rows, "fingerprint": fingerprint},
    )


def _yield_rows(rows: list[dict[str, Any]], fingerprint: str) -> Iterator[dict[str, Any]]:
    del fingerprint  # only part of the cache key
    yield from rows


def _row(record: Record, split: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "split": split,
        "width": record.image.width if record.image else None,
        "height": record.image.height if record.image else None,
        "has_labels": record.labels is not None,
        "labels": dict(record.labels or {}),
        "has_boxes": record.boxes is not None,
        "boxes": [{"label": b.label, "bbox": list(b.bbox)} for b in record.boxes or []],
        "masks": json.dumps({k: (m.rle() if m else None) for k, m in record.masks.items()})
        if record.masks is not None
        else None,
        "report": record.report,
        "meta": json.dumps(record.meta) if record.meta is not None else None,
    }


def record_from_row(row: dict[str, Any]) -> Record:
    """Inverse of the HF export: one dataset row back to the `Record` it came from."""
    labels = row["labels"]
    return Record.model_validate(
        {
            "id": row["id"],
            "image": {"width": row["width"], "height": row["height"]} if row["width"] else None,
            "labels": {k: (None if v is None else float(v)) for k, v in labels.items()}
            if row["has_labels"] and labels is not None
            else None,
            "boxes": row["boxes"] if row["has_boxes"] else None,
            "masks": json.loads(row["masks"]) if row["masks"] is not None else None,
            "report": row["report"],
            "meta": json.loads(row["meta"]) if row["meta"] is not None else None,
        }
    )
