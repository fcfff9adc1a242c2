"""Tallies (统计): the figures of every grid of a layout, draft or in force.

Per grid: households, units and buildings; staff (the grid team, and the
heads of its buildings and units); open incidents and those of the last 90
days; how far its households fall outside the community's band; its number
of parts; its compactness; and the compounds (小区) it shares with another
grid. Three statements whatever the layout's size: places and people,
incidents, and the buildings in no grid. PostGIS aggregates; Python only
reads the rows and measures each grid's households against the band.

Which grid a building belongs to is :mod:`gridgis.geo.areas`'s rule, applied
to the grids of *this* layout, so a draft's tallies are what they would be if
it were in force. An incident counts in the grid its building belongs to or,
without a building (a street, open land), the grid covering its point, by the
same rule and tie-break (``building_grid`` of a point is the grid covering
the point). The nearest-grid tolerance of routing is not applied: an incident
in a gap counts in no grid. Merged incidents (duplicates of another) are not
counted twice.

Parts are counted on the grid's polygon (``ST_NumGeometries`` of
``ST_Multi``), not on the union of its buildings: buildings stand apart by
nature, so their union is nearly always in many pieces, while the polygon is
what routes incidents and what a grid worker walks. Compactness is
Polsby-Popper, 4πA/P² (1 for a disc, about 0.79 for a square, lower for long
or ragged shapes), with area and perimeter on the spheroid (``geography``:
metres without choosing a projection, DESIGN.md's "geography or a local
projected CRS").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from gridgis import clock
from gridgis.models import Assignment, Building, Community, Compound, Grid, Incident, Layout, Unit
from gridgis.models.incidents import OPEN_STATUSES
from gridgis.planning.placing import Moved as Moved
from gridgis.planning.placing import edit_moves as edit_moves
from gridgis.planning.placing import owner, placed_pairs, unplaced_statement
from gridgis.planning.placing import unplaced_after as unplaced_after

#: City practice (DESIGN.md): about 300-500 households per grid, used when the
#: community sets no band of its own (``households_min``/``households_max``).
DEFAULT_BAND = (300, 500)
#: "Recent" incidents: reported in this many days before now.
RECENT_DAYS = 90


@dataclass(frozen=True)
class GridTally:
    """The figures of one grid.

    Attributes:
        code: The grid's code.
        name: Its name.
        households: Sum of its buildings' households.
        units: Units of its buildings.
        buildings: Buildings that belong to it.
        staff: People with a post in it (grid team, heads of its buildings and units).
        open_incidents: Incidents in it that are still someone's work.
        recent_incidents: Incidents in it reported in the last ``RECENT_DAYS`` days.
        deviation: Households below the band (negative) or above it (positive); 0 inside.
        parts: Pieces of its polygon (1: contiguous).
        area_m2: Its area in square metres.
        compactness: Polsby-Popper, 4πA/P², between 0 and 1.
        split_compounds: Codes of compounds it shares with another grid.
    """

    code: str
    name: str
    households: int
    units: int
    buildings: int
    staff: int
    open_incidents: int
    recent_incidents: int
    deviation: int
    parts: int
    area_m2: float
    compactness: float
    split_compounds: tuple[str, ...]


@dataclass(frozen=True)
class Tallies:
    """The tallies of a layout.

    Attributes:
        community: The community's code.
        layout: The layout's name.
        band: Households per grid (low, high) the deviation is measured against.
        band_note: Why the band is the default, when it is.
        grids: One tally per grid, by code.
        unplaced_buildings: The community's buildings in no grid of the layout.
        unplaced_households: Their households.
    """

    community: str
    layout: str
    band: tuple[int, int]
    band_note: str | None
    grids: list[GridTally]
    unplaced_buildings: int
    unplaced_households: int


def band_of(community: Community) -> tuple[tuple[int, int], str | None]:
    """The community's household band and, when the default is used, a note saying so."""
    low, high = community.households_min, community.households_max
    if low is not None and high is not None:
        return (low, high), None
    return DEFAULT_BAND, (
        f"community {community.code} sets no household band (households_min/households_max); "
        f"the default {DEFAULT_BAND[0]}-{DEFAULT_BAND[1]} is used"
    )


def deviation(households: int, band: tuple[int, int]) -> int:
    """How far ``households`` falls outside ``band``: negative below, positive above, else 0."""
    low, high = band
    if households < low:
        return households - low
    if households > high:
        return households - high
    return 0


def tally_layout(session: Session, layout: Layout) -> Tallies:
    """The tallies of every grid of ``layout``, by code."""
    return _tally(session, layout, None)


