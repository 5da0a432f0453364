"""Answers/s of `openai:URL#MODEL` against a loopback server that sleeps a fixed latency per request, beside the
rate a raw minimal client (threads posting a prebuilt body over keep-alive connections) gets from the same server.

The server runs in its own process (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive), so it does not share the
client's GIL; it counts the requests it answered. Ideal rate = concurrency / latency. When the adapter's rate is
close to the raw client's, the server (not the adapter: PNG encoding, hashing, JSON, the cache) is the limit.
Images are uniform noise (the worst case for PNG encoding, which the adapter does once per image); with one
question per image every request pays an encoding, with 8 (localization, 8 box labels) one in eight does.

    .venv/bin/python benchmarks/bench_openai_served.py --latency 0.02 --side 256
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.models.base import Sample, TaskSpec
from bench.models.openai_served import OpenAIServedModel, png_base64, to_sent_image
from bench.models.served_client import chat_body_parts
from bench.records import Record

ANSWER = json.dumps(
    {
        "object": "chat.completion",
        "model": "bench",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "No Finding"}, "finish_reason": "stop"}
        ],
    }
).encode()


def _serve(latency: float, ready: Any, count: Any) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(latency)
            with count.get_lock():
                count.value += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    ready.put(server.server_address[1])
    server.serve_forever(poll_interval=0.05)


def raw_client(port: int, body: bytes, n: int, concurrency: int) -> float:
    """Seconds for `n` POSTs by `concurrency` threads, one keep-alive connection each, nothing else."""
    left = [n]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        while True:
            with lock:
                if left[0] == 0:
                    break
                left[0] -= 1
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


BOX_LABELS = [
    "Nodule",
    "Mass",
    "Atelectasis",
    "Cardiomegaly",
    "Pleural Effusion",
    "Infiltration",
    "Pneumonia",
]
BOX_LABELS += ["Pneumothorax"]


def spec_for(questions: int) -> TaskSpec:
    if questions == 1:
        return TaskSpec(tasks=("report",))
    return TaskSpec(tasks=("localization",), box_labels=BOX_LABELS[:questions])


def adapter_run(
    url: str, samples: list[Sample], concurrency: int, batch: int, cache: str | None, spec: TaskSpec
) -> tuple[float, Any]:
    model = OpenAIServedModel(f"{url}#bench", concurrency=concurrency, cache=cache)
    start = time.perf_counter()
    for i in range(0, len(samples), batch):
        model.predict(samples[i : i + batch], spec)
    return time.perf_counter() - start, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.02, help="server sleep per request (s)")
    parser.add_argument("--side", type=int, default=256, help="image side (px)")
    parser.add_argument("--seconds", type=float, default=1.5, help="ideal seconds per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--questions", type=int, nargs="+", default=[1, 8], help="questions per image (1..8)")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    ready, count = ctx.Queue(), ctx.Value("l", 0)
    server = ctx.Process(target=_serve, args=(args.latency, ready, count), daemon=True)
    server.start()
    port = ready.get(timeout=30)
    url = f"http://127.0.0.1:{port}/v1"
    rng = np.random.default_rng(0)
    top = max(args.concurrency)
    n_max = int(args.seconds * top / args.latency)
    images = [rng.random((args.side, args.side), dtype=np.float32) for _ in range(n_max)]
    samples = [
        Sample(Record(id=f"i{k}", image={"width": args.side, "height": args.side}), image)
        for k, image in enumerate(images)
    ]
    head, tail = chat_body_parts("bench", "Describe the image.", {"temperature": 0.0, "max_tokens": 256})
    body = head + png_base64(to_sent_image(images[0], 0).pixels) + tail
    print(
        f"loopback server in its own process, {args.latency * 1000:.0f} ms per request, {args.side}² grey PNG of "
        f"noise ({len(body) / 1024:.0f} KiB per request); answers/s, wall clock"
    )
    print()
    print("| questions / image | concurrency | requests | ideal | raw client | adapter | adapter / raw "
          "| adapter + JSONL cache | cached rerun | server count |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="cxrbench-openai-") as tmp:
        for q in args.questions:
            spec = spec_for(q)
            for c in args.concurrency:
                n = max(c * 4, int(args.seconds * c / args.latency))
                subset = samples[: max(1, n // q)]
                n = len(subset) * q
                batch = max(64, -(-c // q))
                count.value = 0
                raw = n / raw_client(port, body, n, c)
                plain_s, _ = adapter_run(url, subset, c, batch, None, spec)
                cache = str(Path(tmp) / f"cache-{q}-{c}.jsonl")
                cached_s, _ = adapter_run(url, subset, c, batch, cache, spec)
                rerun_s, rerun = adapter_run(url, subset, c, batch, cache, spec)
                assert rerun.describe()["requests"]["http_requests"] == 0
                served = count.value
                assert served == 3 * n, (served, n)
                print(
                    f"| {q} | {c} | {n} | {c / args.latency:.0f} | {raw:.0f} | {n / plain_s:.0f} "
                    f"| {n / plain_s / raw:.2f} | {n / cached_s:.0f} | {n / rerun_s:.0f} | {served} |"
                )
    server.terminate()
    server.join()


if __name__ == "__main__":
    main()
