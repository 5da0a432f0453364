"""table.html in real Chromium at 1,400 px: no table wider than the window, the label column sticky.

Skipped when Playwright or /usr/bin/chromium is missing (`make test` installs Debian's chromium when it can).
Screenshots are left in the test's tmp folder (`table-<spec>-<n>.png`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_render_layout import synthetic_table

from leaderboards.render import render_html

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"
)

MEASURE = """() => ({
  page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
  wraps: [...document.querySelectorAll('.wrap')].map(w => [w.scrollWidth, w.clientWidth]),
  sticky: [...document.querySelectorAll('table tbody td:first-child')].every(
      td => getComputedStyle(td).position === 'sticky'),
  tables: document.querySelectorAll('table').length,
})"""

CASES = [("demo", 1), ("demo", 2), ("imt-cxr", 3), ("localization", 8), ("classification", 12)]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.mark.parametrize(("spec", "n_models"), CASES)
def test_tables_fit_a_1400_px_window(browser, spec: str, n_models: int, tmp_path: Path) -> None:
    page_file = tmp_path / "table.html"
    page_file.write_text(render_html(synthetic_table(spec, n_models)), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(page_file.as_uri())
    measured = page.evaluate(MEASURE)
    page.screenshot(path=str(tmp_path / f"table-{spec}-{n_models}.png"), full_page=True)
    page.close()
    assert measured["tables"] >= 1 and measured["wraps"]
    assert measured["page"][0] <= measured["page"][1] == 1400, measured  # the page never scrolls sideways
    for scroll, client in measured["wraps"]:
        assert scroll <= client, measured  # nor does any table inside it
    assert measured["sticky"]  # were one to scroll, the model / benchmark names would stay in view