def tally_grids(
    session: Session,
    layout: Layout,
    codes: Collection[str],
    *,
    unplaced: tuple[int, int] | None = None,
) -> Tallies:
    """The tallies of the grids of ``layout`` with ``codes``, by code: incrementally.

    Each grid's figures are those :func:`tally_layout` gives it, computed from
    the buildings under these grids only (the GiST index finds them), so the
    cost follows the grids asked for, not the layout's size: what an editor
    calls after each edit with the grids it touched. Which grid a building
    belongs to is still decided among *all* the layout's grids, and a compound
    counts as split when any of its buildings lies in another grid, asked for
    or not. Codes the layout does not have (a grid an edit removed) are left
    out. The unplaced buildings and households are the whole layout's, as in
    :func:`tally_layout`: that count reads every building of the community
    (≈ 1.5 s at 200,000), so a caller that knows them (``unplaced``: the
    figures before the edit carried forward by :func:`unplaced_after`) gives
    them and they are not recomputed.
    """
    return _tally(session, layout, frozenset(codes), unplaced)


def _tally(
    session: Session,
    layout: Layout,
    codes: frozenset[str] | None,
    unplaced: tuple[int, int] | None = None,
) -> Tallies:
    """The tallies of the grids of ``layout`` with ``codes`` (None: every grid)."""
    community = session.get_one(Community, layout.community_id)
    band, note = band_of(community)
    incidents = _incidents(session, layout, codes)
    grids = []
    for row in session.execute(_places_statement(layout, codes)):
        open_count, recent = incidents.get(row.id, (0, 0))
        grids.append(
            GridTally(
                code=row.code,
                name=row.name,
                households=int(row.households),
                units=int(row.units),
                buildings=int(row.buildings),
                staff=int(row.staff),
                open_incidents=open_count,
                recent_incidents=recent,
                deviation=deviation(int(row.households), band),
                parts=int(row.parts),
                area_m2=float(row.area_m2),
                compactness=float(row.compactness or 0.0),
                split_compounds=tuple(sorted(row.split_compounds or ())),
            )
        )
    if unplaced is None:
        # Tallying every grid, their buildings are all the placed ones, already counted.
        held = (
            None
            if codes is not None
            else (sum(g.buildings for g in grids), sum(g.households for g in grids))
        )
        row = session.execute(unplaced_statement(layout, held)).one()
        unplaced = int(row[0] or 0), int(row[1] or 0)
    return Tallies(
        community=community.code,
        layout=layout.name,
        band=band,
        band_note=note,
        grids=grids,
        unplaced_buildings=unplaced[0],
        unplaced_households=unplaced[1],
    )


def _chosen(grid: Any, layout: Layout, codes: frozenset[str] | None) -> sa.ColumnElement[bool]:
    """``grid`` is one tallied: of ``layout`` and, given ``codes``, with one of them."""
    of_layout = grid.layout_id == layout.id
    return of_layout if codes is None else sa.and_(of_layout, grid.code.in_(sorted(codes)))


