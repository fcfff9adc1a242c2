"""Exporting a layer to GeoJSON, GeoPackage, Shapefile or CSV.

An export writes exactly the file fields of the layer's spec
(:mod:`gridgis.geo.layers`), selected through the spec's expressions and
shortened to 10 characters in a Shapefile: the fields the importer reads, with
references as codes (a building's compound, a unit's building), so a file
exported from one community imports into another as the same data.
Coordinates are written in full: GeoPackage and Shapefile keep doubles as they
are, GeoJSON is written with 17 significant figures, CSV as full-precision WKT.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.audit import Actor
from gridgis.errors import InvalidFile, InvalidInput, NotFound
from gridgis.geo.layers import LAYER_SPECS
from gridgis.geo.layouts import choose_layout, get_community
from gridgis.models import GRID_ROLES, Assignment, Community, Grid, Staff
from gridgis.shapes.fields import LAYERS
from gridgis.shapes.reading import WGS84
from gridgis.spreadsheets import safe_cell

__all__ = ["EXPORT_FORMATS", "export_layer"]

log = logging.getLogger(__name__)

#: Extension -> GDAL driver ("CSV" is written by the csv module).
EXPORT_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def export_layer(
    session: Session,
    layer: str,
    out_path: str | Path,
    *,
    community_code: str,
    layout_name: str | None = None,
    actor: Actor,
) -> int:
    """Write one layer of a community to a file chosen by its extension.

    Args:
        session: Where to read.
        layer: One of ``importing.LAYERS``; staff export to CSV only.
        out_path: .geojson/.json, .gpkg, .shp or .csv; replaced if it exists.
        community_code: The community.
        layout_name: Grids and staff: the layout (default: the one in force,
            else the newest draft).
        actor: Who exports; a staff export (names and phones leaving the
            system) is audited.

    Returns:
        The number of features (staff: rows) written.

    Raises:
        InvalidInput: Unknown layer or extension.
        NotFound: No such community or layout, or nothing to export.
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if layer not in LAYERS:
        raise InvalidInput(f"Unknown layer {layer!r}; choose one of {', '.join(LAYERS)}.")
    if suffix not in EXPORT_FORMATS:
        raise InvalidInput(
            f"{out}: unknown extension {out.suffix or '(none)'!r}; export to .geojson, .json, "
            ".gpkg, .shp or .csv."
        )
    if layer == "staff" and suffix != ".csv":
        raise InvalidInput(f"{out}: staff have no geometry; export them to a .csv file.")
    if not out.parent.is_dir():
        raise InvalidFile(f"{out}: the folder {out.parent} does not exist.")
    community = get_community(session, community_code)
    columns = [spec.name for spec in LAYER_SPECS[layer].file_fields]
    rows = _rows(session, layer, community, layout_name)
    if not rows:
        raise NotFound(f"Community {community.code} has no {layer} to export.")
    if layer == "staff":
        _write_csv(out, columns, rows, geometry=False)
        # Names and phones leaving the system: audited.
        audit.record(
            session,
            actor,
            "export",
            layer,
            community.code,
            after={"file": str(out), "count": len(rows)},
        )
    elif suffix == ".csv":
        _write_csv(out, columns, rows, geometry=True)
    else:
        _write_gdal(out, suffix, layer, columns, rows)
    log.info("exported %d %s of %s to %s", len(rows), layer, community.code, out)
    return len(rows)


def _layout_id(session: Session, community: Community, name: str | None) -> int:
    layout = choose_layout(session, community, name, newest_draft=True)
    if layout is None:
        raise NotFound(f"Community {community.code} has no grid layout.")
    return layout.id


def _rows(session: Session, layer: str, community: Community, layout: str | None) -> list[tuple]:
    """The file fields of the spec, then the geometry as WKB, one tuple per feature."""
    if layer == "staff":
        return _staff_rows(session, community, layout)
    spec = LAYER_SPECS[layer]
    # Grids belong to a layout, every other layer to the community.
    owner_id = _layout_id(session, community, layout) if layer == "grids" else community.id
    return [tuple(r) for r in session.execute(spec.file_select().where(spec.owner == owner_id))]


