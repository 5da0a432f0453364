"""Append-only JSONL store of a served model's answers, keyed by a hash of everything that decides the answer.

One JSON object per line (`key`, `answer`, and what the answer was asked about, for audit). Each answer is one
`os.write` to a file opened with O_APPEND, so a process killed (even with SIGKILL) loses at most the line it was
writing and lines from several processes (torchrun ranks on one run dir) never interleave; the file is fsync'd
at most once a second and at the end of every batch, against power loss. On read, lines that are not a complete
entry (a torn last line) are ignored and counted; the first entry for a key wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

FSYNC_INTERVAL_S = 1.0


def answer_key(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of `fields` (sorted keys, no spaces)."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AnswerCache:
    """Answers by key; `path` None keeps them in memory only (this process)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._opened = False
        self._dirty = False
        self._last_sync = time.monotonic()
        self.loaded = 0
        self.torn_lines = 0
        self.appended = 0
        self.hits = 0

    def _open(self) -> None:
        """Read the file (once) and open it for appending; a file not ending in a newline gets one first."""
        if self._opened:
            return
        self._opened = True
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ends_with_newline = True
        if self.path.is_file():
            data = self.path.read_bytes()
            ends_with_newline = not data or data.endswith(b"\n")
            for line in data.split(b"\n"):
                if not line.strip():
                    continue
                entry = _entry(line)
                if entry is None:
                    self.torn_lines += 1
                    continue
                if entry["key"] not in self._entries:
                    self._entries[entry["key"]] = entry
                    self.loaded += 1
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if not ends_with_newline:
            os.write(self._fd, b"\n")  # the torn fragment stays alone on its line

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            self._open()
            entry = self._entries.get(key)
            self.hits += entry is not None
            return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store (first answer for a key wins) and append one line."""
        record = {"key": key, **entry}
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            self._open()
            if key in self._entries:
                return
            self._entries[key] = record
            if self._fd is None:
                return
            os.write(self._fd, line)
            self.appended += 1
            self._dirty = True
            if time.monotonic() - self._last_sync >= FSYNC_INTERVAL_S:
                self._sync_locked()

    def sync(self) -> None:
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False
        self._last_sync = time.monotonic()

    def close(self) -> None:
        with self._lock:
            self._sync_locked()
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path is not None else None,
            "entries_loaded": self.loaded,
            "torn_lines_ignored": self.torn_lines,
            "hits": self.hits,
            "appended": self.appended,
        }


def _entry(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        return None
    if not isinstance(entry.get("answer"), str):
        return None
    return entry
