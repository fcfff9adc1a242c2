"""GeoJSON views of a community: its grids, compounds, buildings and units.

Every function takes a ``Session`` and plain values and returns JSON-ready
dicts: RFC 7946 FeatureCollections (lon/lat in EPSG:4326, exterior rings
counter-clockwise) with the OGC API Features members ``numberMatched`` and
``numberReturned`` for paging. The web API serialises them as they are and the
map builder (:mod:`gridgis.maps.community`) draws them.

Bounding-box filters run in PostGIS: ``geom && envelope`` lets the planner use
the GiST index, ``ST_Intersects`` then drops what only the boxes share.

These layers never carry staff names or phones; ``gridgis.staff.roster`` gives the
teams separately. A ``scope`` (a grid staff member's area,
:class:`gridgis.access.permissions.Scope`) limits each layer to the grids,
buildings and units in it, and compounds to those holding one of its buildings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.scope import Scope
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.areas import building_in_grid
from gridgis.geo.layouts import choose_layout, get_community, in_force_clause, layout_names
from gridgis.geo.query import (  # noqa: F401  (re-exported: part of this module's API)
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BBox,
    parse_bbox,
    parse_limit,
    parse_offset,
)
from gridgis.models import Building, Community, Compound, Department, Grid, Layout, Unit

#: The layers of a community, in drawing order (bottom first).
LAYERS = ("grids", "compounds", "buildings", "units")
#: 7 decimals of a degree is about 1 cm: more digits only make documents longer.
COORDINATE_DIGITS = 7

JSON = dict[str, Any]

# --- communities --------------------------------------------------------------


def community_summaries(session: Session, *, code: str | None = None) -> list[JSON]:
    """Every community (or the one with ``code``) by code, with extent, layout and counts.

    Returns:
        Dicts with ``code``, ``name``, ``bbox`` ([minlon, minlat, maxlon, maxlat]),
        ``layout`` (the layout in force: ``name`` and ``valid_from``, or None) and
        ``counts`` of grids (in the layout in force), compounds, buildings, units.
    """
    layout = (
        sa.select(Layout.id, Layout.name, Layout.valid_from)
        .where(Layout.community_id == Community.id, in_force_clause(clock.now()))
        .limit(1)
        .lateral("layout_in_force")
    )

    def count(*where: ColumnElement[bool], of: Any) -> Any:
        return sa.select(sa.func.count()).select_from(of).where(*where).scalar_subquery()

    stmt = (
        sa.select(
            Community.code,
            Community.name,
            sa.func.ST_XMin(Community.boundary),
            sa.func.ST_YMin(Community.boundary),
            sa.func.ST_XMax(Community.boundary),
            sa.func.ST_YMax(Community.boundary),
            layout.c.name,
            layout.c.valid_from,
            count(Grid.layout_id == layout.c.id, of=Grid),
            count(Compound.community_id == Community.id, of=Compound),
            count(Building.community_id == Community.id, of=Building),
            count(
                Building.community_id == Community.id,
                of=sa.join(Unit, Building, Unit.building_id == Building.id),
            ),
        )
        .outerjoin(layout, sa.true())
        .order_by(Community.code)
    )
    if code is not None:
        stmt = stmt.where(Community.code == code)
    out = []
    for row in session.execute(stmt):
        (c_code, name, x0, y0, x1, y1, l_name, l_from, grids, compounds, buildings, units) = row
        out.append(
            {
                "code": c_code,
                "name": name,
                "bbox": [round(v, COORDINATE_DIGITS) for v in (x0, y0, x1, y1)],
                "layout": None
                if l_name is None
                else {"name": l_name, "valid_from": l_from.isoformat()},
                "counts": {
                    "grids": grids,
                    "compounds": compounds,
                    "buildings": buildings,
                    "units": units,
                },
            }
        )
    return out


def community_summary(session: Session, code: str) -> JSON:
    """One community's summary (see :func:`community_summaries`), or NotFound."""
    found = community_summaries(session, code=code)
    if not found:
        get_community(session, code)  # raises NotFound naming the code
    return found[0]


# --- layers -------------------------------------------------------------------


def _geojson(geom: Any) -> ColumnElement[str]:
    # RFC 7946 wants exterior rings counter-clockwise; options 0: no crs, no bbox.
    return sa.func.ST_AsGeoJSON(sa.func.ST_ForcePolygonCCW(geom), COORDINATE_DIGITS, 0)


def _in_bbox(geom: Any, bbox: BBox) -> ColumnElement[bool]:
    envelope = bbox.envelope()
    return sa.and_(geom.op("&&")(envelope), sa.func.ST_Intersects(geom, envelope))


def _feature(fid: str, geometry: str, properties: JSON) -> JSON:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": json.loads(geometry),
        "properties": properties,
    }


def _collection(features: list[JSON], matched: int) -> JSON:
    return {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(features),
        "features": features,
    }


