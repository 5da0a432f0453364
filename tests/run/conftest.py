from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets.demo import write_demo
from bench.models.baseline.pretrain import train_baseline

TINY = {"size": 64, "width": 8, "epochs": 2, "batch_size": 8}
DATASETS = ("jsrt", "shenzhen", "vindr-cxr")


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    write_demo(out, names=DATASETS, n=14, seed=0, workers=1)
    return out


@pytest.fixture(scope="session")
def weights(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "baseline.pt"
    train_baseline(demo_data, path, seed=0, datasets=DATASETS, workers=0, config=TINY)
    return path


@pytest.fixture(scope="session")
def tiny_config() -> dict[str, int]:
    return dict(TINY)


@pytest.fixture(scope="session")
def demo_names() -> tuple[str, ...]:
    return DATASETS
