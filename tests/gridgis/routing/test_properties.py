"""Property-based routing checks (hypothesis) on the demo community.

The demo's grids tile its boundary exactly, so every point inside the
community must get exactly one grid, the grid must cover the point, and a
point sent in GCJ-02 or BD-09 (as the WeChat mini program and Baidu maps do)
must land with the same owner as its WGS-84 twin.
"""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from gridgis.demo.loader import load_demo
from gridgis.geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridgis.models import Community, Grid
from gridgis.routing.points import route_point
from tests.support.actors import TESTS

# One loaded demo per test function; the examples only read it.
PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def demo(db_session: Session) -> dict[str, object]:
    load_demo(db_session, actor=TESTS)
    community = db_session.scalars(sa.select(Community)).one()
    boundary = to_shape(community.boundary)
    grids = {g.code: to_shape(g.geom) for g in db_session.scalars(sa.select(Grid))}
    return {"boundary": boundary, "grids": grids}


def inside(boundary: shapely.Geometry, fx: float, fy: float) -> tuple[float, float] | None:
    minx, miny, maxx, maxy = boundary.bounds
    x, y = minx + fx * (maxx - minx), miny + fy * (maxy - miny)
    return (x, y) if boundary.covers(shapely.Point(x, y)) else None


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@PROPERTY_SETTINGS
@given(fx=unit, fy=unit)
def test_every_point_inside_gets_exactly_one_covering_grid(
    db_session: Session, demo: dict[str, object], fx: float, fy: float
) -> None:
    point = inside(demo["boundary"], fx, fy)  # type: ignore[arg-type]
    if point is None:
        return
    result = route_point(db_session, *point)
    assert result.rule in ("unit", "building", "grid"), result.explanation_en
    covering = [
        code
        for code, g in demo["grids"].items()  # type: ignore[attr-defined]
        if g.covers(shapely.Point(point))
    ]
    assert result.grid_code in covering
    again = route_point(db_session, *point)
    assert again.grid_code == result.grid_code  # deterministic


@PROPERTY_SETTINGS
@given(fx=unit, fy=unit, system=st.sampled_from(["gcj02", "bd09"]))
def test_chinese_web_map_twin_routes_to_the_same_owner(
    db_session: Session, demo: dict[str, object], fx: float, fy: float, system: str
) -> None:
    point = inside(demo["boundary"], fx, fy)  # type: ignore[arg-type]
    if point is None:
        return
    convert = wgs84_to_gcj02 if system == "gcj02" else wgs84_to_bd09
    wgs = route_point(db_session, *point)
    twin = route_point(db_session, *convert(*point), crs=system)
    assert (twin.grid_code, twin.building_code, twin.unit_number) == (
        wgs.grid_code,
        wgs.building_code,
        wgs.unit_number,
    )
