"""`cxrbench report` on runs whose results carry `subgroups`: one forest plot per field, its numbers those of the
results file, the page self-contained and deterministic, and drawn in real Chromium."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from subgroup_fixtures import build_fixture

from leaderboards.report import report_command
from leaderboards.report.subgroups import subgroup_section

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("subgroup-report")
    runs = build_fixture(root)
    out = root / "report.html"
    assert report_command([runs], out) == 0
    return out, out.read_text(encoding="utf-8")


def _forests(text: str) -> list[tuple[str, str]]:
    return re.findall(
        r'<img class="forest" src="data:image/png;base64,([^"]+)" alt="forest plot: ([^"]+)">', text
    )


def test_one_forest_plot_per_field_of_each_run_with_subgroups(page: tuple[Path, str]) -> None:
    _, text = page
    forests = _forests(text)
    assert [field for _, field in forests] == ["sex", "age_bin", "sex", "age_bin"]  # runs a and b; c has none
    for data, _ in forests:
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            pixels = np.asarray(image.convert("L"), dtype=float)
            assert image.size[0] > 400 and pixels.std() > 10  # a drawn figure, not a blank
    run_c = text.split("c:w on chexpert")[1]
    assert "forest plot" not in run_c.split('<details class="run"')[0]


def test_the_numbers_under_each_plot_are_the_results_files(page: tuple[Path, str]) -> None:
    path, text = page
    results = json.loads((path.parent / "runs" / "a" / "results" / "classification.json").read_text())
    section = subgroup_section(results)
    assert (
        "<td>F</td><td>31</td><td></td><td>0.8120</td><td>[0.7900, 0.8340]</td><td>-0.0210</td><td>0.0240</td>"
        in section
    )
    assert "<td>M</td><td>29</td><td>yes</td><td>0.8530</td>" in section
    assert "<td>unknown</td><td>15</td><td>yes</td><td>—</td><td>—</td><td>—</td><td>—</td>" in section
    assert section in text


def test_the_section_is_deterministic_and_absent_without_subgroups(page: tuple[Path, str]) -> None:
    path, _ = page
    results = json.loads((path.parent / "runs" / "b" / "results" / "classification.json").read_text())
    assert subgroup_section(results) == subgroup_section(json.loads(json.dumps(results)))
    del results["subgroups"]
    assert subgroup_section(results) == ""


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)")
def test_forest_plots_render_in_chromium(page: tuple[Path, str], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
    path, _ = page
    shot = tmp_path / "forest.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        view = browser.new_page(viewport={"width": 1400, "height": 1000})
        view.goto(path.resolve().as_uri())
        view.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        first = view.locator("img.forest").first
        first.scroll_into_view_if_needed()
        measured = view.evaluate(
            """() => [...document.querySelectorAll('img.forest')].map(i => [i.naturalWidth, i.clientWidth])"""
        )
        view.screenshot(path=str(shot))
        width = view.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        browser.close()
    assert len(measured) == 4 and all(natural > 400 and shown > 300 for natural, shown in measured), measured
    assert width[0] <= width[1], width  # the page does not scroll sideways
    if (target := Path("/tmp/cxrbench-screens")).is_dir():  # a person can look at it
        target.joinpath("forest.png").write_bytes(shot.read_bytes())
