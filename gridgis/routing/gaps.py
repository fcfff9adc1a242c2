"""Points in a gap between grids, answered with the database's own distances.

A point in its community, with a layout in force, but in no grid goes to the
nearest grid of the layout within the community's tolerance (ties: smaller
area, then lower id), else it is unrouted (DESIGN.md, Routing rule 3). The
distance is the spheroid's, and only PostGIS computes it as the routing
statement does; so this module finds the candidates in memory and asks the
database for exactly the distances the statement would compute
(``ST_Distance(g.geom::geography, point::geography)``, the same expression
on the same doubles), then applies the statement's rule to them:

* The statement's candidates are the layout's grids whose box meets the point's
  box of ``tolerance / m_per_deg`` (a bound that holds every grid within the
  tolerance, :mod:`gridgis.routing.sql`), kept when ``distance <= tolerance``.
  The candidates here come from a box a little larger (float rounding), so
  they include the statement's; the extra ones are farther than the tolerance
  and fail the same test.
* A point with no candidate at all (the middle of a lake) is unrouted with no
  query: the statement's box holds no grid either.
"""

from __future__ import annotations

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.routing.cache import m_per_deg
from gridgis.routing.index import RoutingIndex

_DISTANCES = sa.text(
    """
    SELECT d.n,
           ST_Distance(g.geom::geography, ST_SetSRID(ST_MakePoint(d.lon, d.lat), 4326)::geography)
    FROM unnest(CAST(:grid AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
         WITH ORDINALITY AS d(grid, lon, lat, n)
    JOIN grid g ON g.id = d.grid
    """
)


def nearest_grids(
    session: Session,
    index: RoutingIndex,
    lon: np.ndarray,
    lat: np.ndarray,
    community: np.ndarray,
    layout_id: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per gap point, the position of its grid (-1: none within the tolerance) and the distance.

    ``community`` (positions) and ``layout_id`` are each point's, as located.
    """
    n = len(lon)
    grid = np.full(n, -1, dtype=np.int64)
    distance = np.full(n, np.nan)
    if n == 0:
        return grid, distance
    tolerance = np.array(
        [float(t) for t in index.communities.attrs["tolerance"][community].tolist()], dtype=float
    )
    reach = tolerance / m_per_deg(lat) * (1 + 1e-6) + 1e-9
    boxes = shapely.box(lon - reach, lat - reach, lon + reach, lat + reach)
    points, grids = index.grids.tree.query(boxes)
    keep = index.grids.layout_ids[grids] == layout_id[points]
    points, grids = points[keep], grids[keep]
    if not len(points):
        return grid, distance
    found = session.execute(
        _DISTANCES,
        {
            "grid": index.grids.ids[grids].tolist(),
            "lon": lon[points].tolist(),
            "lat": lat[points].tolist(),
        },
    ).all()
    dist = np.full(len(points), np.inf)
    for ordinal, value in found:
        dist[ordinal - 1] = value
    within = dist <= tolerance[points]
    points, grids, dist = points[within], grids[within], dist[within]
    if not len(points):
        return grid, distance
    # The statement's order: distance, then area, then id; the first per point wins.
    order = np.lexsort((index.grids.ids[grids], index.grids.area[grids], dist, points))
    points, grids, dist = points[order], grids[order], dist[order]
    first = np.ones(len(points), dtype=bool)
    first[1:] = points[1:] != points[:-1]
    grid[points[first]] = grids[first]
    distance[points[first]] = dist[first]
    return grid, distance
