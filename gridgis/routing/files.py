"""Routing whole files: CSV, XLSX and GeoJSON in, the same rows out with routing columns.

Every input row comes back, in order, with every input column (values are
kept as the text they were: a "1,234" in another column stays "1,234").
Rows whose coordinates are missing or unparsable stay too, with
``rule=invalid_location`` and a reason. Files are read by
:mod:`gridgis.routing.reading` (tables through
:func:`gridgis.geo.tables.read_table`, which also finds their coordinate
columns, so a file that routes also imports), no further than the batch's row
limit. Each result is shown as the requesting viewer may see it (grid staff
get no answer outside their area). Used by the batch API; ``gridgis route``
(:func:`route_file`) routes and writes column-wise (:mod:`gridgis.routing.tabular`,
:mod:`gridgis.routing.writers`), to the same bytes.

CSV output is guarded against spreadsheet formulas: a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and is not a plain
number, gets a leading ``'`` (OWASP "CSV injection"), so that opening the
routed file in Excel or WPS runs nothing; ``-122.4`` stays a number. XLSX
output needs no guard (its text cells are text), nor does GeoJSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
from openpyxl.cell.cell import (  # type: ignore[import-untyped]
    ILLEGAL_CHARACTERS_RE,
    WriteOnlyCell,
)
from sqlalchemy.orm import Session

from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput
from gridgis.geo import tables
from gridgis.routing.points import PointInput, RoutingResult, route_points
from gridgis.routing.reading import read_csv, read_geojson
from gridgis.spreadsheets import safe_cell

#: Columns added to every row, in this order.
ROUTING_COLUMNS = (
    "rule",
    "community_code",
    "grid_code",
    "grid_name",
    "building_id",
    "building_code",
    "unit_id",
    "unit_number",
    "distance_m",
    "lead_code",
    "team",
    "departments",
    "reason",
)
#: The most characters an Excel cell holds.
XLSX_MAX_CELL = 32767


@dataclass
class RoutedTable:
    """Rows (dicts of text) with their columns, and the routing results.

    ``kind`` is "geojson", or "csv" for any table (CSV, TSV or XLSX input),
    written back as CSV unless XLSX is asked for.
    """

    columns: list[str]
    rows: list[dict[str, Any]]
    results: list[RoutingResult] = field(default_factory=list)
    kind: str = "csv"
    #: For GeoJSON: the features, whose properties are ``rows``.
    features: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> Counter[str]:
        return Counter(r.rule for r in self.results)


def _number(text: Any) -> float | None:
    """Parse a coordinate; None for empty. Raises ValueError for junk."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        try:
            value = float(text)
        except OverflowError:  # a JSON integer beyond any float (10**400)
            raise ValueError(f"{text!r} is not a finite number") from None
    else:
        stripped = str(text).strip()
        if stripped == "" or stripped.lower() in ("nan", "null", "none", "na", "n/a"):
            return None
        value = float(stripped)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _point_of(feature: dict[str, Any]) -> tuple[Any, Any, str | None]:
    geometry = (feature or {}).get("geometry")
    if not geometry:
        return None, None, "no geometry"
    if not isinstance(geometry, dict):
        return None, None, "the geometry is not a GeoJSON object"
    if geometry.get("type") != "Point":
        return None, None, f"geometry is a {geometry.get('type')}, not a Point"
    coords = geometry.get("coordinates") or []
    if not isinstance(coords, list) or len(coords) < 2:
        return None, None, "the Point has no coordinates"
    return coords[0], coords[1], None


def route_table(
    session: Session,
    data: bytes,
    source: str,
    *,
    kind: str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
    crs: str | None = None,
    category_field: str | None = None,
    at: dt.datetime | None = None,
    community_code: str | None = None,
    viewer: Principal | None = None,
    max_rows: int | None = None,
) -> RoutedTable:
    """Route every row of a table (CSV, TSV, XLSX) or GeoJSON document, in order.

    Args:
        viewer: Whom the results are for: each is shown as
            :meth:`RoutingResult.shown_to` allows (grid staff get
            ``outside_your_area`` for a row outside their area). None: no
            area restriction (the command line).
        max_rows: The most rows (features) the batch may hold; None: no limit.

    Raises:
        gridgis.routing.reading.TooManyRows: More than ``max_rows`` rows
            (HTTP 413); the file is not read beyond the first row past the limit.
    """
    kind = kind or ("geojson" if source.lower().endswith((".geojson", ".json")) else "csv")
    features: list[dict[str, Any]] = []
    if kind == "geojson":
        columns, rows, features = read_geojson(data, source, max_rows=max_rows)
    else:
        columns, rows = read_csv(data, source, max_rows=max_rows)
    category_col = tables.pick_column(
        columns, (), given=category_field, what="category", label=source
    )
    points: list[PointInput] = []
    problems: dict[int, str] = {}
    if kind == "geojson":
        for i, feature in enumerate(features):
            x, y, problem = _point_of(feature)
            if problem:
                problems[i] = problem
            points.append(
                _point(
                    x,
                    y,
                    crs,
                    rows[i].get(category_col) if category_col else None,
                    at,
                    problems,
                    i,
                    "coordinates",
                )
            )
    else:
        lon_col, lat_col = tables.coordinate_columns(
            columns, lon=lon_field, lat=lat_field, label=source
        )
        if lon_col is None or lat_col is None:
            raise InvalidInput(
                f"{source}: cannot tell which columns hold the coordinates; name them with "
                f"--lon-field and --lat-field (the columns are: {', '.join(columns)})."
            )
        for i, row in enumerate(rows):
            points.append(
                _point(
                    row.get(lon_col),
                    row.get(lat_col),
                    crs,
                    row.get(category_col) if category_col else None,
                    at,
                    problems,
                    i,
                    f"{lon_col}/{lat_col}",
                )
            )
    results = route_points(session, points, community_code=community_code)
    for i, problem in problems.items():
        results[i] = RoutingResult(
            rule="invalid_location",
            lon=None,
            lat=None,
            reason=problem,
        )
    shown = [result.shown_to(viewer) for result in results]
    return RoutedTable(columns=columns, rows=rows, results=shown, kind=kind, features=features)


