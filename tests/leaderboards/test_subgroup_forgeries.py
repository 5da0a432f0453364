"""`verify --table` on a table with a subgroup table and calibration columns: untouched it recomputes everything
this version can (the hand-written subgroups block itself is UNVERIFIED: bench's score cannot reproduce it yet);
each forgery re-renders the table files from the forged cells.json, so only the rebuild from the results files can
catch it, and the failure must name the file and the cell."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from subgroup_fixtures import build_fixture

from leaderboards.cli import table_command, verify_command
from leaderboards.model import Table
from leaderboards.render import write_tables

SUBGROUP_FILES = ("md", "tex", "csv", "html")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subgroup-forge")
    runs = build_fixture(root)
    assert table_command(root / "spec.yaml", [runs], root / "out") == 0
    return root


@pytest.fixture
def table(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "copy")
    return tmp_path / "copy" / "out"


def _forge(out: Path, edit: Callable[[dict], None]) -> None:
    path = out / "cells.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_tables(Table.from_json(data), out)


def _subgroup_cell(data: dict, field: str, group: str, row: str, kind: str = "group") -> dict:
    (sub,) = data["subgroup_tables"]
    return next(
        c for c in sub["cells"] if (c["field"], c["group"], c["row"], c["kind"]) == (field, group, row, kind)
    )


def _verify(out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = verify_command(table=out)
    return code, capsys.readouterr().out.splitlines()


def _failing(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("MISMATCH")]


def _blamed(lines: list[str], out: Path, stem: str) -> set[str]:
    return {ext for ext in SUBGROUP_FILES for line in _failing(lines) if f"{out}/{stem}.{ext} " in line}


def test_the_untouched_table_verifies_except_the_unrecomputable_subgroups(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _verify(table, capsys)
    assert code == 3 and _failing(lines) == []
    unverified = [x for x in lines if x.startswith("UNVERIFIED")]
    assert len(unverified) == 2 and all("classification/subgroups  not recomputed" in x for x in unverified)
    assert "MATCH      subgroup fair-auc  20 cells (19 with a value)" in "\n".join(lines)
    for ext in SUBGROUP_FILES:
        assert f"MATCH      file {table}/subgroups.{ext}  identical to a re-render" in "\n".join(lines)
    for column in ("brier", "ece", "slope", "icpt"):
        assert f"MATCH      a × {column}/zero-shot" in "\n".join(lines)


def test_a_forged_subgroup_value_names_the_cell_and_every_subgroup_file(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _forge(table, lambda data: _subgroup_cell(data, "sex", "F", "b").update(value=0.901))
    code, lines = _verify(table, capsys)
    assert code == 1
    (line,) = [x for x in _failing(lines) if x.startswith("MISMATCH   subgroup fair-auc × sex=F × b")]
    assert "cells.json value: says 0.901, recomputed 0.701" in line
    assert _blamed(lines, table, "subgroups") == set(SUBGROUP_FILES)  # they print the forged value
    md = next(x for x in _failing(lines) if f"{table}/subgroups.md " in x)
    assert "0.901" in md and "0.701" in md
    assert _blamed(lines, table, "table") == set()  # the main table is untouched


def test_a_forged_gap_marker_is_caught(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _forge(table, lambda data: _subgroup_cell(data, "sex", "M", "a").update(significant=True))
    code, lines = _verify(table, capsys)
    assert code == 1
    (line,) = [x for x in _failing(lines) if x.startswith("MISMATCH   subgroup fair-auc × sex=M × a")]
    assert "cells.json significant: says true, recomputed false" in line
    md = next(x for x in _failing(lines) if f"{table}/subgroups.md " in x)
    assert "+0.020‡" in md


def test_a_forged_small_marker_and_fpr_difference_are_caught(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(data: dict) -> None:
        _subgroup_cell(data, "sex", "F", "a").update(small=True)
        _subgroup_cell(data, "sex", "F − M", "b", kind="fpr_gap").update(significant=True)

    _forge(table, edit)
    code, lines = _verify(table, capsys)
    assert code == 1
    failing = _failing(lines)
    assert any(
        x.startswith("MISMATCH   subgroup fair-auc × sex=F × a") and "small: says true" in x for x in failing
    )
    assert any(x.startswith("MISMATCH   subgroup fair-auc × underdiagnosis sex=F − M × b")
               and "significant: says true" in x for x in failing)  # fmt: skip


def test_a_subgroup_file_edited_alone_is_named_with_its_line(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = table / "subgroups.md"
    path.write_text(path.read_text().replace("| 0.690 [0.620, 0.760] |", "| 0.790 [0.620, 0.760] |"))
    code, lines = _verify(table, capsys)
    assert code == 1
    (line,) = _failing(lines)
    assert line.startswith(f"MISMATCH   file {path}  line ") and "0.790" in line
    assert "edited after rendering" in line


def test_a_forged_calibration_bold_is_caught(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def edit(data: dict) -> None:
        for cell in data["cells"]:
            if cell["column"] == "slope/zero-shot":
                cell["bold"] = not cell["bold"] and cell["row"] == "a"  # a: the highest slope, far from 1

    _forge(table, edit)
    code, lines = _verify(table, capsys)
    assert code == 1
    failing = _failing(lines)
    assert any(
        x.startswith("MISMATCH   a × slope/zero-shot") and "cells.json bold: says true" in x for x in failing
    )
    assert _blamed(lines, table, "table") == set(SUBGROUP_FILES)
