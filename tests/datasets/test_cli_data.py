"""`cxrbench datasets`, `data check`, `data export`: wiring, exit codes and the written ground truth."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bench.datasets import get_adapter
from bench.records import read_records
from cxrbench.cli import app

runner = CliRunner()


def test_datasets_lists_all_ten() -> None:
    result = runner.invoke(app, ["datasets"], terminal_width=200)
    assert result.exit_code == 0
    for name in ("mimic-cxr", "vindr-cxr", "chestx-det", "chestxray14", "chexpert", "tbx11k", "object-cxr", "jsrt",
                 "shenzhen", "montgomery"):  # fmt: skip
        assert name in result.output


def test_check_and_export(demo_root: Path, tmp_path: Path) -> None:
    root = demo_root / "chexpert"
    assert runner.invoke(app, ["data", "check", "chexpert", "--root", str(root)]).exit_code == 0
    out = tmp_path / "valid.jsonl"
    result = runner.invoke(
        app,
        [
            "data",
            "export",
            "chexpert",
            "--root",
            str(root),
            "--split",
            "valid",
            "--out",
            str(out),
            "--option",
            "uncertain=U-Ones",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    records = [r for _, r in read_records(out, "gt")]
    expected = list(get_adapter("chexpert", uncertain="U-Ones").records(root, "valid"))
    assert [r.id for r in records] == [r.id for r in expected]
    assert [r.labels for r in records] == [r.labels for r in expected]
    assert json.loads(out.read_text().splitlines()[0])["meta"]["split"] == "valid"


def test_bad_layout_and_unknown_name(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["data", "check", "chestxray14", "--root", str(tmp_path)])
    assert bad.exit_code != 0 and "chestxray14" in bad.output
    unknown = runner.invoke(app, ["data", "export", "nope", "--root", str(tmp_path), "--split", "test",
                                  "--out", str(tmp_path / "x.jsonl")])  # fmt: skip
    assert unknown.exit_code == 2 and "unknown dataset 'nope'" in unknown.output
    assert not (tmp_path / "x.jsonl").exists()
