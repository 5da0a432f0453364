"""`verify --table` against forged tables: each forgery re-renders the four table files consistently (through the
public `write_tables`), so only a recomputation from the runs can catch it, and the failure must name the file
that was changed and the cell."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_run, write_classification

from leaderboards.cli import table_command, verify_command
from leaderboards.model import Table
from leaderboards.render import write_tables

COLUMN = "c/zero-shot"
SPEC = (
    "significance: {n_boot: 30}\n"
    "columns: [{id: c, benchmark: chexpert, task: classification, metric: auc_macro, mode: zero-shot}]\n"
    "rows: [{id: a, model: 'a:*'}, {id: b, model: 'b:*'}, {id: c, model: 'c:*'},"
    " {id: p, reported: {citation: X, values: {c/zero-shot: 0.7}}}]\n"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table whose a-vs-b test is significant and whose b-vs-c test is not."""
    root = tmp_path_factory.mktemp("forge")
    data = write_classification(root / "data", 60, 3, {"a": 0.3, "b": 0.1, "c": 0.05})
    for name in ("a", "b", "c"):
        make_run(root / "runs", name, model=f"{name}:w", dataset="chexpert", gt=data["gt"], pred=data[name])
    (root / "spec.yaml").write_text(SPEC)
    assert table_command(root / "spec.yaml", [root / "runs"], root / "out") == 0
    cells = json.loads((root / "out" / "cells.json").read_text())
    flags = {c["row"]: c["significant"] for c in cells["cells"]}
    assert flags == {"p": False, "a": True, "b": False, "c": False}
    return root


@pytest.fixture
def table(built: Path, tmp_path: Path) -> Path:
    """A private copy of the table folder with its runs (cells.json paths are relative: they move together)."""
    shutil.copytree(built, tmp_path / "copy")
    return tmp_path / "copy" / "out"


def _forge(out: Path, edit: Callable[[dict], None], rerender: bool = True) -> None:
    """Edit cells.json; with `rerender` the four table files are rewritten from it, consistent with the forgery."""
    path = out / "cells.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if rerender:
        write_tables(Table.from_json(data), out)


def _cell(data: dict, row: str) -> dict:
    return next(c for c in data["cells"] if c["row"] == row and c["column"] == COLUMN)


def _verify(out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = verify_command(table=out)
    return code, capsys.readouterr().out.splitlines()


def _failing(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("MISMATCH")]


def _table_files_blamed(lines: list[str], out: Path) -> set[str]:
    return {
        name
        for name in ("md", "tex", "csv", "html")
        for line in _failing(lines)
        if f"{out}/table.{name} " in line
    }


def test_the_untouched_table_verifies(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _verify(table, capsys)
    assert code == 0, "\n".join(_failing(lines))
    assert sum(1 for line in lines if line.startswith("MATCH") and "comparisons/" in line) == 2


def test_a_forged_ci_is_caught_and_cells_json_is_named(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(data: dict) -> None:
        _cell(data, "b")["ci95"] = [0.55, 0.61]

    _forge(table, edit)
    code, lines = _verify(table, capsys)
    assert code == 1
    (line,) = [x for x in _failing(lines) if x.startswith("MISMATCH   b × c/zero-shot")]
    assert "cells.json ci95[0]: says 0.55" in line and "cells.json ci95[1]: says 0.61" in line
    assert _table_files_blamed(lines, table) == {"md", "tex", "csv", "html"}  # they print the forged CI
    assert all("shows what cells.json says" in x for x in _failing(lines) if "/table." in x)


def test_a_forged_dagger_is_caught(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _forge(table, lambda data: _cell(data, "b").update(significant=True))
    code, lines = _verify(table, capsys)
    assert code == 1
    (line,) = [x for x in _failing(lines) if x.startswith("MISMATCH   b × c/zero-shot")]
    assert "cells.json significant: says true, recomputed false" in line
    md = next(x for x in _failing(lines) if f"{table}/table.md " in x)
    assert "(row 'b')" in md and "†" in md


def test_bold_moved_to_another_row_is_caught(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def edit(data: dict) -> None:
        _cell(data, "a")["bold"] = False
        _cell(data, "c")["bold"] = True

    _forge(table, edit)
    code, lines = _verify(table, capsys)
    assert code == 1
    failing = _failing(lines)
    assert any(
        x.startswith("MISMATCH   a × c/zero-shot") and "cells.json bold: says false" in x for x in failing
    )
    assert any(
        x.startswith("MISMATCH   c × c/zero-shot") and "cells.json bold: says true" in x for x in failing
    )
    assert _table_files_blamed(lines, table) == {"md", "tex", "csv", "html"}


def test_a_forged_p_value_names_the_comparison_file(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "comparisons/c_zero-shot__b__vs__c.json"
    comparison = json.loads((table / name).read_text())
    comparison["comparisons"]["auc_macro"]["paired_bootstrap"]["p_value"] = 0.0004
    (table / name).write_text(json.dumps(comparison, indent=2) + "\n")

    def edit(data: dict) -> None:  # the forger also makes cells.json and the tables agree with the file
        _cell(data, "b")["test"].update(p_value=0.0004, p_holm=0.0008)
        _cell(data, "b")["significant"] = True

    _forge(table, edit)
    code, lines = _verify(table, capsys)
    assert code == 1
    (line,) = [x for x in _failing(lines) if f"file {table / name}" in x]
    assert "(test of b × c/zero-shot)" in line and "paired_bootstrap.p_value: says 0.0004, recomputed" in line
    cell_line = next(x for x in _failing(lines) if x.startswith("MISMATCH   b × c/zero-shot"))
    assert "cells.json test.p_value: says 0.0004" in cell_line and name in cell_line


def test_a_forged_comparison_file_alone_is_named(table: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "comparisons/c_zero-shot__a__vs__b.json"
    comparison = json.loads((table / name).read_text())
    comparison["comparisons"]["auc_macro"]["paired_bootstrap"]["ci95"] = [0.2, 0.3]
    (table / name).write_text(json.dumps(comparison, indent=2) + "\n")
    code, lines = _verify(table, capsys)
    assert code == 1
    failing = _failing(lines)
    assert len(failing) == 2
    assert failing[0].startswith(f"MISMATCH   file {table / name}  (test of a × c/zero-shot)")
    assert failing[1].startswith("MISMATCH   a × c/zero-shot") and name in failing[1]
    assert "paired_bootstrap.ci95[0]: says 0.2" in _failing(lines)[0]


def test_an_edited_cells_json_is_named_not_the_untouched_tables(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _forge(table, lambda data: _cell(data, "c").update(value=0.9), rerender=False)
    code, lines = _verify(table, capsys)
    assert code == 1
    assert _table_files_blamed(lines, table) == set()
    assert all(f"MATCH      file {table}/table.{n}" in "\n".join(lines) for n in ("md", "tex", "csv", "html"))
    (line,) = [x for x in _failing(lines) if x.startswith("MISMATCH   c × c/zero-shot")]
    assert "cells.json value: says 0.9, recomputed 0.59" in line


def test_a_comparison_file_no_cell_points_to_is_flagged(
    table: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = table / "comparisons" / "c_zero-shot__c__vs__a.json"
    shutil.copyfile(table / "comparisons" / "c_zero-shot__a__vs__b.json", planted)
    code, lines = _verify(table, capsys)
    assert code == 1
    assert [x for x in _failing(lines)] == [
        f"MISMATCH   file {planted}  behind no cell of the recomputed table (stale or added)"
    ]
