"""`openai:URL#MODEL` against a real HTTP server on 127.0.0.1 (port 0), started here.

The server (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive) implements POST /v1/chat/completions: it checks the
request format, decodes the PNG data URL and answers from the pixels it received ("pixel model": labels from the
mean, a box / polygon around the brightest pixels in <bin_k> tokens, a report naming the mean and the size it
saw). It can be scripted to fail (500, 429 + Retry-After, a slow answer), to demand an API key, to serve one model
name only, and to hold requests after N answers (for the kill -9 test). Every answer it gives is logged, so the
adapter's records can be checked against the same answers read back through `imt-text:`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.models import Sample, TaskSpec, load_model
from bench.models.imt_text import ImtTextModel
from bench.models.openai_served import CACHE_FILE_NAME, OpenAIServedModel, ServedModelError
from bench.models.served_client import (
    MAX_BACKOFF_S,
    MAX_RETRY_AFTER_S,
    latency_percentiles,
    parse_retry_after,
    retry_delay,
)
from bench.records import Record

REPO = Path(__file__).resolve().parents[2]
MODEL = "pixel-vlm"
WIDTH, HEIGHT = 60, 40
SPEC = TaskSpec(
    tasks=("classification", "localization", "segmentation", "report"),
    labels=["Nodule", "Cardiomegaly", "Pleural Effusion", "Infiltration", "No Finding"],
    box_labels=["Nodule"],
    structures=["heart", "left lung"],
)
QUESTIONS_PER_IMAGE = 1 + 1 + 2 + 1
REPORT_ONLY = TaskSpec(tasks=("report",))
LABEL_ANSWERS = ["Nodule, Cardiomegaly", "Pleural Effusion", "No Finding", "Infiltration; Nodule"]


# ----------------------------------------------------------------------------- the server's "model"


def pixel_answer(pixels: np.ndarray, instruction: str) -> str:
    """Deterministic answer from the 8-bit pixels the server decoded (grammar of docs/models.md)."""
    h, w = pixels.shape
    mean = float(pixels.mean()) / 255.0
    peak = int(pixels.max())
    bright = np.argwhere(pixels >= 0.9 * peak) if peak >= 26 else np.empty((0, 2), dtype=int)

    def bins() -> list[int] | None:
        if not len(bright):
            return None
        (y0, x0), (y1, x1) = bright.min(axis=0), bright.max(axis=0) + 1
        return [round(x0 / w * 999), round(y0 / h * 999), round(x1 / w * 999), round(y1 / h * 999)]

    asked = instruction.casefold()
    if "segment" in asked:
        if "left lung" in asked:
            return "<bin_5>"  # one coordinate: unparseable, must be counted
        box = bins()
        if box is None:
            return "none"
        x0, y0, x1, y1 = box
        return " ".join(f"<bin_{k}>" for k in (x0, y0, x1, y0, x1, y1, x0, y1))
    if "where is" in asked or "bounding box" in asked:
        box = bins()
        return "none" if box is None else " ".join(f"<bin_{k}>" for k in box)
    if "disease" in asked:
        return "I cannot tell." if mean < 0.05 else LABEL_ANSWERS[int(mean * 1000) % len(LABEL_ANSWERS)]
    if "describe" in asked:
        return f"Mean intensity {mean:.4f} at {w}x{h}."
    return "unknown question"


class FakeServer:
    """State and script of the loopback server; `behaviours` are consumed one per request."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        required_key: str | None = None,
        behaviours: list[tuple[Any, ...]] | None = None,
        always_status: int | None = None,
        hold_after: int | None = None,
        drop_idle_connections: bool = False,
    ):
        self.latency = latency
        self.required_key = required_key
        self.behaviours: deque[tuple[Any, ...]] = deque(behaviours or [])
        self.always_status = always_status
        self.hold_after = hold_after
        self.drop_idle_connections = drop_idle_connections  # close after each answer, without saying so
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.requests = 0
        self.answered = 0
        self.reserved = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.authorizations: list[str | None] = []
        self.payloads: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []  # one per answer given: image sha, size, instruction, answer

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], dict[str, Any]]:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        with self.lock:
            self.requests += 1
            self.authorizations.append(handler.headers.get("Authorization"))
            behaviour = self.behaviours.popleft() if self.behaviours else ("ok",)
        if handler.path != "/v1/chat/completions":
            return 404, {}, {"error": {"message": f"no route {handler.path}"}}
        if self.required_key and handler.headers.get("Authorization") != f"Bearer {self.required_key}":
            return 401, {}, {"error": {"message": "Unauthorized", "type": "invalid_request_error"}}
        payload = json.loads(body)
        if payload["model"] != MODEL:
            return 404, {}, {"error": {"message": f"The model `{payload['model']}` does not exist."}}
        if behaviour[0] == "status":
            return behaviour[1], behaviour[2] if len(behaviour) > 2 else {}, {"error": {"message": "busy"}}
        if behaviour[0] == "sleep":
            time.sleep(behaviour[1])
        if self.always_status is not None:
            return self.always_status, {}, {"error": {"message": "overloaded"}}
        pixels, instruction = self.read_request(payload)
        if self.hold_after is not None:
            with self.lock:
                hold = self.reserved >= self.hold_after
                self.reserved += not hold
            if hold:
                self.gate.wait(60)
                return 503, {}, {"error": {"message": "held"}}
        time.sleep(self.latency)
        answer = pixel_answer(pixels, instruction)
        with self.lock:
            self.answered += 1
            self.payloads.append({k: v for k, v in payload.items() if k != "messages"})
            self.log.append(
                {
                    "sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
                    "size": list(pixels.shape),
                    "instruction": instruction,
                    "answer": answer,
                }
            )
        return (
            200,
            {},
            {
                "id": f"chatcmpl-{self.answered}",
                "object": "chat.completion",
                "model": MODEL,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            },
        )

    @staticmethod
    def read_request(payload: dict[str, Any]) -> tuple[np.ndarray, str]:
        from PIL import Image

        (message,) = payload["messages"]
        assert message["role"] == "user"
        image_part, text_part = message["content"]
        assert image_part["type"] == "image_url" and text_part["type"] == "text"
        prefix = "data:image/png;base64,"
        url = image_part["image_url"]["url"]
        assert url.startswith(prefix)
        image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :], validate=True)))
        assert image.format == "PNG" and image.mode == "L"
        return np.asarray(image), text_part["text"]


