"""The city view: ``/city[?district=PREFIX][&page=N]``, communities with their figures and a map.

The table lists the communities under a code prefix (a district such as
420111, a street such as 420111003, or the whole city), a page at a time, with
their grids, buildings, units, households and open incidents
(:func:`gridgis.maps.city.city_page`); the map draws every community by vector
tiles (:func:`gridgis.maps.city.build_city_map`), fitted to those listed.
Anyone who may open the maps may open it; grid staff see their own area only.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from gridgis.errors import InvalidInput
from gridgis.maps import city, offline
from web import db, i18n
from web.maps import tile_source, with_nonce
from web.security import current_principal, requires

bp = Blueprint("city", __name__)


def _page_number() -> int:
    text = request.args.get("page", "1")
    if not text.isdigit():
        raise InvalidInput(f"page= is a page number (1, 2, ...); got {text!r}.")
    return int(text)


@bp.get("/city")
@requires("map:view")
def overview() -> str:
    """The communities under ``district=`` (default: all) with figures, and the city map."""
    prefix = request.args.get("district", "").strip()
    principal = current_principal()
    # Figures only: the standby's when it is fresh enough (web.db.get_read_session).
    session = db.get_read_session()
    page = city.city_page(session, principal, prefix=prefix, page=_page_number())
    m = city.build_city_map(
        page.bbox,
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        tile_source=tile_source(),
        gettext=i18n.gettext,
        tiles=db.state().tiles,
    )
    parts = offline.render_parts(m)
    parts = offline.MapParts(
        header=with_nonce(parts.header), html=with_nonce(parts.html), script=parts.script
    )
    return render_template("city.html", city=page, map=parts)
