"""Rough text widths, enough to cut a table into pieces that fit a page without measuring it in TeX or a browser.

Widths are in em of the font they are set in: Computer Modern's (digits 0.5 em; `tests/leaderboards/
test_latex_compile.py` checks the cut tables against pdflatex's own overfull-box report) and, for HTML, a
sans-serif system font (checked in Chromium by `test_render_html_fit.py`).
"""

from __future__ import annotations

_NARROW = set(".,:;!'|ijlI[]`")
_WIDE = set("mwMW%—")
_MEDIUM_UPPER_EXTRA = 0.22  # capitals are about 0.72 em


def text_em(text: str) -> float:
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 0.28
        elif ch in _WIDE:
            width += 0.9
        elif ch in "()-–_/ f t r":
            width += 0.36
        elif ch.isupper():
            width += 0.5 + _MEDIUM_UPPER_EXTRA
        elif ch in "±†∩∪×≥≤":
            width += 0.78
        else:
            width += 0.5
    return width
