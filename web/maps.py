"""HTML pages: the overview map of a community (``/``, ``/communities/<code>``).

A community past :data:`gridgis.maps.vector.INLINE_LIMIT` features draws its
buildings from the vector tiles (:mod:`web.tiles`) when Leaflet.VectorGrid is
installed (``make assets``), else inline as before.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gridgis.errors import N_, InvalidInput
from gridgis.geo.layouts import get_community
from gridgis.maps import community as community_map
from gridgis.maps import offline
from gridgis.maps.vector import TileSource
from gridgis.models import Community
from web import assets, db, i18n
from web.security import csp_nonce, current_principal, requires

bp = Blueprint("maps", __name__)


def _communities() -> list[tuple[str, str]]:
    rows = db.get_session().execute(
        sa.select(Community.code, Community.name).order_by(Community.code)
    )
    return [(code, name) for code, name in rows]


def _map_page(code: str, communities: list[tuple[str, str]]) -> str:
    session = db.get_session()
    community = get_community(session, code)
    principal = current_principal()
    m = community_map.build_community_map(
        session,
        community,
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        gettext=i18n.gettext,
        tiles=db.state().tiles,
        layout_name=request.args.get("layout") or None,
        viewer=principal,
        lang=i18n.current_language(),
        tile_source=tile_source() if assets.vectorgrid_installed() else None,
    )
    parts = offline.render_parts(m)
    # folium writes inline <script> and <style> elements: the CSP admits them by nonce.
    parts = offline.MapParts(
        header=with_nonce(parts.header), html=with_nonce(parts.html), script=parts.script
    )
    return render_template("map.html", community=community, communities=communities, map=parts)


def tile_source() -> TileSource:
    """The app's URLs of VectorGrid, the tiles and the community pages (for the maps).

    Raises:
        web.assets.AssetsMissing: VectorGrid is not installed (``make assets``).
    """
    assets.check_vectorgrid()

    def tile_url(layer: str, community: str | None) -> str:
        # url_for would escape the braces of the template: build it on a tile 0/0/0.
        url = url_for("tiles.tile", layer=layer, z="0", x="0", y="0", community=community)
        return url.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt", 1)

    return TileSource(
        script_url=url_for("assets.vectorgrid", filename=assets.VECTORGRID_JS),
        tile_url=tile_url,
        community_url=url_for("maps.community", code="CODE"),
    )


_INLINE = re.compile(r"<(script|style)\b", re.IGNORECASE)


def with_nonce(html: str) -> str:
    return _INLINE.sub(lambda m: f'<{m.group(1)} nonce="{csp_nonce()}"', html)


@bp.get("/")
@requires("map:view")
def overview() -> str:
    """The first community by code, or how to load one when there is none."""
    communities = _communities()
    if not communities:
        return render_template("empty.html")
    return _map_page(communities[0][0], communities)


@bp.get("/communities/<code>")
@requires("map:view")
def community(code: str) -> str:
    """One community's map; ``?layout=NAME`` draws that layout's grids."""
    return _map_page(code, _communities())


@bp.get("/go")
@requires("map:view")
def choose() -> Response:
    """Where the community selector lands (it also works without JavaScript)."""
    code = request.args.get("community", "").strip()
    if not code:
        raise InvalidInput(N_("Choose a community."))
    return redirect(url_for(".community", code=code))
