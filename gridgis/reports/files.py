"""The monthly report as files: CSV (UTF-8 with a BOM, for Excel and WPS) and XLSX.

Both carry the same three parts: what the report is (community, month, as
of when, the layout) with every figure's definition, the grid table with
its total, and the staff table; headings in the language asked for
(Chinese by default). In the CSV the first part is ``#`` lines, then the
grid table, an empty line, and the staff table; the workbook has a sheet for
each. Every CSV cell passes :func:`gridgis.spreadsheets.safe_cell`, and every
text cell of the workbook is written as text, so a name or code that starts
with ``=`` is never run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import openpyxl  # type: ignore[import-untyped]
from openpyxl.cell.cell import WriteOnlyCell  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.audit import Actor
from gridgis.errors import InvalidInput
from gridgis.reports.columns import DEFINITIONS, GRID_COLUMNS, STAFF_COLUMNS, label
from gridgis.reports.monthly import MonthlyReport
from gridgis.reports.staff import role_names
from gridgis.spreadsheets import safe_cell

#: Excel and WPS read a CSV as UTF-8 only when it starts with a byte-order mark.
BOM = "\ufeff"
FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_SHEETS = {"zh": ("网格", "人员", "说明"), "en": ("Grids", "Staff", "Definitions")}


def filename(report: MonthlyReport, fmt: str) -> str:
    """``monthly-420106001002-2026-11.csv`` (ASCII: a safe download name everywhere)."""
    return f"monthly-{report.community}-{report.month}.{fmt}"


def heading(report: MonthlyReport, lang: str = "zh") -> list[tuple[str, str]]:
    """What the report is, as (key, value) pairs."""
    return [
        ("community", report.community),
        ("community_name", report.community_name),
        ("month", report.month),
        ("from", clock.local(report.window.start).isoformat(timespec="seconds")),
        ("to", clock.local(report.window.end).isoformat(timespec="seconds")),
        ("as_of", clock.local(report.as_of).isoformat(timespec="seconds")),
        ("timezone", clock.zone_name()),
        ("layout", report.layout or ""),
        ("language", lang),
    ]


def grid_table(report: MonthlyReport, lang: str = "zh") -> list[list[Any]]:
    """The grid table: headings, a row per grid, the total."""
    total_name = "Total" if lang == "en" else "合计"
    no_grid = "(no grid)" if lang == "en" else "（未入网格）"
    rows: list[list[Any]] = [[label(c, lang) for c in GRID_COLUMNS]]
    for row in report.grids:
        values = {**row, "grid": row["grid"] if row["grid"] is not None else no_grid}
        rows.append([values[c] for c in GRID_COLUMNS])
    rows.append([{**report.total, "grid": total_name, "grid_name": ""}[c] for c in GRID_COLUMNS])
    return rows


def staff_table(report: MonthlyReport, lang: str = "zh") -> list[list[Any]]:
    """The staff table: headings and a row per person (names as the viewer may see them)."""
    joiner = ", " if lang == "en" else "、"
    rows: list[list[Any]] = [[label(c, lang) for c in STAFF_COLUMNS]]
    for row in report.staff:
        roles, grids = role_names(row["roles"], lang), joiner.join(row["grids"])
        values = {**row, "roles": roles, "grids": grids}
        rows.append([values[c] for c in STAFF_COLUMNS])
    return rows


def definitions(lang: str = "zh") -> list[tuple[str, str]]:
    """Each figure's definition in ``lang``, by key."""
    return [(key, text["en" if lang == "en" else "zh"]) for key, text in DEFINITIONS.items()]


def as_csv(report: MonthlyReport, lang: str = "zh") -> bytes:
    """The report as CSV bytes: UTF-8 with a BOM, ``#`` lines, grid table, staff table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for key, value in heading(report, lang):
        writer.writerow(["#", key, safe_cell(value)])
    for key, text in DEFINITIONS.items():
        writer.writerow(["#", key, safe_cell(text["zh"]), safe_cell(text["en"])])
    _rows(writer, grid_table(report, lang))
    writer.writerow([])
    _rows(writer, staff_table(report, lang))
    return (BOM + out.getvalue()).encode("utf-8")


def _rows(writer: Any, rows: Iterable[Sequence[Any]]) -> None:
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])


def as_xlsx(report: MonthlyReport, lang: str = "zh") -> bytes:
    """The report as an .xlsx workbook: the grid table, the staff table, the definitions."""
    grids_title, staff_title, notes_title = _SHEETS["en" if lang == "en" else "zh"]
    book = openpyxl.Workbook(write_only=True)
    _sheet(book, grids_title, grid_table(report, lang))
    _sheet(book, staff_title, staff_table(report, lang))
    _sheet(book, notes_title, [*heading(report, lang), ("", ""), *definitions(lang)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet(book: Any, title: str, rows: Iterable[Sequence[Any]]) -> None:
    sheet = book.create_sheet(title)
    for row in rows:
        cells: list[Any] = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value)
                # Text stays text: a name "=1+1" is no formula, "#N/A" no error.
                cell.data_type = "s"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)


def export(
    session: Session, report: MonthlyReport, fmt: str, *, actor: Actor, lang: str = "zh"
) -> bytes:
    """The report as ``fmt`` (``csv`` or ``xlsx``), its leaving audited in ``session``.

    The file names staff (in full for those who may see them), so each export
    is in the audit log, by community, month, grid and format (ids only).

    Raises:
        InvalidInput: Another format.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be csv or xlsx; got {fmt!r}.")
    body = as_xlsx(report, lang) if fmt == "xlsx" else as_csv(report, lang)
    audit.record(
        session,
        actor,
        "export",
        "monthly_report",
        f"{report.community}/{report.month}",
        after={
            "format": fmt,
            "grids": [r["grid"] for r in report.grids],
            "staff": len(report.staff),
            "names_in_full": sum(not r["masked"] for r in report.staff),
        },
    )
    return body
