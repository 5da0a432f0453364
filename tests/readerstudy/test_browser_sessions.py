"""Logins in Chromium: the session cookie, reload, logout, and a stolen Streamlit session id replayed elsewhere.

Before: login rested on Streamlit's session id alone, which the server sends to the browser in the first websocket
message; a fresh browser that presented the coordinator's id on its websocket got the coordinator page, no password.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser_resume import CHROMIUM, expect_case, launch_chromium, login, streamlit_server
from test_browser_resume import _free_port as free_port

from readerstudy.app.sessions import COOKIE_NAME
from readerstudy.store.engine import StudyDB

sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]
REPO_ROOT = Path(__file__).resolve().parents[2]

# Streamlit's client opens its websocket with subprotocols ["streamlit", xsrf token, last session id]; the attacker's
# page puts the stolen id in the third place, exactly what a reconnecting client sends.
_PRESENT_SESSION_ID = """(stolen) => {
    const Original = window.WebSocket;
    window.WebSocket = function (url, protocols) {
        const list = Array.isArray(protocols) ? protocols.slice(0, 2) : ["streamlit"];
        while (list.length < 2) list.push("PLACEHOLDER_AUTH_TOKEN");
        return new Original(url, [...list, stolen]);
    };
    window.WebSocket.prototype = Original.prototype;
    Object.assign(window.WebSocket, Original);
}"""


def _session_ids(frames: list[bytes]) -> list[str]:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ids = []
    for frame in frames:
        message = ForwardMsg()
        message.ParseFromString(frame)
        if message.WhichOneof("type") == "new_session":
            ids.append(message.new_session.initialize.session_id)
    return ids


def _record_frames(page) -> list[bytes]:  # type: ignore[no-untyped-def]
    frames: list[bytes] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda f: frames.append(f) if isinstance(f, bytes) else 0),
    )
    return frames


def test_stolen_session_id_gets_no_login_and_cookie_is_httponly(
    make_study, accounts: dict[str, str], tmp_path: Path
) -> None:
    db: StudyDB = make_study(n_cases=4)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with sync_api.sync_playwright() as playwright, streamlit_server(db, port, tmp_path / "streamlit.log"):
        browser = launch_chromium(playwright)
        victim_context = browser.new_context()
        victim = victim_context.new_page()
        victim.set_default_timeout(20_000)
        frames = _record_frames(victim)
        victim.goto(url)
        login(victim, "coord", accounts["coord"])
        victim.get_by_text("Test study: coordinator").wait_for()
        stolen = _session_ids(frames)[-1]

        cookie = next(c for c in victim_context.cookies() if c["name"] == COOKIE_NAME)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
        assert COOKIE_NAME not in victim.evaluate("document.cookie")  # page scripts cannot read it
        everything = b"".join(frames)
        assert cookie["value"].encode() not in everything  # nor does it travel on the websocket
        for secret_path in (REPO_ROOT, REPO_ROOT / "readerstudy" / "app"):  # no server file path either
            assert str(secret_path).encode() not in everything, secret_path

        victim.reload()  # a reload is a new Streamlit session: the cookie keeps the coordinator logged in
        victim.get_by_text("Test study: coordinator").wait_for()

        attacker_context = browser.new_context()  # another browser: no cookie, only the stolen id
        attacker = attacker_context.new_page()
        attacker.set_default_timeout(20_000)
        attacker_frames = _record_frames(attacker)
        attacker.add_init_script(f"({_PRESENT_SESSION_ID})({stolen!r})")
        attacker.goto(url)
        attacker.get_by_role("textbox", name="User id").wait_for()
        attacker.wait_for_timeout(1000)  # let every message of the run arrive
        assert stolen in _session_ids(
            attacker_frames
        )  # Streamlit did hand over the coordinator's session ...
        text = attacker.inner_text("body")
        assert "coordinator" not in text and "Progress" not in text  # ... but it shows the login form only
        assert not attacker.locator("[data-testid=stDataFrame]").count()
        assert not attacker_context.cookies(url) or all(
            c["name"] != COOKIE_NAME for c in attacker_context.cookies()
        )
        browser.close()


def test_reload_keeps_reader_logged_in_and_logout_ends_it(
    make_study, accounts: dict[str, str], tmp_path: Path
) -> None:
    db: StudyDB = make_study(n_cases=4)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with sync_api.sync_playwright() as playwright, streamlit_server(db, port, tmp_path / "streamlit.log"):
        browser = launch_chromium(playwright)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.goto(url)
        for _ in range(3):  # wrong passwords are refused
            login(page, "r1", "wrong")
            page.get_by_text("Unknown user id or wrong password.").wait_for()
        login(page, "r1", accounts["r1"])
        expect_case(page, 1, 4)
        page.reload()
        expect_case(page, 1, 4)
        page.get_by_role("button", name="Pause and log out").click()
        page.get_by_role("textbox", name="User id").wait_for()
        assert not [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]  # the browser dropped it
        page.reload()
        page.get_by_role("textbox", name="User id").wait_for()
        browser.close()
