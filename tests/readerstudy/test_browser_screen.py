"""The reading screen in Chromium: layout at 1280x720, 1440x900 and 1920x1080, image viewer, keys, reconnect, no dev
menu.

Screenshots are written to the test's tmp folder (``reading_1280x720.png``, ``reading_1440x900.png``,
``reading_1920x1080.png``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import case_records
from PIL import Image
from sqlalchemy import select
from test_browser_resume import CHROMIUM, expect_case, launch_chromium, login, streamlit_server, submit_button
from test_browser_resume import _free_port as free_port

from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.models import Read
from readerstudy.study.build import build_from_records
from readerstudy.study.protocol import protocol_from_dict

sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]
BANDS = [0, 40, 80, 120, 160, 200, 240, 255]  # 8 vertical bands, 32 px each, of a 256x256 image
LONG_REPORT = (
    "FINDINGS: The cardiomediastinal silhouette is within normal limits. There is no focal consolidation, "
    "pleural effusion or pneumothorax. Mild degenerative changes of the thoracic spine. "
) * 4 + "\n\nIMPRESSION: No acute cardiopulmonary process."
PASSWORD = "pw-screen"


def dicom_voi(value: float, window: float, center: float) -> float:
    """DICOM PS3.3 C.11.2.1.2.1 linear VOI LUT to 0..255, written from the standard's text."""
    if value <= center - 0.5 - (window - 1) / 2:
        return 0.0
    if value > center - 0.5 + (window - 1) / 2:
        return 255.0
    return ((value - (center - 0.5)) / (window - 1) + 0.5) * 255


def _study_with_images(folder: Path) -> StudyDB:
    image = np.repeat(np.repeat(np.array(BANDS, dtype=np.uint8)[None, :], 32, axis=1), 256, axis=0)
    Image.fromarray(image, mode="L").save(folder / "bands.png")
    records = case_records(3)
    for record in records:
        record.values["image_path"] = str(folder / "bands.png")
        record.values["original_report"] = LONG_REPORT + " " + record.values["original_report"]
        record.values["ai_report"] = LONG_REPORT + " " + record.values["ai_report"]
    protocol = protocol_from_dict(
        {"name": "Screen study", "seed": "screen", "readers": [{"id": "r1", "password": PASSWORD}]}
    )
    build_from_records(records, protocol, folder / "screen.db", allow_distinguishable=True)  # toy texts
    return open_db(folder / "screen.db")


