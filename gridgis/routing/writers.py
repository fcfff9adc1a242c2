"""Writing a column-wise routed file: CSV, XLSX, GeoJSON, GeoPackage or Parquet.

The output's name picks the format. CSV, XLSX and GeoJSON are byte for byte
what :func:`gridgis.routing.files.write_table` writes for the same rows (the
routing columns as :func:`~gridgis.routing.files.routing_values` gives them,
CSV cells guarded against formulas); GeoPackage (pyogrio, from Arrow) and
Parquet carry the routing columns typed (ids as integers, ``distance_m`` as a
float, null where there is no value). GeoJSON input is written as GeoJSON or
GeoPackage; a table (CSV, TSV, XLSX, Parquet) as CSV, XLSX, Parquet or
GeoPackage. A GeoPackage's points are the routed points in WGS-84
(EPSG:4326), null for rows that could not be located.

Everything is made in memory (or, for a GeoPackage, in a temporary file
beside the output) before the output is replaced, so a refusal leaves
nothing half-written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pyogrio  # type: ignore[import-untyped]
import shapely

from gridgis.errors import InvalidInput
from gridgis.geo.crs import to_wgs84
from gridgis.routing.files import ROUTING_COLUMNS, _xlsx
from gridgis.routing.tabular import PARQUET_SUFFIXES, RoutedColumns
from gridgis.spreadsheets import safe_cell

GEOJSON_SUFFIXES = (".geojson", ".json")
GPKG_SUFFIXES = (".gpkg",)


def write_routed(result: RoutedColumns, out: Path) -> None:
    """Write ``result`` to ``out`` in the format its name asks for.

    Raises:
        InvalidInput: A format this input cannot be written as, or (XLSX) a
            value a cell cannot hold; nothing is written.
    """
    suffix = out.suffix.lower()
    if result.kind == "geojson" and suffix not in GEOJSON_SUFFIXES + GPKG_SUFFIXES:
        raise InvalidInput(
            f"{out}: GeoJSON input is written as GeoJSON; use a .geojson name "
            "(or .gpkg for a GeoPackage)."
        )
    if result.kind != "geojson" and suffix in GEOJSON_SUFFIXES:
        raise InvalidInput(
            f"{out}: a table is written as a table; use a .csv or .xlsx name "
            "(or .parquet, or .gpkg for a GeoPackage)."
        )
    if suffix in GPKG_SUFFIXES:
        _write_gpkg(result, out)
        return
    if suffix in PARQUET_SUFFIXES:
        buffer = io.BytesIO()
        pq.write_table(parquet_table(result), buffer)
        data = buffer.getvalue()
    elif result.kind == "geojson":
        data = _geojson(result)
    else:
        columns = _columns(result)
        rows = (
            {**row, **values}
            for row, values in zip(input_rows(result), routing_rows(result.routed), strict=True)
        )
        if suffix == ".xlsx":
            data = _xlsx(columns, rows, str(out))
        else:
            # Any other name (.txt, .tsv, none) gets CSV, as before workbooks were written.
            text = io.StringIO(newline="")
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow([safe_cell(c) for c in columns])
            writer.writerows([safe_cell(row.get(c, "")) for c in columns] for row in rows)
            data = text.getvalue().encode("utf-8")
    out.write_bytes(data)


def routing_rows(routed: pa.Table) -> list[dict[str, Any]]:
    """The routing columns row by row, as ``routing_values`` gives them for a result."""
    values = {name: routed.column(name).to_pylist() for name in ROUTING_COLUMNS}
    values["distance_m"] = [
        "" if d is None else f"{d:.2f}" for d in routed.column("distance_m").to_pylist()
    ]
    rows = []
    for cells in zip(*(values[name] for name in ROUTING_COLUMNS), strict=True):
        rows.append(
            {k: "" if v is None else v for k, v in zip(ROUTING_COLUMNS, cells, strict=True)}
        )
    return rows


def input_rows(result: RoutedColumns) -> list[dict[str, Any]]:
    """The input's rows as dicts (a Parquet file's values as text, null as empty)."""
    if result.arrow is None:
        return result.rows
    names = result.arrow.column_names
    columns = [
        ["" if v is None else str(v) for v in result.arrow.column(n).to_pylist()] for n in names
    ]
    return [dict(zip(names, cells, strict=True)) for cells in zip(*columns, strict=True)]


def _columns(result: RoutedColumns) -> list[str]:
    return result.columns + [c for c in ROUTING_COLUMNS if c not in result.columns]


def _geojson(result: RoutedColumns) -> bytes:
    out = []
    for feature, values in zip(result.features, routing_rows(result.routed), strict=True):
        feature = dict(feature or {"type": "Feature", "geometry": None})
        props = dict(feature.get("properties") or {})
        props.update(values)
        feature["properties"] = props
        out.append(feature)
    doc = {"type": "FeatureCollection", "features": out}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def parquet_table(result: RoutedColumns, *, exclude: tuple[str, ...] = ()) -> pa.Table:
    """The input columns (Parquet's as they were; text otherwise) and the routing columns."""
    if result.arrow is not None:
        table = result.arrow
    else:
        rows = input_rows(result)
        table = pa.table(
            {
                c: pa.array([_text(row.get(c)) for row in rows], type=pa.string())
                for c in result.columns
            }
        )
    table = table.drop_columns([c for c in exclude if c in table.column_names])
    for name in ROUTING_COLUMNS:
        column = result.routed.column(name)
        if name in table.column_names:  # the input had a column of that name: it is replaced
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _write_gpkg(result: RoutedColumns, out: Path) -> None:
    table = parquet_table(result)
    geometry = next(n for n in ("geometry", "geom", "routed_point") if n not in table.column_names)
    table = table.append_column(geometry, pa.array(_wgs84_points(result), type=pa.binary()))
    # Written beside the output and moved into place: GDAL writes a file as it goes.
    fd, temp = tempfile.mkstemp(suffix=".gpkg", dir=out.parent)
    os.close(fd)
    try:
        os.unlink(temp)  # GDAL creates the file itself
        pyogrio.write_arrow(
            table,
            temp,
            layer="routed",
            driver="GPKG",
            geometry_name=geometry,
            geometry_type="Point",
            crs="EPSG:4326",
        )
        os.replace(temp, out)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _wgs84_points(result: RoutedColumns) -> list[bytes | None]:
    """WKB of each routed point in WGS-84; None for a row that could not be located."""
    located = np.array(
        [r != "invalid_location" for r in result.routed.column("rule").to_pylist()], dtype=bool
    )
    x, y = result.lon.copy(), result.lat.copy()
    if result.crs not in ("EPSG:4326", "EPSG:4490"):
        for i in np.flatnonzero(located).tolist():
            x[i], y[i] = to_wgs84(float(x[i]), float(y[i]), result.crs)
    wkb = shapely.to_wkb(shapely.points(np.where(located, x, 0.0), np.where(located, y, 0.0)))
    return [w if ok else None for w, ok in zip(wkb.tolist(), located.tolist(), strict=True)]
