"""`run`: the three outputs, re-scoring equality, resume after kill -9, torchrun sharding, fine-tune, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.records import read_records
from bench.run.cli_run import run_command
from bench.run.runner import RunError, run
from bench.run.score import ScoreSettings, build_results

SETTINGS = ScoreSettings(n_boot=20, seed=0, meteor=False)
SCRIPT = """
import sys, time
from bench.models.baseline.model import BaselineModel
from bench.run.runner import run
from bench.run.score import ScoreSettings
delay = float(sys.argv[4])
if delay:
    predict = BaselineModel.predict
    def slow(self, batch, spec):
        time.sleep(delay)
        return predict(self, batch, spec)
    BaselineModel.predict = slow
run("baseline:" + sys.argv[1], "jsrt", sys.argv[2], "fold2", mode="zero-shot", out_dir=sys.argv[3], batch_size=2,
    workers=0, settings=ScoreSettings(n_boot=20, seed=0, meteor=False), progress=False)
"""


def _run(weights: Path, root: Path, out: Path, **kwargs):
    args = {"batch_size": 2, "workers": 0, "settings": SETTINGS, "progress": False, **kwargs}
    return run(f"baseline:{weights}", "jsrt", root / "jsrt", "fold2", out_dir=out, **args)


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "run_jsrt.py"
    path.write_text(SCRIPT)
    return path


def test_run_writes_predictions_results_and_manifest(demo_data: Path, weights: Path, tmp_path: Path) -> None:
    outcome = _run(weights, demo_data, tmp_path / "r", workers=1)
    run_dir = tmp_path / "r"
    gt = [r.id for _, r in read_records(run_dir / "gt.jsonl", "gt")]
    pred = [r.id for _, r in read_records(run_dir / "predictions.jsonl", "pred")]
    assert pred == gt and len(gt) > 0
    assert set(outcome.tasks) == {"classification", "localization", "segmentation"}
    for task in outcome.tasks:
        on_disk = json.loads((run_dir / "results" / f"{task}.json").read_text())
        rescored = build_results(task, run_dir / "gt.jsonl", run_dir / "predictions.jsonl", SETTINGS)
        assert on_disk == json.loads(
            json.dumps(rescored)
        )  # `cxrbench score` on the files gives the same numbers
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["model"]["spec"] == f"baseline:{weights}"
    assert manifest["model"]["weights_sha256"] == manifest["model"]["weights_sha256"].lower()
    assert manifest["dataset"]["name"] == "jsrt" and manifest["dataset"]["split"] == "fold2"
    assert manifest["dataset"]["n"] == len(gt)
    assert {"started_at", "finished_at", "predict_seconds"} <= set(manifest["timings"])
    assert not (run_dir / "parts").exists()
    again = _run(weights, demo_data, tmp_path / "r")  # a finished run is reused, not recomputed
    assert again.results == json.loads(json.dumps(outcome.results))


def test_resume_after_kill_equals_uninterrupted(demo_data: Path, weights: Path, tmp_path: Path) -> None:
    reference = _run(weights, demo_data, tmp_path / "ref")
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(_script(tmp_path)), str(weights), str(demo_data / "jsrt"), str(run_dir), "0.7"],
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(list((run_dir / "parts").glob("chunk-*.jsonl"))) < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((run_dir / "parts").glob("chunk-*.jsonl")))
    assert 1 <= done < 4 and not (run_dir / "predictions.jsonl").exists()
    resumed = _run(weights, demo_data, run_dir)
    assert resumed.manifest["timings"]["chunks_already_done"] >= 1
    assert (run_dir / "predictions.jsonl").read_bytes() == (
        tmp_path / "ref" / "predictions.jsonl"
    ).read_bytes()
    for task in reference.tasks:
        assert (run_dir / "results" / f"{task}.json").read_bytes() == (
            tmp_path / "ref" / "results" / f"{task}.json"
        ).read_bytes()


def test_torchrun_two_processes_equal_one(demo_data: Path, weights: Path, tmp_path: Path) -> None:
    single = tmp_path / "one"
    _run(weights, demo_data, single)
    sharded = tmp_path / "two"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    command += [str(_script(tmp_path)), str(weights), str(demo_data / "jsrt"), str(sharded), "0"]
    subprocess.run(command, check=True, env=env, timeout=120, capture_output=True)
    assert (sharded / "predictions.jsonl").read_bytes() == (single / "predictions.jsonl").read_bytes()
    for name in ("classification", "localization", "segmentation"):
        assert (sharded / "results" / f"{name}.json").read_bytes() == (
            single / "results" / f"{name}.json"
        ).read_bytes()
    assert json.loads((sharded / "manifest.json").read_text())["world_size"] == 2


def test_fine_tune_with_fraction(demo_data: Path, weights: Path, tmp_path: Path) -> None:
    opts = {"epochs": 1}
    zero = run(f"baseline:{weights}", "shenzhen", demo_data / "shenzhen", "test", mode="zero-shot", out_dir=tmp_path / "z",
               batch_size=4, workers=0, settings=SETTINGS, progress=False)  # fmt: skip
    tuned = run(f"baseline:{weights}", "shenzhen", demo_data / "shenzhen", "test", mode="fine-tune", fraction=0.5,
                seed=3, out_dir=tmp_path / "f", batch_size=4, workers=0, settings=SETTINGS, fit_options=opts, progress=False)  # fmt: skip
    fine = tuned.manifest["fine_tune"]
    n_train = sum(1 for _ in __import__("bench.datasets", fromlist=["x"]).get_adapter("shenzhen").records(
        demo_data / "shenzhen", "train"))  # fmt: skip
    assert fine["n_train"] == -(-n_train // 2) and fine["validation"] == "split val"
    assert fine["fraction"] == 0.5 and fine["seed"] == 3 and (tmp_path / "f" / "finetuned.pt").is_file()
    z = (tmp_path / "z" / "predictions.jsonl").read_text()
    assert z != (tmp_path / "f" / "predictions.jsonl").read_text()
    assert zero.manifest["fine_tune"] is None


def test_bad_inputs_are_refused(demo_data: Path, weights: Path, tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="model spec"):
        run("nonsense", "jsrt", demo_data / "jsrt", "fold2", out_dir=tmp_path / "a", progress=False)
    with pytest.raises(RunError, match="unknown dataset"):
        run(f"baseline:{weights}", "nih", demo_data / "jsrt", out_dir=tmp_path / "a", progress=False)
    with pytest.raises(RunError, match="unknown mode"):
        run(
            f"baseline:{weights}",
            "jsrt",
            demo_data / "jsrt",
            "fold2",
            mode="few-shot",
            out_dir=tmp_path / "a",
        )
    _run(weights, demo_data, tmp_path / "b")
    with pytest.raises(ValueError, match="different run"):
        _run(weights, demo_data, tmp_path / "b", seed=5)
    # a bad model spec or dataset is a usage error (2), not a failed run (1): bench.errors
    assert run_command("nonsense", "jsrt", demo_data / "jsrt", tmp_path / "c", split="fold2") == 2
    assert run_command(f"baseline:{weights}", "nih", demo_data / "jsrt", tmp_path / "c") == 2

    from bench.models.baseline import BaselineModel

    monkeypatch.setattr(BaselineModel, "can_train", False)
    with pytest.raises(RunError, match="predictions:FILE"):
        _run(weights, demo_data, tmp_path / "d", mode="fine-tune")
