"""No Python traceback, ever, on a publisher file (issue 9, finding 5).

Property: start from a small valid demo folder of each adapter, damage ONE file the way downloads, editors and
hand-made conversions do (truncate, delete, empty, rename / drop a CSV column or JSON key, a cell or value of the
wrong type, non-UTF-8 bytes, an image that does not decode, ...), then read everything (`records` of every split and
`check`): the only exception allowed to escape is `LayoutError`, and its message starts with a path and gives a fix.

A traceback found later can be listed in KNOWN_TRACEBACKS (tolerated by the fuzz, so it keeps guarding everything
else) while it is being fixed; the list is empty.

By default the examples are the same on every run (derandomized); `CXRBENCH_FUZZ_EXAMPLES=500` runs a deeper,
randomized search (`--hypothesis-seed=N` repeats one).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from bench.datasets import DATASETS, LayoutError, get_adapter
from bench.datasets.demo import write_demo
from cxrbench.cli import app

DEEP = os.environ.get("CXRBENCH_FUZZ_EXAMPLES")
EXAMPLES = int(DEEP or "80")
DEMO_N = {"montgomery": 16}  # images per demo dataset (default 12): enough for every split to hold one
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".dicom", ".dcm", ".img"}
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not DEEP,  # by default the same examples on every run: a failure here is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Tracebacks found in adapters that are being rewritten elsewhere (bench/datasets/mimic_cxr.py, chexpert.py,
# jsrt.py, object_cxr.py): (adapter file, function, exception type) of the innermost adapter frame.
KNOWN_TRACEBACKS: set[tuple[str, str, str]] = set()


# --------------------------------------------------------------------------------------------------- fixtures
class Demos:
    """Small demo folders, one per adapter, made on first use (so that one broken generator fails only its tests)
    with the first seed whose demo passes `check`. Read-only: copy before damaging."""

    def __init__(self, base: Path):
        self.base = base
        self.roots: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self.roots:
            for seed in range(10):
                out = self.base / f"{name}-seed{seed}"
                root = write_demo(out, names=[name], n=DEMO_N.get(name, 12), seed=seed, workers=1)[name]
                try:
                    get_adapter(name).check(root)
                except Exception:  # noqa: BLE001  (test_demo_reads_cleanly reports it)
                    continue
                break
            self.roots[name] = root
        return self.roots[name]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Demos:
    return Demos(tmp_path_factory.mktemp("fuzz-demo"))


def _copy(pristine: Demos, name: str, into: str) -> Path:
    root = Path(into) / name
    shutil.copytree(pristine[name], root)
    return root


# ------------------------------------------------------------------------------------------------ reading all
def _assert_located(error: LayoutError) -> None:
    """The message starts with a full path (the root is absolute, so every path derived from it is) and a fix."""
    assert error.path and Path(error.path).is_absolute() and str(error).startswith(error.path), str(error)
    assert error.fix, f"no fix given: {error}"


def read_everything(name: str, root: Path) -> list[LayoutError]:
    """`records` of every split, then `check`; LayoutErrors are collected, anything else escapes."""
    adapter = get_adapter(name)
    errors = []
    for split in adapter.splits:
        try:
            for _ in adapter.records(root, split):
                pass
        except LayoutError as exc:
            errors.append(exc)
    try:
        adapter.check(root)
    except LayoutError as exc:
        errors.append(exc)
    for error in errors:
        _assert_located(error)
    return errors


def _signature(exc: BaseException) -> tuple[str, str, str] | None:
    """(file, function, exception type) of the innermost frame inside bench/datasets/, if any."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "bench/datasets/" in f.filename.replace("\\", "/")
    ]
    if not frames:
        return None
    return (Path(frames[-1].filename).name, frames[-1].name, type(exc).__name__)


def _read_tolerating_known(name: str, root: Path) -> None:
    try:
        read_everything(name, root)
    except LayoutError:
        raise
    except Exception as exc:
        if _signature(exc) in KNOWN_TRACEBACKS:
            note(f"known traceback {_signature(exc)}")
            return
        raise


