"""CheXbert outputs of a reference corpus kept on disk, so a table of many models labels its references once.

One `.npz` per (checkpoint sha256, tokenizer files sha256, device kind, batch size, corpus sha256): the corpus hash
is over the reports' own sha256s in order, so any change of text, order or subset is a different file. A cache that
cannot be read is relabelled and rewritten; one that cannot be written is skipped (the numbers never depend on it).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.cache import cache_root
from bench.metrics.report.chexbert import (
    ChexbertOutput,
    ChexbertSpec,
    LoadedChexbert,
    corpus_sha256,
    run_chexbert,
)


def default_cache_dir() -> Path:
    """chexbert/ under cxrbench's cache root (bench.cache: $CXRBENCH_CACHE_DIR, else the user's cache)."""
    return cache_root() / "chexbert"


def cache_path(loaded: LoadedChexbert, spec: ChexbertSpec, texts: Sequence[str]) -> Path:
    tokenizer = hashlib.sha256(
        "".join(f"{k}:{v};" for k, v in sorted(loaded.tokenizer_sha256.items())).encode()
    )
    device = loaded.device.split(":")[0]
    name = (
        f"refs-{loaded.checkpoint_sha256[:16]}-{tokenizer.hexdigest()[:12]}-{device}-b{spec.batch_size}-"
        f"{corpus_sha256(texts)[:24]}.npz"
    )
    return (Path(spec.cache_dir) if spec.cache_dir else default_cache_dir()) / name


def _read(path: Path, n: int, hidden: int) -> ChexbertOutput | None:
    try:
        with np.load(path, allow_pickle=False) as blob:
            out = ChexbertOutput(
                classes=blob["classes"].astype(np.int8),
                cls=blob["cls"].astype(np.float32),
                n_tokens=blob["n_tokens"].astype(np.int64),
            )
    except (OSError, ValueError, KeyError):
        return None
    if out.classes.shape != (n, 14) or out.cls.shape != (n, hidden) or out.n_tokens.shape != (n,):
        return None
    return out


def _write(path: Path, out: ChexbertOutput) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, classes=out.classes, cls=out.cls, n_tokens=out.n_tokens)
        os.replace(tmp, path)
        return True
    except OSError:
        return False


def label_references(
    loaded: LoadedChexbert, spec: ChexbertSpec, refs: Sequence[str], progress=None
) -> tuple[ChexbertOutput, str]:
    """CheXbert outputs of the reference reports, from the cache when there; ("hit" | "miss" | "off" | "unwritable")."""
    if not spec.use_cache:
        return run_chexbert(loaded, refs, spec.batch_size, progress), "off"
    path = cache_path(loaded, spec, refs)
    cached = _read(path, len(refs), loaded.config["hidden_size"]) if path.is_file() else None
    if cached is not None:
        if progress is not None:
            progress(len(refs))
        return cached, "hit"
    out = run_chexbert(loaded, refs, spec.batch_size, progress)
    return out, "miss" if _write(path, out) else "unwritable"
