"""GeoJSON views of a community: its grids, compounds, buildings and units.

Every function takes a ``Session`` and plain values and returns JSON-ready
dicts: RFC 7946 FeatureCollections (lon/lat in EPSG:4326, exterior rings
counter-clockwise) with the OGC API Features members ``numberMatched`` and
``numberReturned`` for paging. The web API serialises them as they are and the
map builder (:mod:`gridgis.maps.community`) draws them.

Bounding-box filters run in PostGIS: ``geom && envelope`` lets the planner use
the GiST index, ``ST_Intersects`` then drops what only the boxes share.

What each feature carries (its properties, their order and the SQL behind
them) is the layer's spec (:mod:`gridgis.geo.layers`, its view fields), the
same spec the exporter and importer read. These layers never carry staff names
or phones; ``gridgis.staff.roster`` gives the teams separately. A ``scope`` (a
grid staff member's area, :class:`gridgis.access.permissions.Scope`) limits
each layer to the grids, buildings and units in it, and compounds to those
holding one of its buildings.

Community summaries (extent, layout in force, counts) live in
:mod:`gridgis.maps.communities`; they are re-exported here.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis.access.scope import Scope
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.layers import COORDINATE_DIGITS, LAYER_SPECS
from gridgis.geo.layouts import choose_layout, layout_names

# Re-exported (``__all__``): part of this module's API since before the split.
from gridgis.geo.query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BBox,
    parse_bbox,
    parse_limit,
    parse_offset,
)
from gridgis.maps.communities import community_summaries, community_summary
from gridgis.models import Building, Community, Compound, Grid, Layout, Unit

__all__ = [
    "COORDINATE_DIGITS",
    "DEFAULT_LIMIT",
    "LAYERS",
    "MAX_LIMIT",
    "BBox",
    "building_collection",
    "check_layer",
    "community_summaries",
    "community_summary",
    "compound_collection",
    "grid_collection",
    "layer_collection",
    "parse_bbox",
    "parse_limit",
    "parse_offset",
    "unit_collection",
]

#: The layers of a community, in drawing order (bottom first).
LAYERS = ("grids", "compounds", "buildings", "units")

JSON = dict[str, Any]


def _in_bbox(geom: Any, bbox: BBox) -> ColumnElement[bool]:
    envelope = bbox.envelope()
    return sa.and_(geom.op("&&")(envelope), sa.func.ST_Intersects(geom, envelope))


def _collection(
    session: Session,
    layer: str,
    owner_id: int,
    scoped: ColumnElement[bool] | None,
    *,
    bbox: BBox | None,
    limit: int | None,
    offset: int,
) -> JSON:
    """One page of the features of ``layer`` that ``owner_id`` holds (a layout or community).

    The properties are the view fields of the layer's spec, in order.
    """
    spec = LAYER_SPECS[layer]
    where = [spec.owner == owner_id]
    if scoped is not None:
        where.append(scoped)
    if bbox is not None:
        where.append(_in_bbox(spec.geometry, bbox))
    stmt = spec.view_select().where(*where).offset(offset).limit(limit)
    names = [f.name for f in spec.view_fields]
    features = []
    for *values, geometry in session.execute(stmt):
        properties = dict(zip(names, values))
        features.append(
            {
                "type": "Feature",
                "id": spec.feature_id(properties),
                "geometry": json.loads(geometry),
                "properties": properties,
            }
        )
    matched = sa.select(sa.func.count()).select_from(spec.from_clause()).where(*where)
    return {
        "type": "FeatureCollection",
        "numberMatched": int(session.scalar(matched) or 0),
        "numberReturned": len(features),
        "features": features,
    }


def grid_collection(
    session: Session,
    layout: Layout,
    *,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
    scope: Scope | None = None,
) -> JSON:
    """The grids of ``layout`` with their households (only ``scope``'s grids, if given).

    ``households`` is the sum over the buildings that belong to the grid
    (:mod:`gridgis.geo.areas`: each building counts in exactly one grid),
    ``buildings`` their number.
    """
    scoped = None if scope is None else Grid.id.in_(sorted(scope.grid_ids))
    return _collection(session, "grids", layout.id, scoped, bbox=bbox, limit=limit, offset=offset)


def compound_collection(
    session: Session,
    community: Community,
    *,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
    scope: Scope | None = None,
) -> JSON:
    """The compounds (小区) of ``community`` with their property company (物业) by name."""
    scoped = None
    if scope is not None:
        scoped = Compound.id.in_(
            sa.select(Building.compound_id).where(Building.id.in_(sorted(scope.building_ids)))
        )
    return _collection(
        session, "compounds", community.id, scoped, bbox=bbox, limit=limit, offset=offset
    )


def building_collection(
    session: Session,
    community: Community,
    *,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
    scope: Scope | None = None,
) -> JSON:
    """The buildings (楼栋) of ``community`` with households, compound and unit count."""
    scoped = None if scope is None else Building.id.in_(sorted(scope.building_ids))
    return _collection(
        session, "buildings", community.id, scoped, bbox=bbox, limit=limit, offset=offset
    )


def unit_collection(
    session: Session,
    community: Community,
    *,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
    scope: Scope | None = None,
) -> JSON:
    """The units (单元) of ``community``; a unit's id is ``<building code>/<number>``."""
    scoped = None if scope is None else Unit.id.in_(sorted(scope.unit_ids))
    return _collection(
        session, "units", community.id, scoped, bbox=bbox, limit=limit, offset=offset
    )


def check_layer(layer: str) -> None:
    """Raise NotFound, listing the layers, unless ``layer`` is one of :data:`LAYERS`."""
    if layer not in LAYERS:
        raise NotFound(f"No layer {layer!r}; the layers are: {', '.join(LAYERS)}.")


def layer_collection(
    session: Session,
    community: Community,
    layer: str,
    *,
    bbox: BBox | None = None,
    layout_name: str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
    scope: Scope | None = None,
    drafts: bool = True,
) -> JSON:
    """One layer of ``community`` by name (see :data:`LAYERS`).

    Args:
        session: The database session.
        community: Whose layer.
        layer: ``grids``, ``compounds``, ``buildings`` or ``units``.
        bbox: Only features that intersect this box.
        layout_name: For grids, the layout to show (default: the one in force).
        limit: At most this many features (None: all).
        offset: Skip this many features first (features are ordered by code).
        scope: Only features in this area (grid staff); None: all.
        drafts: Whether draft layouts may be shown or named (planners and
            administrators only: a draft is a plan, not yet the truth).

    Raises:
        NotFound: Unknown layer or layout, or no layout in force for grids.
        InvalidInput: ``layout_name`` given for a layer other than grids.
    """
    check_layer(layer)
    paging = {"bbox": bbox, "limit": limit, "offset": offset, "scope": scope}
    if layer == "grids":
        layout = choose_layout(session, community, layout_name, drafts=drafts)
        if layout is None:
            names = layout_names(session, community, drafts=drafts)
            raise NotFound(
                f"Community {community.code} has no layout in force; ask for one by name "
                f"with layout=NAME (its layouts are: {names})."
            )
        return grid_collection(session, layout, **paging)  # type: ignore[arg-type]
    if layout_name is not None:
        raise InvalidInput(
            f"layout= applies only to the grids layer (compounds, buildings and units "
            f"do not change with a layout); remove it from the {layer} request."
        )
    build = {
        "compounds": compound_collection,
        "buildings": building_collection,
        "units": unit_collection,
    }[layer]
    return build(session, community, **paging)  # type: ignore[arg-type]
