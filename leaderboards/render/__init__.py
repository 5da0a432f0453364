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


SUBGROUP_FILES = {"subgroups.md", "subgroups.tex", "subgroups.csv", "subgroups.html"}


def render_texts(table: Table) -> dict[str, str]:
    """File name -> content; a pure function of the table (verify re-renders and compares bytes). A table with
    subgroup tables also gets subgroups.{md,tex,csv,html}."""
    texts = {name: render(table) for name, render in RENDERERS.items()}
    if table.subgroup_tables:
        from leaderboards.render.subgroups import render_subgroups_csv, render_subgroups_markdown
        from leaderboards.render.subgroups_html import render_subgroups_html
        from leaderboards.render.subgroups_tex import render_subgroups_latex

        texts |= {
            "subgroups.md": render_subgroups_markdown(table),
            "subgroups.tex": render_subgroups_latex(table),
            "subgroups.csv": render_subgroups_csv(table),
            "subgroups.html": render_subgroups_html(table),
        }
    return texts


def write_tables(table: Table, out_dir: str | Path) -> dict[str, Path]:
    from bench.records import atomic_write_text

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in render_texts(table).items():
        atomic_write_text(folder / name, text)
        written[name] = folder / name
    for stale in SUBGROUP_FILES - set(written):  # a spec that no longer asks for subgroup tables
        (folder / stale).unlink(missing_ok=True)
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
