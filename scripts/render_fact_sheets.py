"""Write docs/datasets/<name>.md from bench/datasets/facts/<name>.yaml (run after editing a fact sheet)."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.factsheet import sheet_names
from bench.datasets.factsheet_render import render_dataset

DOCS = Path(__file__).resolve().parents[1] / "docs" / "datasets"

if __name__ == "__main__":
    for name in sheet_names():
        (DOCS / f"{name}.md").write_text(render_dataset(name), encoding="utf-8")
        print(f"wrote {DOCS / f'{name}.md'}")