# -------------------------------------------------------------------------------------------------- mutations
WEIRD_TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "abc",
            "-1",
            "0",
            "1",
            "2",
            "1.5",
            "-0.0",
            "1e400",
            "nan",
            "inf",
            "-inf",
            "[1, 2]",
            "None",
            "null",
            "true",
            "0x1F",
            "1,2",
            "1;2",
            "|",
            ";",
            "\t",
            '"',
            "\x00",
            "é",
            "9" * 40,
            "../x.png",
            "/nonexistent/x.png",
            "No Finding",
            "2 1 2 3",
            "0 1 2 3",
        ]  # fmt: skip
    ),
    st.text(max_size=12),
)
WEIRD_JSON = st.one_of(
    st.sampled_from(
        [
            None,
            "",
            "abc",
            0,
            -1,
            1.5,
            10**30,
            True,
            False,
            [],
            [1, 2, 3],
            [[1, 2], [3]],
            [["a", "b"]],
            [[[1, 2]]],
            {},
            {"a": 1},
            "1",
            "health/x.png",
            "tb/../x.png",
            "x/y/z.png",
        ]  # fmt: skip
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
)


def _decode(path: Path) -> tuple[str, bool]:
    raw = path.read_bytes()
    gz = path.suffix == ".gz"
    return (gzip.decompress(raw) if gz else raw).decode("utf-8-sig"), gz


def _encode(path: Path, text: str, gz: bool) -> None:
    raw = text.encode("utf-8")
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)


def _any_bytes(data: st.DataObject, path: Path) -> str:
    raw = path.read_bytes()
    kind = data.draw(st.sampled_from(["delete", "empty", "truncate", "garbage", "non-utf8", "text"]), "bytes")
    if kind == "delete":
        path.unlink()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), "cut")])
    elif kind == "garbage":
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)), "at")
        junk = data.draw(st.binary(min_size=1, max_size=16), "junk")
        path.write_bytes(raw[:at] + junk + raw[at + len(junk) :])
    elif kind == "non-utf8":
        at = data.draw(st.integers(0, len(raw)), "at")
        path.write_bytes(raw[:at] + b"\xff\xfe\xc3\x28\x80" + raw[at:])
    else:
        path.write_text(data.draw(WEIRD_TEXT, "text"))
    return kind


def _csv(data: st.DataObject, path: Path) -> str:
    text, gz = _decode(path)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return "nothing"
    kind = data.draw(
        st.sampled_from(
            [
                "rename-column",
                "drop-column",
                "cell",
                "short-row",
                "long-row",
                "drop-row",
                "dup-row",
                "swap-columns",
            ]
        ),
        "csv",
    )
    width = len(rows[0])
    col = data.draw(st.integers(0, max(width - 1, 0)), "column")
    row = data.draw(st.integers(1, max(len(rows) - 1, 1)), "row") if len(rows) > 1 else 0
    if kind == "rename-column" and width:
        rows[0][col] = data.draw(WEIRD_TEXT, "name")
    elif kind == "drop-column":
        rows = [r[:col] + r[col + 1 :] for r in rows]
    elif kind == "cell" and row < len(rows) and rows[row]:
        rows[row][min(col, len(rows[row]) - 1)] = data.draw(WEIRD_TEXT, "value")
    elif kind == "short-row" and row < len(rows):
        rows[row] = rows[row][: data.draw(st.integers(0, len(rows[row])), "keep")]
    elif kind == "long-row" and row < len(rows):
        rows[row] = rows[row] + data.draw(st.lists(WEIRD_TEXT, min_size=1, max_size=3), "extra")
    elif kind == "drop-row" and row < len(rows):
        del rows[row]
    elif kind == "dup-row" and row < len(rows):
        rows.insert(row, list(rows[row]))
    elif kind == "swap-columns" and width >= 2:
        other = data.draw(st.integers(0, width - 1), "other")
        rows[0][col], rows[0][other] = rows[0][other], rows[0][col]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    _encode(path, buffer.getvalue(), gz)
    return kind


def _lines(data: st.DataObject, path: Path) -> str:
    text, gz = _decode(path)
    lines = text.splitlines()
    if not lines:
        return "nothing"
    kind = data.draw(
        st.sampled_from(["drop-line", "replace-line", "dup-line", "field", "drop-fields"]), "lines"
    )
    i = data.draw(st.integers(0, len(lines) - 1), "line")
    if kind == "drop-line":
        del lines[i]
    elif kind == "replace-line":
        lines[i] = data.draw(WEIRD_TEXT, "line text")
    elif kind == "dup-line":
        lines.insert(i, lines[i])
    else:
        sep = "\t" if "\t" in lines[i] else " "
        fields = lines[i].split(sep)
        j = data.draw(st.integers(0, len(fields) - 1), "field")
        if kind == "field":
            fields[j] = data.draw(WEIRD_TEXT, "field text")
        else:
            fields = fields[:j]
        lines[i] = sep.join(fields)
    _encode(path, "\n".join(lines) + "\n", gz)
    return kind


