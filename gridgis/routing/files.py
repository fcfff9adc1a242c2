"""Routing whole files: CSV and GeoJSON in, the same rows out with routing columns.

Every input row comes back, in order, with every input column untouched
(values are kept as the text they were: a "1,234" in another column stays
"1,234"). Rows whose coordinates are missing or unparsable stay too, with
``rule=invalid_location`` and a reason. Used by ``gridgis route`` and by the
batch API.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gridgis.errors import InvalidFile, InvalidInput
from gridgis.routing.points import PointInput, RoutingResult, route_points

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
LON_NAMES = ("longitude", "lon", "lng", "long", "x", "经度")
LAT_NAMES = ("latitude", "lat", "y", "纬度")
# Real-world CSVs can have very long text fields (complaint descriptions).
csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class RoutedTable:
    """Rows (dicts of text) with their columns, and the routing results."""

    columns: list[str]
    rows: list[dict[str, Any]]
    results: list[RoutingResult] = field(default_factory=list)
    kind: str = "csv"
    #: For GeoJSON: the features, whose properties are ``rows``.
    features: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> Counter[str]:
        return Counter(r.rule for r in self.results)


def _pick(
    columns: list[str], wanted: str | None, names: tuple[str, ...], what: str, source: str
) -> str | None:
    if wanted:
        if wanted not in columns:
            raise InvalidInput(
                f"{source}: there is no column {wanted!r} for the {what}; "
                f"the columns are: {', '.join(columns)}."
            )
        return wanted
    lowered = {c.strip().lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


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


def read_csv(data: bytes, source: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Read CSV bytes (UTF-8, with or without BOM; GB18030 as a fallback)."""
    if not data.strip():
        raise InvalidFile(f"{source}: the file is empty.")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise InvalidFile(f"{source}: not UTF-8 or GB18030 text.")
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InvalidFile(f"{source}: not a readable CSV file ({exc}).") from exc
    columns = list(reader.fieldnames or [])
    if not columns:
        raise InvalidFile(f"{source}: the CSV has no header row.")
    return columns, rows


def read_geojson(
    data: bytes, source: str
) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    if not data.strip():
        raise InvalidFile(f"{source}: the file is empty.")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidFile(f"{source}: not valid GeoJSON ({exc}).") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise InvalidFile(f"{source}: expected a GeoJSON FeatureCollection.")
    features = doc["features"]
    columns: list[str] = []
    rows = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise InvalidFile(f"{source}: feature {i} is not a GeoJSON Feature (an object).")
        props = feature.get("properties")
        if props is not None and not isinstance(props, dict):
            raise InvalidFile(f"{source}: the properties of feature {i} are not an object.")
        props = dict(props or {})
        for key in props:
            if key not in columns:
                columns.append(key)
        rows.append(props)
    return columns, rows, features


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
) -> RoutedTable:
    """Route every row of a CSV or GeoJSON document."""
    kind = kind or ("geojson" if source.lower().endswith((".geojson", ".json")) else "csv")
    features: list[dict[str, Any]] = []
    if kind == "geojson":
        columns, rows, features = read_geojson(data, source)
    else:
        columns, rows = read_csv(data, source)
    category_col = (
        _pick(columns, category_field, (), "category", source) if category_field else None
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
        lon_col = _pick(columns, lon_field, LON_NAMES, "longitude", source)
        lat_col = _pick(columns, lat_field, LAT_NAMES, "latitude", source)
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
    return RoutedTable(columns=columns, rows=rows, results=results, kind=kind, features=features)


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


def write_table(table: RoutedTable) -> bytes:
    """The routed table in its input format (CSV keeps a BOM-less UTF-8)."""
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
    added = [c for c in ROUTING_COLUMNS if c not in table.columns]
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(
        buffer, fieldnames=table.columns + added, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row, result in zip(table.rows, table.results):
        writer.writerow({**row, **routing_values(result)})
    return buffer.getvalue().encode("utf-8")


def route_file(session: Session, path: Path, out: Path, **options: Any) -> RoutedTable:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidFile(f"{path}: cannot read the file ({exc.strerror}).") from exc
    table = route_table(session, data, str(path), **options)
    out_kind = "geojson" if out.suffix.lower() in (".geojson", ".json") else "csv"
    if out_kind != table.kind:
        raise InvalidInput(
            f"{out}: write {table.kind} output for {table.kind} input "
            f"(use a .{'geojson' if table.kind == 'geojson' else 'csv'} name)."
        )
    out.write_bytes(write_table(table))
    return table
