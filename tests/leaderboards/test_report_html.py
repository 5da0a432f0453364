"""`cxrbench report`: one self-contained HTML page whose numbers are the results files' numbers."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import make_run, write_all_tasks, write_classification
from PIL import Image
from sklearn.metrics import precision_recall_curve, roc_curve

from bench.records import write_records
from leaderboards.report import curves, report_command
from leaderboards.report.examples import build_examples
from leaderboards.runs import read_run

TASKS = ("classification", "localization", "segmentation", "report")
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    data = write_all_tasks(root / "data", 16, seed=3)
    cls = write_classification(root / "cls", 40, seed=4, strengths={"good": 0.7})
    return {
        "all": make_run(
            root / "runs",
            "all",
            model="baseline:a",
            dataset="demo",
            gt=data["gt"],
            pred=data["pred"],
            tasks=TASKS,
            n_boot=20,
        ),  # fmt: skip
        "cls": make_run(
            root / "runs",
            "cls",
            model="baseline:b",
            dataset="chestxray14",
            gt=cls["gt"],
            pred=cls["good"],
            n_boot=20,
        ),  # fmt: skip
    }


@pytest.fixture(scope="module")
def page(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("html") / "report.html"
    assert report_command([runs["all"].parent], out) == 0
    return out, out.read_text(encoding="utf-8")


def test_page_has_every_section(page: tuple[Path, str]) -> None:
    _, text = page
    assert text.startswith("<!DOCTYPE html>")
    for heading in (
        "ROC and PR curves per label",
        "Detection PR curves (IoU 0.5)",
        "Dice per image, per structure",
        "Per-report ROUGE-L and CIDEr-D",
        "Qualitative examples",
        "Manifest",
        "reference report",
        "generated report",
    ):
        assert heading in text, heading
    assert sorted(re.findall(r'class="task">(\w+)', text)) == sorted([*TASKS, "classification"])
    assert text.count("baseline:a on demo") == 1 and text.count("baseline:b on chestxray14") == 1


def test_numbers_equal_the_results_files(page: tuple[Path, str], runs: dict[str, Path]) -> None:
    _, text = page
    checked = 0
    for run, tasks in ((runs["all"], TASKS), (runs["cls"], ("classification",))):
        for task in tasks:
            results = json.loads((run / "results" / f"{task}.json").read_text())
            for name, metric in results["metrics"].items():
                if metric["value"] is not None:
                    assert f'data-value="{metric["value"]!r}"' in text, (task, name)
                    checked += 1
                if metric["ci95"] is not None and None not in metric["ci95"]:
                    lo, hi = metric["ci95"]
                    assert f'data-ci="{lo!r},{hi!r}"' in text, (task, name)
            for values in results["per_label"].values():
                for value in values.values():
                    if value is not None:
                        assert f'data-value="{value!r}"' in text
    assert checked > 30


def test_page_is_self_contained(page: tuple[Path, str]) -> None:
    _, text = page
    assert not re.search(r"https?://|(src|href)=\"//|url\(", text)
    sources = re.findall(r'<img src="([^"]*)"', text)
    assert len(sources) >= 8
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<(script|link|iframe)\b", text)


def test_curve_points_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 2)  # ties
    points = curves.binary_curve_points(y, s)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(points["fpr"], fpr)
    np.testing.assert_allclose(points["tpr"], tpr)
    np.testing.assert_allclose(points["thresholds"], thr[1:])
    precision, recall, pr_thr = precision_recall_curve(y, s)
    # sklearn lists thresholds ascending with a final (precision 1, recall 0) point.
    np.testing.assert_allclose(points["precision"][1:][::-1], precision[:-1])
    np.testing.assert_allclose(points["recall"][1:][::-1], recall[:-1])
    np.testing.assert_allclose(points["thresholds"][::-1], pr_thr)


def test_plot_data_agree_with_the_results(runs: dict[str, Path]) -> None:
    run = runs["all"]
    gt, pred = run / "gt.jsonl", run / "predictions.jsonl"
    loc = json.loads((run / "results" / "localization.json").read_text())
    pr = curves.detection_pr_curves(gt, pred, loc["settings"])
    assert set(pr) == set(loc["per_label"]["ap50"])
    for label, (recall, precision, ap50) in pr.items():
        assert ap50 == pytest.approx(loc["per_label"]["ap50"][label], abs=1e-12)
        assert np.all(np.diff(recall) >= 0) and recall[-1] <= 1.0
        assert np.all((precision >= 0) & (precision <= 1)) and precision.size == recall.size
    seg = json.loads((run / "results" / "segmentation.json").read_text())
    for structure, dice in curves.dice_per_structure(gt, pred, seg["settings"]).items():
        assert np.nanmean(dice) == pytest.approx(seg["metrics"][f"dice/{structure}"]["value"], abs=1e-12)
    rep = json.loads((run / "results" / "report.json").read_text())
    for key, values in curves.report_per_case(gt, pred).items():
        assert values.mean() == pytest.approx(rep["metrics"][key]["value"], abs=1e-12)


def test_examples_use_the_image_file_when_present(tmp_path: Path, runs: dict[str, Path]) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["all"], run)
    lines = [json.loads(line) for line in (run / "gt.jsonl").read_text().splitlines()]
    root = tmp_path / "dataset"
    (root / "img").mkdir(parents=True)
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)).save(root / "img" / "a.png")
    lines[0]["meta"] = {"path": "img/a.png"}
    lines[1]["meta"] = {"path": "img/missing.png"}
    write_records(run / "gt.jsonl", lines)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["dataset"]["root"] = str(root)
    (run / "manifest.json").write_text(json.dumps(manifest))
    examples = build_examples(run, read_run(run).manifest)
    assert [e.id for e in examples] == [rec["id"] for rec in lines[:3]]
    assert examples[0].source == f"image file {root / 'img' / 'a.png'}"
    assert examples[1].source.startswith("blank canvas") and "missing.png" in examples[1].source
    assert "no image file" in examples[2].source
    assert all(e.figure and e.figure.startswith("data:image/png;base64,") for e in examples)
    assert examples[0].reference_report == lines[0]["report"]


def test_bad_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert report_command([tmp_path / "empty"], tmp_path / "r.html") == 2
    assert "no run directory" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_renders_in_headless_chromium(page: tuple[Path, str], tmp_path: Path) -> None:
    html_path, _ = page
    shot = tmp_path / "shot.png"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}", "--window-size=1280,2000", html_path.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 10, "screenshot is blank"
    assert (pixels < 128).mean() > 0.005  # some dark text / plot lines were drawn


@pytest.fixture(scope="module")
def three_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Three models on one classification benchmark, zero-shot and fine-tuned, plus the all-task run."""
    root = tmp_path_factory.mktemp("three")
    data = write_classification(root / "data", 60, seed=5, strengths={"a": 0.6, "b": 0.3, "c": 0.1})
    for name in "abc":
        for mode in ("zero-shot", "fine-tune"):
            make_run(
                root / "runs", f"{name}-{mode}", model=f"model-{name}:/weights/{name}.pt", dataset="chestxray14",
                gt=data["gt"], pred=data[name], mode=mode, fraction=1.0 if mode == "fine-tune" else None, n_boot=20,
            )  # fmt: skip
    all_tasks = write_all_tasks(root / "all", 12, seed=6)
    make_run(root / "runs", "all", model="model-a:/weights/a.pt", dataset="demo", gt=all_tasks["gt"],
             pred=all_tasks["pred"], tasks=TASKS, n_boot=20)  # fmt: skip
    out = root / "report.html"
    assert report_command([root / "runs"], out) == 0
    return out, out.read_text(encoding="utf-8")


