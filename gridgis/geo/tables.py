"""CSV files: text tables, with geometry as WKT or lon/lat columns.

Spreadsheets saved by Excel start with a byte-order mark and may hold line
breaks inside quoted cells; both are handled. Rows are named in messages as a
person finds them in the file: "row 2 (line 3)" is the second data row, which
starts on the third line of the text (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from gridgis.errors import InvalidFile, InvalidGeometry, InvalidInput
from gridgis.shapes.fields import capped

WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
LON_COLUMNS = ("lon", "lng", "longitude", "x")
LAT_COLUMNS = ("lat", "latitude", "y")

#: Longest cell read: WKT of a detailed boundary easily passes csv's default 128 KiB.
MAX_CELL = min(sys.maxsize, 2**31 - 1)


@dataclass
class CsvTable:
    """The cells of a CSV file, all text, with where each row starts."""

    header: list[str]
    rows: list[list[str]]
    labels: list[str]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.header, dtype=object)


def read_table(path: Path, label: str) -> CsvTable:
    """Read a UTF-8 CSV file (with or without BOM) into text cells.

    Raises:
        InvalidFile: The file is empty, not UTF-8, has no rows, or a row has
            more cells than the header.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidFile(
            f"{label} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as 'CSV UTF-8' (Excel) or convert it from GBK with iconv."
        ) from None
    if not text.strip():
        raise InvalidFile(f"{label} is empty.")
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    labels: list[str] = []
    problems: list[str] = []
    line = 0
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                continue
            where = f"row {len(rows) + 1} (line {start})"
            if len(cells) > len(header):
                problems.append(
                    f"{where}: {len(cells)} cells but the header has {len(header)} columns "
                    "(a comma inside a value needs quotes)"
                )
            cells = (cells + [""] * len(header))[: len(header)]
            rows.append(cells)
            labels.append(where)
    except csv.Error as exc:
        raise InvalidFile(
            f"{label} is not a well-formed CSV file: line {reader.line_num}: {exc}."
        ) from None
    if header is None:
        raise InvalidFile(f"{label} is empty.")
    if not rows:
        raise InvalidFile(f"{label} has a header but no rows.")
    blank = [i + 1 for i, name in enumerate(header) if not name]
    dupes = sorted({n for n in header if n and header.count(n) > 1})
    if blank:
        problems.append(f"header: column(s) {', '.join(map(str, blank))} have no name")
    if dupes:
        problems.append(f"header: column(s) {', '.join(dupes)} appear more than once")
    if problems:
        raise InvalidFile(f"{label} cannot be read as a table.", details=capped(problems))
    return CsvTable(header, rows, labels)


def _pick(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.casefold(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def read_geo_table(path: Path, label: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a CSV whose geometry is a WKT column or lon/lat columns.

    Returns:
        The table as a GeoDataFrame without CRS (the other columns stay
        text) and the label of each row.

    Raises:
        InvalidFile: No geometry column, or text where a coordinate belongs.
        InvalidGeometry: A WKT cell that cannot be parsed.
    """
    table = read_table(path, label)
    frame = table.frame()
    wkt = _pick(table.header, WKT_COLUMNS)
    lon, lat = _pick(table.header, LON_COLUMNS), _pick(table.header, LAT_COLUMNS)
    if wkt is not None:
        geoms, problems = _parse_wkt(frame[wkt].tolist(), wkt, table.labels)
        frame = frame.drop(columns=[wkt])
        error: type[InvalidInput] = InvalidGeometry
    elif lon is not None and lat is not None:
        geoms, problems = _parse_points(
            frame[lon].tolist(), frame[lat].tolist(), lon, lat, table.labels
        )
        error = InvalidFile
    else:
        raise InvalidFile(
            f"{label} has no geometry: expected a WKT column "
            f"({', '.join(WKT_COLUMNS)}) or longitude/latitude columns "
            f"({'/'.join(LON_COLUMNS)} and {'/'.join(LAT_COLUMNS)}); "
            f"its columns are: {', '.join(table.header)}."
        )
    if problems:
        raise error(
            f"{label}: {len(problems)} row(s) have bad geometry values; nothing was imported.",
            details=capped(problems),
        )
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=None), table.labels


def _parse_wkt(
    values: list[str], column: str, labels: list[str]
) -> tuple[list[shapely.Geometry | None], list[str]]:
    geoms: list[shapely.Geometry | None] = []
    problems: list[str] = []
    for where, value in zip(labels, values):
        if not value.strip():
            geoms.append(None)  # reported as "no geometry" with the others
            continue
        try:
            geoms.append(shapely.from_wkt(value.strip()))
        except shapely.errors.GEOSException as exc:
            shown = value.strip()
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            problems.append(f"{where}: column {column!r} holds {shown!r}, which is not WKT ({exc})")
            geoms.append(None)
    return geoms, problems


def _parse_points(
    lons: list[str], lats: list[str], lon_col: str, lat_col: str, labels: list[str]
) -> tuple[list[shapely.Geometry | None], list[str]]:
    geoms: list[shapely.Geometry | None] = []
    problems: list[str] = []
    for where, x, y in zip(labels, lons, lats):
        if not x.strip() and not y.strip():
            geoms.append(None)
            continue
        coords = []
        for column, value in ((lon_col, x), (lat_col, y)):
            try:
                number = float(value.strip())
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                coords.append(number)
            else:
                problems.append(
                    f"{where}: column {column!r} holds {value!r}, which is not a number"
                )
        geoms.append(shapely.Point(coords) if len(coords) == 2 else None)
    return geoms, problems
