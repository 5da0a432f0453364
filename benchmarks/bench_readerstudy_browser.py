"""Load as a reader feels it: submit -> next case rendered, through `cxrbench study serve` and real Chromium pages.

N readers, each logged in in its own browser context, read their cases back to back (or with a think time): click a
preference, click Submit, and the clock stops when the page shows the next case's heading and form. All pages run
concurrently (Playwright's async API), against one Streamlit server on this machine. Afterwards the database must
hold exactly one stored read per submit (0 lost).

With ``--images`` every case has a 2500 x 3000 8-bit chest-film-sized PNG and the clock stops only when the next
case's image is drawn in the viewer.

The second scenario is the multi-tab one of issue 12: two readers with two tabs each and one reader with one tab,
all tabs submitting at once, ten submits each; every submit must be stored (revisions included).

    python benchmarks/bench_readerstudy_browser.py --readers 10 --cases 12
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from readerstudy.cli import serve_command
from readerstudy.store.engine import StudyDB, open_db
from readerstudy.store.models import Read
from readerstudy.study.build import CaseRecord, build_from_records
from readerstudy.study.protocol import protocol_from_dict

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
LABELS = ("A better", "Equal", "B better")
_CHOOSE = """([order, label]) => {  // true once the chosen option is checked (clicks it when the form is there)
    const options = document.querySelectorAll(`.st-key-c_${order}_0_pref label[data-testid=stRadioOption]`);
    const submit = document.querySelector(`.st-key-submit_${order} button`);
    if (options.length < 3 || !submit) return false;
    if (options[label].querySelector('input').checked) return true;
    options[label].click();
    return false;
}"""
_SUBMIT = """(order) => document.querySelector(
    `.st-key-submit_${order} button`).click()"""
_SHOWN = """([heading, order]) => [...document.querySelectorAll('h3')].some((h) => h.innerText.trim() === heading)
    && document.querySelector(`.st-key-submit_${order} button`) !== null"""
_SHOWN_WITH_IMAGE = """([heading, order]) => [...document.querySelectorAll('h3')].some((h) => h.innerText.trim() === heading)
    && document.querySelector(`.st-key-submit_${order} button`) !== null
    && [...document.querySelectorAll('[data-testid=stBidiComponentIsolated]')].some((host) => host.shadowRoot
        && host.shadowRoot.querySelector(`.cxr-viewer[data-loaded=true][data-src="/case-image/${order}"]`))"""
_GONE = """(heading) => {
    const heads = [...document.querySelectorAll('h3')].map((h) => h.innerText.trim());
    return heads.length > 0 && !heads.includes(heading);
}"""
_SHOWN_CASE = """() => {
    const h = [...document.querySelectorAll('h3')].map((e) => e.innerText.trim()).find((t) => /^Case \\d+ of/.test(t));
    return h ? Number(h.split(' ')[1]) : null;
}"""


def film_images(folder: Path, n_cases: int) -> list[str]:
    """One 2500 x 3000 8-bit PNG per case (same pixels, separate files and URLs)."""
    from PIL import Image

    y, x = np.mgrid[0:3000, 0:2500]
    noise = np.random.default_rng(0).normal(0, 8, (3000, 2500))
    pixels = (128 + 60 * np.sin(x / 37.0) * np.cos(y / 53.0) + noise).clip(0, 255).astype(np.uint8)
    first = folder / "film0.png"
    Image.fromarray(pixels).save(first)
    paths = [first]
    for k in range(1, n_cases):
        paths.append(folder / f"film{k}.png")
        paths[-1].write_bytes(first.read_bytes())
    return [str(p) for p in paths]


def build(path: Path, readers: list[str], n_cases: int, images: list[str] | None = None) -> StudyDB:
    records = [
        CaseRecord(
            "bench",
            i + 1,
            {
                "case_id": f"b{i}",
                "site": f"s{i % 4}",
                "original_report": f"FINDINGS: finding {i}. IMPRESSION: impression {i}.",
                "ai_report": f"FINDINGS: other finding {i}. IMPRESSION: other impression {i}.",
                **({"image_path": images[i]} if images else {}),
            },
        )
        for i in range(n_cases)
    ]
    protocol = protocol_from_dict(
        {"seed": 1, "name": "Bench study", "readers": [{"id": r, "password": f"pw-{r}"} for r in readers]}
    )
    return open_db(build_from_records(records, protocol, path, allow_distinguishable=True).db_url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db: StudyDB, port: int, log: Path, options: list[str] = ()) -> subprocess.Popen:
    """``options``: extra ``KEY=VALUE`` Streamlit options (they override the served defaults, for A/B runs)."""
    env = {**os.environ, "CXRBENCH_STUDY_DB": db.url}
    command = serve_command(db.url, port, "127.0.0.1")
    extra = [part for option in options for part in (f"--{option.split('=', 1)[0]}", option.split("=", 1)[1])]
    command[command.index("--") : command.index("--")] = extra
    with log.open("ab") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=handle)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
                if response.read() == b"ok":
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"streamlit did not start: {log.read_text()[-2000:]}")


async def logged_in_page(context, url: str, reader: str):  # type: ignore[no-untyped-def]
    page = await context.new_page()
    page.set_default_timeout(120_000)
    await page.goto(url)
    await page.get_by_role("textbox", name="User id").fill(reader)
    await page.get_by_role("textbox", name="Password").fill(f"pw-{reader}")
    await page.get_by_role("button", name="Log in").click()
    await page.locator(".st-key-c_0_0_pref").wait_for()
    return page


async def read_cases(  # type: ignore[no-untyped-def]
    page, n_submits: int, n_cases: int, think_ms: float, rng: random.Random, images: bool = False
) -> list[float]:
    latencies = []
    shown = _SHOWN_WITH_IMAGE if images else _SHOWN
    for order in range(n_submits):
        if think_ms:
            await asyncio.sleep(rng.uniform(0, 2 * think_ms) / 1e3)
        await page.wait_for_function(_CHOOSE, arg=[order, rng.randrange(3)], polling=10)
        start = time.perf_counter()
        await page.evaluate(_SUBMIT, order)
        await page.wait_for_function(shown, arg=[f"Case {order + 2} of {n_cases}", order + 1], polling=10)
        latencies.append((time.perf_counter() - start) * 1e3)
    return latencies


async def concurrent_readers(
    url: str, readers: list[str], n_cases: int, think_ms: float, server_pid: int, images: bool = False
) -> tuple[list[float], float, float]:
    """Latencies (ms), wall seconds and server CPU seconds of the reading phase (after all logins)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        pages = [await logged_in_page(await browser.new_context(), url, r) for r in readers]
        cpu_before = cpu_seconds(server_pid)
        start = time.perf_counter()
        results = await asyncio.gather(
            *(
                read_cases(p, n_cases - 1, n_cases, think_ms, random.Random(k), images)
                for k, p in enumerate(pages)
            )
        )
        wall = time.perf_counter() - start
        server_cpu = cpu_seconds(server_pid) - cpu_before
        await browser.close()
    return [x for r in results for x in r], wall, server_cpu