def _point(
    x: Any,
    y: Any,
    crs: str | None,
    category: Any,
    at: dt.datetime | None,
    problems: dict[int, str],
    i: int,
    where: str,
) -> PointInput:
    try:
        lon, lat = _number(x), _number(y)
    except ValueError:
        problems.setdefault(i, f"unparsable coordinates in {where}: {x!r}, {y!r}")
        return PointInput(None, None)
    category = (str(category).strip() or None) if category is not None else None
    return PointInput(lon, lat, crs=crs or "EPSG:4326", category=category, at=at)


def routing_values(result: RoutingResult) -> dict[str, Any]:
    """The routing columns of one row (staff codes, never names or phones)."""
    return {
        "rule": result.rule,
        "community_code": result.community_code or "",
        "grid_code": result.grid_code or "",
        "grid_name": result.grid_name or "",
        "building_id": result.building_id if result.building_id is not None else "",
        "building_code": result.building_code or "",
        "unit_id": result.unit_id if result.unit_id is not None else "",
        "unit_number": result.unit_number or "",
        "distance_m": "" if result.distance_m is None else f"{result.distance_m:.2f}",
        "lead_code": result.lead.staff_code if result.lead else "",
        "team": ";".join(f"{m.role}:{m.staff_code}" for m in result.team),
        "departments": ";".join(dict.fromkeys(d.code for d in result.departments)),
        "reason": "; ".join(filter(None, [result.reason, *result.warnings])),
    }


def write_table(table: RoutedTable, *, xlsx: bool = False, label: str = "the output") -> bytes:
    """The routed table: GeoJSON for GeoJSON input, else CSV (UTF-8 without BOM) or XLSX.

    Raises:
        InvalidInput: ``xlsx`` and a value an Excel cell cannot hold (``label``
            names the output in the message).
    """
    if table.kind == "geojson":
        out = []
        for feature, result in zip(table.features, table.results):
            feature = dict(feature or {"type": "Feature", "geometry": None})
            props = dict(feature.get("properties") or {})
            props.update(routing_values(result))
            feature["properties"] = props
            out.append(feature)
        doc = {"type": "FeatureCollection", "features": out}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    columns = table.columns + [c for c in ROUTING_COLUMNS if c not in table.columns]
    rows = ({**row, **routing_values(result)} for row, result in zip(table.rows, table.results))
    if xlsx:
        return _xlsx(columns, rows, label)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in columns])
    writer.writerows([safe_cell(row.get(c, "")) for c in columns] for row in rows)
    return buffer.getvalue().encode("utf-8")


def _xlsx(columns: list[str], rows: Iterable[dict[str, Any]], label: str) -> bytes:
    # openpyxl, which reads workbooks too (gridgis.geo.tables); write-only mode streams.
    # Every cell is checked before the workbook exists: a write-only sheet left
    # half-written by a refusal would fail later, when collected, on its closed file.
    table: list[list[Any]] = []
    for n, values in enumerate([dict(zip(columns, columns)), *rows]):
        cells: list[Any] = []
        for column in columns:
            value = values.get(column, "")
            if value == "":
                value = None  # an empty cell, not an empty text
            elif isinstance(value, str):
                where = f"row {n}, column {column!r}" if n else f"the header {column!r}"
                if len(value) > XLSX_MAX_CELL or ILLEGAL_CHARACTERS_RE.search(value):
                    # openpyxl would cut a long value short, or fail on a control character.
                    raise InvalidInput(
                        f"{label}: {where} holds text an .xlsx cell cannot (longer than "
                        f"{XLSX_MAX_CELL} characters, or control characters); "
                        "use a .csv name instead."
                    )
            cells.append(value)
        table.append(cells)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("routed")
    for cells in table:
        for i, value in enumerate(cells):
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value)
                cell.data_type = "s"  # text stays text: "=1+1" is no formula, "#N/A" no error
                cells[i] = cell
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def route_file(session: Session, path: Path, out: Path, **options: Any) -> Any:
    """Route every row of the file ``path`` into ``out``, column-wise (``gridgis route``).

    Tables (CSV, TSV, XLSX, Parquet) are written as .csv, .xlsx, .parquet or
    .gpkg; GeoJSON as .geojson or .gpkg (:mod:`gridgis.routing.writers`).
    Returns the :class:`~gridgis.routing.tabular.RoutedColumns`. Every answer
    is written whole: this is the command line's path (no viewer's area).
    """
    # Imported here: the column-wise modules build on this one's readers and columns.
    from gridgis.routing.tabular import route_file_columns
    from gridgis.routing.writers import write_routed

    result = route_file_columns(session, path, **options)
    write_routed(result, out)
    return result
