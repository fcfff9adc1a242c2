"""Which grid a building belongs to: one rule, one SQL expression.

A building belongs to the grid of a layout that covers a point on its surface
(``ST_PointOnSurface``: always inside the footprint, unlike the centroid of an
L-shaped block). Where two grids cover that point (it lies on their shared
edge), the smaller grid wins, then the lower id: the tie rule routing uses for
incidents (DESIGN.md, Routing rule 2). So each building counts in exactly one
grid, even when its footprint crosses a grid edge, and the household tallies
of a layout add up to the community's.

Every surface that needs the answer (grid tallies on the map and in the API,
grid staff's area, planning tallies to come) uses :func:`building_grid` or
:func:`building_in_grid`; ``tests/gridgis/geo/test_areas.py`` pins the rule.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from gridgis.models import Building, Grid


def building_grid(building_geom: Any, layout_id: Any) -> ColumnElement[int]:
    """The id of the grid of ``layout_id`` that a building with ``building_geom`` belongs to.

    A correlated scalar subquery (NULL when no grid covers the building's point).
    """
    candidate = aliased(Grid, name="owner_grid")
    point = sa.func.ST_PointOnSurface(building_geom)
    return (
        sa.select(candidate.id)
        .where(candidate.layout_id == layout_id, sa.func.ST_Covers(candidate.geom, point))
        .order_by(sa.func.ST_Area(candidate.geom), candidate.id)
        .limit(1)
        .correlate_except(candidate)
        .scalar_subquery()
    )


def building_in_grid(building: Any = Building, grid: Any = Grid) -> ColumnElement[bool]:
    """The rule as a join condition: ``building`` belongs to ``grid`` (entities or aliases).

    The bounding-box test first lets PostGIS use the GiST indexes; it can
    never drop a true pair, since the point lies in both boxes.
    """
    return sa.and_(
        building.geom.op("&&")(grid.geom),
        grid.id == building_grid(building.geom, grid.layout_id),
    )