@contextmanager
def serve(**options: Any) -> Iterator[tuple[str, FakeServer]]:
    state = FakeServer(**options)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like uvicorn behind vLLM
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:  # noqa: N802
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                status, headers, body = state.handle(self)
            finally:
                with state.lock:
                    state.in_flight -= 1
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout) or was killed
            if state.drop_idle_connections:
                self.close_connection = True  # like a keep-alive timeout expiring between two requests

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        state.gate.set()
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------- samples


def _samples() -> list[Sample]:
    """Three 60 x 40 images: mid-grey with a white rectangle (x 10..30, y 5..20), darker with a white rectangle
    (x 40..55, y 25..38), and black (unparseable label answer, no box)."""
    rng = np.random.default_rng(0)
    images = []
    for level, rect in ((0.5, (10, 30, 5, 20)), (0.3, (40, 55, 25, 38)), (0.0, None)):
        image = np.clip(level + 0.02 * rng.standard_normal((HEIGHT, WIDTH)), 0, 0.6 if level else 0).astype(
            np.float32
        )
        if rect:
            x0, x1, y0, y1 = rect
            image[y0:y1, x0:x1] = 1.0
        images.append(image)
    info = {"width": WIDTH, "height": HEIGHT}
    return [Sample(Record(id=f"img{i}", image=info), image) for i, image in enumerate(images)]


def _sha_of(image: np.ndarray) -> str:
    return hashlib.sha256(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8).tobytes()).hexdigest()


