"""Spreadsheet-safe CSV cells (CSV / formula injection).

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and tab, carriage return
and line feed at the start of a cell lead to the same; OWASP's remedy is that no cell begins with one of them, and it
warns that separators and quotes inside a value can start a new cell
(https://owasp.org/www-community/attacks/CSV_Injection). Hence, in :func:`write_safe_csv`:

- text cells that start with a trigger are prefixed with a single quote ``'``; a text cell that already starts with
  ``'`` gets one more, so the escape is reversible (:func:`restore_cell` drops exactly one leading quote);
- every text cell is written in double quotes (``csv.QUOTE_NONNUMERIC``, quotes inside doubled as RFC 4180 says), so
  no comma, semicolon (the separator of some spreadsheet locales) or carriage return inside a value can start a new
  cell or row (Python's writer leaves a bare CR unquoted when lines end in LF);
- numbers, booleans and timestamps are written as they are: they cannot hold a formula, and a negative number such
  as ``-1`` must stay a number for whoever reads the file back. Should a typed column hold a string (only possible
  in a tampered database), it is neutralised unless it is a plain decimal number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_ESCAPE = "'"
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """Prefix ``'`` to a string starting with a formula trigger (or with ``'``); anything else is returned as is."""
    if isinstance(value, str) and value[:1] in (*FORMULA_TRIGGERS, _ESCAPE) and value:
        return _ESCAPE + value
    return value


def restore_cell(value: Any) -> Any:
    """Undo :func:`neutralise_cell` on a cell read back from a CSV this module wrote."""
    if isinstance(value, str) and value.startswith(_ESCAPE):
        return value[1:]
    return value


def neutralise_typed_cell(value: Any) -> Any:
    """A cell of a numeric/boolean/time column: a string in it is neutralised unless it is a decimal number."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        return neutralise_cell(value)
    return value


def neutralise_columns(frame: pd.DataFrame, text_columns: Iterable[str]) -> pd.DataFrame:
    """A copy with the given (present) text columns neutralised cell by cell."""
    out = frame.copy()
    for column in text_columns:
        if column in out.columns:
            out[column] = out[column].astype(object).map(neutralise_cell)
    return out


def restore_columns(frame: pd.DataFrame, text_columns: Iterable[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in text_columns:
        if column in out.columns:
            out[column] = out[column].astype(object).map(restore_cell)
    return out


def write_safe_csv(
    frame: pd.DataFrame, text_columns: Iterable[str], path: str | Path | None = None
) -> str | None:
    """``frame.to_csv`` made spreadsheet-safe (see the module docstring); returns the text when ``path`` is None."""
    from pandas.api import types

    text = set(text_columns)
    safe = frame.copy()
    for column in safe.columns:
        dtype = safe[column].dtype
        if column in text:
            safe[column] = safe[column].astype(object).map(neutralise_cell)
        elif not (
            types.is_numeric_dtype(dtype)
            or types.is_bool_dtype(dtype)
            or types.is_datetime64_any_dtype(dtype)
        ):
            safe[column] = safe[column].astype(object).map(neutralise_typed_cell)
    return safe.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
