"""A real browser (Playwright + Debian's Chromium) against `cxrbench study serve`: submit, reload, kill, restart.

Skipped when Playwright or /usr/bin/chromium is missing (`playwright install` cannot download browsers here;
`make test` installs the Debian `chromium` package when it can). The helpers here are shared by the other
``test_browser_*`` files.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from readerstudy.cli import serve_command
from readerstudy.store.engine import StudyDB
from readerstudy.store.long_table import load_long_table

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # several tabs at once: background tabs must not be throttled (Streamlit's client runs on timers)
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
LEAKS = re.compile(
    r"\bAI\b|original|ai_report|\bgpt|llava|medgemma|chexagent|st-key-[\w-]*(?<![a-z])ai(?![a-z])"
)

sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(
    db: StudyDB,
    port: int,
    log: Path,
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> Iterator[subprocess.Popen]:
    """``cxrbench study serve``'s command (or ``command``) until the server answers its health check."""
    env = {**os.environ, "CXRBENCH_STUDY_DB": db.url, **(extra_env or {})}
    with log.open("ab") as handle:
        process = subprocess.Popen(
            command or serve_command(db.url, port, "127.0.0.1"), env=env, stdout=handle, stderr=handle
        )
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def login(page, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Fill the login form; the browser then fetches its session cookie and reloads the app."""
    page.get_by_role("textbox", name="User id").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def expect_case(page, number: int, total: int) -> None:  # type: ignore[no-untyped-def]
    page.get_by_text(f"Case {number} of {total}", exact=True).wait_for(timeout=20_000)
    page.locator(f".st-key-c_{number - 1}_0_pref").wait_for(timeout=20_000)


def submit_button(page, order: int):  # type: ignore[no-untyped-def]
    return page.locator(f".st-key-submit_{order} button")


def answer(page, order: int, label: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(f".st-key-c_{order}_0_pref").get_by_text(label, exact=True).click()
    submit_button(page, order).click()


_login, _expect_case, _answer = login, expect_case, answer


# Streamlit's own <noscript> text (identical for every app) mentions "AI agents"; everything else is scanned.
_PAGE_WITHOUT_NOSCRIPT = """() => {
    const copy = document.documentElement.cloneNode(true);
    copy.querySelectorAll("noscript").forEach((node) => node.remove());
    return copy.outerHTML;
}"""


def _assert_no_leak(page) -> None:  # type: ignore[no-untyped-def]
    html = page.evaluate(_PAGE_WITHOUT_NOSCRIPT)
    assert "st-key-c_" in html  # widget keys are rendered into classes, so the scan covers them
    hits = [html[max(m.start() - 80, 0) : m.end() + 40] for m in LEAKS.finditer(html)]
    assert not hits, hits[:3]


def test_reads_survive_reload_and_server_kill(
    make_study: Callable[..., StudyDB], accounts: dict[str, str], tmp_path: Path
) -> None:
    # streamlit is a core dependency: its absence is a broken install, not a reason to skip
    assert shutil.which("streamlit") or (Path(os.sys.executable).parent / "streamlit").exists()
    db = make_study(n_cases=5)
    port, log = _free_port(), tmp_path / "streamlit.log"
    url = f"http://127.0.0.1:{port}/"
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        with streamlit_server(db, port, log):
            page.goto(url)
            _login(page, "r1", accounts["r1"])
            for number in (1, 2, 3):
                _expect_case(page, number, 5)
                _assert_no_leak(page)
                _answer(page, number - 1, "B better" if number == 2 else "A better")
            _expect_case(page, 4, 5)
            page.reload()  # a reload is a new Streamlit session: the cookie keeps the reader logged in
            _expect_case(page, 4, 5)
            page.get_by_text("Last saved: case 3 (version 1)").wait_for()
        # the server was killed (SIGKILL) right after three committed submits
        assert len(load_long_table(db)) == 3
        with streamlit_server(db, port, log):  # a new server process: a new signing key, so log in again
            page.goto(url)
            _login(page, "r1", accounts["r1"])
            _expect_case(page, 4, 5)
            page.get_by_text("Last saved: case 3 (version 1)").wait_for()
            _assert_no_leak(page)
        browser.close()
    table = load_long_table(db)
    assert table.order_index.tolist() == [0, 1, 2] and table.choice.tolist() == ["A", "B", "A"]
    assert (table.version == 1).all()
