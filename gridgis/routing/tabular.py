"""Routing a whole file column-wise: what ``gridgis route`` runs.

The file is read as :mod:`gridgis.routing.files` reads it (CSV, TSV, XLSX and
GeoJSON, the same columns found, the same per-row problems) or, for Parquet,
with pyarrow: longitude/latitude columns found by the same names
(:func:`gridgis.geo.tables.coordinate_columns`, ``--lon-field``/``--lat-field``)
or, failing those, a geometry column of WKB or WKT points (GeoParquet's
primary column, or one named as :data:`gridgis.geo.tables.WKT_COLUMNS`).
Coordinates go to :func:`gridgis.routing.columns.route_columns` as arrays and
the answers come back as Arrow columns, which :mod:`gridgis.routing.writers`
writes as CSV, XLSX, GeoJSON, GeoPackage or Parquet by the output's name.

A Parquet file the command cannot route is refused before anything is
written, with a message naming what to fix: a coordinate column that is not
numeric, no coordinate or geometry column, a file that is not Parquet.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import shapely
from sqlalchemy.orm import Session

from gridgis.errors import InvalidFile, InvalidInput
from gridgis.geo import tables
from gridgis.routing.columns import route_columns
from gridgis.routing.files import _number, _point_of
from gridgis.routing.reading import read_csv, read_geojson, too_many_rows

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class RoutedColumns:
    """A file's rows and their routing, column-wise.

    ``kind``: "geojson", "parquet" or "csv" (any other table). ``source`` holds
    the input columns: an Arrow table (Parquet), or the rows as dicts of text
    (tables; GeoJSON properties, with ``features``).
    """

    kind: str
    columns: list[str]
    routed: pa.Table
    rows: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    arrow: pa.Table | None = None
    #: The coordinates read (NaN where none), in ``crs``.
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    crs: str = "EPSG:4326"

    def summary(self) -> Counter[str]:
        counts = pc.value_counts(self.routed.column("rule")).to_pylist()
        return Counter({c["values"]: c["counts"] for c in counts})


def route_file_columns(
    session: Session,
    path: Path,
    *,
    lon_field: str | None = None,
    lat_field: str | None = None,
    crs: str | None = None,
    category_field: str | None = None,
    at: dt.datetime | None = None,
    community_code: str | None = None,
    max_rows: int | None = None,
) -> RoutedColumns:
    """Read and route every row of ``path``, column-wise; nothing is written here.

    Raises:
        InvalidFile, InvalidInput: The file cannot be read or routed (the
            message says what to fix).
        gridgis.routing.reading.TooManyRows: More than ``max_rows`` rows.
    """
    source = str(path)
    crs = crs or "EPSG:4326"

    def route(x: np.ndarray, y: np.ndarray, cats: Any, problems: dict[int, str]) -> pa.Table:
        return route_columns(
            session,
            x,
            y,
            crs=crs,
            categories=cats,
            at=at,
            community_code=community_code,
            problems=problems,
        )

    if source.lower().endswith(PARQUET_SUFFIXES):
        table = read_parquet(path, max_rows=max_rows)
        x, y, problems = parquet_points(table, source, lon_field=lon_field, lat_field=lat_field)
        cats = _categories(table, source, category_field)
        routed = route(x, y, cats, problems)
        return RoutedColumns(
            "parquet", table.column_names, routed, arrow=table, lon=x, lat=y, crs=crs
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidFile(f"{path}: cannot read the file ({exc.strerror}).") from exc
    features: list[dict[str, Any]] = []
    if source.lower().endswith((".geojson", ".json")):
        kind = "geojson"
        columns, rows, features = read_geojson(data, source, max_rows=max_rows)
    else:
        kind = "csv"
        columns, rows = read_csv(data, source, max_rows=max_rows)
    category_col = tables.pick_column(
        columns, (), given=category_field, what="category", label=source
    )
    if kind == "geojson":
        raw = [_point_of(feature) for feature in features]
        where = ["coordinates"] * len(raw)
    else:
        lon_col, lat_col = tables.coordinate_columns(
            columns, lon=lon_field, lat=lat_field, label=source
        )
        if lon_col is None or lat_col is None:
            raise InvalidInput(
                f"{source}: cannot tell which columns hold the coordinates; name them with "
                f"--lon-field and --lat-field (the columns are: {', '.join(columns)})."
            )
        raw = [(row.get(lon_col), row.get(lat_col), None) for row in rows]
        where = [f"{lon_col}/{lat_col}"] * len(raw)
    x, y, problems = _parse(raw, where)
    cats = [
        (str(row.get(category_col)).strip() or None)
        if category_col and row.get(category_col) is not None
        else None
        for row in rows
    ]
    routed = route(x, y, cats, problems)
    return RoutedColumns(kind, columns, routed, rows=rows, features=features, lon=x, lat=y, crs=crs)


def _parse(
    raw: list[tuple[Any, Any, str | None]], where: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Coordinates as floats (NaN: none), and the rows that cannot be read, as route_table."""
    x = np.full(len(raw), np.nan)
    y = np.full(len(raw), np.nan)
    problems: dict[int, str] = {}
    for i, (a, b, problem) in enumerate(raw):
        if problem:
            problems[i] = problem
            continue
        try:
            lon, lat = _number(a), _number(b)
        except ValueError:
            problems[i] = f"unparsable coordinates in {where[i]}: {a!r}, {b!r}"
            continue
        if lon is not None and lat is not None:
            x[i], y[i] = lon, lat
    return x, y, problems


