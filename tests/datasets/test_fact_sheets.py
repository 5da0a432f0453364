"""The fact sheets: one per benchmark, every fact cited, the rendered Markdown in sync with the YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets import DATASETS
from bench.datasets.factsheet import load_sheet, sheet_names, split_counts
from bench.datasets.factsheet_render import render_dataset

DOCS = Path(__file__).resolve().parents[2] / "docs" / "datasets"
REQUIRED = (
    "official_counts",
    "split_definition",
    "layout",
    "image_format",
    "label_names",
    "label_encoding",
    "coordinates",
    "split_counts",
)


def test_every_benchmark_has_a_sheet() -> None:
    assert sorted(DATASETS) == sheet_names()


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_fact_cites_a_listed_source(name: str) -> None:
    sheet = load_sheet(name)
    assert sheet.dataset == name
    for key in REQUIRED:
        assert key in sheet.facts, f"{name}: no fact {key!r}"
    for fact in sheet.facts.values():
        assert fact.sources, f"{name}.{fact.key} cites no source"
        unknown = [s for s in fact.sources if s not in sheet.sources]
        assert not unknown, f"{name}.{fact.key} cites unlisted sources {unknown}"
    for convention in sheet.conventions.values():
        assert all(s in sheet.sources for s in convention.get("sources", []))


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_rendered_markdown_is_in_sync(name: str) -> None:
    path = DOCS / f"{name}.md"
    assert path.read_text(encoding="utf-8") == render_dataset(name), (
        f"{path} is stale: run python scripts/render_fact_sheets.py"
    )


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_split_counts_name_the_adapters_splits(name: str) -> None:
    counts = split_counts(name)
    assert counts, f"{name}: no split_counts"
    named = set(counts) - {"total"}
    assert not named or named & set(DATASETS[name].splits), (
        f"{name}: {sorted(named)} vs {DATASETS[name].splits}"
    )


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_sheet_conventions_match_the_adapter_defaults(name: str) -> None:
    """A convention the sheet documents for an adapter option has that option's default and values."""
    import typing

    from bench.datasets.base import adapter_options

    cls = DATASETS[name]
    options = adapter_options(cls)
    hints = typing.get_type_hints(cls.__init__) if options else {}
    for key, convention in load_sheet(name).conventions.items():
        if key not in options:
            continue
        assert convention["default"] == options[key].default, (name, key)
        allowed = set(typing.get_args(hints[key]))
        assert {convention["default"], *convention.get("alternatives", [])} == allowed, (name, key)
