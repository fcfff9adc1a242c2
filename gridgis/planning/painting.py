"""Painting (划片): moving buildings from grid to grid in a draft, land and all.

A building is never split between grids, and a layout must keep tiling its
community exactly, so a building does not move alone: the land that goes
with it moves too. That land is the building's *cell*; it is cut from the
grid the building leaves (``ST_Difference``) and added to the grid it joins
(``ST_Union``). Grids whose buildings do not change are not written at all,
so their polygons stay byte for byte what they were.

The cells tessellate each grid by its own buildings, an *enclosed*
tessellation (momepy's, with grids where it has street blocks): the cell of
a building ``b`` with footprint ``F_b`` in grid ``A`` is::

    cell_b = ((V_b − ⋃_{j≠b} F_j) ∪ F_b) ∩ A

where ``V_b`` is ``b``'s polygon in ``ST_VoronoiPolygons`` of one point per
building of ``A``. Why these choices:

- Enclosed by the grid, not one diagram of the whole community: a grid's
  polygon was drawn by a planner, not made of cells, so a community-wide
  cell reaches into neighbouring grids, and a grid giving away its last
  building would keep the scraps of its land that lie in other buildings'
  cells, in pieces. Cut within the grid, the cells of a grid's buildings are
  all of its land: a grid that gives away every building gives away all of it.
- One point per building, the ``ST_PointOnSurface`` :mod:`gridgis.geo.areas`
  places a building by (inside the footprint, unlike the centroid of an
  L-shaped block): one GEOS call per grid. A diagram of every footprint
  vertex follows the footprints more closely but has a site per vertex and
  still needs the corrections below.
- The corrections make the cell follow the footprints: it holds its whole
  footprint (within the grid) and never a piece of another building, so
  moving a cell never cuts a building, wherever the footprints do not
  overlap each other (overlapping footprints are bad data the checks show).

A grid that gives away every building has no land left: it leaves the
draft, with its copy of the grid team (the diff lists it as disappearing and
the layout in force keeps its own). An empty polygon is no grid a check, a
tally or a map could show.

A building in no grid is enclosed the same way by the community's land in no
grid, tessellated by the buildings there: it brings that land with it.

The cells are computed in PostGIS on demand, for the grids that lose
buildings only, in the one statement that moves the land (nothing cached,
nothing stale): what the grids left lose, the grid joined gains.

Only drafts are painted (routing reads only published layouts). Each call
is audited once, as ``assign`` of the layout, with the grid and buildings.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.orm import Session, aliased

from gridgis import audit
from gridgis.audit import Actor
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.geo.areas import building_grid
from gridgis.models import Assignment, Building, Community, Grid, Layout
from gridgis.planning.checks import SLIVER_M2
from gridgis.planning.drafts import MAX_NAME

#: How far (degrees, about 1 cm) a joined grid's vertices move onto the land it gains.
SNAP_DEGREES = 1e-7
#: Longest grid code and name the database keeps (``grid.code``, ``grid.name``).
MAX_CODE, MAX_GRID_NAME = 64, MAX_NAME


@dataclass(frozen=True)
class Moved:
    """One building that changed grid.

    Attributes:
        building: Its code.
        households: Its households, which move with it.
        before: The code of the grid it left (None: it was in no grid).
        after: The code of the grid it joined.
    """

    building: str
    households: int
    before: str | None
    after: str


@dataclass(frozen=True)
class Painted:
    """What :func:`assign_buildings` did.

    Attributes:
        layout: The draft painted.
        grid: The code of the grid the buildings were assigned to.
        created: Whether that grid was made for them.
        moved: The buildings that changed grid, by code.
        stayed: Codes of the buildings that were in that grid already.
        touched: Codes of the grids whose polygon changed (sources and target) and
            that are still in the draft, by code.
        removed: Codes of the grids left without land, removed from the draft.
        assignments: Grid team assignments removed with them.
    """

    layout: Layout
    grid: str
    created: bool
    moved: list[Moved]
    stayed: list[str]
    touched: list[str]
    removed: list[str]
    assignments: int

    @property
    def households(self) -> int:
        """Households that changed grid, in all."""
        return sum(m.households for m in self.moved)


def parse_codes(text: str) -> list[str]:
    """``"B001, B002,B001"`` -> ``["B001", "B002"]``: trimmed, first occurrence kept."""
    codes = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    if not codes:
        raise InvalidInput("Give at least one building code, e.g. --buildings B001,B002.")
    return codes


# One statement. ``sites`` are the buildings of the grids left (``grid``
# NULL: buildings in no grid), ``enclosures`` those grids (and the land in no
# grid). A grid with a single building has no diagram (GEOS returns an empty
# collection): that building's cell is the whole grid. ``raw`` is a cell
# before it is cut to its grid: the grid left loses ``raw`` (A − raw leaves
# no hairline pieces along A's edge where A − (A ∩ raw) might) and the grid
# joined gains ``raw ∩ A``; ``land`` is materialised once and read by both.
# Grids drawn by people share edges only to a few millimetres (vertices rounded
# in a file): the grid joined is snapped to the land it gains so that the union
# dissolves the common edge, not leaves a hairline between, a grid in two parts.
_MOVE = """
WITH sites AS (
    SELECT b.id, b.geom, ST_PointOnSurface(b.geom) AS p, s.grid
    FROM unnest(CAST(:site_ids AS integer[]), CAST(:site_grids AS integer[])) AS s(id, grid)
    JOIN building b ON b.id = s.id
),
enclosures AS (
    SELECT g.id AS grid, g.geom AS e FROM grid g
    WHERE g.layout_id = :layout AND g.id IN (SELECT grid FROM sites)
    UNION ALL
    SELECT NULL, ST_Difference(c.boundary, COALESCE(
        (SELECT ST_Union(g.geom) FROM grid g WHERE g.layout_id = :layout),
        'SRID=4326;POLYGON EMPTY'::geometry))
    FROM community c
    WHERE c.id = :community AND EXISTS (SELECT 1 FROM sites WHERE grid IS NULL)
),
voronoi AS (
    SELECT e.grid, d.geom AS v
    FROM enclosures e
    CROSS JOIN LATERAL ST_Dump(ST_VoronoiPolygons(
        (SELECT ST_Collect(s.p) FROM sites s WHERE s.grid IS NOT DISTINCT FROM e.grid),
        0, e.e)) d
),
cells AS (
    SELECT m.grid AS source, e.e,
           ST_Union(
               ST_Difference(
                   COALESCE(v.v, e.e),
                   COALESCE(
                       (SELECT ST_Union(o.geom) FROM building o
                        WHERE o.community_id = :community AND o.id <> m.id
                          AND o.geom && COALESCE(v.v, e.e)),
                       'SRID=4326;POLYGON EMPTY'::geometry)),
               m.geom) AS raw
    FROM sites m
    JOIN enclosures e ON e.grid IS NOT DISTINCT FROM m.grid
    LEFT JOIN LATERAL (
        SELECT vo.v FROM voronoi vo
        WHERE vo.grid IS NOT DISTINCT FROM m.grid AND ST_Covers(vo.v, m.p) LIMIT 1
    ) v ON true
    WHERE m.id = ANY(CAST(:buildings AS integer[]))
),
land AS MATERIALIZED (
    SELECT source, ST_Union(ST_Intersection(raw, e)) AS piece, ST_Union(raw) AS raw
    FROM cells GROUP BY source
),
cut AS (
    UPDATE grid g
    SET geom = ST_Multi(ST_CollectionExtract(ST_Difference(g.geom, l.raw), 3))
    FROM land l WHERE g.id = l.source AND g.id <> :target
    RETURNING g.id
),
joined AS (
    UPDATE grid g
    SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(
        ST_Snap(g.geom, n.piece, :snap), n.piece)), 3))
    FROM (SELECT ST_Union(piece) AS piece FROM land) n
    WHERE g.id = :target
    RETURNING g.id
)
SELECT (SELECT count(*) FROM cut) + (SELECT count(*) FROM joined)
"""


def assign_buildings(
    session: Session,
    layout: Layout,
    buildings: list[str],
    grid_code: str,
    *,
    new_name: str | None = None,
    actor: Actor,
) -> Painted:
    """Move ``buildings`` (codes) of draft ``layout`` into its grid ``grid_code``, land and all.

    With ``new_name``, the grid is made first, with that code and name (it
    must not exist yet). Buildings already in the grid stay. Flushed and
    audited; committed by the caller's unit of work.

    Raises:
        Conflict: ``layout`` is published, or ``new_name`` names a code the layout has.
        NotFound: Building codes the community does not have (all of them), or
            a grid code the layout does not have (without ``new_name``).
        InvalidInput: No building codes, or a blank or too long code or name.
    """
    community = session.get_one(Community, layout.community_id)
    where = f"layout {layout.name!r} of community {community.code}"
    if layout.status != "draft":
        raise Conflict(
            f"The {where} is published; only a draft can be painted. Copy the layout in "
            f"force with `gridgis layout draft --community {community.code}` and paint that."
        )
    if not buildings:
        raise InvalidInput("Give at least one building code, e.g. --buildings B001,B002.")
    found = session.execute(
        sa.select(
            Building.code,
            Building.id,
            Building.households,
            building_grid(Building.geom, layout.id),
            sa.func.ST_Covers(
                sa.select(Community.boundary).where(Community.id == community.id).scalar_subquery(),
                sa.func.ST_PointOnSurface(Building.geom),
            ),
        ).where(Building.community_id == community.id, Building.code.in_(buildings))
    ).all()
    by_code = {row[0]: row for row in found}
    unknown = [code for code in buildings if code not in by_code]
    if unknown:
        raise NotFound(
            f"Community {community.code} has no building(s) "
            f"{', '.join(repr(c) for c in unknown)}; nothing was assigned."
        )
    # Outside the boundary there is no land of the community to bring along.
    outside = [c for c in buildings if by_code[c][3] is None and not by_code[c][4]]
    if outside:
        raise InvalidInput(
            f"Building(s) {', '.join(outside)} stand outside the boundary of community "
            f"{community.code}, so no grid can take them: correct the boundary (gridgis "
            "import community) or the buildings first; nothing was assigned."
        )
    grids = dict(
        session.execute(sa.select(Grid.id, Grid.code).where(Grid.layout_id == layout.id)).all()
    )
    target, created = _target(session, layout, where, grids, grid_code, new_name)
    moving = [by_code[c] for c in buildings if by_code[c][3] != target.id]
    stayed = [c for c in buildings if by_code[c][3] == target.id]
    if moving:
        site_ids, site_grids = _sites(session, layout, {row[3] for row in moving})
        session.execute(
            sa.text(_MOVE),
            {
                "community": community.id,
                "layout": layout.id,
                "target": target.id,
                "buildings": [row[1] for row in moving],
                "site_ids": site_ids,
                "site_grids": site_grids,
                "snap": SNAP_DEGREES,
            },
        )
        removed, assignments = _remove_emptied(session, layout, {row[3] for row in moving})
        session.expire_all()  # the grids' polygons changed in SQL, under the ORM
    else:
        removed, assignments = [], 0
    moved = [
        Moved(code, int(households or 0), grids.get(source), target.code)
        for code, _, households, source, _inside in sorted(moving)
    ]
    touched = sorted({target.code} | ({m.before for m in moved if m.before} - set(removed)))
    if moving or created:
        audit.record(
            session,
            actor,
            "assign",
            "layout",
            f"{community.code}/{layout.name}",
            after={
                "grid": target.code,
                "new_grid": created,
                "buildings": [m.building for m in moved],
                "from": {m.building: m.before for m in moved},
                "households": sum(m.households for m in moved),
                "removed_grids": removed,
            },
        )
    return Painted(layout, target.code, created, moved, stayed, touched, removed, assignments)


def _remove_emptied(
    session: Session, layout: Layout, sources: set[int | None]
) -> tuple[list[str], int]:
    """Remove the grids of ``sources`` left without land; their codes and team assignments."""
    emptied = dict(
        session.execute(
            sa.select(Grid.id, Grid.code).where(
                Grid.layout_id == layout.id,
                Grid.id.in_([s for s in sources if s is not None]),
                sa.func.ST_Area(sa.cast(Grid.geom, Geography)) < SLIVER_M2,
            )
        ).all()
    )
    if not emptied:
        return [], 0
    assignments = session.scalar(
        sa.select(sa.func.count()).where(Assignment.grid_id.in_(list(emptied)))
    )
    session.execute(sa.delete(Assignment).where(Assignment.grid_id.in_(list(emptied))))
    session.execute(sa.delete(Grid).where(Grid.id.in_(list(emptied))))
    return sorted(emptied.values()), int(assignments or 0)


def _sites(
    session: Session, layout: Layout, sources: set[int | None]
) -> tuple[list[int], list[int | None]]:
    """The buildings of the grids in ``sources`` (None: in no grid), and their grids.

    Placed by :func:`gridgis.geo.areas.building_grid`, the one rule, before
    the statement that tessellates their grids. Only the buildings under the
    boxes of the grids left are placed (the GiST index finds them: a building
    in a grid has its point, so a piece of its box, in the grid's box), not
    every building of the community; buildings in no grid have no such box,
    so for them every building of the community is placed.
    """
    grids = [s for s in sources if s is not None]
    candidates = sa.select(Building.id, Building.geom).where(
        Building.community_id == layout.community_id
    )
    if None not in sources:
        left, under = aliased(Grid, name="grid_left"), aliased(Building, name="under")
        near = sa.select(under.id).join(left, left.geom.op("&&")(under.geom))
        candidates = candidates.where(
            Building.id.in_(near.where(left.id.in_(grids), left.layout_id == layout.id))
        )
    within = candidates.subquery("candidates")
    placed = sa.select(within.c.id, building_grid(within.c.geom, layout.id).label("grid")).subquery(
        "placed"
    )
    wanted: sa.ColumnElement[bool] = placed.c.grid.in_(grids)
    if None in sources:
        wanted = sa.or_(wanted, placed.c.grid.is_(None))
    # In the order of the buildings' ids: the diagram's input does not depend on
    # how the rows happen to lie in the table.
    rows = session.execute(
        sa.select(placed.c.id, placed.c.grid).where(wanted).order_by(placed.c.id)
    ).all()
    return [row[0] for row in rows], [row[1] for row in rows]


def _target(
    session: Session,
    layout: Layout,
    where: str,
    grids: dict[int, str],
    code: str,
    new_name: str | None,
) -> tuple[Grid, bool]:
    """The grid to assign to, made (empty) when ``new_name`` is given; whether it was made."""
    code = code.strip()
    if not code or len(code) > MAX_CODE:
        raise InvalidInput(f"A grid code must have 1 to {MAX_CODE} characters.")
    ids = {c: i for i, c in grids.items()}
    if new_name is None:
        if code not in ids:
            shown = ", ".join(sorted(ids)) or "none"
            raise NotFound(
                f"The {where} has no grid {code!r}; its grids are: {shown}. "
                "Give --new-name to make a new grid with that code."
            )
        return session.get_one(Grid, ids[code]), False
    new_name = new_name.strip()
    if not new_name or len(new_name) > MAX_GRID_NAME:
        raise InvalidInput(f"A grid name must have 1 to {MAX_GRID_NAME} characters.")
    if code in ids:
        raise Conflict(
            f"The {where} already has a grid {code!r}; leave out --new-name to assign to it."
        )
    grid = Grid(layout_id=layout.id, code=code, name=new_name, geom="SRID=4326;MULTIPOLYGON EMPTY")
    session.add(grid)
    session.flush()
    grids[grid.id] = code
    return grid, True