def _answers_file(path: Path, log: list[dict[str, Any]], samples: list[Sample]) -> Path:
    """The server's answers as an `imt-text:` file; the id is found by the hash of the pixels the server decoded
    (a single sample: its id, whatever size was sent)."""
    ids = {_sha_of(s.image): s.record.id for s in samples}
    lines = [
        json.dumps(
            {
                "id": samples[0].record.id if len(samples) == 1 else ids[e["sha256"]],
                "instruction": e["instruction"],
                "answer": e["answer"],
                "image_size": e["size"],
            }
        )
        for e in log
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _model(url: str, **options: Any) -> OpenAIServedModel:
    options.setdefault("backoff", 0.01)
    model = load_model(f"openai:{url}#{MODEL}", **options)
    assert isinstance(model, OpenAIServedModel)
    return model


# ----------------------------------------------------------------------------- answers -> records


def test_records_are_the_servers_answers_parsed_like_imt_text(tmp_path: Path) -> None:
    samples = _samples()
    with serve() as (url, server):
        model = _model(url, concurrency=4, cache=str(tmp_path / "cache.jsonl"), seed=7, max_tokens=64)
        records = model.predict(samples, SPEC)
    assert server.requests == server.answered == len(samples) * QUESTIONS_PER_IMAGE
    # lossless transport: the server decoded exactly round(clip(x) * 255) of every image, at full size
    assert {e["sha256"] for e in server.log} == {_sha_of(s.image) for s in samples}
    assert {tuple(e["size"]) for e in server.log} == {(HEIGHT, WIDTH)}
    assert all(
        p == {"model": MODEL, "temperature": 0.0, "max_tokens": 64, "seed": 7} for p in server.payloads
    )
    reference = ImtTextModel(str(_answers_file(tmp_path / "answers.jsonl", server.log, samples)))
    assert records == reference.predict(samples, SPEC)
    # hand-computed: the box around x 10..30, y 5..20 comes back within one bin (60 / 999 px)
    (box,) = records[0].boxes
    np.testing.assert_allclose(box.bbox, [10, 5, 30, 20], atol=WIDTH / 999)
    assert (
        records[0].report
        == f"Mean intensity {np.round(np.clip(samples[0].image, 0, 1) * 255).mean() / 255:.4f} at 60x40."
    )
    assert records[2].labels is None and records[2].boxes == []  # "I cannot tell.": no value, never a default
    info = model.describe()
    assert info["requests"]["http_requests"] == info["requests"]["answers_received"] == 15
    assert info["requests"]["retries"] == info["requests"]["failures"] == 0
    assert info["requests"]["latency_ms"]["n"] == 15
    assert info["cache"]["appended"] == 15 and info["cache"]["hits"] == 0
    assert info["answers_parsed"] == 15
    assert info["parse_failures"] == reference.describe()["parse_failures"]
    assert info["parse_failures"]["Please segment the {} from the given image."] == 3
    assert info["requests"]["usage"] == {"prompt_tokens": 150, "completion_tokens": 45}
    assert info["requests"]["served_models"] == {MODEL: 15}


def test_max_side_downscales_and_boxes_map_back_with_the_stretch_geometry(tmp_path: Path) -> None:
    samples = _samples()[:1]
    with serve() as (url, server):
        model = _model(url, max_side=30)
        (record,) = model.predict(samples, SPEC)
    assert {tuple(e["size"]) for e in server.log} == {(20, 30)}
    assert record.report.endswith("at 30x20.")
    # the rectangle's edges blur over one sent pixel = 2 original pixels
    np.testing.assert_allclose(record.boxes[0].bbox, [10, 5, 30, 20], atol=2.0)
    reference = ImtTextModel(str(_answers_file(tmp_path / "answers.jsonl", server.log, samples)))
    assert [record] == reference.predict(samples, SPEC)
    assert model.describe()["image_encoding"]["sizes_sent"] == {"20x30": 1}


# ----------------------------------------------------------------------------- transport


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_is_bounded(concurrency: int) -> None:
    with serve(latency=0.05) as (url, server):
        model = _model(url, concurrency=concurrency)
        model.predict(_samples(), SPEC)
    assert server.answered == 15
    assert server.max_in_flight == concurrency  # reached, never exceeded


def test_server_errors_are_retried_with_backoff() -> None:
    with serve(behaviours=[("status", 500), ("status", 503)]) as (url, server):
        model = _model(url, concurrency=1)
        (record,) = model.predict(_samples()[:1], REPORT_ONLY)
    assert server.requests == 3 and record.report.startswith("Mean intensity")
    requests = model.describe()["requests"]
    assert requests["retries"] == 2 and requests["retry_reasons"] == {"500": 1, "503": 1}
    assert requests["http_requests"] == 3 and requests["answers_received"] == 1 and requests["failures"] == 0


def test_429_waits_for_retry_after() -> None:
    with serve(behaviours=[("status", 429, {"Retry-After": "1"})]) as (url, server):
        model = _model(url, backoff=0.001)
        started = time.perf_counter()
        model.predict(_samples()[:1], REPORT_ONLY)
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.95  # the backoff alone would have waited at most 1 ms
    assert server.requests == 2 and model.describe()["requests"]["retry_reasons"] == {"429": 1}


def test_slow_answer_hits_the_timeout_and_is_retried() -> None:
    with serve(behaviours=[("sleep", 2.0)]) as (url, server):
        model = _model(url, timeout=0.3)
        started = time.perf_counter()
        (record,) = model.predict(_samples()[:1], REPORT_ONLY)
        elapsed = time.perf_counter() - started
    assert elapsed < 1.5 and record.report.startswith("Mean intensity")
    requests = model.describe()["requests"]
    assert requests["retry_reasons"] == {"timeout": 1} and requests["answers_received"] == 1


def test_keep_alive_connection_closed_by_the_server_is_resent_not_retried() -> None:
    with serve(drop_idle_connections=True) as (url, server):
        model = _model(url, concurrency=1)
        records = model.predict(_samples(), REPORT_ONLY)
    assert [r.report.startswith("Mean intensity") for r in records] == [True] * 3
    requests = model.describe()["requests"]
    assert requests["stale_connections_resent"] == 2 and requests["retries"] == 0
    assert server.answered == 3


def test_retries_exhausted_name_url_model_and_last_status() -> None:
    with serve(always_status=503) as (url, server):
        model = _model(url, max_retries=2)
        with pytest.raises(ServedModelError) as error:
            model.predict(_samples()[:1], REPORT_ONLY)
    message = str(error.value)
    assert "\n" not in message and url in message and MODEL in message
    assert "after 3 attempt(s)" in message and "503" in message and "overloaded" in message
    assert server.requests == 3
    assert model.describe()["requests"]["failures"] == 1


def test_401_and_404_fail_at_once_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve(required_key="sekret") as (url, server):
        with pytest.raises(ServedModelError) as error:
            _model(url).predict(_samples()[:1], REPORT_ONLY)
        assert server.requests == 1  # never retried
    message = str(error.value)
    assert "\n" not in message and url in message and MODEL in message and " 401 " in message
    assert "$OPENAI_API_KEY, which is not set" in message
    with serve() as (url, server):
        with pytest.raises(ServedModelError) as error:
            load_model(f"openai:{url}#no-such-model", backoff=0.01).predict(_samples()[:1], REPORT_ONLY)
        assert server.requests == 1
    message = str(error.value)
    assert "\n" not in message and " 404 " in message and "'no-such-model'" in message
    assert "The model `no-such-model` does not exist." in message


def test_cli_reports_a_404_as_one_line_and_exit_1(
    tmp_path: Path, demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rich.console import Console

    from bench.run.cli_run import run_command
    from bench.run.settings import ScoreSettings

    out = io.StringIO()
    with serve() as (url, server):
        code = run_command(
            f"openai:{url}#wrong", "chestxray14", demo_root, tmp_path / "run",
            settings=ScoreSettings(n_boot=0, meteor=False), bertscore=False, console=Console(file=out, width=2000),
        )  # fmt: skip
    assert code == 1 and server.requests >= 1  # a failed run (bench.errors); the error goes to stderr
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert line.startswith("error:") and "404" in line and "'wrong'" in line


def test_api_key_is_sent_as_bearer_and_never_described(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXR_TEST_KEY", "sekret-123")
    with serve(required_key="sekret-123") as (url, server):
        model = _model(url, api_key_env="CXR_TEST_KEY")
        model.predict(_samples()[:1], REPORT_ONLY)
    assert server.authorizations == ["Bearer sekret-123"]
    info = model.describe()
    assert info["api_key"] == {"env": "CXR_TEST_KEY", "set": True}
    assert "sekret-123" not in json.dumps(info)


def test_bad_specs_and_options_are_one_sentence() -> None:
    with pytest.raises(ValueError, match=r"expected openai:URL#MODEL"):
        load_model("openai:http://127.0.0.1:8000/v1")
    with pytest.raises(ValueError, match=r"must be http\(s\)://"):
        load_model("openai:ftp://host/v1#m")
    with pytest.raises(ValueError, match=r"carries credentials") as error:
        load_model("openai:http://user:pw@host/v1#m")
    assert "pw" not in str(error.value)
    with pytest.raises(ValueError, match=r"bad option\(s\) concurrency, timeout"):
        load_model("openai:http://127.0.0.1:1/v1#m", concurrency=0, timeout=0)


# ----------------------------------------------------------------------------- retry arithmetic


def test_retry_after_and_backoff_arithmetic() -> None:
    import random

    assert parse_retry_after("2") == 2.0 and parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=10.0) == pytest.approx(20.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert retry_delay(0, 0.5, 3600.0) == MAX_RETRY_AFTER_S  # capped
    assert retry_delay(3, 0.5, 2.0) == 2.0
    rng = random.Random(0)
    for attempt in range(12):
        ceiling = min(MAX_BACKOFF_S, 0.5 * 2**attempt)
        draws = [retry_delay(attempt, 0.5, None, rng) for _ in range(200)]
        assert min(draws) >= 0.0 and max(draws) <= ceiling and max(draws) > 0.8 * ceiling  # full jitter
    assert latency_percentiles([0.001 * k for k in range(1, 101)]) == {
        "n": 100, "p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0
    }  # fmt: skip


# ----------------------------------------------------------------------------- answer cache


def test_rerun_sends_nothing_and_the_key_tracks_what_decides_an_answer(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache.jsonl")
    samples = _samples()
    with serve() as (url, server):
        first = _model(url, cache=cache).predict(samples, SPEC)
        assert server.requests == 15
        again = _model(url, cache=cache, concurrency=2, timeout=5.0)  # transport settings: not in the key
        assert again.predict(samples, SPEC) == first and server.requests == 15
        summary = again.describe()["cache"]
        assert (summary["entries_loaded"], summary["hits"], summary["appended"]) == (15, 15, 0)
        assert summary["torn_lines_ignored"] == 0 and summary["source"] == "option"
        _model(url, cache=cache, max_tokens=32).predict(samples, SPEC)  # generation: in the key
        assert server.requests == 30
        _model(url, cache=cache, max_side=30).predict(samples, SPEC)  # other pixels sent: in the key
        assert server.requests == 45
    lines = Path(cache).read_text().splitlines()
    assert len(lines) == 45 and all(json.loads(line)["model"] == MODEL for line in lines)


def test_torn_last_line_is_ignored_counted_and_re_asked(tmp_path: Path) -> None:
    cache = tmp_path / "cache.jsonl"
    samples = _samples()
    with serve() as (url, server):
        first = _model(url, cache=str(cache)).predict(samples, SPEC)
        data = cache.read_bytes()
        cache.write_bytes(data[: len(data) - 40])  # kill -9 in the middle of the last line
        model = _model(url, cache=str(cache))
        assert model.predict(samples, SPEC) == first
        assert server.requests == 16  # only the torn answer is asked again
        summary = model.describe()["cache"]
        assert (summary["entries_loaded"], summary["torn_lines_ignored"], summary["appended"]) == (14, 1, 1)
    # the re-asked answer went to a line of its own: every line but the torn one parses
    lines = cache.read_bytes().split(b"\n")
    assert lines[-1] == b"" and sum(1 for line in lines[:-1] if _parses(line)) == 15
    assert sum(1 for line in lines[:-1] if not _parses(line)) == 1


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_use_cache_dir_defaults_to_the_run_dir_and_the_option_wins(tmp_path: Path) -> None:
    with serve() as (url, _):
        model = _model(url)
        model.use_cache_dir(tmp_path / "run")
        model.use_cache_dir(tmp_path / "run")  # idempotent
        model.predict(_samples()[:1], REPORT_ONLY)
        assert (tmp_path / "run" / CACHE_FILE_NAME).is_file()
        explicit = _model(url, cache=str(tmp_path / "mine.jsonl"))
        explicit.use_cache_dir(tmp_path / "run2")
        explicit.predict(_samples()[:1], REPORT_ONLY)
    assert (tmp_path / "mine.jsonl").is_file() and not (tmp_path / "run2").exists()
    assert model.describe()["cache"]["source"] == "run dir"


# ----------------------------------------------------------------------------- kill -9 and resume

CLIENT = """
import sys
from pathlib import Path
from rich.console import Console
from bench.run import runner
from bench.run.score import ScoreSettings

spec, root, out = sys.argv[1:4]
construct = runner.construct_model

def construct_with_cache(model_spec, device, **options):
    model = construct(model_spec, device, concurrency=3, backoff=0.01, **options)
    model.use_cache_dir(Path(out))  # the runner calls it too (idempotent); kept so this test needs only the adapter
    return model

runner.construct_model = construct_with_cache
runner.run(spec, "chestxray14", root, "test", out_dir=out, batch_size=3, workers=0,
           settings=ScoreSettings(n_boot=0, meteor=False), progress=False, console=Console(stderr=True))
"""


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.datasets.demo import write_demo

    out = tmp_path_factory.mktemp("openai-demo")
    return write_demo(out, names=["chestxray14"], n=24, seed=0, workers=1)["chestxray14"]


def _complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _run_in_process(script: Path, spec: str, root: Path, out: Path) -> None:
    namespace: dict[str, Any] = {}
    argv = sys.argv
    sys.argv = ["client", spec, str(root), str(out)]
    import bench.run.runner as runner

    original = runner.construct_model
    try:
        exec(compile(script.read_text(), str(script), "exec"), namespace)
    finally:
        sys.argv = argv
        runner.construct_model = original


def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path: Path, demo_root: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    hold = 20  # 5 questions an image, 3 images a chunk: chunk 0 written, chunk 1 a third answered
    with serve(hold_after=hold, latency=0.01) as (url, server):
        spec = f"openai:{url}#{MODEL}"
        log = open(tmp_path / "client.log", "wb")  # noqa: SIM115
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen([sys.executable, str(script), spec, str(demo_root), str(killed)], stdout=log, stderr=log, env=env)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while _complete_lines(killed / CACHE_FILE_NAME) < hold or server.requests <= hold:
                assert proc.poll() is None, (tmp_path / "client.log").read_text()
                assert time.monotonic() < deadline, "the client never reached the held request"
                time.sleep(0.02)
        finally:
            proc.kill()  # SIGKILL, mid-run: answers cached, later requests held by the server
            proc.wait()
            log.close()
        assert proc.returncode == -9
        assert _complete_lines(killed / CACHE_FILE_NAME) == hold
        assert not (killed / "predictions.jsonl").exists()
        chunks_done = len(list((killed / "parts").glob("chunk-*.jsonl")))
        server.hold_after = None
        server.gate.set()
        before = server.requests
        _run_in_process(script, spec, demo_root, killed)
        resumed_requests = server.requests - before
        before = server.requests
        _run_in_process(script, spec, demo_root, whole)
        whole_requests = server.requests - before
    assert chunks_done >= 1  # the kill came after at least one chunk was written
    assert resumed_requests == whole_requests - hold > 0
    assert (killed / "predictions.jsonl").read_bytes() == (whole / "predictions.jsonl").read_bytes()
    results = sorted(p.name for p in (whole / "results").iterdir())
    assert results == sorted(p.name for p in (killed / "results").iterdir()) and results
    for name in results:
        assert json.loads((killed / "results" / name).read_text()) == json.loads(
            (whole / "results" / name).read_text()
        )
    assert (
        _complete_lines(killed / CACHE_FILE_NAME)
        == _complete_lines(whole / CACHE_FILE_NAME)
        == whole_requests
    )
