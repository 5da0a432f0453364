"""Input hashes and package versions, so every number can be traced and re-checked."""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path

CORE_PACKAGES = ("cxrbench", "numpy", "scipy", "scikit-learn", "pydantic")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text_lines(items: list[str]) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (*CORE_PACKAGES, *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_provenance(paths: dict[str, str | os.PathLike[str]]) -> dict[str, dict[str, str]]:
    return {role: {"path": Path(p).name, "sha256": sha256_file(p)} for role, p in paths.items()}


def model_fingerprint(model_dir: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of the files that define a local model, so a number names the exact weights behind it."""
    folder = Path(model_dir)
    names = ("config.json", "model.safetensors", "pytorch_model.bin", "vocab.txt", "tokenizer.json")
    return {name: sha256_file(folder / name) for name in names if (folder / name).is_file()}
