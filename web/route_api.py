"""Routing over HTTP: ``POST /api/v1/route`` and ``POST /api/v1/route/batch``.

The single route takes a JSON object with ``lon``/``lat`` (and ``crs``:
an EPSG code, ``gcj02`` or ``bd09``) or an ``address``, plus optional
``category``, ``at`` (ISO 8601 with zone) and ``community``. The batch takes
a GeoJSON FeatureCollection (as the JSON body) or a CSV (``text/csv`` body or
an uploaded ``file``) and answers in the same format with routing columns
added, every row kept. Names and phones of staff are masked until accounts
and roles exist (issue "Accounts, roles and the protection of residents'
data"); staff codes identify the team.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, Response, jsonify, request

from gridgis._params import parse_time
from gridgis.addresses import route_address
from gridgis.errors import InvalidInput
from gridgis.routing import RoutingResult, route_point
from gridgis.routing_io import route_table, write_table
from web import db

bp = Blueprint("route_api", __name__, url_prefix="/api/v1")

SINGLE_FIELDS = ("lon", "lat", "crs", "address", "category", "at", "community")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
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
    except ValueError as exc:
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


def serialise(result: RoutingResult) -> dict[str, Any]:
    return result.to_dict(personal=False)


@bp.post("/route")
def route() -> Response:
    """Route one incident: a point in any supported CRS, or an address."""
    data = _body()
    category = _text(data, "category")
    community = _text(data, "community")
    at = parse_time(_text(data, "at"), "'at'")
    session = db.get_session()
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
        )
    else:
        raise InvalidInput("Give either 'lon' and 'lat' or an 'address'.")
    return jsonify(serialise(result))


@bp.post("/route/batch")
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
    table = route_table(
        db.get_session(),
        data,
        source,
        lon_field=options.get("lon_field") or None,
        lat_field=options.get("lat_field") or None,
        crs=options.get("crs") or None,
        category_field=options.get("category_field") or None,
        at=parse_time(options.get("at") or None, "'at'"),
        community_code=options.get("community") or None,
    )
    body = write_table(table)
    mimetype = "application/geo+json" if table.kind == "geojson" else "text/csv"
    response = Response(body, mimetype=mimetype)
    if table.kind == "csv":
        response.headers["Content-Disposition"] = 'attachment; filename="routed.csv"'
    # Counts per rule, so a client sees at a glance what happened.
    response.headers["X-Gridgis-Rules"] = json.dumps(dict(table.summary()), ensure_ascii=True)
    return response
