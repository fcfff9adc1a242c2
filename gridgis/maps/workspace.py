"""The planning workspace's map (划片工作台): a shell folium draws, and the features it paints.

The page paints a draft edit by edit without reloading, so the map is drawn
in two parts. folium draws the shell once, on the app's Leaflet (no CDN):
the base layers, the community boundary and ``window.gridgis`` for the page
script. The grids and buildings are data the script draws and redraws
(:func:`grid_features`, :func:`building_features`): after an edit only the
grids it touched and the buildings in them are sent again
(:func:`placed_in`).

Which grid a building is in is :mod:`gridgis.geo.areas`'s rule, the one
routing and the tallies use, applied to the draft's grids. Each building
carries a point inside its footprint (``ST_PointOnSurface``, the point that
rule places it by): the page selects buildings by box and lasso with it.
Framework-free; the page is :mod:`web.plan_workspace`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

import folium
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.geo.areas import building_grid, building_in_grid
from gridgis.geo.layers import COORDINATE_DIGITS
from gridgis.maps.community import _MapHandle, community_frame
from gridgis.maps.offline import AssetsUrl, OfflineMap, TileSpec
from gridgis.maps.popups import BOUNDARY_STYLE
from gridgis.models import Building, Community, Compound, Grid, Layout

JSON = dict[str, Any]


def build_workspace_map(
    session: Session,
    layout: Layout,
    *,
    assets_url: AssetsUrl,
    tiles: Sequence[TileSpec] = (),
) -> OfflineMap:
    """The shell: base layers and the community boundary, fitted to the community."""
    community = session.get_one(Community, layout.community_id)
    m, boundary, (x0, y0, x1, y1) = community_frame(
        session, community, assets_url=assets_url, tiles=tiles
    )
    # The box tool drags boxes: Leaflet's own shift-drag zoom is not wanted beside it.
    m.options.update(box_zoom=False)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [boundary]},
        style_function=lambda f: BOUNDARY_STYLE,
        interactive=False,
        control=False,
    ).add_to(m)
    m.add_child(_MapHandle(m, {}))
    m.fit_bounds([[y0, x0], [y1, x1]], padding=(16, 16))
    return m


def grid_features(session: Session, layout: Layout, codes: Collection[str] | None = None) -> JSON:
    """The grids of ``layout`` (only ``codes``, if given): code, name and lock, by code."""
    where = [Grid.layout_id == layout.id]
    if codes is not None:
        where.append(Grid.code.in_(sorted(codes)))
    rows = session.execute(
        sa.select(
            Grid.code,
            Grid.name,
            Grid.locked,
            sa.func.ST_AsGeoJSON(Grid.geom, COORDINATE_DIGITS, 0),
        )
        .where(*where)
        .order_by(Grid.code)
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": code,
                "geometry": json.loads(geometry),
                "properties": {"code": code, "name": name, "locked": bool(locked)},
            }
            for code, name, locked, geometry in rows
        ],
    }


def building_features(session: Session, layout: Layout) -> JSON:
    """Every building of the community with its grid in ``layout``, compound and point."""
    grid_code = (
        sa.select(Grid.code)
        .where(Grid.id == building_grid(Building.geom, layout.id))
        .scalar_subquery()
    )
    point = sa.func.ST_PointOnSurface(Building.geom)
    rows = session.execute(
        sa.select(
            Building.code,
            Building.name,
            Building.households,
            Compound.code,
            grid_code,
            sa.func.ST_X(point),
            sa.func.ST_Y(point),
            sa.func.ST_AsGeoJSON(Building.geom, COORDINATE_DIGITS, 0),
        )
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .where(Building.community_id == layout.community_id)
        .order_by(Building.code)
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": code,
                "geometry": json.loads(geometry),
                "properties": {
                    "code": code,
                    "name": name,
                    "households": int(households or 0),
                    "compound": compound,
                    "grid": grid,
                    "point": [round(x, COORDINATE_DIGITS), round(y, COORDINATE_DIGITS)],
                },
            }
            for code, name, households, compound, grid, x, y, geometry in rows
        ],
    }


def placed_in(session: Session, layout: Layout, codes: Collection[str]) -> dict[str, str]:
    """Building code -> grid code for the buildings that belong to the grids ``codes``.

    After an edit these are the only buildings whose grid may have changed
    (a building changes grid only if a grid it was in or is in now changed);
    the page sets the others that were in those grids to no grid.
    """
    if not codes:
        return {}
    rows = session.execute(
        sa.select(Building.code, Grid.code)
        .join(Grid, building_in_grid(Building, Grid))
        .where(
            Grid.layout_id == layout.id,
            Grid.code.in_(sorted(codes)),
            Building.community_id == layout.community_id,
        )
    )
    return {building: grid for building, grid in rows}


def compounds_of(session: Session, community_id: int) -> list[tuple[str, str]]:
    """The community's compounds (小区): code and name, by name."""
    rows = session.execute(
        sa.select(Compound.code, Compound.name)
        .where(Compound.community_id == community_id)
        .order_by(Compound.name, Compound.code)
    )
    return [(code, name) for code, name in rows]
