"""Placing buildings in a layout's grids at city scale: the rule, fast.

Which grid a building (or an incident's place) belongs to is
:mod:`gridgis.geo.areas`'s rule. The planning figures place every building
of a layout at once, and a layout may have thousands of grids; these
expressions give the rule's answers with the GiST indexes doing the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis.geo.areas import building_grid
from gridgis.models import Building, Community, Grid, Layout

_T = TypeVar("_T")


def owner(place: Any, layout: Layout) -> sa.ColumnElement[int]:
    """The grid of ``layout`` that ``place`` (a building's or incident's geometry) belongs to.

    :func:`gridgis.geo.areas.building_grid`, the rule, with a fast path: when a
    single grid covers the place's point, that grid is the owner whatever the
    tie-break, and it is found by the GiST index on the grid's box. Ties and
    places in no grid go to ``building_grid`` itself. (On a layout of
    thousands of grids PostgreSQL plans ``building_grid`` alone with the
    ``layout_id`` index, reading every grid of the layout for each place:
    ≈ 150 µs a place at 5,000 grids, against ≈ 15 µs here.)
    """
    grid = aliased(Grid, name="covering_grid")
    single = (
        sa.select(sa.func.min(grid.id))
        .where(grid.layout_id == layout.id, covers(grid, place))
        .having(sa.func.count() == 1)
        .scalar_subquery()
    )
    return sa.func.coalesce(single, building_grid(place, layout.id))


def covers(grid: Any, place: Any) -> sa.ColumnElement[bool]:
    """``grid`` covers the point :mod:`gridgis.geo.areas` places ``place`` by (box first)."""
    return sa.and_(
        grid.geom.op("&&")(place),
        sa.func.ST_Covers(grid.geom, sa.func.ST_PointOnSurface(place)),
    )


def unplaced_statement(layout: Layout, held: tuple[int, int] | None) -> sa.Select:
    """The community's buildings in no grid of ``layout``, and their households.

    Given ``held`` (buildings and households the grids hold, when every grid
    was placed already), every building of the community less those.
    Otherwise the buildings whose point no grid of the layout covers (no tie
    to break). That is the whole layout's figure, so it reads every building
    (≈ 1.5-2.5 s at 200,000 buildings). The land the grids leave uncovered
    (ST_Union, ST_Difference, ST_Subdivide, then the buildings meeting it)
    was tried and was slower: 4-5 s at 5,000 grids.
    """
    total = sa.func.count(), sa.func.coalesce(sa.func.sum(Building.households), 0)
    if held is not None:
        return sa.select(total[0] - held[0], total[1] - held[1]).where(
            Building.community_id == layout.community_id
        )
    # From the grids' side: one GiST probe per grid, not one per building.
    covered = (
        sa.select(Building.id)
        .join(Grid, covers(Grid, Building.geom))
        .where(Grid.layout_id == layout.id, Building.community_id == layout.community_id)
    )
    return sa.select(*total).where(
        Building.community_id == layout.community_id, Building.id.not_in(covered)
    )


def placed_pairs(
    layout: Layout, grids: sa.ColumnElement[bool] | None = None, *carried: Any
) -> sa.Subquery:
    """``building_id`` and ``grid_id`` (and the ``carried`` columns of Building) of
    each building of the community that a grid of ``layout`` holds.

    Only buildings under the grids meeting ``grids`` (a condition on
    :class:`Grid`; None: every grid) are placed, found from the grids' side
    (one GiST probe per grid). With every grid, every grid covering a
    building's point is among the pairs, so a building one grid alone covers
    is that grid's and only ties go to the rule's tie-break; with some grids,
    each owner is weighed among all of them by :func:`owner`.
    """
    pairs = (
        sa.select(
            Building.id.label("building_id"), Building.geom, Grid.id.label("grid_id"), *carried
        )
        .join(Grid, covers(Grid, Building.geom))
        .where(Grid.layout_id == layout.id, Building.community_id == layout.community_id)
    )
    if grids is None:
        found = pairs.add_columns(
            sa.func.count().over(partition_by=Building.id).label("covering")
        ).subquery("pairs")
        owned = sa.or_(
            found.c.covering == 1, found.c.grid_id == building_grid(found.c.geom, layout.id)
        )
    else:
        found = pairs.where(grids).subquery("pairs")
        owned = found.c.grid_id == owner(found.c.geom, layout)
    names = ["building_id", "grid_id", *(c.key for c in carried)]
    return sa.select(*(found.c[name] for name in names)).where(owned).subquery("placed_pairs")


class Move(Protocol):
    """A building an edit moved: :class:`gridgis.planning.painting.Moved` is one."""

    @property
    def before(self) -> str | None: ...  # the grid it left; None: it was in no grid

    @property
    def households(self) -> int: ...


@dataclass(frozen=True)
class Moved:
    """A building an edit recorded in the audit log moved (its summary's ``from`` map).

    ``stays_unplaced``: it was in no grid and its point lies outside the
    community's boundary, where the land in no grid that painting moves ends,
    so painting it moves no land and it stays in no grid.
    """

    building: str
    households: int
    before: str | None
    stays_unplaced: bool = False


def unplaced_after(
    unplaced: tuple[int, int], moved: Iterable[Move], *, undone: bool = False
) -> tuple[int, int]:
    """The unplaced buildings and households after an edit that ``moved`` these buildings.

    Painting moves the buildings selected and no other: a building leaving
    no grid brings its own land from the no-grid tessellation, which holds
    no other building's footprint, and every other building keeps the grid
    covering its point (or none). So only the buildings painted from no
    grid leave the unplaced; an undo (``undone``) puts them back, a redo
    takes them again. A building moved between grids changes nothing here.
    A building outside the community's boundary (where the tessellated land
    ends) would be the exception: painting refuses it now, and
    :func:`edit_moves` still flags one in an edit recorded before
    (``stays_unplaced``).
    """
    sign = 1 if undone else -1
    out = [m for m in moved if m.before is None and not getattr(m, "stays_unplaced", False)]
    return (
        unplaced[0] + sign * len(out),
        unplaced[1] + sign * sum(m.households for m in out),
    )


def edit_moves(session: Session, layout: Layout, summary: Mapping[str, Any]) -> list[Moved]:
    """The buildings of an edit's ``summary`` (its ``from`` map) with their households now,
    those from no grid outside the community's boundary flagged ``stays_unplaced``."""
    before: dict[str, str | None] = dict(summary.get("from") or {})
    boundary = (
        sa.select(Community.boundary).where(Community.id == layout.community_id).scalar_subquery()
    )
    rows = session.execute(
        sa.select(
            Building.code,
            sa.func.coalesce(Building.households, 0),
            sa.func.ST_Covers(boundary, sa.func.ST_PointOnSurface(Building.geom)),
        ).where(Building.community_id == layout.community_id, Building.code.in_(sorted(before)))
    ).all()
    found = {code: (int(households), bool(inside)) for code, households, inside in rows}
    moves = []
    for code, grid in before.items():
        households, inside = found.get(code, (0, True))  # a building since deleted: nothing
        moves.append(Moved(code, households, grid, stays_unplaced=grid is None and not inside))
    return moves