def _places_statement(layout: Layout, codes: frozenset[str] | None) -> sa.Select:
    """One row per grid tallied: shape measures, buildings, units, households, staff, splits."""
    # One CTE, read four times: PostgreSQL computes which building is in which
    # grid once for the whole statement. With ``codes`` only the buildings
    # under those grids are placed (placing.placed_pairs).
    pairs = placed_pairs(
        layout,
        None if codes is None else _chosen(Grid, layout, codes),
        Building.households,
        Building.compound_id,
    )
    placed = sa.select(pairs).cte("placed")
    buildings = (
        sa.select(
            placed.c.grid_id,
            sa.func.count().label("buildings"),
            sa.func.coalesce(sa.func.sum(placed.c.households), 0).label("households"),
        )
        .group_by(placed.c.grid_id)
        .subquery("buildings")
    )
    units = (
        sa.select(placed.c.grid_id, sa.func.count().label("units"))
        .join(Unit, Unit.building_id == placed.c.building_id)
        .group_by(placed.c.grid_id)
        .subquery("units")
    )
    posts = sa.union_all(
        sa.select(Assignment.grid_id.label("grid_id"), Assignment.staff_id)
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(_chosen(Grid, layout, codes)),
        sa.select(placed.c.grid_id, Assignment.staff_id).join(
            placed, placed.c.building_id == Assignment.building_id
        ),
        sa.select(placed.c.grid_id, Assignment.staff_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(placed, placed.c.building_id == Unit.building_id),
    ).subquery("posts")
    staff = (
        sa.select(posts.c.grid_id, sa.func.count(sa.distinct(posts.c.staff_id)).label("staff"))
        .group_by(posts.c.grid_id)
        .subquery("staff")
    )
    members = placed if codes is None else _compound_members(layout, placed)
    split = (
        sa.select(members.c.compound_id)
        .where(members.c.compound_id.is_not(None), members.c.grid_id.is_not(None))
        .group_by(members.c.compound_id)
        .having(sa.func.count(sa.distinct(members.c.grid_id)) > 1)
    )
    # The split compounds as one array, computed once: PostgreSQL cannot count
    # the CTE's rows in advance and would otherwise join them row by row.
    split_ids = sa.select(sa.func.array_agg(split.subquery().c.compound_id)).scalar_subquery()
    splits = (
        sa.select(
            placed.c.grid_id,
            sa.func.array_agg(sa.distinct(Compound.code)).label("codes"),
        )
        .join(Compound, Compound.id == placed.c.compound_id)
        .where(placed.c.compound_id == sa.any_(sa.cast(split_ids, ARRAY(sa.Integer))))
        .group_by(placed.c.grid_id)
        .subquery("splits")
    )
    geog = sa.cast(Grid.geom, Geography)
    area = sa.func.ST_Area(geog)
    perimeter = sa.func.ST_Perimeter(geog)
    return (
        sa.select(
            Grid.id,
            Grid.code,
            Grid.name,
            sa.func.ST_NumGeometries(sa.func.ST_Multi(Grid.geom)).label("parts"),
            area.label("area_m2"),
            (4 * sa.func.pi() * area / sa.func.nullif(perimeter * perimeter, 0)).label(
                "compactness"
            ),
            sa.func.coalesce(buildings.c.buildings, 0).label("buildings"),
            sa.func.coalesce(buildings.c.households, 0).label("households"),
            sa.func.coalesce(units.c.units, 0).label("units"),
            sa.func.coalesce(staff.c.staff, 0).label("staff"),
            splits.c.codes.label("split_compounds"),
        )
        .outerjoin(buildings, buildings.c.grid_id == Grid.id)
        .outerjoin(units, units.c.grid_id == Grid.id)
        .outerjoin(staff, staff.c.grid_id == Grid.id)
        .outerjoin(splits, splits.c.grid_id == Grid.id)
        .where(_chosen(Grid, layout, codes))
        .order_by(Grid.code)
    )


def _compound_members(layout: Layout, placed: sa.CTE) -> sa.CTE:
    """Every building of the compounds of ``placed``, with its grid (NULL: in no grid).

    Whether a compound is split depends on grids outside the ones tallied: its
    buildings elsewhere are placed too, by the same rule (a compound is a
    few dozen buildings, found by ``building.compound_id``).
    """
    member = aliased(Building, name="member")
    return (
        sa.select(
            member.compound_id,
            owner(member.geom, layout).label("grid_id"),
        )
        .where(
            member.community_id == layout.community_id,
            member.compound_id.in_(sa.select(placed.c.compound_id)),
        )
        .cte("members")
    )


def _incidents(
    session: Session, layout: Layout, codes: frozenset[str] | None
) -> dict[int, tuple[int, int]]:
    """Grid id -> (open incidents, incidents of the last ``RECENT_DAYS`` days) in ``layout``.

    With ``codes``, only incidents whose place reaches into the box of one of
    those grids are placed, found by the GiST indexes of buildings and of
    incidents' points: a grid covering a place's point has that point in its
    box, so no incident of theirs is missed.
    """
    since = clock.now() - dt.timedelta(days=RECENT_DAYS)
    at_building = aliased(Building, name="incident_building")
    # A point's point-on-surface is the point: the building rule places it too.
    place = sa.func.coalesce(at_building.geom, Incident.geom)
    located = sa.select(
        owner(place, layout).label("grid_id"),
        Incident.status,
        Incident.reported_at,
    )
    if codes is not None:
        # Driven by the few incidents found, not filtered out of all of them:
        # as a filter PostgreSQL hashed every building of the community for
        # the join and JIT-compiled the plan (≈ 1 s at 200,000 buildings).
        chosen = aliased(Grid, name="chosen_grid")
        under, near = aliased(Building, name="under"), aliased(Incident, name="near")
        found = sa.union(
            sa.select(near.id)
            .join(under, under.id == near.building_id)
            .join(chosen, chosen.geom.op("&&")(under.geom))
            .where(_chosen(chosen, layout, codes)),
            sa.select(near.id)
            .join(chosen, chosen.geom.op("&&")(near.geom))
            .where(_chosen(chosen, layout, codes), near.building_id.is_(None)),
        ).subquery("found")
        located = located.select_from(found).join(Incident, Incident.id == found.c.id)
    located = located.outerjoin(at_building, at_building.id == Incident.building_id).where(
        Incident.community_id == layout.community_id, Incident.status != "merged"
    )
    subquery = located.subquery("located")
    rows = session.execute(
        sa.select(
            subquery.c.grid_id,
            sa.func.count().filter(subquery.c.status.in_(OPEN_STATUSES)),
            sa.func.count().filter(subquery.c.reported_at >= since),
        )
        .where(subquery.c.grid_id.is_not(None))
        .group_by(subquery.c.grid_id)
    )
    return {grid_id: (int(n_open), int(recent)) for grid_id, n_open, recent in rows}
