"""CSV for spreadsheets: cells that a spreadsheet would read as a formula are neutralised.

OWASP "CSV Injection": a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is prefixed with a single quote, so Excel and LibreOffice show it as text instead of running
it; the csv module quotes cells with separators, quotes or line breaks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Iterable[Any], rows: Iterable[Iterable[Any]], delimiter: str = ";") -> str:
    """A whole file: UTF-8 BOM (spreadsheets then read UTF-8), semicolons, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in header])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return "\ufeff" + out.getvalue()