def _placement_statement(layout: Layout, *, robust: bool = False) -> sa.CompoundSelect:
    """Every building of the community placed once, for the checks: rows of
    (kind, grid_id, value).

    ``grid``: a grid and its households (grids holding no building have no
    row); ``cut``: a building (value) whose grid does not cover it whole;
    ``none``: a building (value) in no grid. The pairs of a grid and a
    building whose point it covers are found grid by grid (LATERAL: one GiST
    probe per grid, whatever PostgreSQL estimates; the grid repeated, PostGIS
    prepares it once for both ``ST_Covers``); a building covered by one grid
    is that grid's, ties go to the rule's tie-break. ``ST_Covers`` of two
    polygons is GEOS's relate, which throws on some valid polygons (side
    location conflict); ``robust`` asks OverlayNG instead whether any of the
    building lies outside its grid (slower).
    """
    whole = (
        sa.func.ST_Area(sa.func.ST_Difference(Building.geom, Grid.geom)) == 0
        if robust
        else sa.func.ST_Covers(Grid.geom, Building.geom)
    )
    under = (
        sa.select(Building.id.label("building_id"), Building.households, whole.label("whole"))
        .where(Building.community_id == layout.community_id, covers(Grid, Building.geom))
        .offset(0)  # a fence: not pulled up into a join PostgreSQL would drive by building
        .lateral("under")
    )
    pairs = (
        sa.select(under.c.building_id, Grid.id.label("grid_id"), under.c.households, under.c.whole)
        .join_from(Grid, under, sa.true())
        .where(Grid.layout_id == layout.id)
        .cte("pairs")
    )
    ties = (
        sa.select(pairs.c.building_id)
        .group_by(pairs.c.building_id)
        .having(sa.func.count() > 1)
        .scalar_subquery()
    )
    tied = aliased(Building, name="tied")
    placed = sa.union_all(
        sa.select(pairs).where(pairs.c.building_id.not_in(ties)),
        sa.select(pairs)
        .join(tied, tied.id == pairs.c.building_id)
        .where(
            pairs.c.building_id.in_(ties), pairs.c.grid_id == building_grid(tied.geom, layout.id)
        ),
    ).cte("placed")
    nowhere = sa.select(placed.c.building_id).where(placed.c.building_id == Building.id)
    return sa.union_all(
        sa.select(
            sa.literal("grid"),
            placed.c.grid_id,
            sa.null(),
            sa.cast(sa.func.coalesce(sa.func.sum(placed.c.households), 0), sa.BigInteger),
        ).group_by(placed.c.grid_id),
        sa.select(
            sa.literal("cut"), placed.c.grid_id, placed.c.building_id, sa.cast(0, sa.BigInteger)
        ).where(sa.not_(placed.c.whole)),
        sa.select(
            sa.literal("none"),
            sa.null(),
            Building.id,
            sa.cast(sa.func.coalesce(Building.households, 0), sa.BigInteger),
        ).where(Building.community_id == layout.community_id, ~nowhere.exists()),
    )


