from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_data = pytest.mark.skip(reason=f"real data not found at {SHARED_DATA}")
    no_java = pytest.mark.skip(
        reason="no Java runtime on PATH (make test installs default-jre-headless as root)"
    )
    for item in items:
        if "realdata" in item.keywords and not SHARED_DATA.is_dir():
            item.add_marker(no_data)
        if "java" in item.keywords and shutil.which("java") is None:
            item.add_marker(no_java)


@pytest.fixture
def shared_data() -> Path:
    return SHARED_DATA
