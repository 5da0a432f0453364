"""Renderers: the same table as Markdown, LaTeX (booktabs), CSV and HTML."""

from __future__ import annotations

from pathlib import Path

from leaderboards.model import Table
from leaderboards.render.csv import render_csv
from leaderboards.render.html import render_html
from leaderboards.render.latex import render_latex
from leaderboards.render.markdown import render_markdown

RENDERERS = {
    "table.md": render_markdown,
    "table.tex": render_latex,
    "table.csv": render_csv,
    "table.html": render_html,
}


def render_texts(table: Table) -> dict[str, str]:
    """File name -> content; a pure function of the table (verify re-renders and compares bytes)."""
    return {name: render(table) for name, render in RENDERERS.items()}


def write_tables(table: Table, out_dir: str | Path) -> dict[str, Path]:
    from bench.records import atomic_write_text

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in render_texts(table).items():
        atomic_write_text(folder / name, text)
        written[name] = folder / name
    return written


__all__ = [
    "RENDERERS",
    "render_csv",
    "render_html",
    "render_latex",
    "render_markdown",
    "render_texts",
    "write_tables",
]
