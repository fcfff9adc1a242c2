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
    found = community_summaries(db.get_session())
    for summary in found:
        summary["links"] = _community_links(summary["code"])
    return jsonify({"communities": found})


@bp.get("/communities/<code>")
@requires("layers:read")
def community(code: str) -> Response:
    """One community, or 404 naming the code."""
    summary = community_summary(db.get_session(), code)
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