class Placement(NamedTuple):
    """Every building of a community placed in a layout's grids, as the checks need it.

    Attributes:
        households: Grid id -> the households of its buildings (absent: none).
        to_look_at: Building id -> its grid's id, of the buildings in no grid
            (None) or not covered whole by their grid.
        unplaced: The buildings in no grid and their households, as
            :class:`gridgis.planning.tallies.Tallies` counts them.
    """

    households: dict[int, int]
    to_look_at: dict[int, int | None]
    unplaced: tuple[int, int]


def place_all(session: Session, layout: Layout, *, robust: bool = False) -> Placement:
    """Every building of the community placed once, in one statement (``robust``: see
    the statement)."""
    households: dict[int, int] = {}
    to_look_at: dict[int, int | None] = {}
    unplaced = [0, 0]
    statement = _placement_statement(layout, robust=robust)
    for kind, grid, building, held in session.execute(statement):
        if kind == "grid":
            households[grid] = int(held)
            continue
        to_look_at[building] = grid
        if kind == "none":
            unplaced[0] += 1
            unplaced[1] += int(held)
    return Placement(households, to_look_at, (unplaced[0], unplaced[1]))


_DETAILS = """
SELECT b.code, g.code,
       CASE WHEN g.id IS NULL THEN ST_Area(b.geom::geography)
            ELSE ST_Area(ST_Difference(b.geom, g.geom)::geography) END,
       ARRAY(SELECT DISTINCT o.code FROM grid o
             WHERE o.layout_id = :layout AND o.id IS DISTINCT FROM g.id
               AND o.geom && b.geom AND {reaches}),
       ST_X(pt.p), ST_Y(pt.p), ST_XMin(b.geom), ST_YMin(b.geom), ST_XMax(b.geom), ST_YMax(b.geom)
FROM unnest(CAST(:ids AS integer[]), CAST(:grids AS integer[])) AS f(id, grid)
JOIN building b ON b.id = f.id
LEFT JOIN grid g ON g.id = f.grid
CROSS JOIN LATERAL (SELECT ST_PointOnSurface(b.geom) AS p) pt
ORDER BY b.code
"""


def placed_details(
    session: Session, layout: Layout, placed: dict[int, int | None], *, robust: bool = False
) -> list[tuple[Any, ...]]:
    """Of each building of ``placed`` (id -> its grid's id, None: no grid), by code: its
    code, its grid's code, its area outside that grid (all of it, in no grid), the
    other grids it reaches into, its point and its box."""
    # Reaching into a grid: interiors meeting (relate), or, robust, an
    # intersection with an area (OverlayNG).
    reaches = (
        "ST_Area(ST_Intersection(o.geom, b.geom)) > 0"
        if robust
        else "ST_Relate(o.geom, b.geom, '2********')"
    )
    rows = session.execute(
        sa.text(_DETAILS.format(reaches=reaches)),  # nosec B608: constants
        {"layout": layout.id, "ids": list(placed), "grids": list(placed.values())},
    )
    return [tuple(row) for row in rows]


def robustly(session: Session, run: Callable[[bool], _T]) -> _T:
    """``run(False)``; when GEOS throws a TopologyException, ``run(True)`` (OverlayNG only)."""
    saved = session.begin_nested()
    try:
        out = run(False)
    except sa.exc.InternalError as exc:
        saved.rollback()
        if "TopologyException" not in str(exc):
            raise
        return run(True)
    saved.commit()
    return out