def _box(page, selector: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _inside(box: dict[str, float], width: int, height: int) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


_SAMPLE_BAND = """(root, band) => {
    const canvas = root.querySelector('canvas'), w = canvas.width, h = canvas.height;
    const fit = Math.min(w / 256, h / 256), x0 = (w - 256 * fit) / 2, y0 = (h - 256 * fit) / 2;
    const x = Math.round(x0 + (band * 32 + 16) * fit), y = Math.round(y0 + 128 * fit);
    return canvas.getContext('2d').getImageData(x, y, 1, 1).data[0];
}"""
_SET_RANGE = "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); }"


def test_reading_screen_layout_viewer_and_menu(tmp_path: Path) -> None:
    db = _study_with_images(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with sync_api.sync_playwright() as playwright, streamlit_server(db, port, tmp_path / "streamlit.log"):
        browser = launch_chromium(playwright)
        stranger = browser.new_page()
        stranger.goto(url)
        assert stranger.request.get(f"{url}case-image/0").status == 401  # images only for a logged-in reader
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(20_000)
        images: list[str] = []
        page.on("request", lambda request: images.append(request.url) if "/case-image/" in request.url else 0)
        page.goto(url)
        login(page, "r1", PASSWORD)
        expect_case(page, 1, 3)
        viewer = page.locator(".cxr-viewer")
        page.locator(".cxr-viewer[data-loaded=true]").wait_for()
        for _ in range(50):  # the next case's image is fetched while this one is shown
            if f"{url}case-image/1" in images:
                break
            page.wait_for_timeout(100)
        assert images[:2] == [f"{url}case-image/0", f"{url}case-image/1"], images
        assert page.request.get(f"{url}case-image/0").headers["content-type"] == "image/png"
        assert page.request.get(f"{url}case-image/99").status == 404

        for width, height in ((1280, 720), (1440, 900), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / f"reading_{width}x{height}.png"))
            submit = _box(page, ".st-key-submit_0 button")
            for selector in (
                ".st-key-c_0_0_pref",
                ".st-key-c_0_reason",
                ".st-key-c_0_right_sig",
                ".cxr-canvas",
            ):
                assert _inside(_box(page, selector), width, height), (width, selector)
            assert _inside(submit, width, height), (width, height, submit)
            canvas = _box(page, ".cxr-canvas")
            # the image takes the window's height, and its pane is as wide as a portrait chest film (35 x 43 cm)
            # needs to fill that height (before: a fixed third of the width, 0.60-0.72 of the height)
            assert canvas["height"] >= height - 230 and canvas["width"] >= 0.8 * canvas["height"], (
                width,
                canvas,
            )
            image, report_a, report_b = (
                _box(page, s) for s in (".cxr-canvas", ".st-key-report_a", ".st-key-report_b")
            )
            assert image["x"] + image["width"] <= report_a["x"] < report_b["x"]  # side by side, left to right
            assert abs(report_a["y"] - report_b["y"]) < 2 and report_a["y"] < image["y"] + image["height"]
            assert page.get_by_text("1 A better").first.is_visible()  # the keys are announced

        # window/level by the sliders: the drawn pixels follow the DICOM linear VOI function
        root = viewer.element_handle()
        assert [root.evaluate(_SAMPLE_BAND, band) for band in range(8)] == BANDS  # W=256, C=128: identity
        viewer.locator(".cxr-w").evaluate(_SET_RANGE, 64)
        viewer.locator(".cxr-l").evaluate(_SET_RANGE, 100)
        drawn = [root.evaluate(_SAMPLE_BAND, band) for band in range(8)]
        assert drawn == [round(dicom_voi(v, 64, 100)) for v in BANDS]
        assert drawn[:3] == [0, 0, 49] and drawn[-3:] == [255, 255, 255]
        # zoom (button and wheel) and pan (drag)
        viewer.get_by_role("button", name="+").click()
        assert float(viewer.get_attribute("data-zoom")) == pytest.approx(1.25)
        canvas = _box(page, ".cxr-canvas")
        page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2)
        page.mouse.wheel(0, -100)
        page.wait_for_function("(e) => Number(e.dataset.zoom) > 1.4", arg=root)
        page.mouse.down()
        page.mouse.move(
            canvas["x"] + canvas["width"] / 2 + 40, canvas["y"] + canvas["height"] / 2 + 10, steps=4
        )
        page.mouse.up()
        assert float(viewer.get_attribute("data-pan-x")) == pytest.approx(40, abs=1)
        viewer.get_by_role("button", name="Reset").click()
        assert viewer.get_attribute("data-zoom") == "1.000" and viewer.get_attribute("data-window") == "256"

        page.get_by_test_id("stMainMenu").click()  # the viewer menu: no developer entries
        menu = page.get_by_test_id("stMainMenuList").inner_text()
        assert "Print" in menu and not any(
            item in menu for item in ("Rerun", "Clear cache", "Settings", "Developer")
        )
        browser.close()


_KEEP_SOCKETS = """() => {
    const Original = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = function (url, protocols) {
        const socket = new Original(url, protocols);
        window.__sockets.push(socket);
        return socket;
    };
    window.WebSocket.prototype = Original.prototype;
    Object.assign(window.WebSocket, Original);
}"""


def test_keyboard_submit_text_limit_and_reconnect(tmp_path: Path) -> None:
    db = _study_with_images(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with sync_api.sync_playwright() as playwright, streamlit_server(db, port, tmp_path / "streamlit.log"):
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(20_000)
        page.add_init_script(f"({_KEEP_SOCKETS})()")
        page.goto(url)
        login(page, "r1", PASSWORD)
        expect_case(page, 1, 3)
        reason = page.locator(".st-key-c_0_reason textarea")
        reason.fill("x" * 1990)
        reason.press_sequentially("y" * 15)
        assert len(reason.input_value()) == 2000  # the free text is capped (and checked again on the server)
        page.mouse.click(5, 300)  # focus outside any text field
        page.wait_for_function("() => window.__cxrShortcuts?.criteria[0] === 'c_0_0_pref'")  # keys wired up
        page.keyboard.press("3")
        assert page.locator(".st-key-c_0_0_pref input[type=radio]").nth(2).is_checked()
        page.keyboard.press("1")
        assert page.locator(".st-key-c_0_0_pref input[type=radio]").nth(0).is_checked()
        page.keyboard.press("Enter")
        expect_case(page, 2, 3)
        page.get_by_text("Saved case 1 (version 1).").wait_for()
        with db.reading() as session:
            assert [(r.choice, len(r.reason)) for r in session.scalars(select(Read))] == [("A", 2000)]

        page.evaluate("() => window.__sockets.forEach((socket) => socket.close())")  # a network drop
        page.get_by_text("Saved case 1 (version 1).").wait_for()  # after reconnecting: what was saved
        expect_case(page, 2, 3)
        page.locator(".st-key-c_1_0_pref").get_by_text("Equal", exact=True).click()
        submit_button(page, 1).click()
        page.get_by_text("Saved case 2 (version 1).").wait_for()
        browser.close()
