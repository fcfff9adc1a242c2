"""The JSON API, ``/api/v1``: communities and their layers as GeoJSON.

Everything here needs ``layers:read``; grid staff get only the features of
their own area.

Layers are RFC 7946 FeatureCollections (``application/geo+json``) with
``numberMatched``/``numberReturned`` and ``links`` for paging, filtered by
``bbox=minlon,minlat,maxlon,maxlat`` and paged with ``limit``/``offset``.
No staff names or phones appear here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from werkzeug.wrappers import Response

from gridgis.geo.layouts import get_community
from gridgis.maps import features
from gridgis.maps.communities import community_summaries, community_summary
from web import db
from web.security import current_principal, requires

bp = Blueprint("layers", __name__)

GEOJSON = "application/geo+json"


def _community_links(code: str) -> list[dict[str, str]]:
    links = [
        {"rel": "self", "type": "application/json", "href": url_for(".community", code=code)},
        {"rel": "alternate", "type": "text/html", "href": url_for("maps.community", code=code)},
    ]
    links += [
        {"rel": layer, "type": GEOJSON, "href": url_for(".layer", code=code, layer=layer)}
        for layer in features.LAYERS
    ]
    return links


@bp.get("/communities")
@requires("layers:read")
def communities() -> Response:
    """Every community with its extent, layout in force and counts."""
    found = community_summaries(db.get_read_session(), scope=current_principal().scope)
    for summary in found:
        summary["links"] = _community_links(summary["code"])
    return jsonify({"communities": found})


@bp.get("/communities/<code>")
@requires("layers:read")
def community(code: str) -> Response:
    """One community, or 404 naming the code."""
    summary = community_summary(db.get_read_session(), code, scope=current_principal().scope)
    summary["links"] = _community_links(code)
    return jsonify(summary)


#: The query parameters of a layer (read by :func:`layer`), the only ones paging links carry.
LAYER_PARAMETERS = ("bbox", "layout", "limit", "offset")


def _page_links(
    code: str, layer: str, collection: dict[str, Any], limit: int, offset: int
) -> list[dict[str, str]]:
    # Only the layer's own parameters, never the raw query: url_for takes
    # "_external", "_scheme" and "_anchor" as instructions, and a client's
    # ?_external=1 with a forged Host header would make links to another host.
    kept = {k: v for k, v in request.args.items() if k in LAYER_PARAMETERS}

    def link(rel: str, page_offset: int) -> dict[str, str]:
        values: dict[str, Any] = {
            **kept,
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
    session = db.get_read_session()
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
        drafts=current_principal().can("layout:draft"),
    )
    collection["links"] = _page_links(code, layer, collection, limit, offset)
    return current_app.response_class(current_app.json.dumps(collection), mimetype=GEOJSON)
