"""Every shipped spec's LaTeX table compiles with pdflatex in a plain `article` and fits the page: no overfull
box, no float larger than the page, no scaling (`\\resizebox`), booktabs rules and siunitx columns.

Needs pdflatex with booktabs and siunitx (Debian: texlive-latex-base, texlive-latex-recommended,
texlive-science; `make test` installs them through scripts/ensure-system-deps.sh when it runs as root);
skipped with that reason otherwise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_render_layout import synthetic_table

from leaderboards.render.latex import render_latex
from leaderboards.specs import shipped_specs

PDFLATEX = shutil.which("pdflatex")
DOCUMENT = r"""\documentclass{article}
\usepackage{booktabs,siunitx}
\begin{document}
\input{table.tex}
\end{document}
"""


def _kpse_has(name: str) -> bool:
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None:
        return False
    return bool(subprocess.run([kpsewhich, name], capture_output=True, text=True).stdout.strip())


needs_tex = pytest.mark.skipif(
    PDFLATEX is None or not (_kpse_has("siunitx.sty") and _kpse_has("booktabs.sty")),
    reason="pdflatex with siunitx and booktabs is not installed "
    "(apt-get install texlive-latex-base texlive-latex-recommended texlive-science)",
)


def compile_table(tex: str, folder: Path) -> str:
    """pdflatex the table in a plain article; returns the log."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "table.tex").write_text(tex, encoding="utf-8")
    (folder / "doc.tex").write_text(DOCUMENT, encoding="utf-8")
    done = subprocess.run(
        [str(PDFLATEX), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    log = (folder / "doc.log").read_text(encoding="latin-1")
    assert done.returncode == 0, log[-3000:]
    return log


@needs_tex
@pytest.mark.parametrize("spec", shipped_specs())
@pytest.mark.parametrize("n_models", [1, 3, 9])
def test_shipped_spec_tables_compile_and_fit_the_page(spec: str, n_models: int, tmp_path: Path) -> None:
    table = synthetic_table(spec, n_models)
    tex = render_latex(table)
    assert r"\resizebox" not in tex and r"\scalebox" not in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex and "S[table-format=" in tex
    log = compile_table(tex, tmp_path)
    problems = re.findall(r"^(Overfull \\hbox.*|LaTeX Warning: Float too large.*|! .*)$", log, re.M)
    assert problems == [], problems
    assert "Output written on doc.pdf" in log
    # Every value is on the page exactly as the table holds it (siunitx does not re-round it).
    for cell in table.cells:
        if cell.value is not None:
            assert f"{cell.value:.3f}" in tex


@needs_tex
def test_the_fit_check_catches_an_overfull_table(tmp_path: Path) -> None:
    """The page-fit check is not vacuous: a table wider than the text column is reported."""
    wide = "\\begin{tabular}{" + "l" * 30 + "}" + " & ".join(["0.123 [0.100, 0.150]"] * 30) + r"\end{tabular}"
    log = compile_table(wide, tmp_path)
    assert re.search(r"^Overfull \\hbox", log, re.M)
