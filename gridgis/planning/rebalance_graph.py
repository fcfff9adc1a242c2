"""The buildings' adjacency graph rebalancing searches on (Voronoi cells that touch).

Buildings are the graph's nodes; two are adjacent when their cells touch
along a line in the Voronoi tessellation of the community by the buildings'
points (``ST_PointOnSurface``, the points painting and
:mod:`gridgis.geo.areas` place a building by), clipped to its boundary. Not
a distance: any threshold either cuts a sparse corner off or links buildings
across a road or a river, while cells that touch make a set of buildings
that is connected on the graph one piece of land.

With locked grids the graph is read from the land they leave (the boundary
less their polygons) tessellated by the buildings outside them only: the
very tessellation a draft painted from empty cuts (painting encloses the
buildings in no grid by the land in no grid), so a grid connected on this
graph is painted in one piece. Taking the locked buildings out of the whole
community's graph instead would keep edges across cells that reach into a
locked grid, whose land the draft cannot paint.
"""

from __future__ import annotations

import networkx as nx  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput
from gridgis.geo.areas import building_grid
from gridgis.models import Building, Compound, Grid, Layout
from gridgis.planning.rebalance_search import Place

# One Voronoi diagram of the buildings' points, clipped to the land; pairs whose
# cells share a line ('****1****'), not only a corner. ``land`` is the community's
# boundary less the locked grids of ``:layout`` (none: the whole boundary), and
# ``pts`` the buildings of ``:ids`` (NULL: all of them).
_ADJACENCY = """
WITH land AS (
    SELECT CASE WHEN locked.geom IS NULL THEN c.boundary
                ELSE ST_Difference(c.boundary, locked.geom) END AS land
    FROM community c
    LEFT JOIN LATERAL (
        SELECT ST_Union(g.geom) AS geom FROM grid g WHERE g.layout_id = :layout AND g.locked
    ) locked ON true
    WHERE c.id = :community
),
pts AS (
    SELECT id, ST_PointOnSurface(geom) AS p FROM building
    WHERE community_id = :community
      AND (CAST(:ids AS integer[]) IS NULL OR id = ANY(CAST(:ids AS integer[])))
),
cells AS (
    SELECT DISTINCT ON (pts.id) pts.id, ST_Intersection(d.geom, land.land) AS cell
    FROM land,
         ST_Dump(ST_VoronoiPolygons((SELECT ST_Collect(p) FROM pts), 0, land.land)) d
    JOIN pts ON ST_Covers(d.geom, pts.p)
    ORDER BY pts.id
)
SELECT a.id, b.id FROM cells a
JOIN cells b ON a.id < b.id AND a.cell && b.cell AND ST_Relate(a.cell, b.cell, '****1****')
"""


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


def _graph(
    session: Session, community_id: int, places: dict[int, Place], *, layout: int, only: bool
) -> nx.Graph:
    graph: nx.Graph = nx.Graph()
    for p in places.values():
        graph.add_node(p.id, households=p.households, compound=p.compound)
    edges = session.execute(
        sa.text(_ADJACENCY),
        {"community": community_id, "layout": layout, "ids": sorted(places) if only else None},
    ).all()
    graph.add_edges_from((int(a), int(b)) for a, b in edges)
    return graph


def adjacency(session: Session, community_id: int, places: dict[int, Place]) -> nx.Graph:
    """The buildings' graph (id nodes with households and compound), or InvalidInput if cut."""
    # Layout 0 has no grid: the land is the whole boundary.
    graph = _graph(session, community_id, places, layout=0, only=False)
    if not nx.is_connected(graph):
        pieces = sorted(nx.connected_components(graph), key=len)
        alone = ", ".join(sorted(places[i].code for i in pieces[0]))
        raise InvalidInput(
            f"The buildings fall in {len(pieces)} groups whose cells do not touch "
            f"(e.g. {alone}); rebalancing needs them connected. Look for buildings sharing "
            "one point, or a community boundary in several parts."
        )
    return graph


def whole_graph(session: Session, community_id: int, places: dict[int, Place]) -> nx.Graph:
    """:func:`adjacency` of every building, connected or not (to name what separates groups)."""
    return _graph(session, community_id, places, layout=0, only=False)


def unlocked_adjacency(
    session: Session, community_id: int, layout_id: int, free: dict[int, Place]
) -> nx.Graph:
    """The graph of the buildings ``free`` (outside the locked grids) on the land those leave.

    Not necessarily connected: a locked grid can cut the rest in groups
    (:func:`groups`).
    """
    return _graph(session, community_id, free, layout=layout_id, only=True)


def groups(graph: nx.Graph) -> list[list[int]]:
    """The graph's connected groups of building ids, each sorted, by their first id.

    In a fixed order, so that the same seed searches them the same way.
    """
    return sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda g: g[0])
