"""Rebalancing (网格调整): a new draft whose grids fall in the household band.

From a layout (or from scratch, with a number of grids) a search proposes
which grid each building joins (:mod:`gridgis.planning.rebalance_search`,
GerryChain's ReCom: why that library is said there); painting
(:mod:`gridgis.planning.painting`, the one tiling rule) then builds the new
draft, so it tiles the community exactly. The layout rebalanced is only
read, and so is the layout in force: nothing is written but the new draft
and its audit entries. The draft's grids take the code and name of the grid
of the layout rebalanced whose households they keep most of; other grids get
the next free code.

Buildings are the graph's nodes; two are adjacent when their cells touch
along a line in the Voronoi tessellation of the community by the buildings'
points (``ST_PointOnSurface``, the points painting and
:mod:`gridgis.geo.areas` place a building by), clipped to its boundary. Not
a distance: any threshold either cuts a sparse corner off or links buildings
across a road or a river, while cells that touch make a set of buildings
that is connected on the graph one piece of land.

Rebalancing the layout in force, the draft is first its copy (codes, names,
teams), painted target grid by target grid with the buildings that move:
grids whose buildings stay keep the polygons a planner drew. Painting cuts
a building's cell from the tessellation of the grid it leaves, which changes
as buildings leave, so a grid can end in pieces; then that copy is rolled
back and the draft is painted from empty: every building first joins one
grid with the whole community's land, then each other grid takes its
buildings out of it. There the grid left is always tessellated as the whole
community is (those left behind keep their cells), the tessellation the
graph is read from: each grid ends as the union of its buildings' cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.audit import Actor
from gridgis.errors import Conflict, InvalidInput
from gridgis.geo.areas import building_grid
from gridgis.geo.layouts import choose_layout
from gridgis.models import Building, Community, Compound, Grid, Layout
from gridgis.planning import rebalance_search
from gridgis.planning.checks import SLIVER_M2, Report, check_layout
from gridgis.planning.drafts import MAX_NAME, _free_name, draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.rebalance_search import Place, matching
from gridgis.planning.tallies import Tallies, band_of, tally_layout

#: Default bounds of the search.
DEFAULT_STEPS, DEFAULT_TIME_LIMIT = 500, 60.0


@dataclass(frozen=True)
class Rebalanced:
    """What :func:`rebalance_layout` made.

    Attributes:
        layout: The new draft.
        source: The name of the layout rebalanced.
        band: Households per grid (low, high) aimed at.
        before: Tallies of the layout rebalanced.
        after: Tallies of the draft.
        assignment: Building code -> grid code in the draft.
        moved_buildings: Buildings whose grid changed.
        moved_households: Their households.
        steps: Steps the chain ran.
        stopped: ``steps``, ``time limit`` or ``no move`` (no pair of neighbouring
            grids can be redrawn as two grids in the band).
        reasons: Why each grid outside the band stays there.
        notes: Compounds too big for one grid, and how the search started.
        from_copy: Painted on a copy of the layout in force (grids whose buildings
            stay keep their polygons and teams), not from empty.
        report: The draft's checks.
    """

    layout: Layout
    source: str
    band: tuple[int, int]
    before: Tallies
    after: Tallies
    assignment: dict[str, str]
    moved_buildings: int
    moved_households: int
    steps: int
    stopped: str
    reasons: list[str]
    notes: list[str]
    report: Report
    from_copy: bool


def parse_band(text: str) -> tuple[int, int]:
    """``"300-500"`` -> ``(300, 500)``."""
    low, sep, high = text.partition("-")
    try:
        band = (int(low), int(high))
    except ValueError:
        band = (0, -1)
    if not sep or not 0 <= band[0] <= band[1]:
        raise InvalidInput(f"Give the band as LOW-HIGH households, e.g. 300-500 (not {text!r}).")
    return band


# Adjacency: one Voronoi diagram of the buildings' points, clipped to the
# boundary; pairs whose cells share a line ('****1****'), not only a corner.
_ADJACENCY = """
WITH pts AS (
    SELECT id, ST_PointOnSurface(geom) AS p FROM building WHERE community_id = :community
),
cells AS (
    SELECT DISTINCT ON (pts.id) pts.id, ST_Intersection(d.geom, c.boundary) AS cell
    FROM community c,
         ST_Dump(ST_VoronoiPolygons((SELECT ST_Collect(p) FROM pts), 0, c.boundary)) d
    JOIN pts ON ST_Covers(d.geom, pts.p)
    WHERE c.id = :community
    ORDER BY pts.id
)
SELECT a.id, b.id FROM cells a
JOIN cells b ON a.id < b.id AND a.cell && b.cell AND ST_Relate(a.cell, b.cell, '****1****')
"""


_CRUMBS = """
UPDATE grid g SET geom = kept.geom
FROM (
    SELECT g2.id, ST_Multi(ST_Collect(d.geom)) AS geom
    FROM grid g2 CROSS JOIN LATERAL ST_Dump(g2.geom) d
    WHERE g2.layout_id = :layout AND ST_NumGeometries(g2.geom) > 1
      AND ST_Area(d.geom::geography) >= :sliver
    GROUP BY g2.id
) kept
WHERE g.id = kept.id
"""


def rebalance_layout(
    session: Session,
    layout: Layout,
    *,
    band: tuple[int, int] | None = None,
    grids: int | None = None,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    time_limit: float = DEFAULT_TIME_LIMIT,
    name: str | None = None,
    actor: Actor,
) -> Rebalanced:
    """Propose a new draft from ``layout`` whose grids fall in ``band`` where buildings allow.

    The draft starts as a copy of the layout in force (:func:`draft_layout`:
    codes, names and teams kept), or empty when none is in force, and is
    painted to the assignment found. Audited once as ``rebalance`` (and each
    painting step as ``assign``); flushed, committed by the caller.

    Args:
        session: Where to read and write.
        layout: The layout to rebalance; only read.
        band: Households per grid (default: the community's band).
        grids: Start from scratch with this many grids instead of ``layout``'s.
        seed: Seeds the search: the same seed gives the same assignment.
        steps: Most steps of the chain.
        time_limit: Most seconds of search.
        name: The draft's name (default ``<layout> rebalanced``, numbered when taken).
        actor: Who rebalances.

    Raises:
        InvalidInput: A bad band, grid count or name, or buildings that are not connected.
        Conflict: ``name`` is taken.
    """
    community = session.get_one(Community, layout.community_id)
    band = band or band_of(community)[0]
    if grids is not None and grids < 1:
        raise InvalidInput("--grids must be at least 1.")
    places = placed_buildings(session, layout)
    if not places:
        raise InvalidInput(f"Community {community.code} has no buildings to rebalance.")
    graph = adjacency(session, community.id, places)
    notes: list[str] = []
    start, n = rebalance_search.first_state(graph, places, grids, notes)
    found = rebalance_search.search(
        graph, places, start, band, n, seed=seed, steps=max(steps, 1), time_limit=time_limit
    )
    codes = _codes(session, layout, places, found.assignment)
    final = {places[i].code: codes[part] for i, part in found.assignment.items()}
    draft = _from_copy(session, community, layout, name, final, actor, scratch=grids is not None)
    from_copy = draft is not None
    if draft is None:
        draft = _new_draft(session, community, layout, name)
        _paint(session, draft, layout, final, actor)
    before, after = tally_layout(session, layout), tally_layout(session, draft)
    moved = [p for p in places.values() if p.grid != final[p.code]]
    households = sum(p.households for p in moved)
    audit.record(
        session,
        actor,
        "rebalance",
        "layout",
        f"{community.code}/{draft.name}",
        after={
            "from": layout.name,
            "band": list(band),
            "grids": len(set(final.values())),
            "seed": seed,
            "steps": found.steps,
            "moved_buildings": len(moved),
            "moved_households": households,
        },
    )
    return Rebalanced(
        layout=draft,
        source=layout.name,
        band=band,
        before=before,
        after=after,
        assignment=dict(sorted(final.items())),
        moved_buildings=len(moved),
        moved_households=households,
        steps=found.steps,
        stopped=found.stopped,
        reasons=rebalance_search.why_outside(places, final, band, found),
        notes=rebalance_search.too_big(places, band) + notes,
        report=check_layout(session, draft, tallies=after),
        from_copy=from_copy,
    )


def placed_buildings(session: Session, layout: Layout) -> dict[int, Place]:
    """The community's buildings and the grid of ``layout`` each is in (gridgis.geo.areas)."""
    owner = sa.select(Grid.code).where(Grid.id == building_grid(Building.geom, layout.id))
    rows = session.execute(
        sa.select(
            Building.id, Building.code, Building.households, Compound.code, owner.scalar_subquery()
        )
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .where(Building.community_id == layout.community_id)
        .order_by(Building.id)
    ).all()
    return {r[0]: Place(r[0], r[1], int(r[2] or 0), r[3], r[4]) for r in rows}


def adjacency(session: Session, community_id: int, places: dict[int, Place]) -> nx.Graph:
    """The buildings' graph (id nodes with households and compound), or InvalidInput if cut."""
    graph: nx.Graph = nx.Graph()
    for p in places.values():
        graph.add_node(p.id, households=p.households, compound=p.compound)
    edges = session.execute(sa.text(_ADJACENCY), {"community": community_id}).all()
    graph.add_edges_from((int(a), int(b)) for a, b in edges)
    if not nx.is_connected(graph):
        pieces = sorted(nx.connected_components(graph), key=len)
        alone = ", ".join(sorted(places[i].code for i in pieces[0]))
        raise InvalidInput(
            f"The buildings fall in {len(pieces)} groups whose cells do not touch "
            f"(e.g. {alone}); rebalancing needs them connected. Look for buildings sharing "
            "one point, or a community boundary in several parts."
        )
    return graph


def _codes(
    session: Session, layout: Layout, places: dict[int, Place], assignment: dict[int, int]
) -> dict[int, str]:
    """Part -> grid code: the code of the grid it keeps most of, else the next free code."""
    matched, _ = matching(assignment, places)
    taken = set(session.scalars(sa.select(Grid.code).where(Grid.layout_id == layout.id)))
    numeric = [int(c) for c in taken if c.isdigit() and len(c) == 15]
    codes, k = dict(matched), 1
    for part in sorted(set(assignment.values()) - set(matched)):
        if numeric and len(numeric) == len(taken):
            code = str(max(numeric) + k)  # the next sequence of the 15-digit pattern
        else:
            code = f"R{k:02d}"
            while code in taken:
                k += 1
                code = f"R{k:02d}"
        codes[part], k = code, k + 1
        taken.add(code)
    return codes


def _name(session: Session, community: Community, layout: Layout, name: str | None) -> str:
    """The draft's name: ``name``, or ``<layout> rebalanced`` numbered when taken."""
    taken = set(session.scalars(sa.select(Layout.name).where(Layout.community_id == community.id)))
    name = (name or _free_name(f"{layout.name} rebalanced", taken)).strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"A layout name must have 1 to {MAX_NAME} characters.")
    if name in taken:
        raise Conflict(f"Community {community.code} already has a layout named {name!r}.")
    return name


