"""`openai:URL#MODEL`: a vision-language model behind an OpenAI-compatible chat-completions server (vLLM, SGLang,
TGI), e.g. `openai:http://127.0.0.1:8000/v1#medgemma-4b` (POST URL/chat/completions, model MODEL).

The model is asked the prompt set's instructions exactly as `hf:` asks them (first template per task), one
request per (image, question): one user message with the image as a lossless 8-bit grey PNG data URL, then the
instruction; greedy (temperature 0), `max_tokens`, optional `seed`. Answers go through `AnswerDecoder` like
`imt-text:`. Requests run `concurrency` at a time; every answer is appended to an answer cache (JSONL) keyed by
a hash of what decides it, so a killed run resumes without re-asking and a rerun sends nothing. See
docs/_drafts/openai.md.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.models.answer_cache import AnswerCache, answer_key
from bench.models.base import TASKS, ModelAdapter, Sample, TaskSpec
from bench.models.imt_text import Answer, AnswerDecoder, PromptSet, Question
from bench.models.served_client import (
    MAX_BACKOFF_S,
    MAX_RETRY_AFTER_S,
    Cancelled,
    ChatClient,
    ServedModelError,
    chat_body_parts,
)
from bench.records import Record

__all__ = ["CACHE_FILE_NAME", "OpenAIServedModel", "ServedModelError"]

CACHE_FILE_NAME = "answers_cache.jsonl"
PNG_COMPRESS_LEVEL = 1
# part of every cache key: bump when the request (message layout, image encoding) changes meaning
REQUEST_FORMAT = "chat.completions/user[image_url png data-url, text]/v1"


@dataclass(frozen=True)
class SentImage:
    """The image as the server gets it: 8-bit grey pixels (maybe downscaled), their hash and [H, W]."""

    pixels: np.ndarray
    sha256: str
    size: tuple[int, int]


def to_sent_image(image: np.ndarray, max_side: int) -> SentImage:
    """[0, 1] float (H, W) -> 8-bit pixels, `round(clip(x) * 255)` as `hf:` does; when `max_side` > 0 and the
    longer side exceeds it, first shrunk (bilinear, Pillow) keeping the aspect ratio."""
    import hashlib

    from PIL import Image

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {image.shape}")
    h, w = image.shape
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        pil = Image.fromarray(np.ascontiguousarray(image))  # float32 -> mode F
        image = np.asarray(pil.resize((new_w, new_h), Image.Resampling.BILINEAR), dtype=np.float32)
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    digest = hashlib.sha256(f"{pixels.shape[0]}x{pixels.shape[1]}:".encode() + pixels.tobytes()).hexdigest()
    return SentImage(pixels, digest, (int(pixels.shape[0]), int(pixels.shape[1])))


def png_base64(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    # mode L: lossless 8-bit grey; level 1 is ~30 % faster than the default 6 for ~10 % more bytes
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return base64.b64encode(buffer.getvalue())


def parse_target(target: str) -> tuple[str, str]:
    """`URL#MODEL` -> (base URL without trailing '/', model name)."""
    url, sep, model = target.partition("#")
    url = url.strip().rstrip("/")
    if not sep or not model.strip() or not url:
        raise ValueError(
            f"openai:{target}: expected openai:URL#MODEL, the server's OpenAI base URL and the served model name, "
            "e.g. openai:http://127.0.0.1:8000/v1#medgemma-4b"
        )
    return url, model.strip()


class OpenAIServedModel(ModelAdapter):
    tasks = frozenset(TASKS)
    score_type = "binary"  # text labels are 0/1 (docs/models.md)

    def __init__(
        self,
        target: str,
        *,
        prompts: str | None = None,
        resize: str | None = None,
        unparseable_labels: str = "absent",
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_tokens: int = 256,
        seed: int | None = None,
        max_side: int = 0,
        api_key_env: str = "OPENAI_API_KEY",
        cache: str | None = None,
    ):
        self.base_url, self.model = parse_target(target)
        checks = {
            "concurrency": concurrency >= 1,
            "timeout": timeout > 0,
            "max_retries": max_retries >= 0,
            "backoff": backoff >= 0,
            "max_tokens": max_tokens >= 1,
            "max_side": max_side >= 0,
            "api_key_env": bool(api_key_env.strip()),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"openai:{target}: bad option(s) {', '.join(bad)} (concurrency, max_tokens >= 1; timeout > 0; "
                "max_retries, backoff, max_side >= 0; api_key_env a variable name)"
            )
        self.prompts = PromptSet.load(prompts)
        self.decoder = AnswerDecoder(self.prompts, resize=resize, unparseable_labels=unparseable_labels)
        self.resize_source = "argument" if resize is not None else "prompt set"
        self.concurrency = concurrency
        self.max_side = max_side
        self.api_key_env = api_key_env
        api_key = os.environ.get(api_key_env) or None
        self.api_key_set = api_key is not None  # the key itself is never kept outside the client's header
        self.client = ChatClient(
            self.base_url,
            self.model,
            api_key=api_key,
            api_key_env=api_key_env,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
        )
        self.generation: dict[str, Any] = {"temperature": 0.0, "max_tokens": max_tokens}
        if seed is not None:
            self.generation["seed"] = seed
        self.cache_source = "option" if cache is not None else None
        self.cache = AnswerCache(Path(cache) if cache is not None else None)
        self.sizes_sent: dict[str, int] = {}

    # ------------------------------------------------------------------ cache

    def use_cache_dir(self, run_dir: str | os.PathLike[str]) -> None:
        """Keep answers in RUN_DIR/answers_cache.jsonl, unless the `cache` option named a file (it wins).
        Idempotent; call it before `predict` (every torchrun rank may call it with the same run dir)."""
        if self.cache_source == "option":
            return
        path = Path(run_dir) / CACHE_FILE_NAME
        if self.cache.path == path:
            return
        self.cache.close()
        self.cache = AnswerCache(path)
        self.cache_source = "run dir"

    def _key(self, instruction: str, image_sha256: str) -> str:
        # the base URL is part of the key: a model name alone need not identify weights across servers
        return answer_key(
            {
                "request_format": REQUEST_FORMAT,
                "base_url": self.base_url,
                "model": self.model,
                "instruction": instruction,
                "image_sha256": image_sha256,
                "generation": self.generation,
            }
        )

    # ------------------------------------------------------------------ adapter

    def predict(self, batch: list[Sample], spec: TaskSpec) -> list[Record]:
        tasks = [task for task in TASKS if task in spec.tasks and task in self.tasks]
        questions = [
            q for task in tasks for q in AnswerDecoder.questions(self.prompts.templates[task][0], task, spec)
        ]
        instructions = {q: self.prompts.instruction(q.template, q.target) for q in questions}
        sent: list[SentImage] = []
        for sample in batch:
            if sample.image is None:
                raise ValueError(
                    f"openai:{self.base_url}#{self.model} needs pixels; {sample.record.id!r} has none"
                )
            image = to_sent_image(sample.image, self.max_side)
            sent.append(image)
            label = f"{image.size[0]}x{image.size[1]}"
            self.sizes_sent[label] = self.sizes_sent.get(label, 0) + 1
        texts: list[dict[Question, str]] = [{} for _ in batch]
        missing: dict[
            str, list[tuple[int, Question]]
        ] = {}  # key -> where its answer goes (image-major order)
        for i, image in enumerate(sent):
            for question in questions:
                key = self._key(instructions[question], image.sha256)
                entry = self.cache.get(key)
                if entry is not None:
                    texts[i][question] = entry["answer"]
                else:
                    missing.setdefault(key, []).append((i, question))
        if missing:
            answered = self._ask(missing, sent, instructions)
            for key, places in missing.items():
                for i, question in places:
                    texts[i][question] = answered[key]
        self.cache.sync()
        records = []
        for sample, image, answers in zip(batch, sent, texts, strict=True):
            given = {q: Answer(answers[q], image.size) for q in questions}
            records.append(self.decoder.to_record(sample, spec, tasks, given))
        return records

    def _ask(
        self,
        missing: dict[str, list[tuple[int, Question]]],
        sent: list[SentImage],
        instructions: dict[Question, str],
    ) -> dict[str, str]:
        """Ask every missing (image, question), `concurrency` at a time; each answer is cached as it arrives.
        The first request that fails for good stops the others (what was answered stays cached) and is raised."""
        # each image is PNG-encoded once, by the first worker that needs it, so encoding overlaps the requests
        encoded: dict[int, bytes] = {}
        encode_locks = {places[0][0]: threading.Lock() for places in missing.values()}

        def image_base64(i: int) -> bytes:
            with encode_locks[i]:
                if i not in encoded:
                    encoded[i] = png_base64(sent[i].pixels)
                return encoded[i]

        stop = threading.Event()
        answered: dict[str, str] = {}

        def ask(key: str, i: int, question: Question) -> None:
            instruction = instructions[question]
            head, tail = chat_body_parts(self.model, instruction, self.generation)
            completion = self.client.complete(head + image_base64(i) + tail, stop)
            self.cache.put(
                key,
                {
                    "answer": completion.text,
                    "finish_reason": completion.finish_reason,
                    "served_model": completion.served_model,
                    "model": self.model,
                    "base_url": self.base_url,
                    "instruction": instruction,
                    "image_sha256": sent[i].sha256,
                    "image_size": list(sent[i].size),
                    "generation": self.generation,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
            answered[key] = completion.text

        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(missing)), thread_name_prefix="openai"
        )
        try:
            futures = [pool.submit(ask, key, *places[0]) for key, places in missing.items()]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            errors = [exc for exc in (f.exception() for f in futures if f.done()) if exc is not None]
            if errors:
                stop.set()
                wait(futures)
                first = next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
                raise first
        except BaseException:
            stop.set()  # Ctrl-C / a failure: queued requests are dropped, in-flight ones end at their timeout
            pool.shutdown(wait=False, cancel_futures=True)
            self.cache.sync()
            raise
        pool.shutdown(wait=True)
        return answered

    @property
    def parse_failures(self) -> dict[str, int]:
        return dict(sorted(self.decoder.failures.items()))

    def describe(self) -> dict[str, Any]:
        return {
            "spec": f"openai:{self.base_url}#{self.model}",
            "endpoint": {
                "base_url": self.base_url,
                "chat_completions_url": self.client.url,
                "model": self.model,
            },
            "api_key": {"env": self.api_key_env, "set": self.api_key_set},
            "request": {"format": REQUEST_FORMAT, "generation": dict(self.generation)},
            "image_encoding": {
                "format": "PNG, 8-bit grey (mode L), lossless",
                "png_compress_level": PNG_COMPRESS_LEVEL,
                "quantisation": "round(clip(x, 0, 1) * 255)",
                "max_side": self.max_side,
                "downscale": "bilinear (Pillow), aspect ratio kept" if self.max_side else None,
                "sizes_sent": dict(sorted(self.sizes_sent.items())),
            },
            "transport": {
                "concurrency": self.concurrency,
                "timeout_s": self.client.timeout,
                "max_retries": self.client.max_retries,
                "backoff_s": self.client.backoff,
                "max_backoff_s": MAX_BACKOFF_S,
                "max_retry_after_s": MAX_RETRY_AFTER_S,
            },
            "cache": {
                **self.cache.summary(),
                "source": self.cache_source,
                "key": "sha256 of request format, base URL, model, instruction, sent-image sha256, generation",
            },
            "requests": self.client.stats.summary(),
            "score_type": self.score_type,
            "prompts": self.prompts.to_json(),
            "coordinates": {
                "bins": 1000,
                "bin_to_coordinate": "c = k / 999",
                "resize": self.decoder.resize,
                "resize_source": self.resize_source,
                "input_size": "the sent image's [H, W] (aspect kept: stretch maps back exactly)",
            },
            **self.decoder.summary(),
        }
