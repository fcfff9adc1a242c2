"""The JSON API, ``/api/v1``: communities and their layers as GeoJSON.

``GET /api/v1`` (public) lists the endpoints, the permission each needs and
how to authenticate. Everything else needs ``layers:read``; grid staff get
only the features of their own area.

Layers are RFC 7946 FeatureCollections (``application/geo+json``) with
``numberMatched``/``numberReturned`` and ``links`` for paging, filtered by
``bbox=minlon,minlat,maxlon,maxlat`` and paged with ``limit``/``offset``.
No staff names or phones appear here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from werkzeug.wrappers import Response

from gridgis.access.permissions import PERMISSIONS, PUBLIC
from gridgis.geo.layouts import get_community
from gridgis.maps import features
from web import db
from web.security import CSRF_HEADER, current_principal, permission_of, requires

bp = Blueprint("api", __name__, url_prefix="/api/v1")

GEOJSON = "application/geo+json"


def _community_links(code: str) -> list[dict[str, str]]:
    links = [
        {"rel": "self", "type": "application/json", "href": url_for(".community", code=code)},
        {"rel": "alternate", "type": "text/html", "href": url_for("pages.community", code=code)},
    ]
    links += [
        {"rel": layer, "type": GEOJSON, "href": url_for(".layer", code=code, layer=layer)}
        for layer in features.LAYERS
    ]
    return links


@bp.get("")
@requires(PUBLIC)
def discovery() -> Response:
    """What the API offers, what each endpoint needs, and how to authenticate."""
    endpoints = []
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(bp.url_prefix or "/api/v1"):
            continue
        permission = permission_of(current_app, rule.endpoint) or "(none: refused)"
        endpoints.append(
            {
                "path": rule.rule,
                "methods": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}),
                "permission": permission,
                "allows": PERMISSIONS.get(permission, ""),
                "summary": _summary(rule.endpoint),
            }
        )
    return jsonify(
        {
            "name": "gridgis API",
            "version": "v1",
            "authentication": {
                "api_key": "Send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
                "session": (
                    "Or log in at /login; a logged-in browser sends "
                    f"'{CSRF_HEADER}' with every POST."
                ),
            },
            "endpoints": endpoints,
        }
    )


def _summary(endpoint: str) -> str:
    doc = (current_app.view_functions[endpoint].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


@bp.get("/communities")
@requires("layers:read")
def communities() -> Response:
    """Every community with its extent, layout in force and counts."""
    found = features.community_summaries(db.get_session())
    for summary in found:
        summary["links"] = _community_links(summary["code"])
    return jsonify({"communities": found})


@bp.get("/communities/<code>")
@requires("layers:read")
def community(code: str) -> Response:
    """One community, or 404 naming the code."""
    summary = features.community_summary(db.get_session(), code)
    summary["links"] = _community_links(code)
    return jsonify(summary)


def _page_links(
    code: str, layer: str, collection: dict[str, Any], limit: int, offset: int
) -> list[dict[str, str]]:
    args = request.args.to_dict()

    def link(rel: str, page_offset: int) -> dict[str, str]:
        values: dict[str, Any] = {
            **args,
            "code": code,
            "layer": layer,
            "limit": limit,
            "offset": page_offset,
        }
        return {"rel": rel, "type": GEOJSON, "href": url_for(".layer", **values)}

    links = [link("self", offset)]
    if offset + collection["numberReturned"] < collection["numberMatched"]:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(offset - limit, 0)))
    return links


@bp.get("/communities/<code>/<layer>")
@requires("layers:read")
def layer(code: str, layer: str) -> Response:
    """A layer of a community (grids, compounds, buildings, units) as GeoJSON.

    Grid staff get only what lies in their own grids, buildings and units.
    """
    session = db.get_session()
    community = get_community(session, code)
    # The path first, then the parameters: a wrong layer is a 404 whatever the query.
    features.check_layer(layer)
    bbox_text = request.args.get("bbox")
    bbox = features.parse_bbox(bbox_text) if bbox_text is not None else None
    limit = features.parse_limit(request.args.get("limit"))
    offset = features.parse_offset(request.args.get("offset"))
    collection = features.layer_collection(
        session,
        community,
        layer,
        bbox=bbox,
        layout_name=request.args.get("layout"),
        limit=limit,
        offset=offset,
        scope=current_principal().scope,
    )
    collection["links"] = _page_links(code, layer, collection, limit, offset)
    return current_app.response_class(current_app.json.dumps(collection), mimetype=GEOJSON)
