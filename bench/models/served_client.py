"""A small HTTP client for OpenAI-compatible chat-completions servers (vLLM, SGLang, TGI), stdlib only.

Persistent keep-alive connections (a pool shared by the caller's threads), a per-request socket timeout, and
retries with exponential backoff and full jitter on 408 / 409 / 429 / 5xx, connection errors and timeouts; a
`Retry-After` header is honoured up to `MAX_RETRY_AFTER_S`. The retried statuses and the 60 s cap on
`Retry-After` follow the official client (openai-python `src/openai/_base_client.py`, `_should_retry` and
`_calculate_retry_timeout`); full jitter is `sleep = uniform(0, min(cap, base * 2 ** attempt))` ("Exponential
Backoff And Jitter", AWS Architecture Blog, 2015). Any other 4xx (401, 403, 404, 400 ...) is raised at once.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.errors import FailedError

MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 60.0
RETRIED_STATUSES = frozenset({408, 409, 429})  # and every status >= 500
_SNIPPET = 200
_IMAGE_SLOT = "@@CXRBENCH_IMAGE_SLOT@@"


class ServedModelError(FailedError, ValueError):
    """The server cannot answer (bad URL / model / key, or no answer after every retry); one line, no secret.

    A failed run (bench.errors): `cxrbench run` reports it as one line and exits 1."""


class Cancelled(Exception):
    """Another request of the same batch failed for good: this one stops instead of retrying."""


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None
    served_model: str | None
    system_fingerprint: str | None
    prompt_tokens: int
    completion_tokens: int


@dataclass
class ClientStats:
    """Counts over this process's requests (thread-safe through `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    http_requests: int = 0  # every attempt sent, retries included
    answers: int = 0  # 200 responses turned into a completion
    retries: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)  # "429", "503", "timeout", "connection"
    failures: int = 0  # requests given up (fatal status or retries exhausted)
    stale_connections: int = 0  # keep-alive connections the server had closed: re-sent once, not a retry
    latencies_s: list[float] = field(default_factory=list)  # of the successful attempts
    finish_reasons: Counter[str] = field(default_factory=Counter)
    served_models: Counter[str] = field(default_factory=Counter)
    system_fingerprints: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def summary(self) -> dict[str, Any]:
        with self.lock:
            latencies = sorted(self.latencies_s)
            return {
                "http_requests": self.http_requests,
                "answers_received": self.answers,
                "retries": self.retries,
                "retry_reasons": dict(sorted(self.retry_reasons.items())),
                "failures": self.failures,
                "stale_connections_resent": self.stale_connections,
                "latency_ms": latency_percentiles(latencies),
                "finish_reasons": dict(sorted(self.finish_reasons.items())),
                "served_models": dict(sorted(self.served_models.items())),
                "system_fingerprints": dict(sorted(self.system_fingerprints.items())),
                "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens},
            }


def latency_percentiles(sorted_seconds: list[float]) -> dict[str, float | int | None]:
    """p50 / p90 / p99 / max in milliseconds (nearest-rank percentiles), and the count."""
    n = len(sorted_seconds)

    def rank(p: float) -> float | None:
        if not n:
            return None
        return round(1000 * sorted_seconds[min(n - 1, max(0, math.ceil(p * n / 100) - 1))], 2)

    return {"n": n, "p50": rank(50), "p90": rank(90), "p99": rank(99), "max": rank(100)}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` (RFC 9110 10.2.3: delay-seconds or an HTTP-date) -> seconds to wait, None when absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)


def retry_delay(
    attempt: int, backoff: float, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt + 1`: the server's Retry-After (capped), else full jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_S)
    ceiling = min(MAX_BACKOFF_S, backoff * 2.0**attempt)
    return (rng or random).uniform(0.0, ceiling)


