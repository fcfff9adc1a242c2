"""Routing over HTTP: ``POST /api/v1/route`` and ``POST /api/v1/route/batch``.

The single route takes a JSON object with ``lon``/``lat`` (and ``crs``:
an EPSG code, ``gcj02`` or ``bd09``) or an ``address``, plus optional
``category``, ``at`` (ISO 8601 with zone) and ``community``. The batch takes
a GeoJSON FeatureCollection (as the JSON body) or a CSV (``text/csv`` body or
an uploaded ``file``) and answers in the same format with routing columns
added, every row kept. Names and phones of the routed team are shown in full
only to those who may see them (one rule, person by person:
:func:`gridgis.access.privacy.sees_staff_contact`); the batch output names
staff by code only, and grid staff get no answer for a row outside their
area, as for a single point. A batch holds at most ``GRIDGIS_MAX_BATCH_ROWS``
rows (100,000 by default): more get a 413 that says the limit, before the
file is read in full.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, Response, jsonify, request

from gridgis.clock import parse_time
from gridgis.errors import InvalidInput
from gridgis.routing.addresses import route_address
from gridgis.routing.files import route_table, write_table
from gridgis.routing.points import route_point
from web import db
from web.security import current_principal, requires

bp = Blueprint("routing", __name__)

SINGLE_FIELDS = ("lon", "lat", "crs", "address", "category", "at", "community")


#: JSON nested beyond Python's recursion limit (a list in a list ... 100,000 deep).
TOO_DEEP = "The body is nested too deeply to read; send a flat JSON object or FeatureCollection."


def _body() -> dict[str, Any]:
    try:
        data = request.get_json(silent=True)
    except RecursionError as exc:
        raise InvalidInput(TOO_DEEP) from exc
    if not isinstance(data, dict):
        raise InvalidInput(
            'The body must be a JSON object such as {"lon": 114.345, "lat": 30.505} '
            'or {"address": "仁和南路18号"}, sent with Content-Type: application/json.'
        )
    unknown = sorted(set(data) - set(SINGLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown field(s) {', '.join(unknown)}; the fields are {', '.join(SINGLE_FIELDS)}."
        )
    return data


def _coordinate(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    # bool is an int in Python; true is not a longitude.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInput(f"'{name}' must be a number, got {json.dumps(value)}.")
    try:
        number = float(value)
    except (ValueError, OverflowError) as exc:  # OverflowError: an integer beyond 1e308
        raise InvalidInput(f"'{name}' must be a number, got {json.dumps(value)}.") from exc
    if not math.isfinite(number):
        raise InvalidInput(f"'{name}' must be a finite number, got {json.dumps(value)}.")
    return number


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 500:
        raise InvalidInput(f"'{name}' must be a string of at most 500 characters.")
    return value


@bp.post("/route")
@requires("route:read")
def route() -> Response:
    """Route one incident: a point in any supported CRS, or an address."""
    data = _body()
    category = _text(data, "category")
    community = _text(data, "community")
    at = parse_time(_text(data, "at"), "'at'")
    # Reads only: the replica when GRIDGIS_READ_DATABASE_URL is set (web.db).
    session = db.get_read_session()
    has_point = data.get("lon") is not None or data.get("lat") is not None
    if has_point:
        result = route_point(
            session,
            _coordinate(data, "lon"),
            _coordinate(data, "lat"),
            crs=_text(data, "crs") or "EPSG:4326",
            category=category,
            at=at,
            community_code=community,
        )
    elif _text(data, "address"):
        result = route_address(
            session,
            _text(data, "address") or "",
            category=category,
            at=at,
            community_code=community,
            within=current_principal().scope,
        )
    else:
        raise InvalidInput("Give either 'lon' and 'lat' or an 'address'.")
    return jsonify(result.to_dict(current_principal()))


@bp.post("/route/batch")
@requires("route:read")
def route_batch() -> Response:
    """Route a CSV or GeoJSON document; answer in the same format, every row kept."""
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read()
        source = upload.filename or "upload.csv"
    else:
        data = request.get_data(cache=False)
        mimetype = request.mimetype or ""
        source = "body.geojson" if "json" in mimetype else "body.csv"
        if not data:
            raise InvalidInput(
                "Send a GeoJSON FeatureCollection (Content-Type: application/geo+json), a CSV "
                "(Content-Type: text/csv), or a multipart upload with the file in 'file'."
            )
    options = request.values
    try:
        table = route_table(
            db.get_read_session(),
            data,
            source,
            lon_field=options.get("lon_field") or None,
            lat_field=options.get("lat_field") or None,
            crs=options.get("crs") or None,
            category_field=options.get("category_field") or None,
            at=parse_time(options.get("at") or None, "'at'"),
            community_code=options.get("community") or None,
            viewer=current_principal(),
            max_rows=db.state().settings.max_batch_rows,
        )
    except RecursionError as exc:
        raise InvalidInput(TOO_DEEP) from exc
    body = write_table(table)
    mimetype = "application/geo+json" if table.kind == "geojson" else "text/csv"
    response = Response(body, mimetype=mimetype)
    if table.kind == "csv":
        response.headers["Content-Disposition"] = 'attachment; filename="routed.csv"'
    # Counts per rule, so a client sees at a glance what happened.
    response.headers["X-Gridgis-Rules"] = json.dumps(dict(table.summary()), ensure_ascii=True)
    return response