@dataclass(frozen=True)
class _Query:
    """One layer's filters, shared by its page query and its count."""

    where: list[ColumnElement[bool]] = field(default_factory=list)

    def count(self, session: Session, source: Any) -> int:
        found = session.scalar(sa.select(sa.func.count()).select_from(source).where(*self.where))
        return int(found or 0)


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
    query = _Query([Grid.layout_id == layout.id])
    if bbox is not None:
        query.where.append(_in_bbox(Grid.geom, bbox))
    if scope is not None:
        query.where.append(Grid.id.in_(sorted(scope.grid_ids)))
    in_grid = sa.and_(
        Building.community_id == layout.community_id, building_in_grid(Building, Grid)
    )
    stmt = (
        sa.select(
            Grid.code,
            Grid.name,
            _geojson(Grid.geom),
            sa.func.count(Building.id),
            sa.func.coalesce(sa.func.sum(Building.households), 0),
        )
        .outerjoin(Building, in_grid)
        .where(*query.where)
        .group_by(Grid.id)
        .order_by(Grid.code, Grid.id)
        .offset(offset)
        .limit(limit)
    )
    features = [
        _feature(
            code,
            geometry,
            {
                "code": code,
                "name": name,
                "layout": layout.name,
                "households": int(households or 0),
                "buildings": buildings,
            },
        )
        for code, name, geometry, buildings, households in session.execute(stmt)
    ]
    return _collection(features, query.count(session, Grid))


def compound_collection(
    session: Session,
    community: Community,
    *,
    bbox: BBox | None = None,
    limit: int | None = None,
    offset: int = 0,
    scope: Scope | None = None,
) -> JSON:
    """The compounds (小区) of ``community`` with their property company (物业)."""
    query = _Query([Compound.community_id == community.id])
    if bbox is not None:
        query.where.append(_in_bbox(Compound.geom, bbox))
    if scope is not None:
        query.where.append(
            Compound.id.in_(
                sa.select(Building.compound_id).where(Building.id.in_(sorted(scope.building_ids)))
            )
        )
    stmt = (
        sa.select(
            Compound.code,
            Compound.name,
            Department.name,
            Compound.has_owners_committee,
            _geojson(Compound.geom),
        )
        .outerjoin(Department, Compound.property_company_id == Department.id)
        .where(*query.where)
        .order_by(Compound.code)
        .offset(offset)
        .limit(limit)
    )
    features = [
        _feature(
            code,
            geometry,
            {
                "code": code,
                "name": name,
                "property_company": company,
                "has_owners_committee": committee,
            },
        )
        for code, name, company, committee, geometry in session.execute(stmt)
    ]
    return _collection(features, query.count(session, Compound))


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
    query = _Query([Building.community_id == community.id])
    if bbox is not None:
        query.where.append(_in_bbox(Building.geom, bbox))
    if scope is not None:
        query.where.append(Building.id.in_(sorted(scope.building_ids)))
    units = (
        sa.select(sa.func.count())
        .select_from(Unit)
        .where(Unit.building_id == Building.id)
        .scalar_subquery()
    )
    stmt = (
        sa.select(
            Building.code,
            Building.name,
            Building.address,
            Building.floors,
            Building.households,
            Compound.code,
            units,
            _geojson(Building.geom),
        )
        .outerjoin(Compound, Building.compound_id == Compound.id)
        .where(*query.where)
        .order_by(Building.code)
        .offset(offset)
        .limit(limit)
    )
    features = [
        _feature(
            code,
            geometry,
            {
                "code": code,
                "name": name,
                "address": address,
                "floors": floors,
                "households": households,
                "compound": compound,
                "units": unit_count,
            },
        )
        for code, name, address, floors, households, compound, unit_count, geometry in (
            session.execute(stmt)
        )
    ]
    return _collection(features, query.count(session, Building))


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
    query = _Query([Building.community_id == community.id])
    if bbox is not None:
        query.where.append(_in_bbox(Unit.geom, bbox))
    if scope is not None:
        query.where.append(Unit.id.in_(sorted(scope.unit_ids)))
    stmt = (
        sa.select(Building.code, Unit.number, Unit.households, _geojson(Unit.geom))
        .join(Building, Unit.building_id == Building.id)
        .where(*query.where)
        .order_by(Building.code, Unit.number)
        .offset(offset)
        .limit(limit)
    )
    features = [
        _feature(
            f"{building}/{number}",
            geometry,
            {"building": building, "number": number, "households": households},
        )
        for building, number, households, geometry in session.execute(stmt)
    ]
    source = sa.join(Unit, Building, Unit.building_id == Building.id)
    return _collection(features, query.count(session, source))


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

    Raises:
        NotFound: Unknown layer or layout, or no layout in force for grids.
        InvalidInput: ``layout_name`` given for a layer other than grids.
    """
    check_layer(layer)
    paging = {"bbox": bbox, "limit": limit, "offset": offset, "scope": scope}
    if layer == "grids":
        layout = choose_layout(session, community, layout_name)
        if layout is None:
            raise NotFound(
                f"Community {community.code} has no layout in force; ask for one by name "
                f"with layout=NAME (its layouts are: {layout_names(session, community)})."
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
