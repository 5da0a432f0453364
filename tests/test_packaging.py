"""Project-level guarantees: ruff clean, lazy heavy imports, the console script exists."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean() -> None:
    dirs = [
        d
        for d in ("bench", "readerstudy", "leaderboards", "cxrbench", "scripts", "tests", "benchmarks")
        if (ROOT / d).is_dir()
    ]
    ruff = Path(sys.executable).with_name("ruff")
    check = subprocess.run([str(ruff), "check", *dirs], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([str(ruff), "format", "--check", *dirs], cwd=ROOT, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_cli_import_is_light() -> None:
    """`cxrbench --help` must not pay for torch / evaluate / datasets / transformers imports."""
    code = (
        "import sys, json, cxrbench.cli, bench.cli, bench.run.score, bench.records;"
        "print(json.dumps(sorted(m for m in ('torch','evaluate','datasets','transformers','bert_score','streamlit')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("cxrbench")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("score", "compare", "label-reports"):
        assert command in result.stdout


def test_every_command_parses() -> None:
    """Each mounted command builds its option parser (catches signature mistakes in the wiring)."""
    from typer.testing import CliRunner

    from cxrbench.cli import app

    runner = CliRunner()
    commands = [
        ["score"], ["compare"], ["label-reports"], ["datasets"], ["data", "check"], ["data", "export"],
        ["demo-data"], ["run"], ["train-baseline"], ["suite"], ["table"], ["verify"], ["report"], ["consistency"],
        ["study", "build"], ["study", "serve"], ["study", "demo"], ["study", "simulate"], ["study", "analyze"],
    ]  # fmt: skip
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], terminal_width=200)
        assert result.exit_code == 0, (command, result.output)
        assert "Usage:" in result.output
