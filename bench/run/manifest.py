"""RUN_DIR/manifest.json: everything needed to trace a run's numbers (the only file of a run with timestamps)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.records import atomic_write_text
from bench.run.provenance import package_versions, sha256_file, sha256_text_lines

MANIFEST_SCHEMA_VERSION = 1
RUN_PACKAGES = ("torch", "pycocotools", "pillow", "pydicom", "rich")


def code_version() -> str:
    """`git describe --always --dirty` of the source tree, else the installed cxrbench version."""
    source = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        from importlib import metadata

        try:
            return f"cxrbench {metadata.version('cxrbench')}"
        except metadata.PackageNotFoundError:
            return "unknown"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def ids_sha256(ids: list[str]) -> str:
    """Hash of the id list in the dataset's record order (the order predictions.jsonl follows)."""
    return sha256_text_lines(ids)


def run_identity(**fields: Any) -> dict[str, Any]:
    """What makes two invocations the same run: a rerun with the same identity resumes, another is refused."""
    return {key: fields[key] for key in sorted(fields)}


def check_identity(path: Path, identity: dict[str, Any]) -> None:
    if not path.is_file():
        return
    previous = json.loads(path.read_text(encoding="utf-8"))["identity"]
    if previous != identity:
        changed = sorted(k for k in set(previous) | set(identity) if previous.get(k) != identity.get(k))
        raise ValueError(
            f"{path.parent} already holds a different run (differs in {', '.join(changed)}); "
            "pass a new --out or delete the folder"
        )


def write_state(path: Path, identity: dict[str, Any], **state: Any) -> None:
    atomic_write_text(path, json.dumps({"identity": identity, **state}, indent=2, sort_keys=True) + "\n")


def read_state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def build_manifest(
    *,
    model_spec: str,
    model_description: dict[str, Any],
    dataset: dict[str, Any],
    mode: str,
    fraction: float,
    seed: int,
    device: str,
    world_size: int,
    batch_size: int,
    tasks: list[str],
    fine_tune: dict[str, Any] | None,
    files: dict[str, Path],
    timings: dict[str, Any],
    notes: dict[str, Any],
    model_options: dict[str, Any] | None = None,
    partial: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`partial` is set for a `--limit` smoke run: such a run never enters a table (leaderboards skip it)."""
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "model": {"spec": model_spec, **model_description, "options": _redacted(model_options or {})},
        "partial": partial,
        "dataset": dataset,
        "mode": mode,
        "fraction": fraction,
        "seed": seed,
        "device": device,
        "world_size": world_size,
        "batch_size": batch_size,
        "tasks": tasks,
        "fine_tune": fine_tune,
        "files": {
            name: {"path": p.name, "sha256": sha256_file(p)} for name, p in files.items() if p.is_file()
        },
        "code_version": code_version(),
        "versions": package_versions(RUN_PACKAGES),
        "command_line": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "cwd": os.getcwd(),
        "timings": timings,
        "notes": notes,
    }


def _redacted(options: dict[str, Any]) -> dict[str, Any]:
    """Options as passed, with any secret-looking value hidden (keys come from environment variables, but a user
    may still pass one by hand)."""
    secret = ("key", "token", "secret", "password")
    return {k: ("<redacted>" if any(w in k.lower() for w in secret) and not k.endswith("_env") else v)
            for k, v in options.items()}  # fmt: skip


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
