from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import readerstudy.analysis
from readerstudy.cli import serve_command, study_app
from readerstudy.store.engine import open_db
from readerstudy.store.long_table import load_long_table, load_protocol
from readerstudy.store.reader_api import authenticate, progress

runner = CliRunner()

CASES_CSV = """case_id,site,original_report,ai_report,normal_abnormal
k1,s1,"FINDINGS: clear lungs. IMPRESSION: normal.","Findings: lungs clear. Impression: no disease.",normal
k2,s2,"FINDINGS: effusion. Dictated by Dr. Brown","Findings: small effusion.",abnormal
k3,s2,"FINDINGS: nodule.","Findings: 1 cm nodule.",abnormal
"""


def _inputs(tmp_path: Path, strict: bool = False) -> tuple[Path, Path]:
    cases = tmp_path / "cases.csv"
    cases.write_text(CASES_CSV)
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(
        f"seed: s\nstrict_deid: {str(strict).lower()}\nmargin: 0.05\n"
        "readers: [{id: r1, password: one}]\ncoordinators: [{id: c, password: two}]\n"
    )
    return cases, protocol


def test_build_reports_blocked_cases_and_refuses_rebuild(tmp_path: Path) -> None:
    cases, protocol = _inputs(tmp_path)
    args = ["build", "--cases", str(cases), "--protocol", str(protocol), "--db", str(tmp_path / "s.db")]
    result = runner.invoke(study_app, args)
    assert result.exit_code == 0, result.output
    assert (
        "2 cases" in result.output
        and "cases.csv:3 case 'k2' original_report: person name 'Dr. Brown'" in result.output
    )
    assert progress(open_db(tmp_path / "s.db"), "r1") == (0, 2)
    again = runner.invoke(study_app, args)
    assert again.exit_code == 2 and "already exists" in again.output


def test_strict_build_fails(tmp_path: Path) -> None:
    cases, protocol = _inputs(tmp_path, strict=True)
    args = ["build", "--cases", str(cases), "--protocol", str(protocol), "--db", str(tmp_path / "s.db")]
    result = runner.invoke(study_app, args)
    assert result.exit_code == 2 and "blocked 1 case" in result.output


def test_demo_with_templates(tmp_path: Path) -> None:
    result = runner.invoke(study_app, ["demo", "--db", str(tmp_path / "demo.db"), "--templates-only"])
    assert result.exit_code == 0, result.output
    assert "cxrbench study serve --db" in result.output and "demo-reader1" in result.output
    db = open_db(tmp_path / "demo.db")
    assert authenticate(db, "reader2", "demo-reader2") is not None
    assert authenticate(db, "coordinator", "demo-coordinator").role == "coordinator"
    assert [progress(db, r) for r in ("reader1", "reader2", "reader3")] == [(0, 160)] * 3
    assert len(load_protocol(db)["readers"]) == 3


@pytest.mark.realdata
def test_demo_with_iu_xray_text(tmp_path: Path) -> None:
    from readerstudy.study.demo import IU_REPORTS

    if not IU_REPORTS.exists():
        pytest.skip(f"{IU_REPORTS} missing")
    result = runner.invoke(study_app, ["demo", "--db", str(tmp_path / "demo.db")])
    assert result.exit_code == 0, result.output
    assert "CC BY-NC-ND" in result.output and "160 cases" in result.output
    assert "CC BY-NC-ND" in load_protocol(tmp_path / "demo.db")["report_source"]


def test_simulate_writes_a_complete_locked_study(tmp_path: Path) -> None:
    result = runner.invoke(
        study_app, ["simulate", "--db", str(tmp_path / "sim.db"), "--readers", "2", "--cases", "6"]
    )
    assert result.exit_code == 0, result.output
    truth = json.loads(result.output)
    assert -1 <= truth["true_net_preference_sample"] <= 1
    protocol = load_protocol(tmp_path / "sim.db")
    assert protocol["locked"] and protocol["simulation"]["seed"] == 0
    table = load_long_table(tmp_path / "sim.db")
    assert len(table) == 12 and table.groupby("reader_id").case_id.nunique().tolist() == [6, 6]
    assert table.blinding_guess_ai_side.notna().all()


def test_analyze_refuses_unlocked_and_passes_the_long_table(tmp_path: Path, monkeypatch) -> None:
    assert (
        runner.invoke(study_app, ["simulate", "--db", str(tmp_path / "s.db"), "--cases", "4"]).exit_code == 0
    )
    calls: list[tuple[pd.DataFrame, Path, dict]] = []
    monkeypatch.setattr(
        readerstudy.analysis,
        "analyze",
        lambda df, out, protocol, **_: calls.append((df, out, protocol)),
        raising=False,
    )
    result = runner.invoke(
        study_app, ["analyze", "--db", str(tmp_path / "s.db"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    long_df, out, protocol = calls[0]
    pd.testing.assert_frame_equal(long_df, load_long_table(tmp_path / "s.db"))
    assert out == tmp_path / "out" and protocol["criteria"] == ["diagnostic clarity"]

    cases, protocol_file = _inputs(tmp_path)
    runner.invoke(
        study_app,
        ["build", "--cases", str(cases), "--protocol", str(protocol_file), "--db", str(tmp_path / "u.db")],
    )
    refused = runner.invoke(
        study_app, ["analyze", "--db", str(tmp_path / "u.db"), "--out", str(tmp_path / "o2")]
    )
    assert refused.exit_code == 2 and "not locked" in refused.output


def test_analyze_end_to_end(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    assert (
        runner.invoke(study_app, ["simulate", "--db", db, "--readers", "3", "--cases", "20"]).exit_code == 0
    )
    result = runner.invoke(study_app, ["analyze", "--db", db, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for name in ("analysis.json", "report.md", "report.html", "reads_long.csv", "imrmc.csv", "mrmcaov.csv"):
        assert (tmp_path / "out" / name).exists(), name


def test_serve_command_and_missing_db(tmp_path: Path) -> None:
    command = serve_command(str(tmp_path / "x.db"), 8600, "127.0.0.1")
    assert command[1:4] == ["-m", "streamlit", "run"] and command[-2:] == [
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    ]
    assert "--server.headless" in command and "8600" in command
    result = runner.invoke(study_app, ["serve", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "no study database" in result.output
