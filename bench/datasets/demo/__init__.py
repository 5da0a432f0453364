"""The embedded demo: small synthetic versions of the ten benchmarks in their publishers' exact layouts."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

MODULES = {
    "mimic-cxr": "mimic_cxr",
    "vindr-cxr": "vindr_cxr",
    "chestx-det": "chestx_det",
    "chestxray14": "chestxray14",
    "chexpert": "chexpert",
    "tbx11k": "tbx11k",
    "object-cxr": "object_cxr",
    "jsrt": "jsrt",
    "shenzhen": "shenzhen",
    "montgomery": "montgomery",
}

# Relative generation times (measured): the pool starts the slowest first so the two workers finish together.
RELATIVE_COST = {
    "tbx11k": 5,
    "jsrt": 4,
    "shenzhen": 4,
    "vindr-cxr": 4,
    "chestx-det": 4,
    "mimic-cxr": 3,
    "chestxray14": 3,
    "chexpert": 3,
    "montgomery": 3,
}


def generator(name: str) -> Callable[..., object]:
    """`write(out, n, seed)` of one dataset's demo generator (MIMIC-CXR's returns its reports' truth)."""
    return importlib.import_module(f"bench.datasets.demo.{MODULES[name]}").write


def _write_one(name: str, out: str, n: int | None, seed: int) -> tuple[str, float]:
    start = time.perf_counter()
    kwargs = {"seed": seed} if n is None else {"seed": seed, "n": n}
    generator(name)(Path(out), **kwargs)
    return name, time.perf_counter() - start


def write_demo(
    out_dir: str | os.PathLike[str],
    *,
    names: Sequence[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    workers: int = 2,
) -> dict[str, Path]:
    """Write `out_dir/<name>/` for each dataset (all ten by default); returns name -> folder.

    Deterministic for a given (n, seed). `n` images per dataset (default: a few hundred, Montgomery 138).
    A folder that already exists is replaced, so stale files never mix with new ones.
    """
    import shutil

    out_dir = Path(out_dir)
    chosen = list(names or MODULES)
    unknown = [name for name in chosen if name not in MODULES]
    if unknown:
        raise KeyError(f"no demo for {unknown}; choose from {', '.join(MODULES)}")
    for name in chosen:
        shutil.rmtree(out_dir / name, ignore_errors=True)
        (out_dir / name).mkdir(parents=True)
    if workers <= 1 or len(chosen) == 1:
        for name in chosen:
            _write_one(name, str(out_dir / name), n, seed)
    else:
        slowest_first = sorted(chosen, key=lambda name: -RELATIVE_COST.get(name, 1))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(
                pool.map(
                    _write_one,
                    slowest_first,
                    [str(out_dir / c) for c in slowest_first],
                    [n] * len(chosen),
                    [seed] * len(chosen),
                )
            )
    return {name: out_dir / name for name in chosen}
