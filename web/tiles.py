"""Vector tiles: ``GET /tiles/{layer}/{z}/{x}/{y}.mvt[?community=CODE[&layout=NAME]]``.

The layers communities, grids, compounds, buildings, units and (open)
incidents as Mapbox Vector Tiles, made by PostGIS (:mod:`gridgis.maps.tiles`):
of one community, or without ``community=`` of every community (the city
map; grids of the layouts in force). The permission is
the layer API's, ``layers:read`` (incidents also need ``incidents:read``);
grid staff get only the features of their own area.

Caching: the ETag is the tile's version, known before the tile is made, so a
matching ``If-None-Match`` is a 304 without the tile's query. ``no-cache``: a
cache keeps the tile but asks each time (with the asker's own login, so a proxy
never hands a tile to someone the app would refuse); ``public`` when the tile
is everyone's, ``private`` when it holds one person's area or incidents.

An empty tile is a 204 without a body (as Martin and pg_tileserv answer):
nothing to decode, and map clients (Leaflet.VectorGrid, MapLibre) draw nothing.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, request
from werkzeug.wrappers import Response

from gridgis.geo.layouts import get_community
from gridgis.maps import tiles
from web import db
from web.security import current_principal, requires

bp = Blueprint("tiles", __name__)


@bp.get("/tiles/<layer>/<z>/<x>/<y>.mvt")
@requires("layers:read")
def tile(layer: str, z: str, x: str, y: str) -> Response:
    """A vector tile (MVT) of one community's layer or every one's; grid staff get their area."""
    code = request.args.get("community")
    # Reads only: the replica when GRIDGIS_READ_DATABASE_URL is set (web.db).
    session = db.get_read_session()
    community = get_community(session, code) if code else None
    # The path's layer first: an unknown one is a 404 whatever the tile.
    tiles.check_layer(layer)
    address = tiles.parse_tile(z, x, y)
    plan = tiles.plan_tile(
        session,
        community,
        layer,
        address,
        viewer=current_principal(),
        layout_name=request.args.get("layout"),
    )
    headers = {"Cache-Control": f"{'private' if plan.scoped else 'public'}, no-cache"}
    if plan.version is not None and plan.version in request.if_none_match:
        return Response(status=304, headers={**headers, "ETag": f'"{plan.version}"'})
    body = tiles.render(session, plan)
    # Incidents have no version ahead of the tile: their ETag is the bytes' own.
    etag = plan.version or hashlib.sha256(body).hexdigest()[:32]
    headers["ETag"] = f'"{etag}"'
    if plan.version is None and etag in request.if_none_match:
        return Response(status=304, headers=headers)
    if not body:
        return Response(status=204, headers=headers)
    return current_app.response_class(body, mimetype=tiles.MVT_MEDIA_TYPE, headers=headers)