def _walk(data: st.DataObject, node: Any) -> tuple[Any, Any] | None:
    """A random (container, key) inside the JSON tree; deeper levels reached with probability 3/4 each."""
    parent, key = None, None
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        child = data.draw(st.sampled_from(keys), "key")
        parent, key = node, child
        node = node[child]
        if not isinstance(node, (dict, list)) or not node or data.draw(st.integers(0, 3), "stop") == 0:
            break
    return None if parent is None else (parent, key)


def _json(data: st.DataObject, path: Path) -> str:
    text, gz = _decode(path)
    tree = json.loads(text)
    spot = _walk(data, tree)
    if spot is None:
        tree = data.draw(WEIRD_JSON, "whole document")
        kind = "replace-document"
    else:
        parent, key = spot
        choices = ["wrong-type", "drop", "duplicate"] + (["rename-key"] if isinstance(parent, dict) else [])
        kind = data.draw(st.sampled_from(choices), "json")
        note(f"at {key!r} of a {type(parent).__name__}")
        if kind == "wrong-type":
            parent[key] = data.draw(WEIRD_JSON, "value")
        elif kind == "drop":
            del parent[key]
        elif kind == "duplicate" and isinstance(parent, list):
            parent.insert(key, parent[key])
        elif kind == "rename-key" or kind == "duplicate":
            parent[data.draw(st.text(max_size=8), "new key") + "_"] = parent.pop(key)
    _encode(path, json.dumps(tree), gz)
    return kind


def _valid_image_bytes(data: st.DataObject, suffix: str) -> bytes:
    side = data.draw(st.sampled_from([1, 3, 64, 700]), "side")
    mode = data.draw(st.sampled_from(["L", "RGB", "RGBA", "I;16", "1", "P"]), "mode")
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF"}.get(suffix, "PNG")
    if fmt == "JPEG" and mode not in ("L", "RGB"):
        mode = "L"
    if fmt == "GIF" and mode not in ("L", "P", "1"):
        mode = "P"
    image = Image.fromarray(np.zeros((side, side), np.uint8)).convert(mode if mode != "I;16" else "I;16")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _image(data: st.DataObject, path: Path) -> str:
    raw = path.read_bytes()
    kind = data.draw(st.sampled_from(["header", "truncate-header", "other-valid-image", "text"]), "image")
    if kind == "header":
        at = data.draw(st.integers(0, min(len(raw), 1024)), "at")
        junk = data.draw(st.binary(min_size=1, max_size=32), "junk")
        path.write_bytes(raw[:at] + junk + raw[at + len(junk) :])
    elif kind == "truncate-header":
        path.write_bytes(raw[: data.draw(st.integers(0, min(len(raw), 1024)), "cut")])
    elif kind == "other-valid-image":
        path.write_bytes(_valid_image_bytes(data, path.suffix.lower()))
    else:
        path.write_text("this is not an image\n")
    return kind


