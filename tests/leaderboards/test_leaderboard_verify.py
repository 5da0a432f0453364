from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_run, write_all_tasks, write_classification

from bench.records import read_records, write_records
from bench.run.score import ScoreSettings, score_files
from leaderboards.cli import table_command, verify_command

TASKS = ("classification", "localization", "segmentation", "report")


@pytest.fixture(scope="module")
def all_task_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify")
    data = write_all_tasks(root / "data", 30, 5)
    return make_run(
        root / "runs",
        "r",
        model="baseline:w",
        dataset="jsrt",
        gt=data["gt"],
        pred=data["pred"],
        tasks=TASKS,
        n_boot=20,
    )


def _copy(run: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(run, dest)
    return dest


def _edit_first_record(path: Path, edit) -> None:
    records = [
        rec.model_dump(exclude_none=True)
        for _, rec in read_records(path, "gt" if "gt" in path.name else "pred")
    ]
    edit(records[0])
    write_records(path, records)


def test_reruns_are_byte_identical(tmp_path: Path) -> None:
    data = write_all_tasks(tmp_path / "d", 20, 9)
    settings = ScoreSettings(n_boot=15, seed=3, meteor=False)
    for task in TASKS:
        first = score_files(task, data["gt"], data["pred"], tmp_path / "a" / f"{task}.json", settings)
        score_files(task, data["gt"], data["pred"], tmp_path / "b" / f"{task}.json", settings)
        assert (tmp_path / "a" / f"{task}.json").read_bytes() == (
            tmp_path / "b" / f"{task}.json"
        ).read_bytes()
        assert first["metrics"]


def test_verify_passes_on_an_untouched_run(all_task_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify_command(run_dir=all_task_run) == 0
    out = capsys.readouterr().out
    stored = {t: json.loads((all_task_run / "results" / f"{t}.json").read_text()) for t in TASKS}
    for task, results in stored.items():
        for name in results["metrics"]:
            assert f"MATCH      {task}/{name}" in out
        assert f"MATCH      {task}/results file  byte-identical" in out
    assert "MISMATCH" not in out and "verified" in out


@pytest.mark.parametrize("which", ["predictions.jsonl", "gt.jsonl"])
def test_verify_fails_clearly_when_an_input_changes(
    all_task_run: Path, tmp_path: Path, which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(all_task_run, tmp_path / "run")

    def edit(record: dict) -> None:
        record["labels"]["Cardiomegaly"] = (
            1 - record["labels"]["Cardiomegaly"] if which == "gt.jsonl" else 0.999
        )

    _edit_first_record(run / which, edit)
    assert verify_command(run_dir=run) == 1
    out = capsys.readouterr().out
    changed = [line for line in out.splitlines() if line.startswith("MISMATCH") and f"{run / which}" in line]
    assert changed and all("CHANGED since" in line for line in changed)
    assert any(str(run / "manifest.json") in line for line in changed)
    assert "FAILED" in out.splitlines()[-1]


def test_verify_catches_an_edited_number(
    all_task_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(all_task_run, tmp_path / "run")
    path = run / "results" / "segmentation.json"
    results = json.loads(path.read_text())
    results["metrics"]["dice_mean"]["value"] += 0.01
    path.write_text(json.dumps(results, indent=2) + "\n")
    assert verify_command(run_dir=run) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("MISMATCH") and "segmentation/dice_mean" in line for line in lines)
    assert any(line.startswith("MATCH") and "segmentation/iou_mean" in line for line in lines)


def test_verify_table_checks_every_cell_and_the_rendered_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_classification(tmp_path / "data", 60, 3, {"a": 0.3, "b": 0.1})
    for name in ("a", "b"):
        make_run(
            tmp_path / "runs",
            name,
            model=f"{name}:w",
            dataset="chexpert",
            gt=data["gt"],
            pred=data[name],
            n_boot=20,
        )
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "significance: {n_boot: 30}\n"
        "columns: [{id: c, benchmark: chexpert, task: classification, metric: auc_macro, mode: zero-shot}]\n"
        "rows: [{id: a, model: 'a:*'}, {id: b, model: 'b:*'}, {id: p, reported: {citation: X, values: {c/zero-shot: 0.7}}}]\n"
    )
    out_dir = tmp_path / "out"
    assert table_command(spec, [tmp_path / "runs"], out_dir) == 0
    capsys.readouterr()
    assert verify_command(table=out_dir) == 0
    out = capsys.readouterr().out
    assert "MATCH      a × c/zero-shot" in out and "MATCH      b × c/zero-shot" in out
    assert "REPORTED   p × c/zero-shot" in out

    md = out_dir / "table.md"
    md.write_text(md.read_text().replace("Model", "Modal"))
    assert verify_command(table=out_dir) == 1
    out = capsys.readouterr().out
    edited = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert len(edited) == 1 and f"file {md}  line " in edited[0] and "edited after rendering" in edited[0]
    md.write_text(md.read_text().replace("Modal", "Model"))

    _edit_first_record(
        tmp_path / "runs" / "b" / "predictions.jsonl", lambda r: r["labels"].update(Edema=0.001)
    )
    assert verify_command(table=out_dir) == 1
    out = capsys.readouterr().out
    assert any(line.startswith("MISMATCH   b × c/zero-shot") for line in out.splitlines())
    assert "predictions.jsonl" in out and "CHANGED since" in out
    # a's own numbers still recompute, but its test against b does not: the comparison file is named
    a_line = next(line for line in out.splitlines() if "a × c/zero-shot" in line and "test of" not in line)
    assert a_line.startswith("MISMATCH") and "comparisons/c_zero-shot__a__vs__b.json" in a_line
    assert "runs/a/" not in out
