"""Tables written for people: CSV files a spreadsheet opens without evaluating any cell (the OWASP CSV-injection
rule), written atomically."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from rdlr.io.storage import write_atomically

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROBABILITY_DECIMALS = 6


def spreadsheet_safe(cell: Any) -> Any:
    """``cell`` with a leading ``'`` when it starts like a spreadsheet formula."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and column name passed through :func:`spreadsheet_safe`."""
    text = frame.select_dtypes(include="object").columns
    safe = frame.copy()
    safe[text] = safe[text].map(spreadsheet_safe)
    safe.columns = [spreadsheet_safe(name) for name in frame.columns]
    return safe


def to_safe_csv(frame: pd.DataFrame, target: Any) -> None:
    """Write ``frame`` to ``target`` spreadsheet-safe, every text cell quoted (pandas leaves a bare CR unquoted),
    numbers rounded to :data:`PROBABILITY_DECIMALS` decimals (and left unquoted)."""
    safe_frame(frame).round(PROBABILITY_DECIMALS).to_csv(target, index=False, quoting=csv.QUOTE_NONNUMERIC)


def write_safe_csv(frame: pd.DataFrame, path: Path) -> None:
    """:func:`to_safe_csv` into ``path``, atomically (its folder created when missing)."""
    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: to_safe_csv(frame, tmp))
