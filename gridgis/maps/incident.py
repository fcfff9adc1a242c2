"""The small map on an incident's page: where it is, in which grid and building.

Drawn from the routing snapshot taken at intake (the grid and building the
incident was routed to), so a later redraw does not move it into another grid
on its own page. Only these shapes, not the whole community: whoever may see
the incident may see the place it was routed to.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import folium
import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session

from gridgis.maps.features import COORDINATE_DIGITS
from gridgis.maps.offline import AssetsUrl, OfflineMap, TileSpec
from gridgis.models import Building, Grid, Incident

GRID_STYLE = {"color": "#1a4f8b", "weight": 2, "fillOpacity": 0.08}
BUILDING_STYLE = {"color": "#555555", "weight": 1, "fillColor": "#9e9e9e", "fillOpacity": 0.6}


def _shape(session: Session, column: Any, key: Any, ident: int | None) -> dict[str, Any] | None:
    if ident is None:
        return None
    text = session.scalar(
        sa.select(sa.func.ST_AsGeoJSON(column, COORDINATE_DIGITS, 0)).where(key == ident)
    )
    return json.loads(text) if text else None


def build_incident_map(
    session: Session,
    incident: Incident,
    *,
    assets_url: AssetsUrl,
    tiles: Sequence[TileSpec] = (),
    gettext: Callable[[str], str] = str,
) -> OfflineMap | None:
    """The incident's point on its routed grid and building; None when it has no place at all."""
    point = _shape(session, sa.func.ST_Centroid(Incident.geom), Incident.id, incident.id)
    grid = _shape(session, Grid.geom, Grid.id, incident.grid_id)
    building = _shape(session, Building.geom, Building.id, incident.building_id)
    shapes = [s for s in (grid, building) if s is not None]
    if point is None and not shapes:
        return None
    m = OfflineMap(
        assets_url=assets_url,
        prefer_canvas=True,
        control_scale=True,
        position="absolute",
        zoom_start=17,
        location=[point["coordinates"][1], point["coordinates"][0]] if point else None,
    )
    m.options.update(max_zoom=20, zoom_snap=0.25)
    for spec in tiles:
        spec.layer().add_to(m)
    if grid is not None:
        folium.GeoJson(grid, style_function=lambda f: GRID_STYLE, control=False).add_to(m)
    if building is not None:
        folium.GeoJson(building, style_function=lambda f: BUILDING_STYLE, control=False).add_to(m)
    if point is not None:
        lon, lat = point["coordinates"]
        folium.CircleMarker(
            [lat, lon],
            radius=9,
            color="#b71c1c",
            weight=3,
            fill_color="#ff5252",
            tooltip=gettext("Where it happened"),
        ).add_to(m)
    if shapes:
        # The whole grid in view (and the point inside it): the worker knows the streets.
        x0, y0, x1, y1 = shape(shapes[0]).bounds
        m.fit_bounds([[y0, x0], [y1, x1]], padding=(12, 12))
    return m