def test_report_opens_with_the_overview_figure_and_the_side_by_side_table(
    three_models: tuple[Path, str],
) -> None:
    path, text = three_models
    overview, comparison, per_run = (text.index(s) for s in ('id="overview"', 'id="comparison"', 'id="runs"'))
    assert overview < comparison < per_run
    first_img = re.search(r'<img [^>]*src="([^"]+)"', text)
    assert first_img and 'class="overview"' in text[first_img.start() : first_img.end()]
    table = text[comparison:per_run]
    for name in ("model-a:a.pt", "model-b:b.pt", "model-c:c.pt"):
        assert f'colspan="2">{name}</th>' in table  # one column group per model: ZS and FT side by side
    runs = path.parent / "runs"
    best = {}
    for name in "abc":
        for mode in ("zero-shot", "fine-tune"):
            metric = json.loads((runs / f"{name}-{mode}" / "results" / "classification.json").read_text())
            value = metric["metrics"]["auc_macro"]["value"]
            assert f'data-value="{value!r}"' in table
            best[mode] = max(best.get(mode, 0.0), value)
    for mode in ("zero-shot", "fine-tune"):
        assert f"<b>{best[mode]:.3f}</b>" in table  # the best of three models is bold
    assert text.count('<details class="run"') == 7  # per-run detail folded away, after the comparison


def test_report_has_no_rows_for_metrics_without_a_value(three_models: tuple[Path, str]) -> None:
    path, text = three_models
    results = path.parent / "runs" / "all" / "results"
    undefined = []
    for task in TASKS:
        metrics = json.loads((results / f"{task}.json").read_text())["metrics"]
        undefined += [name for name, m in metrics.items() if m["value"] is None]
    for name in undefined:
        assert f"<tr><td>{html.escape(name)}</td>" not in text
    assert 'class="metrics"' in text and '<td class="num missing">' not in text.split('id="runs"')[1]
    if undefined:
        assert "No value (undefined for this benchmark or run" in text


@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium missing (apt-get install chromium)"
)
def test_report_fits_1400_px_in_chromium(three_models: tuple[Path, str], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
    path, _ = three_models
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(path.resolve().as_uri())
        measured = page.evaluate(
            """() => ({page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
                      wraps: [...document.querySelectorAll('.wrap')].map(w => [w.scrollWidth, w.clientWidth]),
                      overview: document.querySelector('img.overview').naturalWidth})"""
        )
        page.screenshot(path=str(tmp_path / "report-1400.png"))
        browser.close()
    assert measured["page"][0] <= measured["page"][1] == 1400, measured
    assert measured["wraps"] and all(scroll <= client for scroll, client in measured["wraps"]), measured
    assert measured["overview"] > 300  # the figure decoded and drew