#: The staff fields that describe the person rather than one of their roles.
_PERSON = ("code", "name", "phone")


def _staff_rows(session: Session, community: Community, layout: str | None) -> list[tuple]:
    """One row per assignment; grid roles of the chosen layout only."""
    spec = LAYER_SPECS["staff"]
    chosen = choose_layout(session, community, layout, newest_draft=True)
    # The person and the layout of the assigned grid (the spec joins the
    # assignment and its grid for the role and grid fields) decide what is kept.
    query = (
        spec.select(spec.file_fields, Staff.id, Grid.layout_id)
        .where(spec.owner == community.id)
        .order_by(Staff.id, Assignment.id)
    )
    names = [f.name for f in spec.file_fields]
    rows: list[tuple] = []
    exported: set[int] = set()
    everyone: dict[int, tuple] = {}
    for *values, staff_id, layout_id in session.execute(query):
        record = dict(zip(names, values))
        # Without a role, only the person's own fields: the rest stay empty.
        everyone.setdefault(staff_id, tuple(record[n] if n in _PERSON else None for n in names))
        if record["role"] in GRID_ROLES and (chosen is None or layout_id != chosen.id):
            continue  # a grid of another layout: its code means nothing in this one
        if record["role"] is not None:
            rows.append(tuple(values))
            exported.add(staff_id)
    # People without an exported role still come back as staff on re-import.
    rows.extend(person for staff_id, person in everyone.items() if staff_id not in exported)
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # Names, addresses and codes come from users: none may run as a formula
    # (the reader takes the guarding quote off again, so the file imports back).
    return safe_cell(value)


def _write_csv(out: Path, columns: list[str], rows: list[tuple], *, geometry: bool) -> None:
    # A BOM, so that Excel opens the Chinese text as UTF-8; the importer accepts both.
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*columns, "wkt"] if geometry else columns)
        for row in rows:
            if geometry:
                *values, wkb = row
                wkt = shapely.to_wkt(shapely.from_wkb(bytes(wkb)), rounding_precision=-1)
                writer.writerow([*map(_cell, values), wkt])
            else:
                writer.writerow([_cell(v) for v in row])


def _frame(layer: str, columns: list[str], rows: list[tuple]) -> gpd.GeoDataFrame:
    data = pd.DataFrame([r[:-1] for r in rows], columns=columns, dtype=object)
    for spec in LAYER_SPECS[layer].file_fields:
        # Typed columns, so that GeoPackage and Shapefile fields get numeric types.
        kind = {"int": "Int64", "float": "Float64", "bool": "boolean"}.get(spec.kind)
        if kind:
            data[spec.name] = data[spec.name].astype(kind)
        else:
            data[spec.name] = data[spec.name].astype("string")
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows])
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=WGS84)


def _write_gdal(out: Path, suffix: str, layer: str, columns: list[str], rows: list[tuple]) -> None:
    frame = _frame(layer, columns, rows)
    options: dict[str, Any] = {}
    if suffix == ".shp":
        fields = LAYER_SPECS[layer].file_fields
        frame = frame.rename(columns={s.name: s.shapefile_name for s in fields})
        options["encoding"] = "UTF-8"  # also writes the .cpg that says so
        for part in _SHAPEFILE_PARTS:
            out.with_suffix(part).unlink(missing_ok=True)
    else:
        out.unlink(missing_ok=True)
    if suffix == ".gpkg":
        options["layer"] = layer
    if EXPORT_FORMATS[suffix] == "GeoJSON":
        # 17 significant figures read back as the very same doubles.
        options["layer_options"] = {"SIGNIFICANT_FIGURES": 17}
    pyogrio.write_dataframe(frame, str(out), driver=EXPORT_FORMATS[suffix], **options)