def _kind_of(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return {".csv": "csv", ".json": "json", ".txt": "lines"}.get(suffix, "bytes")


MUTATORS: dict[str, Callable[[st.DataObject, Path], str]] = {
    "image": _image,
    "csv": _csv,
    "json": _json,
    "lines": _lines,
}


def damage(data: st.DataObject, root: Path) -> None:
    """Damage one file (or folder) of the dataset folder at `root`, in a way drawn from `data`."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    annotations = [p for p in files if _kind_of(p) != "image"]
    images = [p for p in files if _kind_of(p) == "image"]
    target = data.draw(
        st.sampled_from(["annotation", "annotation", "annotation", "image", "folder"]), "target"
    )
    if target == "folder":
        folders = sorted(p for p in root.rglob("*") if p.is_dir())
        if folders:
            victim = data.draw(st.sampled_from(folders), "folder")
            note(f"removed folder {victim.relative_to(root)}")
            shutil.rmtree(victim)
        return
    pool = annotations if target == "annotation" and annotations else images or annotations
    # each kind of file (csv, json, lines, ...) equally likely, whatever their numbers (MIMIC has many reports)
    kinds = sorted({_kind_of(p) for p in pool})
    chosen = data.draw(st.sampled_from(kinds), "kind")
    path = data.draw(st.sampled_from([p for p in pool if _kind_of(p) == chosen]), "file")
    kind = _kind_of(path)
    if kind == "image" or data.draw(st.integers(0, 2), "structured?") > 0 and kind in MUTATORS:
        how = MUTATORS[kind](data, path)
    else:
        how = _any_bytes(data, path)
    note(f"{how} on {path.relative_to(root)}")


# ---------------------------------------------------------------------------------------------------- the fuzz
@pytest.mark.parametrize("name", list(DATASETS))
def test_demo_reads_cleanly(name: str, pristine: Demos) -> None:
    adapter = get_adapter(name)
    report = adapter.check(pristine[name])
    assert set(report.splits) == set(adapter.available_splits(pristine[name]))


@pytest.mark.parametrize("name", list(DATASETS))
def test_damaged_file_is_a_layout_error(name: str, pristine: Demos) -> None:
    @FUZZ
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = _copy(pristine, name, tmp)
            damage(data, root)
            _read_tolerating_known(name, root)

    fuzz()


# ------------------------------------------------------------------------------------------ the named cases
def _edit_json(path: Path, edit: Callable[[Any], None]) -> None:
    tree = json.loads(path.read_text())
    edit(tree)
    path.write_text(json.dumps(tree))


def _first_with(items: list[dict[str, Any]], key: str) -> int:
    return next(i for i, item in enumerate(items) if item.get(key))


def test_chestx_det_non_numeric_polygon_point(pristine: Demos, tmp_path: Path) -> None:
    root = _copy(pristine, "chestx-det", str(tmp_path))
    path = root / "ChestX_Det_test.json"
    items = json.loads(path.read_text())
    index = _first_with(items, "polygons")

    def edit(tree: Any) -> None:
        tree[index]["polygons"][0][1] = ["x", 12]

    _edit_json(path, edit)
    with pytest.raises(LayoutError) as info:
        list(get_adapter("chestx-det").records(root, "test"))
    assert info.value.path == str(path) and info.value.row == index and "polygon" in str(info.value)


def test_chestx_det_far_polygon_point_is_clamped(
    pristine: Demos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A point far outside the image would make pycocotools' rasteriser allocate without bound (it hung here)."""
    import bench.datasets.chestx_det as chestx_det

    root = _copy(pristine, "chestx-det", str(tmp_path))
    path = root / "ChestX_Det_test.json"
    items = json.loads(path.read_text())
    index = _first_with(items, "polygons")
    items[index]["polygons"][0][0] = [1e300, -1e300]
    path.write_text(json.dumps(items))
    seen: list[float] = []
    rasterise = chestx_det.polygon_to_rle

    def spy(polygons: list[list[float]], height: int, width: int) -> dict[str, Any]:
        seen.extend(abs(v) for polygon in polygons for v in polygon)
        return rasterise(polygons, height, width)

    monkeypatch.setattr(chestx_det, "polygon_to_rle", spy)
    records = list(get_adapter("chestx-det").records(root, "test"))
    assert (
        len(records) == len(items)
        and seen
        and max(seen) <= max(records[index].image.width, records[index].image.height)
    )


def test_tbx11k_image_without_file_name(pristine: Demos, tmp_path: Path) -> None:
    root = _copy(pristine, "tbx11k", str(tmp_path))
    path = root / "annotations" / "json" / "TBX11K_val.json"
    _edit_json(path, lambda tree: tree["images"][1].pop("file_name"))
    with pytest.raises(LayoutError) as info:
        list(get_adapter("tbx11k").records(root, "val"))
    assert info.value.path == str(path) and "images[1]" in str(info.value) and "file_name" in str(info.value)


def test_tbx11k_bbox_of_three_numbers(pristine: Demos, tmp_path: Path) -> None:
    root = _copy(pristine, "tbx11k", str(tmp_path))
    path = root / "annotations" / "json" / "TBX11K_train.json"
    _edit_json(path, lambda tree: tree["annotations"][0].update(bbox=[10, 20, 30]))
    with pytest.raises(LayoutError) as info:
        list(get_adapter("tbx11k").records(root, "train"))
    assert info.value.path == str(path) and "annotations[0]" in str(info.value) and "bbox" in str(info.value)


def _json_edit(edit: Callable[[Any], None]) -> Callable[[bytes], bytes]:
    def apply(raw: bytes) -> bytes:
        tree = json.loads(raw)
        edit(tree)
        return json.dumps(tree).encode()

    return apply


def _first_box_row(column: str, value: str) -> Callable[[bytes], bytes]:
    """Set `column` of the first CSV row whose `column` is not empty."""

    def apply(raw: bytes) -> bytes:
        rows = list(csv.reader(io.StringIO(raw.decode())))
        col = rows[0].index(column)
        row = next(r for r in rows[1:] if r[col])
        row[col] = value
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode()

    return apply


def _set_entry(key: str, value: Any) -> Callable[[Any], None]:
    def edit(tree: Any) -> None:
        tree[_first_with(tree, "boxes")][key] = value

    return edit


# (dataset, file (glob) under the root, edit of its bytes): each must end in a LayoutError naming that file.
DAMAGE = {
    "list-not-utf8": ("chestxray14", "test_list.txt", lambda raw: b"\xff\xfe" + raw),
    "tbx-list-not-utf8": ("tbx11k", "lists/TBX11K_val.txt", lambda raw: raw + b"\xc3\x28\n"),
    "csv-unclosed-quote": ("chestxray14", "Data_Entry_2017*.csv", lambda raw: raw + b'x,"' + b"y" * 200_000),
    "vindr-nan-box": ("vindr-cxr", "annotations/annotations_test.csv", _first_box_row("x_min", "nan")),
    "det-nan-box": (
        "chestx-det",
        "ChestX_Det_test.json",
        _json_edit(_set_entry("boxes", [[1, 2, float("nan"), 4]])),
    ),
    "det-null-file-name": ("chestx-det", "ChestX_Det_test.json", _json_edit(_set_entry("file_name", None))),
    "det-unknown-sym": ("chestx-det", "ChestX_Det_test.json", _json_edit(_set_entry("syms", ["Bogus"]))),
    "det-polygons-number": ("chestx-det", "ChestX_Det_test.json", _json_edit(_set_entry("polygons", 5))),
    "det-entry-number": ("chestx-det", "ChestX_Det_test.json", _json_edit(lambda tree: tree.insert(0, 3))),
    "tbx-image-id-list": (
        "tbx11k",
        "annotations/json/TBX11K_train.json",
        _json_edit(lambda tree: tree["images"][0].update(id=[1])),
    ),
    "tbx-nan-bbox": (
        "tbx11k",
        "annotations/json/TBX11K_train.json",
        _json_edit(lambda tree: tree["annotations"][0].update(bbox=[1, 2, float("inf"), 4])),
    ),
    "tbx-no-categories": (
        "tbx11k",
        "annotations/json/TBX11K_train.json",
        _json_edit(lambda tree: tree.pop("categories")),
    ),
    "tbx-annotations-dict": (
        "tbx11k",
        "annotations/json/TBX11K_train.json",
        _json_edit(lambda tree: tree.update(annotations={"0": 1})),
    ),
    "tbx-file-name-number": (
        "tbx11k",
        "annotations/json/TBX11K_val.json",
        _json_edit(lambda tree: tree["images"][0].update(file_name=7)),
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_named_damage_is_a_layout_error(case: str, pristine: Demos, tmp_path: Path) -> None:
    name, pattern, edit = DAMAGE[case]
    root = _copy(pristine, name, str(tmp_path))
    path = next(root.glob(pattern))
    path.write_bytes(edit(path.read_bytes()))
    errors = read_everything(name, root)
    assert any(error.path == str(path) for error in errors), [str(e) for e in errors]


def test_nlm_reading_with_an_absurd_age(pristine: Demos, tmp_path: Path) -> None:
    """int() refuses more than 4300 digits: the age pattern takes 1 to 3 digits, so such a line gives no age."""
    root = _copy(pristine, "shenzhen", str(tmp_path))
    for path in (root / "ClinicalReadings").glob("*.txt"):
        path.write_text("male " + "9" * 5000 + "yrs\nnormal\n")
    records = [r for split in ("train", "val", "test") for r in get_adapter("shenzhen").records(root, split)]
    assert records and all("age" not in r.meta for r in records)


def test_csv_rows_may_end_in_cr(pristine: Demos, tmp_path: Path) -> None:
    """Old-Mac line ends (a bare CR) are a line end, not a 'new-line character seen in unquoted field' crash."""
    root = _copy(pristine, "object-cxr", str(tmp_path))
    expected = [r.id for r in get_adapter("object-cxr").records(root, "dev")]
    path = root / "dev.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    assert [r.id for r in get_adapter("object-cxr").records(root, "dev")] == expected


def _mimic_zero_columns(root: Path) -> None:
    path = root / "mimic-cxr-2.0.0-metadata.csv.gz"
    rows = list(csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode())))
    rows[1][rows[0].index("Columns")] = "0"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))


