"""docs/extending.md, executed: its files are written, its shell blocks run in order with the venv's `cxrbench`, its
stated outputs are checked, and its numbers are recomputed here independently (scikit-learn, Pillow, the CSV).

The page's blocks: ```python file=NAME / ```yaml file=NAME (written), ```bash [exit=N] (run; exit status N, default
0), ```text output (lines the previous shell block prints, compared with runs of spaces collapsed), ```toml (the
entry-point snippet) and ```text in-tree (the contributor's file list, checked against each in-tree benchmark).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_curve

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
FENCE = re.compile(r"^```(?P<lang>\w+)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
N_BOOT, SEED = 1000, 0  # cxrbench score's defaults, which the page uses


@dataclass
class Block:
    lang: str
    info: dict[str, str]
    body: str
    line: int

    @property
    def kind(self) -> str:
        if "file" in self.info:
            return "file"
        if self.lang == "bash":
            return "bash"
        if self.lang == "text" and "output" in self.info:
            return "output"
        if self.lang == "text" and "in-tree" in self.info:
            return "in-tree"
        if self.lang == "toml":
            return "toml"
        return "unknown"


def doc_blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        info = {}
        for token in match["info"].split():
            key, _, value = token.partition("=")
            info[key] = value
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(match["lang"], info, match["body"], line))
    return found


def squeeze(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Executed:
    """What running the page left: its folder and each shell block's output, in order."""

    folder: Path
    outputs: list[tuple[Block, str]] = field(default_factory=list)

    def output_of(self, command: str) -> str:
        return next(out for block, out in self.outputs if command in block.body)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CXRBENCH_PLUGINS", "PYTHONPATH")}
    env["PATH"] = (
        f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's cxrbench, python
    )
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    return env


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    """Run the page top to bottom; `export` lines of earlier shell blocks hold for later ones, as in one shell."""
    folder = tmp_path_factory.mktemp("extending")
    done = Executed(folder)
    exports: list[str] = []
    last_output: str | None = None
    for block in doc_blocks():
        where = f"docs/extending.md:{block.line}"
        if block.kind == "file":
            (folder / block.info["file"]).write_text(block.body, encoding="utf-8")
        elif block.kind == "bash":
            script = "\n".join([*exports, block.body])
            result = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", script],
                cwd=folder,
                env=_environment(),
                capture_output=True,
                text=True,
                timeout=300,
            )
            last_output = result.stdout + result.stderr
            expected = int(block.info.get("exit") or 0)
            assert result.returncode == expected, (
                f"{where}: exit {result.returncode}, not {expected}\n{last_output}"
            )
            assert "Traceback" not in last_output, f"{where}\n{last_output}"
            exports += [line for line in block.body.splitlines() if line.startswith("export ")]
            done.outputs.append((block, last_output))
        elif block.kind == "output":
            assert last_output is not None, f"{where}: an output block before any command"
            printed = [squeeze(line) for line in last_output.splitlines()]
            for line in filter(None, map(squeeze, block.body.splitlines())):
                assert any(line in p for p in printed), f"{where}: {line!r} not printed:\n{last_output}"
    return done


def test_every_block_is_one_the_test_understands() -> None:
    blocks = doc_blocks()
    assert [b.line for b in blocks if b.kind == "unknown"] == []
    assert sum(b.kind == "bash" for b in blocks) >= 8 and sum(b.kind == "output" for b in blocks) >= 6


def test_the_page_runs_as_written(executed: Executed) -> None:
    written = {b.info["file"] for b in doc_blocks() if b.kind == "file"}
    assert written == {"make_tiny.py", "tiny_cxr.py", "my_metrics.py", "my_model.py", "tiny-table.yaml"}
    assert all((executed.folder / name).is_file() for name in written)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _publisher_rows(folder: Path, split: str) -> list[dict[str, str]]:
    with (folder / "tiny-data" / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["split"] == split]