def read_parquet(path: Path, *, max_rows: int | None = None) -> pa.Table:
    """The Parquet file's table, refused unread past ``max_rows`` rows (from its footer)."""
    try:
        parquet = pq.ParquetFile(path)
        if max_rows is not None and parquet.metadata.num_rows > max_rows:
            raise too_many_rows(str(path), max_rows)
        return parquet.read()
    except OSError as exc:
        raise InvalidFile(f"{path}: cannot read the file ({exc.strerror}).") from exc
    except (pa.ArrowException, ValueError) as exc:
        raise InvalidFile(f"{path}: not a Parquet file this command can read ({exc}).") from exc


def parquet_points(
    table: pa.Table, source: str, *, lon_field: str | None, lat_field: str | None
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Coordinates from numeric lon/lat columns or a geometry column of points.

    Raises:
        InvalidInput: No such columns, or columns of the wrong type.
    """
    names = table.column_names
    lon_col, lat_col = tables.coordinate_columns(names, lon=lon_field, lat=lat_field, label=source)
    if lon_col is not None and lat_col is not None:
        return _numeric(table, lon_col, source), _numeric(table, lat_col, source), {}
    geometry = _geometry_column(table)
    if geometry is None:
        raise InvalidInput(
            f"{source}: cannot tell which columns hold the coordinates; name them with "
            f"--lon-field and --lat-field, or give a geometry column of points "
            f"({', '.join(tables.WKT_COLUMNS)}; WKB or WKT) (the columns are: {', '.join(names)})."
        )
    column = table.column(geometry)
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        geoms = shapely.from_wkb(column.to_numpy(zero_copy_only=False), on_invalid="ignore")
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        geoms = shapely.from_wkt(column.to_numpy(zero_copy_only=False), on_invalid="ignore")
    else:
        raise InvalidInput(
            f"{source}: the geometry column {geometry!r} holds {column.type}; expected points "
            "as WKB (binary) or WKT (text)."
        )
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    problems: dict[int, str] = {}
    kinds = shapely.get_type_id(geoms)
    null = column.is_null().to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(kinds != 0).tolist():
        problems[i] = (
            "no geometry"
            if null[i]
            else "the geometry cannot be read"
            if geoms[i] is None
            else f"geometry is a {geoms[i].geom_type}, not a Point"
        )
    points = np.flatnonzero(kinds == 0)
    coords = shapely.get_coordinates(geoms[points]) if len(points) else np.zeros((0, 2))
    empty = shapely.is_empty(geoms[points])
    x[points[~empty]], y[points[~empty]] = coords[:, 0], coords[:, 1]
    for i in points[empty].tolist():
        problems[i] = "the Point has no coordinates"
    return x, y, problems


def _geometry_column(table: pa.Table) -> str | None:
    metadata = table.schema.metadata or {}
    if b"geo" in metadata:
        try:
            primary = json.loads(metadata[b"geo"]).get("primary_column")
        except (ValueError, AttributeError):
            primary = None
        if primary in table.column_names:
            return str(primary)
    return tables.pick_column(table.column_names, tables.WKT_COLUMNS)


def _numeric(table: pa.Table, column: str, source: str) -> np.ndarray:
    values = table.column(column)
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise InvalidInput(
            f"{source}: column {column!r} holds {values.type}, not numbers; the longitude and "
            "latitude columns of a Parquet file must be numeric (float or integer)."
        )
    return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _categories(table: pa.Table, source: str, given: str | None) -> list[str | None] | None:
    column = tables.pick_column(table.column_names, (), given=given, what="category", label=source)
    if column is None:
        return None
    values = table.column(column)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise InvalidInput(
            f"{source}: the category column {column!r} holds {values.type}; expected text "
            "(the category codes)."
        )
    return [None if v is None else v.strip() or None for v in values.to_pylist()]
