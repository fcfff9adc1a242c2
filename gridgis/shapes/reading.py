"""Reading shape files into validated GeoDataFrames (no database here).

Every layer gridgis imports comes through :func:`read_shapes`, which accepts
GeoJSON, Shapefiles (plain or zipped), GeoPackages, and CSV files or Excel
workbooks (WKT or lon/lat columns, read by :mod:`gridgis.geo.tables`), and
returns 2D geometry in EPSG:4326, polygons promoted to MultiPolygons (the one
geometry type the database stores), or refuses the file with a message that
names the file, the feature and what is wrong.

A CRS is never guessed silently. GDAL reports EPSG:4326 for every GeoJSON
(RFC 7946), so the coordinates themselves are checked: numbers like
(12735000, 3570000) are metres, not degrees, and such a file is refused
until ``--crs`` says what it is in.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import shapely

from gridgis.errors import InvalidFile, InvalidGeometry, InvalidInput, capped
from gridgis.geo import tables
from gridgis.shapes.sources import gdal_source

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".zip": "zipped Shapefile",
    ".gpkg": "GeoPackage",
    ".csv": "CSV",
    ".xlsx": "Excel workbook",
}
#: Formats read as tables (gridgis.geo.tables) rather than by GDAL.
TABLES = (".csv", ".xlsx")
WGS84 = pyproj.CRS.from_epsg(4326)
_GEOD = pyproj.Geod(ellps="WGS84")
_CRS_HINT = "e.g. EPSG:3857 for web-map metres, EPSG:4547 for CGCS2000 Gauss-Krüger CM 114°E"


@dataclass
class Shapes:
    """A file's features, ready to store.

    Attributes:
        path: The file read.
        frame: Attributes and 2D geometry in EPSG:4326 (MultiPolygons when
            polygons were asked for), indexed 0..n-1 in file order.
        labels: How each feature is named in messages ("feature 3",
            "row 2 (line 3)" for CSV, "row 2 (sheet 楼栋, row 3)" for XLSX).
        source_crs: The CRS the coordinates came in, e.g. "EPSG:4547".
        warnings: Things a person should know (e.g. a CRS that was assumed).
        fixes: One line per geometry repaired with ``fix=True``.
    """

    path: Path
    frame: gpd.GeoDataFrame
    labels: list[str]
    source_crs: str
    warnings: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


def parse_crs(text: str) -> pyproj.CRS:
    """A CRS from what a user types: "EPSG:4547", "4547", a WKT or PROJ string."""
    value = text.strip()
    try:
        return pyproj.CRS.from_user_input(f"EPSG:{value}" if value.isdigit() else value)
    except pyproj.exceptions.CRSError:
        raise InvalidInput(
            f"--crs {text!r} is not a coordinate reference system; "
            f"write it as EPSG:XXXX ({_CRS_HINT})."
        ) from None


def read_shapes(
    path: str | Path,
    *,
    crs: str | None = None,
    fix: bool = False,
    polygons: bool = True,
    layer: str | None = None,
    file_layer: str | None = None,
) -> Shapes:
    """Read, check and normalise the features of a file.

    Args:
        path: A .geojson/.json, .shp, .zip (holding one Shapefile), .gpkg, .csv or
            .xlsx file (a table's geometry: a WKT column or lon/lat columns).
        crs: The CRS of the coordinates, overriding what the file declares.
        fix: Repair invalid geometries (keeping their polygonal parts) instead
            of refusing them; each repair is listed in ``Shapes.fixes``.
        polygons: Refuse anything but (multi)polygons, and promote polygons
            to MultiPolygons.
        layer: What the features are (``grids``, ``buildings``...): a GeoPackage
            with several layers is read from the layer of that name, as
            ``gridgis layout export`` names its ``grids``.
        file_layer: The layer of a GeoPackage to read, chosen by the user
            (``--file-layer``); it must exist.

    Raises:
        InvalidFile: The file is missing, empty, malformed, or its CRS is unknown.
        InvalidGeometry: Features without geometry, of the wrong type, or invalid.
        InvalidInput: ``crs`` is not a CRS, or ``file_layer`` is given for a
            format that holds one layer.
    """
    path = Path(path)
    label = str(path)
    override = parse_crs(crs) if crs else None
    if not path.is_file():
        raise InvalidFile(f"{label} does not exist or is not a file.")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidFile(
            f"{label}: unknown format {path.suffix or '(no extension)'!r}; use GeoJSON (.geojson), "
            "a Shapefile (.shp, or a .zip holding one), a GeoPackage (.gpkg), CSV (.csv) "
            "or an Excel workbook (.xlsx)."
        )
    if path.stat().st_size == 0:
        raise InvalidFile(f"{label} is empty.")
    if file_layer is not None and suffix != ".gpkg":
        raise InvalidInput(
            f"--file-layer {file_layer!r}: {label} is a {FORMATS[suffix]}, which holds one layer; "
            "--file-layer chooses a layer of a GeoPackage (.gpkg). Leave it out."
        )
    notes: list[str] = []
    if suffix in TABLES:
        frame, labels = tables.read_geo_table(path, label)
    else:
        source, wanted = gdal_source(path, label, kind=layer, chosen=file_layer)
        frame = _read_with_gdal(source, suffix, label, wanted, notes)
        labels = [f"feature {i}" for i in range(1, len(frame) + 1)]
    if len(frame) == 0:
        raise InvalidFile(f"{label} has no features.")
    frame = frame.reset_index(drop=True)
    geoms = _check_types(frame.geometry.array, labels, label, polygons)
    frame = frame.set_geometry(list(shapely.force_2d(geoms)), crs=frame.crs)
    frame, source = _to_wgs84(frame, path, suffix, label, override, notes)
    frame, fixes = _check_validity(frame, labels, label, fix)
    if polygons:
        frame = frame.set_geometry([to_multipolygon(g) for g in frame.geometry.array], crs=WGS84)
    return Shapes(path, frame, labels, source, notes, fixes)


def _read_with_gdal(
    source: str, suffix: str, label: str, layer: str | None, notes: list[str]
) -> gpd.GeoDataFrame:
    kind = FORMATS[suffix]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pyogrio.read_dataframe(source, layer=layer)
        except (RuntimeError, ValueError) as exc:
            # pyogrio's errors (DataSourceError, ...) are RuntimeErrors carrying
            # GDAL's own words, which say where the file breaks.
            raise InvalidFile(
                f"{label} cannot be read as {kind} (truncated or malformed?): {exc}"
            ) from None
    notes.extend(f"{label}: {w.message}" for w in caught)
    if not isinstance(frame, gpd.GeoDataFrame):
        # An attribute table (a GeoPackage's edit_log): pyogrio gives a plain DataFrame.
        raise InvalidFile(
            f"{label}: layer {layer!r} is a table without geometry; "
            "choose a layer of shapes with --file-layer NAME."
        )
    return frame


def _check_types(
    geoms: gpd.array.GeometryArray, labels: list[str], label: str, polygons: bool
) -> list[shapely.Geometry]:
    problems: list[str] = []
    result: list[shapely.Geometry] = []
    for where, geom in zip(labels, geoms):
        if geom is None or geom.is_empty:
            problems.append(f"{where}: no geometry")
        elif polygons and not isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
            parts = getattr(geom, "geoms", [])
            if isinstance(geom, shapely.GeometryCollection) and all(
                isinstance(p, (shapely.Polygon, shapely.MultiPolygon)) for p in parts
            ):
                geom = to_multipolygon(geom)
            else:
                problems.append(f"{where}: is a {geom.geom_type}, but this layer needs polygons")
        result.append(geom)
    if problems:
        raise InvalidGeometry(
            f"{label}: {len(problems)} feature(s) have no usable geometry"
            f"{' (polygons are needed)' if polygons else ''}; nothing was imported.",
            details=capped(problems),
        )
    return result


def _declares_crs(path: Path, suffix: str) -> bool:
    if suffix not in (".geojson", ".json"):
        return True
    # GDAL puts "crs" before "features"; a look at the head is enough to word
    # the message (the decision itself rests on the coordinates).
    with path.open("rb") as fh:
        return b'"crs"' in fh.read(65536)


def _to_wgs84(
    frame: gpd.GeoDataFrame,
    path: Path,
    suffix: str,
    label: str,
    override: pyproj.CRS | None,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, str]:
    geoms = np.asarray(frame.geometry.array, dtype=object)
    declared = frame.crs
    if suffix in (".geojson", ".json") and declared is not None and declared.is_geographic:
        declared = declared if _declares_crs(path, suffix) else None
    if override is not None:
        source = override
    elif declared is not None:
        source = pyproj.CRS.from_user_input(declared)
    else:
        source = WGS84
    off = _off_earth(geoms)
    if source.is_geographic and off is not None:
        where = f"{label}: coordinates such as {off} are not longitude/latitude; "
        if override is not None:
            why = f"--crs {_name(override)} says they are — pass the CRS they are really in"
        elif declared is None:
            why = f"the file declares no CRS{_missing_crs_note(suffix)} — pass --crs EPSG:XXXX"
        else:
            why = f"the file declares {_name(source)}, which is wrong — pass --crs EPSG:XXXX"
        raise InvalidFile(where + why + f" ({_CRS_HINT}).")
    if override is None and declared is None and suffix in (".shp", ".zip", ".gpkg"):
        # GeoJSON is lon/lat by definition (RFC 7946) and a table cannot declare
        # a CRS; a Shapefile without .prj has lost something worth saying.
        notes.append(
            f"{label} declares no CRS{_missing_crs_note(suffix)}; its coordinates look like "
            "longitude/latitude, so EPSG:4326 was assumed (pass --crs if they are not)."
        )
    frame = frame.set_crs(source, allow_override=True)
    if source.to_epsg() != 4326:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf from out-of-area points
            frame = frame.to_crs(WGS84)
        off = _off_earth(np.asarray(frame.geometry.array, dtype=object))
        if off is not None:
            raise InvalidFile(
                f"{label}: reprojected from {_name(source)}, coordinates such as {off} fall "
                f"off the Earth; is {_name(source)} really the CRS of this file?"
            )
    return frame.set_crs(WGS84, allow_override=True), _name(source)


def _missing_crs_note(suffix: str) -> str:
    return " (no .prj file)" if suffix in (".shp", ".zip") else ""


def _name(crs: pyproj.CRS) -> str:
    code = crs.to_authority()
    return f"{code[0]}:{code[1]}" if code else crs.name


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.6g}"


def _off_earth(geoms: np.ndarray) -> str | None:
    """The first coordinate pair that is not a longitude/latitude, formatted."""
    if not len(geoms):
        return None
    with np.errstate(invalid="ignore"):
        b = shapely.bounds(geoms)
        bad = ~((b[:, 0] >= -180) & (b[:, 2] <= 180) & (b[:, 1] >= -90) & (b[:, 3] <= 90))
    if not bad.any():
        return None
    coords = shapely.get_coordinates(geoms[np.argmax(bad)])
    for x, y in coords:
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            return f"({_fmt(x)}, {_fmt(y)})"
    return f"({_fmt(coords[0][0])}, {_fmt(coords[0][1])})"


def geodesic_area(geom: shapely.Geometry) -> float:
    """Area in m² of a lon/lat geometry on the WGS 84 ellipsoid."""
    area, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(area)


def to_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """The polygonal parts of ``geom`` as one MultiPolygon (maybe empty)."""
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    parts: list[shapely.Polygon] = []
    for part in getattr(geom, "geoms", []):
        if isinstance(part, (shapely.Polygon, shapely.MultiPolygon, shapely.GeometryCollection)):
            parts.extend(to_multipolygon(part).geoms)
    return shapely.MultiPolygon(parts)


def repair(geom: shapely.Geometry) -> shapely.MultiPolygon | None:
    """``geom`` made valid, keeping only its polygonal parts; None if none are left."""
    fixed = to_multipolygon(shapely.make_valid(geom))
    if not fixed.is_valid:
        # Parts of a GeometryCollection may share edges, which a MultiPolygon may not.
        fixed = to_multipolygon(shapely.union_all(list(fixed.geoms)))
    if fixed.is_empty or not fixed.is_valid:
        return None
    return fixed


def _check_validity(
    frame: gpd.GeoDataFrame, labels: list[str], label: str, fix: bool
) -> tuple[gpd.GeoDataFrame, list[str]]:
    geoms = np.asarray(frame.geometry.array, dtype=object)
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if not len(invalid):
        return frame, []
    problems: list[str] = []
    fixes: list[str] = []
    for i in invalid:
        reason = shapely.is_valid_reason(geoms[i])
        if not fix:
            problems.append(f"{labels[i]}: {reason}")
            continue
        fixed = repair(geoms[i])
        if fixed is None:
            problems.append(f"{labels[i]}: {reason}; repairing it leaves no polygon")
            continue
        fixes.append(
            f"{labels[i]}: {reason} repaired; area {geodesic_area(geoms[i]):.1f} m² → "
            f"{geodesic_area(fixed):.1f} m²"
        )
        geoms[i] = fixed
    if problems:
        advice = (
            "these cannot be repaired; correct them in the source"
            if fix
            else "correct them in the source, or pass --fix to repair them "
            "(each repair is reported)"
        )
        raise InvalidGeometry(
            f"{label}: {len(problems)} feature(s) have invalid geometry; {advice}. "
            "Nothing was imported.",
            details=capped(problems),
        )
    return frame.set_geometry(list(geoms), crs=frame.crs), fixes