def _jsrt_empty_nodule_list(root: Path) -> None:
    next(root.rglob("CLNDAT_EN.txt")).write_bytes(b"")


def _jsrt_nan_nodule_size(root: Path) -> None:
    path = next(root.rglob("CLNDAT_EN.txt"))
    text = path.read_bytes().decode("latin-1")
    first = text.index("JPCLN")
    fields = text[first:].split("\t", 3)  # name, subtlety, size mm, rest
    fields[2] = "nan"
    path.write_bytes((text[:first] + "\t".join(fields)).encode("latin-1"))


# Tracebacks found by the fuzz in the adapters being rewritten at the time, now LayoutErrors naming the row.
FIXED_CASES = [
    pytest.param("mimic-cxr", _mimic_zero_columns, "Rows/Columns", id="mimic_zero_columns"),
    pytest.param("jsrt", _jsrt_empty_nodule_list, "no JPCLNnnn.IMG record", id="jsrt_empty_nodule_list"),
    pytest.param("jsrt", _jsrt_nan_nodule_size, "size mm", id="jsrt_nan_nodule_size"),
]


@pytest.mark.parametrize(("name", "edit", "message"), FIXED_CASES)
def test_fixed_traceback(
    name: str, edit: Callable[[Path], None], message: str, pristine: Demos, tmp_path: Path
) -> None:
    root = _copy(pristine, name, str(tmp_path))
    edit(root)
    errors = read_everything(name, root)  # collects the LayoutErrors; any other exception escapes
    assert errors and any(message in str(e) and e.row is not None for e in errors), [str(e) for e in errors]


