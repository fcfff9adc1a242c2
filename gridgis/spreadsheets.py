"""Cells a spreadsheet will not run: one rule for every CSV gridgis writes and reads.

Excel, WPS and LibreOffice run a CSV cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula (OWASP "CSV injection"): a
resident's complaint text ``=HYPERLINK("http://evil/",...)`` would become a
link in the office's spreadsheet. Every CSV we write (routed files, exports,
the audit log) passes its cells through :func:`safe_cell`, which puts a
leading ``'`` before such a cell unless it is a plain number (``-122.4`` is a
longitude, not a formula). Every CSV we read takes that quote off again
(:func:`unescape_cell`), so an exported file imports back exactly.
"""

from __future__ import annotations

import re
from typing import Any

#: What a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> str:
    """``value`` as CSV text that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """A cell read from a CSV, without the quote :func:`safe_cell` put before a formula."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