def error_message_of(body: bytes) -> str:
    """The server's own error text, one line: OpenAI / vLLM `{"error": {"message"}}`, TGI `{"error": "..."}`,
    FastAPI `{"detail"}`, else the raw body."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                text = str(value)
                break
    text = " ".join(text.split())
    return text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")


def chat_body_parts(
    model: str, instruction: str, generation: dict[str, Any], media_type: str = "image/png"
) -> tuple[bytes, bytes]:
    """The request body around the base64 image: `head + base64 + tail` is the JSON of one chat completion.

    One user message, image first then the instruction, as in the OpenAI API reference (content parts
    `{"type": "image_url", "image_url": {"url": ...}}` and `{"type": "text", "text": ...}`; openai-python
    `types/chat/chat_completion_content_part_image_param.py`) and vLLM's multimodal client example
    (`examples/online_serving/openai_chat_completion_client_for_multimodal.py`: a `data:<type>;base64,` URL)."""
    payload = {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{_IMAGE_SLOT}"}},
                    {"type": "text", "text": instruction},
                ],
            }
        ],
        **generation,
    }
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    head, tail = text.split(_IMAGE_SLOT)
    return head.encode("utf-8"), tail.encode("utf-8")


def parse_completion(data: bytes) -> Completion | None:
    """A 200 body -> Completion; None when it is not a chat completion."""
    try:
        body = json.loads(data)
        choice = body["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some servers answer with content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    usage = body.get("usage") or {}
    return Completion(
        text=content if isinstance(content, str) else "",
        finish_reason=choice.get("finish_reason"),
        served_model=body.get("model"),
        system_fingerprint=body.get("system_fingerprint"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )


class ChatClient:
    """POSTs chat-completion bodies to `{base_url}/chat/completions`; thread-safe."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None,
        api_key_env: str,
        timeout: float,
        max_retries: int,
        backoff: float,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"openai:{base_url}#{model}: the URL must be http(s)://HOST[:PORT]/PATH, the server's OpenAI base "
                "URL (e.g. http://127.0.0.1:8000/v1)"
            )
        if parts.username or parts.password:
            raise ValueError(
                f"openai:…#{model}: the URL carries credentials; put the key in ${api_key_env} instead "
                "(the spec is written to the manifest)"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"openai:{base_url}#{model}: the base URL must not have a query string")
        self.base_url = base_url
        self.model = model
        self.url = f"{base_url}/chat/completions"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = f"{parts.path.rstrip('/')}/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._api_key_env = api_key_env
        self._key_set = bool(api_key)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.stats = ClientStats()
        self._idle: list[http.client.HTTPConnection] = []
        self._idle_lock = threading.Lock()
        self._rng = random.Random()

    # ------------------------------------------------------------------ connections

    def _new_connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout)

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new_connection(), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._idle_lock:
            self._idle.append(conn)

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _post(self, body: bytes) -> tuple[int, str, http.client.HTTPMessage, bytes]:
        """One HTTP exchange. A reused keep-alive connection the server has closed meanwhile fails before any
        status line: that exchange is re-sent once on a fresh connection (not a retry)."""
        conn, reused = self._take()
        while True:
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if not reused:
                    raise
                with self.stats.lock:
                    self.stats.stale_connections += 1
                conn, reused = self._new_connection(), False
                continue
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._give_back(conn)
            return response.status, response.reason, response.headers, data

    # ------------------------------------------------------------------ requests

    def _fatal(self, status: int, reason: str, data: bytes) -> ServedModelError:
        where = f"openai:{self.base_url}#{self.model}: POST {self.url} answered {status} {reason}".rstrip()
        hint = ""
        if status in (401, 403):
            state = "is set" if self._key_set else "is not set"
            hint = f" (the API key comes from ${self._api_key_env}, which {state})"
        elif status == 404:
            hint = (
                " (is the URL the server's OpenAI base URL, usually ending in /v1, and "
                f"{self.model!r} a served model name? GET {self.base_url}/models lists them)"
            )
        message = error_message_of(data)
        return ServedModelError(f"{where}{hint}" + (f": {message}" if message else ""))

    def complete(self, body: bytes, stop: threading.Event | None = None) -> Completion:
        """POST one body until it is answered; ServedModelError when it cannot be, Cancelled when `stop` is set."""
        stop = stop or threading.Event()
        last = "nothing sent"
        for attempt in range(self.max_retries + 1):
            if stop.is_set():
                raise Cancelled
            retry_after: float | None = None
            with self.stats.lock:
                self.stats.http_requests += 1
            started = time.perf_counter()
            try:
                status, reason, headers, data = self._post(body)
            except TimeoutError:
                cause, last = "timeout", f"no response within the {self.timeout:g} s timeout"
            except (OSError, http.client.HTTPException) as exc:
                cause, last = "connection", f"connection error ({type(exc).__name__}: {exc})"
            else:
                if status == 200:
                    return self._accept(data, time.perf_counter() - started)
                if status not in RETRIED_STATUSES and status < 500:
                    with self.stats.lock:
                        self.stats.failures += 1
                    raise self._fatal(status, reason, data)
                message = error_message_of(data)
                cause, last = str(status), f"{status} {reason}" + (f": {message}" if message else "")
                retry_after = parse_retry_after(headers.get("Retry-After"))
            if attempt == self.max_retries:
                break
            with self.stats.lock:
                self.stats.retries += 1
                self.stats.retry_reasons[cause] += 1
            with self.stats.lock:  # random.Random is not documented thread-safe
                delay = retry_delay(attempt, self.backoff, retry_after, self._rng)
            if stop.wait(delay):
                raise Cancelled
        with self.stats.lock:
            self.stats.failures += 1
        raise ServedModelError(
            f"openai:{self.base_url}#{self.model}: no answer from POST {self.url} after "
            f"{self.max_retries + 1} attempt(s); last: {last}"
        )

    def _accept(self, data: bytes, seconds: float) -> Completion:
        completion = parse_completion(data)
        if completion is None:
            with self.stats.lock:
                self.stats.failures += 1
            raise ServedModelError(
                f"openai:{self.base_url}#{self.model}: POST {self.url} answered 200 but not a chat completion "
                f"(no choices[0].message): {error_message_of(data)}"
            )
        with self.stats.lock:
            s = self.stats
            s.answers += 1
            s.latencies_s.append(seconds)
            s.finish_reasons[str(completion.finish_reason)] += 1
            if completion.served_model:
                s.served_models[completion.served_model] += 1
            if completion.system_fingerprint:
                s.system_fingerprints[completion.system_fingerprint] += 1
            s.prompt_tokens += completion.prompt_tokens
            s.completion_tokens += completion.completion_tokens
        return completion