def _new_draft(session: Session, community: Community, layout: Layout, name: str | None) -> Layout:
    """An empty draft, to be painted."""
    draft = Layout(
        community_id=community.id,
        name=_name(session, community, layout, name),
        status="draft",
        note=f"rebalanced {layout.name}",
    )
    session.add(draft)
    session.flush()
    return draft


def _from_copy(
    session: Session,
    community: Community,
    layout: Layout,
    name: str | None,
    final: dict[str, str],
    actor: Actor,
    *,
    scratch: bool,
) -> Layout | None:
    """A copy of ``layout``, when it is in force, painted building by building; else None.

    Grids whose buildings stay keep their polygons, drawn by a planner, and
    the copy keeps the grid teams. Painting from grid to grid cuts cells of
    tessellations that change as buildings leave, so a grid can end in
    pieces: then the copy is rolled back (its audit entries with it) and the
    caller paints from empty.
    """
    current = choose_layout(session, community, drafts=False)
    if scratch or current is None or current.id != layout.id:
        return None
    names = dict(
        session.execute(sa.select(Grid.code, Grid.name).where(Grid.layout_id == layout.id)).all()
    )
    saved = session.begin_nested()
    draft = draft_layout(
        session, community, name=_name(session, community, layout, name), actor=actor
    )
    draft_id = draft.layout.id
    for code in sorted(set(final.values())):
        now = {p.code: p.grid for p in placed_buildings(session, draft.layout).values()}
        moving = [b for b, grid in sorted(final.items()) if grid == code and now[b] != code]
        if moving:
            exists = code in set(now.values()) or (
                code in names and _has_grid(session, draft_id, code)
            )
            new_name = None if exists else names.get(code, f"新网格 {code[-3:]}")
            assign_buildings(session, draft.layout, moving, code, new_name=new_name, actor=actor)
    session.execute(sa.text(_CRUMBS), {"layout": draft_id, "sliver": SLIVER_M2})
    pieces = session.scalar(
        sa.select(sa.func.count()).where(
            Grid.layout_id == draft_id, sa.func.ST_NumGeometries(sa.func.ST_Multi(Grid.geom)) > 1
        )
    )
    if pieces:
        saved.rollback()
        return None
    saved.commit()
    session.expire_all()
    return session.get_one(Layout, draft_id)