def test_dataset_path_reads_the_publisher_files(executed: Executed) -> None:
    """The run's ground truth is the CSV's test rows: ids, patients, labels (empty cell -> null, never 0)."""
    run = executed.folder / "runs" / "lab"
    assert {p.name for p in run.iterdir()} >= {"gt.jsonl", "predictions.jsonl", "manifest.json", "results"}
    rows = _publisher_rows(executed.folder, "test")
    gt = _jsonl(run / "gt.jsonl")
    assert len(rows) == len(gt) == len(_jsonl(run / "predictions.jsonl")) == 41  # the page's "41 test images"
    for row, record in zip(rows, gt, strict=True):
        assert record["id"] == Path(row["image"]).stem and record["meta"]["patient"] == row["patient"]
        expected = {"Pleural Effusion": row["effusion"], "Nodule": row["nodule"]}
        assert record["labels"] == {k: (float(v) if v else None) for k, v in expected.items()}
    results = json.loads((executed.folder / "lab.json").read_text(encoding="utf-8"))
    assert results["settings"]["cluster"] == "patient"
    assert results["settings"]["n_clusters"] == len({row["patient"] for row in rows}) == 20
    assert json.loads((run / "manifest.json").read_text(encoding="utf-8"))["dataset"]["name"] == "tiny-cxr"


def _sens_at_spec90(y: np.ndarray, s: np.ndarray) -> float:
    """The reference: scikit-learn's ROC curve, the best TPR with FPR <= 0.10, macro over labels."""
    values = []
    for j in range(y.shape[1]):
        known = ~np.isnan(y[:, j])
        if len(set(y[known, j])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[known, j], s[known, j], drop_intermediate=False)
        values.append(tpr[fpr <= 0.1 + 1e-12].max())
    return float(np.mean(values)) if values else float("nan")


def test_metric_value_and_ci_equal_sklearn_on_the_same_patient_draws(executed: Executed) -> None:
    """The CI is over the documented draws: seed 0, whole patients drawn with replacement (numbered in order of
    first appearance), 1000 replicates; here rebuilt from numpy's generator, not from cxrbench's bootstrap code."""
    run = executed.folder / "runs" / "lab"
    gt, pred = _jsonl(run / "gt.jsonl"), {r["id"]: r for r in _jsonl(run / "predictions.jsonl")}
    labels = ["Pleural Effusion", "Nodule"]
    y = np.array([[np.nan if g["labels"][k] is None else g["labels"][k] for k in labels] for g in gt])
    s = np.array([[pred[g["id"]]["labels"][k] for k in labels] for g in gt])
    patients = list(dict.fromkeys(g["meta"]["patient"] for g in gt))
    members = [np.flatnonzero([g["meta"]["patient"] == p for g in gt]) for p in patients]
    draws = np.random.default_rng(SEED).integers(0, len(patients), size=(N_BOOT, len(patients)))
    replicates = []
    for drawn in draws:
        rows = np.concatenate([members[p] for p in drawn])  # every image of each drawn patient
        replicates.append(_sens_at_spec90(y[rows], s[rows]))
    replicates = np.array(replicates)[np.isfinite(replicates)]
    expected_ci = np.percentile(replicates, [2.5, 97.5])
    for results_file in (executed.folder / "lab.json", run / "results" / "classification.json"):
        metric = json.loads(results_file.read_text(encoding="utf-8"))["metrics"]["sens_at_spec90"]
        assert metric["value"] == pytest.approx(_sens_at_spec90(y, s), abs=1e-12)
        assert metric["ci95"] == pytest.approx(list(expected_ci), abs=1e-12)
    # the draws are the patients': the image-level bootstrap gives another interval
    flat = np.random.default_rng(SEED).integers(0, len(gt), size=(N_BOOT, len(gt)))
    image_ci = np.percentile([_sens_at_spec90(y[d], s[d]) for d in flat[:200]], [2.5, 97.5])
    assert not np.allclose(image_ci, expected_ci)


def test_metric_names_its_code_and_direction(executed: Executed) -> None:
    results = json.loads((executed.folder / "lab.json").read_text(encoding="utf-8"))
    recorded = results["conventions"]["extra_metrics"]["sens_at_spec90"]
    source = (executed.folder / "my_metrics.py").read_bytes()
    assert recorded["module"] == "my_metrics" and recorded["qualname"] == "sens_at_spec90"
    assert recorded["source_sha256"] == hashlib.sha256(source).hexdigest()
    assert recorded["direction"] == "higher is better"


