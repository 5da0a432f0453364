"""The ten CXR benchmarks: adapters for their publishers' layouts (see base.DatasetAdapter) and the demo data."""

from __future__ import annotations

from bench.datasets import (  # noqa: F401  (importing registers the adapters)
    chestx_det,
    chestxray14,
    chexpert,
    jsrt,
    mimic_cxr,
    montgomery,
    object_cxr,
    shenzhen,
    tbx11k,
    vindr_cxr,
)
from bench.datasets.base import (
    DATASETS,
    CheckReport,
    DatasetAdapter,
    LayoutError,
    export_jsonl,
    get_adapter,
    record_from_row,
    to_hf_dataset,
)

# The paper's order of the benchmarks; an adapter not named here keeps its place after them (never dropped).
ORDER = (
    "mimic-cxr",
    "vindr-cxr",
    "chestx-det",
    "chestxray14",
    "chexpert",
    "tbx11k",
    "object-cxr",
    "jsrt",
    "shenzhen",
    "montgomery",
)
_registered = dict(DATASETS)
DATASETS.clear()
DATASETS.update({name: _registered[name] for name in ORDER if name in _registered})
DATASETS.update({name: cls for name, cls in _registered.items() if name not in DATASETS})

__all__ = [
    "DATASETS",
    "CheckReport",
    "DatasetAdapter",
    "LayoutError",
    "export_jsonl",
    "get_adapter",
    "record_from_row",
    "to_hf_dataset",
]