# ------------------------------------------------------------------------------------- the command line (exit 2)
runner = CliRunner()


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args), terminal_width=300)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("command", ["check", "export"])
def test_cli_unknown_option_name(command: str, tmp_path: Path) -> None:
    extra = ["--split", "valid", "--out", str(tmp_path / "x.jsonl")] if command == "export" else []
    result = _invoke("data", command, "chexpert", "--root", str(tmp_path), *extra, "--option", "bogus=1")
    assert result.exit_code == 2, result.output
    assert "bogus" in result.output
    for valid in ("labels", "uncertain", "blank", "no_finding"):
        assert valid in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_cli_option_on_adapter_without_options(tmp_path: Path) -> None:
    result = _invoke("data", "check", "tbx11k", "--root", str(tmp_path), "--option", "uncertain=U-Ones")
    assert result.exit_code == 2 and "uncertain" in result.output and "no options" in result.output


@pytest.mark.parametrize("option", ["uncertain=U-Maybe", "labels=some", "blank=perhaps", "no_finding=maybe"])
def test_cli_bad_option_value(option: str, tmp_path: Path) -> None:
    result = _invoke("data", "check", "chexpert", "--root", str(tmp_path), "--option", option)
    assert result.exit_code == 2, result.output
    assert option.split("=")[1] in result.output


def test_cli_unknown_dataset(tmp_path: Path) -> None:
    result = _invoke("data", "check", "nope", "--root", str(tmp_path))
    assert result.exit_code == 2
    assert (
        "unknown dataset 'nope'" in result.output
        and "chexpert" in result.output
        and "montgomery" in result.output
    )


def test_cli_option_names_take_dashes_and_typed_values(tmp_path: Path) -> None:
    for option in ("no-finding=ignore", "require_reports=false", "attributes=no"):
        result = _invoke("data", "check", "mimic-cxr", "--root", str(tmp_path / "absent"), "--option", option)
        assert result.exit_code == 2 and "folder not found" in result.output, (
            result.output
        )  # the option passed
    assert get_adapter("mimic-cxr", require_reports="false", attributes="no").require_reports is False


def test_cli_option_without_equals_sign(tmp_path: Path) -> None:
    result = _invoke("data", "check", "chexpert", "--root", str(tmp_path), "--option", "uncertain")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_cli_bad_file_is_exit_2_in_a_real_process(pristine: Demos, tmp_path: Path) -> None:
    """The installed entry point, not the test runner: exit status 2 and one clear message, no traceback."""
    root = _copy(pristine, "tbx11k", str(tmp_path))
    _edit_json(
        root / "annotations" / "json" / "TBX11K_train.json",
        lambda t: t["annotations"][0].update(bbox=[1, 2, 3]),
    )
    for args in (
        ["data", "check", "tbx11k", "--root", str(root)],
        ["data", "check", "chexpert", "--root", str(root), "--option", "bogus=1"],
        ["data", "check", "nope", "--root", str(root)],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "cxrbench", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr
