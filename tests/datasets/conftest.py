from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets.demo import write_demo

DEMO_N = 36


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All ten demo datasets, small, generated once per session (read-only for the tests: copy before editing)."""
    out = tmp_path_factory.mktemp("demo")
    write_demo(out, n=DEMO_N, seed=0, workers=2)
    return out
