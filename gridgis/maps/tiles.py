"""Vector tiles (Mapbox Vector Tile, MVT) of a community's layers, made by PostGIS.

One statement per tile: the layer's rows under the tile (``geom && box``, so
the GiST index answers, the box widened by the tile's buffer so that shapes
just outside still draw their edge), each geometry projected to Web Mercator,
simplified to the tile's resolution and clipped by ``ST_AsMVTGeom``, and the
whole set encoded by ``ST_AsMVT``. Nothing is loaded into Python but the tile's
bytes.

What a feature carries is the layer's *view fields*
(:mod:`gridgis.geo.layers`), the same properties as the GeoJSON layers
(:mod:`gridgis.maps.features`): codes, names, households, counts — never staff
names or phones, never residents' data (DESIGN.md: tiles are on the "never"
side). Open incidents are points with their id, status and category code only:
no description, address or reporter.

A tile's *version* is what its bytes depend on, known before the tile is
made, so a client's ``If-None-Match`` is answered without building it: the
routing epoch (``models.RoutingEpoch``, moved by triggers on every write to
communities, layouts, grids, compounds, buildings, units and departments:
everything these layers read), the layout shown (the one in force changes with
the clock, not with a write) and the viewer's area. Incidents change without
moving the epoch and have no such counter (their events' ids are handed out
before commit, so a later commit can carry a smaller id), so their tiles have
no version: the web layer takes the tile's own hash.

Tiles of one community, or of every community (the city map): then grids are
those of each layout in force, and the version names which those are. The
``communities`` layer is the boundaries (code and name), the city's overview.

Framework-free: the web view (:mod:`web.tiles`) parses the request, calls
:func:`plan_tile`, checks the version, then :func:`render`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.access.scope import Scope
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.layers import LAYER_SPECS
from gridgis.geo.layouts import choose_layout, in_force_clause, layout_names
from gridgis.incidents.views import visible_to
from gridgis.maps.communities import communities_of
from gridgis.models import (
    OPEN_STATUSES,
    SRID,
    Building,
    Category,
    Community,
    Compound,
    Grid,
    Incident,
    Layout,
    RoutingEpoch,
    Unit,
)

__all__ = ["EXTENT", "LAYERS", "MAX_ZOOM", "MIN_ZOOM", "MVT_MEDIA_TYPE", "TileAddress"]
__all__ += ["TilePlan", "parse_tile", "plan_tile", "render", "tile_statement"]

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"

#: The layers served as tiles, in drawing order (bottom first).
LAYERS = ("communities", "grids", "compounds", "buildings", "units", "incidents")

#: Below these zooms a layer's tile is empty without a query: a z8 tile of a
#: city's buildings would be a million polygons nobody can see apart. Grids are
#: the overview; buildings appear at about 4 km a tile (z13, a district's few
#: thousand), units a zoom later. Communities (a city has a few thousand at
#: most) from a province's view.
MIN_ZOOM = {
    "communities": 5,
    "grids": 8,
    "compounds": 12,
    "buildings": 13,
    "units": 14,
    "incidents": 12,
}

#: Deeper than 22 a tile is a few centimetres: a client bug, not a map.
MAX_ZOOM = 22

#: Tile coordinates per side (the MVT default) and the buffer around the tile
#: in those units: enough that a polygon's outline clipped at the edge is not
#: drawn along the tile border by renderers that stroke it.
EXTENT = 4096
BUFFER = 64

#: Half the side of the Web Mercator square, in metres (ST_TileEnvelope's bounds).
_MERCATOR_HALF = 20037508.342789244
#: Bumped when what a tile holds changes (fields, simplification), so cached
#: tiles of the old format are not revalidated as current.
_FORMAT = "mvt-1"

_NUMBER = re.compile(r"[0-9]{1,10}")
_TALLIES = ("households", "buildings")


@dataclass(frozen=True)
class TileAddress:
    """A tile of the XYZ scheme (Web Mercator, y down from the north), as ``z/x/y``."""

    z: int
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.z}/{self.x}/{self.y}"


def parse_tile(z: str, x: str, y: str) -> TileAddress:
    """The tile ``z/x/y`` of the request's path.

    Raises:
        InvalidInput: Not whole numbers, z above :data:`MAX_ZOOM`, or x or y
            outside ``0 .. 2**z - 1`` (the message says the range).
    """
    for name, text in (("z", z), ("x", x), ("y", y)):
        if not _NUMBER.fullmatch(text):
            raise InvalidInput(
                f"Tile {name} must be a whole number of 0 or more (the path is "
                f"/tiles/LAYER/Z/X/Y.mvt); got {text!r}."
            )
    tile = TileAddress(int(z), int(x), int(y))
    if tile.z > MAX_ZOOM:
        raise InvalidInput(f"Tile zoom {tile.z} is too deep; zooms go from 0 to {MAX_ZOOM}.")
    side = 2**tile.z
    if tile.x >= side or tile.y >= side:
        raise InvalidInput(
            f"Tile {tile} does not exist: at zoom {tile.z}, x and y go from 0 to {side - 1}."
        )
    return tile


def _envelope(tile: TileAddress, margin: float = 0.0) -> Any:
    bounds = sa.func.ST_MakeEnvelope(
        -_MERCATOR_HALF, -_MERCATOR_HALF, _MERCATOR_HALF, _MERCATOR_HALF, 3857
    )
    return sa.func.ST_TileEnvelope(tile.z, tile.x, tile.y, bounds, margin)


def _incident_select() -> sa.Select[Any]:
    # Only what a passer-by could see on the street: a point, its state and its kind.
    # Typed as the layer specs' selects are, so both kinds go through one builder.
    query = sa.select(
        Incident.id.label("id"),
        Incident.status.label("status"),
        Category.code.label("category"),
    ).select_from(sa.outerjoin(Incident, Category, Category.id == Incident.category_id))
    return cast("sa.Select[Any]", query)


def _owned(owner: Any, owner_id: int | None) -> ColumnElement[bool]:
    # None: every owner (the city map); the caller narrows with ``where``.
    return sa.true() if owner_id is None else owner == owner_id


def tile_statement(
    layer: str,
    owner_id: int | None,
    tile: TileAddress,
    *,
    where: ColumnElement[bool] | None = None,
) -> sa.Select[Any]:
    """The one statement that yields the MVT of ``layer`` for ``tile`` (one bytea row).

    Args:
        layer: One of :data:`LAYERS`.
        owner_id: The layout's id for grids, else the community's; None: every
            community's (grids: say which layouts in ``where``).
        tile: Which tile.
        where: Only the rows this clause lets through (a viewer's area).
    """
    order: list[Any]
    if layer == "incidents":
        source = Incident.geom
        inner = _incident_select().where(
            _owned(Incident.community_id, owner_id), Incident.status.in_(OPEN_STATUSES)
        )
        geometry = sa.func.ST_Transform(source, 3857)
        order = [Incident.id]
    elif layer == "communities":
        # The boundary's code and name: what the city map labels and links.
        source = Community.boundary
        inner = cast(
            "sa.Select[Any]",
            sa.select(Community.code.label("code"), Community.name.label("name")),
        ).where(_owned(Community.id, owner_id))
        unit = 2 * _MERCATOR_HALF / 2**tile.z / EXTENT
        geometry = sa.func.ST_SimplifyPreserveTopology(sa.func.ST_Transform(source, 3857), unit)
        order = [Community.code]
    else:
        spec = LAYER_SPECS[layer]
        if spec.geometry is None:  # staff and the community: no tiles, never asked for
            raise NotFound(f"The {layer} layer has no tiles.")
        source = spec.geometry
        fields = spec.view_fields
        if owner_id is None and layer == "grids":
            # A city tile's grids without their tallies: a z12 tile holds ~1,500
            # grids, and placing each one's buildings (gridgis.geo.areas) took
            # seconds on a 1M-building city; the city table has the figures.
            fields = tuple(f for f in fields if f.name not in _TALLIES)
        inner = spec.select(fields).where(_owned(spec.owner, owner_id))
        # ST_AsMVTGeom only snaps to the tile's grid and drops repeated points
        # (PostGIS 3.3): a round courtyard keeps a vertex per grid step at every
        # zoom. Simplifying first, to one unit of the tile (its side / EXTENT, in
        # metres), drops what the tile cannot show; PreserveTopology so a ring
        # never crosses itself or vanishes on the way (a lone small building
        # still collapses in ST_AsMVTGeom once it is under a unit, and is left
        # out). Neighbouring grids are simplified each on its own, so their
        # shared edge may part by under one unit: invisible at that zoom.
        unit = 2 * _MERCATOR_HALF / 2**tile.z / EXTENT
        geometry = sa.func.ST_SimplifyPreserveTopology(sa.func.ST_Transform(source, 3857), unit)
        by_name = {f.name: f for f in fields}
        order = [by_name[k].labelled().element for k in spec.key] + [spec.identity]
    mvt_geom = sa.func.ST_AsMVTGeom(geometry, _envelope(tile), EXTENT, BUFFER, True)
    # The GiST index is on the stored lon/lat geometry: compare it with the tile
    # (and its buffer) brought to lon/lat, a box in both systems.
    box = sa.func.ST_Transform(_envelope(tile, BUFFER / EXTENT), SRID)
    inner = inner.add_columns(mvt_geom.label("geom")).where(source.op("&&")(box)).order_by(*order)
    if where is not None:
        inner = inner.where(where)
    # ST_AsMVT skips the rows whose geometry ST_AsMVTGeom clipped away (NULL). No
    # "geom IS NOT NULL" here: the planner pushes it into the subquery, where it
    # computes ST_AsMVTGeom a second time for every row.
    rows = inner.subquery("tile")
    return sa.select(
        sa.func.ST_AsMVT(sa.literal_column("tile"), layer, EXTENT, "geom")
    ).select_from(rows)


def _scoped(layer: str, viewer: Principal) -> ColumnElement[bool] | None:
    """The rows of ``layer`` in ``viewer``'s area; None: everything.

    The same places as the GeoJSON layers (:mod:`gridgis.maps.features`; the
    web tests compare the two for a grid staff member): grids, buildings and
    units of the area, compounds holding one of its buildings, and the
    incidents the incident rule lets them see.
    """
    if layer == "incidents":
        return visible_to(viewer)
    scope: Scope | None = viewer.scope
    if scope is None:
        return None
    if layer == "communities":
        return Community.id.in_(communities_of(scope))
    if layer == "grids":
        return Grid.id.in_(sorted(scope.grid_ids))
    if layer == "compounds":
        return Compound.id.in_(
            sa.select(Building.compound_id).where(Building.id.in_(sorted(scope.building_ids)))
        )
    if layer == "buildings":
        return Building.id.in_(sorted(scope.building_ids))
    return Unit.id.in_(sorted(scope.unit_ids))


@dataclass(frozen=True)
class TilePlan:
    """A tile about to be made: its statement and what its bytes depend on.

    Attributes:
        layer: The layer.
        tile: The tile.
        statement: The statement that makes it; None when the zoom is below
            the layer's :data:`MIN_ZOOM` (an empty tile, no query).
        version: A digest of everything the tile depends on (see the module's
            docstring), or None when there is none (incidents).
        scoped: Whether it holds only a viewer's area (caches must keep it private).
    """

    layer: str
    tile: TileAddress
    statement: sa.Select[Any] | None
    version: str | None
    scoped: bool


def _scope_digest(scope: Scope | None) -> str:
    if scope is None:
        return "all"
    ids = [sorted(scope.grid_ids), sorted(scope.building_ids), sorted(scope.unit_ids)]
    return hashlib.sha256(repr(ids).encode()).hexdigest()


def check_layer(layer: str) -> None:
    """Raise NotFound, listing the layers, unless ``layer`` is one of :data:`LAYERS`."""
    if layer not in LAYERS:
        raise NotFound(f"No tile layer {layer!r}; the layers are: {', '.join(LAYERS)}.")


def plan_tile(
    session: Session,
    community: Community | None,
    layer: str,
    tile: TileAddress,
    *,
    viewer: Principal,
    layout_name: str | None = None,
) -> TilePlan:
    """What :func:`render` runs for ``layer``'s ``tile`` of ``community``, as ``viewer`` sees it.

    Args:
        session: The database session.
        community: Whose layer; None: every community's (grids of the layouts
            in force), as the city map draws them.
        layer: One of :data:`LAYERS`.
        tile: Which tile.
        viewer: Who asks: their area limits the features; drafts need ``layout:draft``
            and incidents ``incidents:read``.
        layout_name: For grids of one community, the layout to show (default:
            the one in force).

    Raises:
        NotFound: Unknown layer or layout, or no layout in force for grids.
        InvalidInput: ``layout_name`` given for a layer other than grids, or
            without a community.
        Forbidden: Incidents for a viewer who may not read incidents.
    """
    check_layer(layer)
    owner_id = None if community is None else community.id
    parts = [_FORMAT, layer, "all" if community is None else str(community.id), str(tile)]
    where = _scoped(layer, viewer)
    if layer == "grids" and community is not None:
        owner_id = _layout_shown(session, community, layout_name, viewer).id
        parts.append(f"layout={owner_id}")
    elif layer == "grids":
        if layout_name is not None:
            raise InvalidInput(
                "layout= names a layout of one community: add community=CODE, or leave "
                "layout= out for the grids in force in every community."
            )
        # Which layouts are in force changes with the clock, not with a write.
        in_force = sa.select(Layout.id).where(in_force_clause(clock.now()))
        listed = _in_force_digest(session)
        parts.append(f"layouts={listed}")
        grids_in_force = Grid.layout_id.in_(in_force)
        where = grids_in_force if where is None else sa.and_(grids_in_force, where)
    elif layout_name is not None:
        raise InvalidInput(
            f"layout= applies only to the grids layer (compounds, buildings, units and "
            f"incidents do not change with a layout); remove it from the {layer} request."
        )
    if layer == "incidents":
        viewer.require("incidents:read")
    scoped = viewer.scope is not None
    statement = None
    if tile.z >= MIN_ZOOM[layer]:
        statement = tile_statement(layer, owner_id, tile, where=where)
    version = None
    if layer != "incidents":
        epoch = session.scalar(sa.select(RoutingEpoch.epoch).where(RoutingEpoch.id == 1))
        parts += [f"epoch={epoch}", _scope_digest(viewer.scope)]
        version = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    return TilePlan(layer, tile, statement, version, scoped or layer == "incidents")


def _layout_shown(
    session: Session, community: Community, layout_name: str | None, viewer: Principal
) -> Layout:
    drafts = viewer.can("layout:draft")
    layout = choose_layout(session, community, layout_name, drafts=drafts)
    if layout is None:
        names = layout_names(session, community, drafts=drafts)
        raise NotFound(
            f"Community {community.code} has no layout in force; ask for one by name "
            f"with layout=NAME (its layouts are: {names})."
        )
    return layout


def _in_force_digest(session: Session) -> str:
    """A digest of which layouts are in force now, in every community."""
    ids = session.scalars(
        sa.select(Layout.id).where(in_force_clause(clock.now())).order_by(Layout.id)
    ).all()
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]


def render(session: Session, plan: TilePlan) -> bytes:
    """The tile's MVT bytes; empty when no feature shows in it."""
    if plan.statement is None:
        return b""
    return bytes(session.scalar(plan.statement) or b"")