async def tab_scenario(url: str, tabs: dict[str, int], submits: int, n_cases: int) -> int:
    """All tabs submit at once, then wait for their next page; returns the number of submits."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        pages = []
        for reader, n_tabs in tabs.items():
            context = await browser.new_context()
            pages.append(await logged_in_page(context, url, reader))
            for _ in range(n_tabs - 1):
                tab = await context.new_page()
                tab.set_default_timeout(120_000)
                await tab.goto(url)  # the shared cookie logs the second tab in
                await tab.locator(".st-key-c_0_0_pref").wait_for()
                pages.append(tab)
        n = 0
        rng = random.Random(7)
        for _ in range(submits):
            shown = [await p.evaluate(_SHOWN_CASE) for p in pages]
            await asyncio.gather(
                *(
                    p.wait_for_function(_CHOOSE, arg=[c - 1, rng.randrange(3)], polling=10)
                    for p, c in zip(pages, shown, strict=True)
                )
            )
            await asyncio.gather(*(p.evaluate(_SUBMIT, c - 1) for p, c in zip(pages, shown, strict=True)))
            n += len(pages)
            await asyncio.gather(
                *(
                    p.wait_for_function(_GONE, arg=f"Case {c} of {n_cases}", polling=20)
                    for p, c in zip(pages, shown, strict=True)
                )
            )
        await browser.close()
    return n


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to split the cost between server and browser."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored_reads(db: StudyDB) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Read)) or 0)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="mean pause before each submit (0 = back to back)"
    )
    parser.add_argument("--skip-tabs", action="store_true", help="skip the multi-tab scenario")
    parser.add_argument(
        "--images", action="store_true", help="give every case a 2500 x 3000 film and wait until it is drawn"
    )
    parser.add_argument(
        "--streamlit-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Streamlit option for the server, e.g. runner.postScriptGC=true (the default before issue 12)",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")
    readers = [f"r{k}" for k in range(args.readers)]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        images = film_images(Path(tmp), args.cases) if args.images else None
        db = build(Path(tmp) / "load.db", readers, args.cases, images)
        port = free_port()
        server = start_server(db, port, Path(tmp) / "streamlit.log", args.streamlit_option)
        try:
            latencies, wall, server_cpu = asyncio.run(
                concurrent_readers(
                    f"http://127.0.0.1:{port}/", readers, args.cases, args.think_ms, server.pid, args.images
                )
            )
        finally:
            server.kill()
            server.wait()
        stored = stored_reads(db)
        db.dispose()
        tab_result = None
        if not args.skip_tabs:
            tab_readers = {"t1": 2, "t2": 2, "t3": 1}
            tab_db = build(Path(tmp) / "tabs.db", list(tab_readers), 20)
            port = free_port()
            server = start_server(tab_db, port, Path(tmp) / "tabs.log")
            try:
                submitted = asyncio.run(tab_scenario(f"http://127.0.0.1:{port}/", tab_readers, 10, 20))
            finally:
                server.kill()
                server.wait()
            tab_result = (submitted, stored_reads(tab_db))
            tab_db.dispose()
    n = len(latencies)
    print(
        f"{args.readers} concurrent browser sessions (Chromium, one context each) x {args.cases - 1} submits, "
        f"mean think time {args.think_ms:g} ms{', 2500 x 3000 images' if args.images else ''}, {os.cpu_count()} CPU cores (load average before: {load:.1f}), "
        f"Python {sys.version.split()[0]}; Streamlit options {args.streamlit_option or 'as served'}\n"
    )
    print("| path | submits | wall s | submits/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| submit -> next case rendered | {n} | {wall:.1f} | {n / wall:.1f} | {statistics.median(latencies):.0f} "
        f"| {pct(latencies, 95):.0f} | {pct(latencies, 99):.0f} | {max(latencies):.0f} |"
    )
    lost = n - stored
    print(
        f"\nserver CPU while reading (Streamlit process): {server_cpu:.1f} s = {server_cpu / n * 1e3:.0f} ms "
        f"per submit; the rest of the {os.cpu_count()} cores went to the {args.readers} Chromium pages"
    )
    print(f"submitted {n}, stored {stored}, lost {lost}")
    if tab_result is not None:
        print(f"multi-tab (2+2+1 tabs x 10 submits): submitted {tab_result[0]}, stored {tab_result[1]}")
    if lost or (tab_result is not None and tab_result[0] != tab_result[1]):
        raise SystemExit("FAILED: submits were lost")


if __name__ == "__main__":
    main()