def _has_grid(session: Session, layout_id: int, code: str) -> bool:
    found = sa.select(Grid.id).where(Grid.layout_id == layout_id, Grid.code == code)
    return session.scalar(sa.select(found.exists())) is True


def _paint(
    session: Session, draft: Layout, source: Layout, final: dict[str, str], actor: Actor
) -> None:
    """Paint the empty ``draft`` to ``final`` (building code -> grid code), grid by grid.

    Every building first joins the last grid, with the whole community (the
    land in no grid, tessellated by every building); then each other grid
    takes its buildings out of it. The grid they leave keeps the buildings
    that stay, so each step cuts cells of the same tessellation — the
    community's, by all its buildings — and every grid ends as the union of
    its buildings' cells: the cells the adjacency graph was read from.
    """
    names = dict(
        session.execute(sa.select(Grid.code, Grid.name).where(Grid.layout_id == source.id)).all()
    )
    order = sorted(set(final.values()))
    for number, code in enumerate([order[-1], *order[:-1]], start=1):
        moving = sorted(b for b, grid in final.items() if grid == code or number == 1)
        new_name = names.get(code) or f"新网格 {number}"
        assign_buildings(session, draft, moving, code, new_name=new_name, actor=actor)
    # The grid every other grid is cut from keeps crumbs of float noise (mm²) along the
    # footprints: pieces the checks would count as parts of it. Pieces under SLIVER_M2
    # are the checks' own noise threshold; dropped, they leave gaps the checks ignore.
    session.execute(sa.text(_CRUMBS), {"layout": draft.id, "sliver": SLIVER_M2})
    session.expire_all()