def test_table_cells_are_the_results_values(executed: Executed) -> None:
    with (executed.folder / "tiny-table" / "table.csv").open(newline="", encoding="utf-8") as handle:
        cells = {(r["row"], r["metric"]): r for r in csv.DictReader(handle)}
    for row, run in (("lab", "lab"), ("intensity", "intensity")):
        results = json.loads((executed.folder / "runs" / run / "results" / "classification.json").read_text())
        cell = cells[(row, "sens_at_spec90")]
        assert float(cell["value"]) == results["metrics"]["sens_at_spec90"]["value"]
        assert [float(cell["ci95_low"]), float(cell["ci95_high"])] == results["metrics"]["sens_at_spec90"][
            "ci95"
        ]
    # the page: "a paired patient bootstrap (p ≈ 0.99, so no †)", with its comparison file
    cells_json = json.loads((executed.folder / "tiny-table" / "cells.json").read_text(encoding="utf-8"))
    tests = {c["column"]: c["test"] for c in cells_json["cells"] if c["row"] == "lab" and c.get("test")}
    sens = tests["sens90/zero-shot"]
    assert sens["method"].startswith("paired patient bootstrap") and sens["reason"] is None
    assert sens["p_value"] == pytest.approx(0.99, abs=0.005) and sens["p_holm"] >= 0.05
    comparison = json.loads(
        (executed.folder / "tiny-table" / sens["comparison_file"]).read_text(encoding="utf-8")
    )
    assert comparison["conventions"]["extra_metrics"]["sens_at_spec90"]["qualname"] == "sens_at_spec90"
    assert not any(c["significant"] for c in cells_json["cells"] if c["column"] == "sens90/zero-shot")


def test_model_path_predicts_each_test_image_from_its_pixels(executed: Executed) -> None:
    """`intensity:0.5` scored each test image with the mean of its central half, read here with Pillow."""
    run = executed.folder / "runs" / "intensity"
    gt, predictions = _jsonl(run / "gt.jsonl"), _jsonl(run / "predictions.jsonl")
    assert [p["id"] for p in predictions] == [g["id"] for g in gt] and len(predictions) == 41
    for record, prediction in zip(gt, predictions, strict=True):
        with Image.open(executed.folder / "tiny-data" / record["meta"]["path"]) as image:
            pixels = np.asarray(image, dtype=np.float64) / 255.0
        h, w = pixels.shape
        expected = pixels[h // 4 : h - h // 4, w // 4 : w - w // 4].mean()
        assert set(prediction["labels"]) == {"Pleural Effusion", "Nodule"}
        assert all(v == pytest.approx(expected, abs=1e-6) for v in prediction["labels"].values())
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["spec"] == "intensity:0.5" and manifest["model"]["fraction"] == 0.5
    results = json.loads((run / "results" / "classification.json").read_text(encoding="utf-8"))
    assert results["n"] == 41 and "sens_at_spec90" in results["metrics"]


def test_entry_point_snippet_names_the_group_and_the_page_modules() -> None:
    from bench.plugins import ENTRY_POINT_GROUP

    (snippet,) = [b for b in doc_blocks() if b.kind == "toml"]
    points = tomllib.loads(snippet.body)["project"]["entry-points"]
    assert list(points) == [ENTRY_POINT_GROUP]
    modules = {
        b.info["file"].removesuffix(".py") for b in doc_blocks() if b.info.get("file", "").endswith(".py")
    }
    assert set(points[ENTRY_POINT_GROUP].values()) == modules - {"make_tiny"}


def test_contributor_file_list_holds_for_every_in_tree_benchmark() -> None:
    from bench.datasets import DATASETS

    (listing,) = [b for b in doc_blocks() if b.kind == "in-tree"]
    entries = [line.split(maxsplit=1) for line in listing.body.splitlines() if line.strip()]
    assert len(DATASETS) == 10
    for name, cls in DATASETS.items():
        module = cls.__module__.rsplit(".", 1)[-1]
        for pattern, what in entries:
            path = ROOT / pattern.replace("<name>", name).replace("<module>", module)
            if "<" in pattern:
                should_exist = "seeded" in cls.split_source if what.startswith("only without") else True
                assert path.is_file() == should_exist, f"{name}: {path.relative_to(ROOT)} ({what})"
            else:
                text = path.read_text(encoding="utf-8")
                assert name in text or module in text, f"{name}: not in {pattern} ({what})"
