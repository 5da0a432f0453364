"""Several windows per reader in Chromium: every submit is stored (as a revision when another window was first).

Before: after a submit the page recomputed "the next unread case", so a window whose case had just been answered in
another window never rendered the form that was submitted, and its answers were silently dropped (19 of 50 submits
in this very set-up: two readers with two tabs each, one reader with one tab, ten submits per tab).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import case_records
from sqlalchemy import select
from test_browser_resume import (
    CHROMIUM,
    expect_case,
    launch_chromium,
    login,
    streamlit_server,
    submit_button,
)
from test_browser_resume import _free_port as free_port

from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.models import Assignment, AuditEntry, Read
from readerstudy.study.build import build_from_records
from readerstudy.study.protocol import protocol_from_dict

sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]

N_CASES = 20
SUBMITS_PER_TAB = 10  # the set-up in which the defect was measured
READERS = {"r1": "pw-r1", "r2": "pw-r2", "r3": "pw-r3"}
TABS = {"r1": 2, "r2": 2, "r3": 1}
LABELS = {"A better": "A", "Equal": "equal", "B better": "B"}
_HEADING = re.compile(r"^Case (\d+) of \d+$")
_HEADING_GONE = (
    """(n) => {
    const heads = [...document.querySelectorAll('h3')].map((h) => h.innerText.trim());
    return heads.length > 0 && !heads.some((t) => t === `Case ${n} of """
    + str(N_CASES)
    + """`);
}"""
)


def _three_reader_study(path: Path) -> StudyDB:
    protocol = protocol_from_dict(
        {
            "name": "Tabs study",
            "seed": "tabs-seed",
            "criteria": ["diagnostic clarity"],
            "readers": [{"id": r, "password": p} for r, p in READERS.items()],
        }
    )
    build_from_records(case_records(N_CASES), protocol, path, allow_distinguishable=True)  # toy texts
    return open_db(path)


def _shown_case(page) -> int:  # type: ignore[no-untyped-def]
    for heading in page.locator("h3").all_inner_texts():
        match = _HEADING.match(heading.strip())
        if match:
            return int(match.group(1))
    raise AssertionError(f"no case heading on the page: {page.locator('h3').all_inner_texts()}")


def _stored(db: StudyDB) -> list[tuple[str, int, str, int]]:
    with db.reading() as session:
        rows = session.execute(
            select(Read.reader_id, Assignment.order_index, Read.choice, Read.version).join(
                Assignment, (Assignment.reader_id == Read.reader_id) & (Assignment.case_idx == Read.case_idx)
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_every_submit_from_every_tab_is_stored(tmp_path: Path) -> None:
    db = _three_reader_study(tmp_path / "tabs.db")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    rng = np.random.default_rng(12)
    submitted: list[tuple[str, int, str]] = []
    overtaken_messages = 0
    with sync_api.sync_playwright() as playwright, streamlit_server(db, port, tmp_path / "streamlit.log"):
        browser = launch_chromium(playwright)
        pages: list[tuple[str, object]] = []
        for reader, n_tabs in TABS.items():
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            first = context.new_page()
            first.set_default_timeout(30_000)
            first.goto(url)
            login(first, reader, READERS[reader])
            expect_case(first, 1, N_CASES)
            pages.append((reader, first))
            for _ in range(n_tabs - 1):  # the other tab of the same browser: logged in by the shared cookie
                tab = context.new_page()
                tab.set_default_timeout(30_000)
                tab.goto(url)
                expect_case(tab, 1, N_CASES)
                pages.append((reader, tab))
        for _ in range(SUBMITS_PER_TAB):
            in_flight = []
            for reader, page in pages:  # all tabs submit before any answer is awaited
                page.bring_to_front()  # a background tab gets no animation frames: clicks would stall
                number = _shown_case(page)
                label = str(rng.choice(list(LABELS)))
                page.locator(f".st-key-c_{number - 1}_0_pref").get_by_text(label, exact=True).click()
                submit_button(page, number - 1).click()
                submitted.append((reader, number - 1, LABELS[label]))
                in_flight.append((page, number))
            for page, number in in_flight:
                page.bring_to_front()
                page.wait_for_function(_HEADING_GONE, arg=number, polling=50)
                saved = page.get_by_text(
                    re.compile(rf"^Saved (your revision of )?case {number} \(version \d+\)\.$")
                )
                overtaken = page.get_by_text(f"Case {number} had already been answered in another window")
                saved.or_(overtaken).wait_for()
                overtaken_messages += overtaken.count()
        browser.close()

    stored = _stored(db)
    assert len(submitted) == sum(TABS.values()) * SUBMITS_PER_TAB
    # every submit is a stored row with the answer given in that tab (one criterion: one row per submit)
    assert Counter((r, o, c) for r, o, c, _ in stored) == Counter(submitted), "submitted != stored"
    versions: dict[tuple[str, int], list[int]] = {}
    for reader, order, _, version in stored:
        versions.setdefault((reader, order), []).append(version)
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in versions.values())
    revisions = sum(1 for *_, version in stored if version > 1)
    assert revisions > 0, "the set-up must make tabs of one reader collide"
    # each revision made because another tab had answered first was announced in the tab that made it
    assert overtaken_messages == revisions
    with db.reading() as session:
        details = list(
            session.scalars(select(AuditEntry.detail_json).where(AuditEntry.action.in_(["submit", "revise"])))
        )
    assert len(details) == len(submitted) and all('"based_on_version"' in d for d in details)
