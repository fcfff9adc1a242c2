"""PostGIS checks on features that are not stored yet.

The file's geometries travel as two arrays (feature index, WKB) and are
unnested into a derived table, so one query answers for every feature: which
compound or building covers it, whether it leaves the community, whether a
unit leaves its building. PostGIS decides these (DESIGN.md: PostGIS for
every query that decides where something belongs).
"""

from __future__ import annotations

from collections.abc import Sequence

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.shapes.loader import plain_wkb

_FEATURES = (
    "SELECT i, ST_GeomFromWKB(w, 4326) AS g "
    "FROM unnest(CAST(:idx AS int[]), CAST(:wkb AS bytea[])) AS u(i, w)"
)

# Where polygons overlap, the smallest owns the point, then the lowest id,
# so the answer never depends on row order.
# Bandit B608 (SQL built with f-strings): the interpolations below are this
# module's own constant fragments; every value travels as a bound parameter.
_COVERING = {
    "compound": f"""
        WITH f AS ({_FEATURES})
        SELECT f.i, (
            SELECT c.id FROM compound c
            WHERE c.community_id = :community AND ST_Covers(c.geom, ST_PointOnSurface(f.g))
            ORDER BY ST_Area(c.geom), c.id LIMIT 1)
        FROM f""",  # nosec B608
    "building": f"""
        WITH f AS ({_FEATURES})
        SELECT f.i, (
            SELECT b.id FROM building b
            WHERE b.community_id = :community AND ST_Covers(b.geom, ST_PointOnSurface(f.g))
            ORDER BY ST_Area(b.geom), b.id LIMIT 1)
        FROM f""",  # nosec B608
}


def _params(indexes: Sequence[int], geoms: Sequence[shapely.Geometry]) -> dict[str, object]:
    return {"idx": list(map(int, indexes)), "wkb": plain_wkb(geoms)}


def covering(
    session: Session,
    table: str,
    community_id: int,
    indexes: Sequence[int],
    geoms: Sequence[shapely.Geometry],
) -> dict[int, int]:
    """Feature index -> id of the ``table`` row covering its point-on-surface."""
    if not indexes:
        return {}
    rows = session.execute(
        sa.text(_COVERING[table]), {"community": community_id, **_params(indexes, geoms)}
    )
    return {i: found for i, found in rows if found is not None}


def outside_boundary(
    session: Session,
    community_id: int,
    indexes: Sequence[int],
    geoms: Sequence[shapely.Geometry],
) -> list[int]:
    """Indexes of features not wholly inside the community's boundary."""
    # ST_Covers(boundary, g), not ST_CoveredBy(g, boundary): PostGIS prepares
    # the repeated first argument once, which makes a detailed boundary
    # hundreds of times faster (30 s -> 0.1 s for 1,206 buildings in NYC).
    if not indexes:
        return []
    rows = session.execute(
        sa.text(
            f"""WITH f AS ({_FEATURES})
            SELECT f.i FROM f JOIN community c ON c.id = :community
            WHERE NOT ST_Covers(c.boundary, f.g) ORDER BY f.i"""  # nosec B608
        ),
        {"community": community_id, **_params(indexes, geoms)},
    )
    return [i for (i,) in rows]


def units_outside(
    session: Session,
    indexes: Sequence[int],
    building_ids: Sequence[int],
    geoms: Sequence[shapely.Geometry],
) -> dict[int, float]:
    """Unit index -> m² lying outside its building, for units that leave it.

    The rule is the database trigger's (first migration): a unit may stick
    out of its building by at most half a metre.
    """
    if not indexes:
        return {}
    rows = session.execute(
        sa.text(
            """WITH f AS (
                SELECT i, b, ST_GeomFromWKB(w, 4326) AS g
                FROM unnest(CAST(:idx AS int[]), CAST(:bid AS int[]), CAST(:wkb AS bytea[]))
                    AS u(i, b, w))
            SELECT f.i, ST_Area(ST_Difference(f.g, bl.geom)::geography)
            FROM f JOIN building bl ON bl.id = f.b
            WHERE NOT ST_Covers(bl.geom, f.g)
              AND NOT ST_Covers(ST_Buffer(bl.geom::geography, 0.5)::geometry, f.g)
            ORDER BY f.i"""
        ),
        {**_params(indexes, geoms), "bid": list(map(int, building_ids))},
    )
    return {i: float(area) for i, area in rows}
