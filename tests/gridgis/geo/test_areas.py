"""Which grid a building belongs to: one grid, even on a shared edge.

Coordinates are binary fractions, so a building's point on surface lies
exactly on the edge two grids share (checked below, in PostGIS).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.scope import scope_for_staff
from gridgis.geo.areas import building_grid, building_in_grid
from gridgis.maps import features
from gridgis.models import Building, Grid
from tests.support import factories as make
from tests.support.factories import box

EDGE = 114.375
WEST = box(114.25, 30.5, EDGE, 30.625)  # the larger grid
EAST = box(EDGE, 30.5, 114.4375, 30.625)  # the smaller grid
ON_EDGE = box(EDGE - 1 / 128, 30.5546875, EDGE + 1 / 128, 30.5703125)
INSIDE_WEST = box(114.28125, 30.5546875, 114.296875, 30.5703125)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def world(session: Session) -> dict[str, object]:
    community = make.community(session, "EDGE", box(114.25, 30.5, 114.4375, 30.625))
    layout = make.layout(session, community, "L", grids={"W": WEST, "E": EAST}, published=T0)
    grids = {g.code: g for g in layout.grids}
    on_edge = make.building(session, community, "B-EDGE", ON_EDGE, households=40)
    west = make.building(session, community, "B-WEST", INSIDE_WEST, households=10)
    return {
        "community": community,
        "layout": layout,
        "grids": grids,
        "on_edge": on_edge,
        "west": west,
    }


def test_the_point_on_surface_lies_on_the_shared_edge(db_session: Session) -> None:
    w = world(db_session)
    x = db_session.scalar(
        sa.select(sa.func.ST_X(sa.func.ST_PointOnSurface(Building.geom))).where(
            Building.id == w["on_edge"].id  # type: ignore[attr-defined]
        )
    )
    assert x == EDGE


def test_a_building_on_an_edge_belongs_to_the_smaller_grid(db_session: Session) -> None:
    w = world(db_session)
    grids = w["grids"]
    owner = db_session.scalar(
        sa.select(building_grid(Building.geom, w["layout"].id)).where(  # type: ignore[attr-defined]
            Building.id == w["on_edge"].id  # type: ignore[attr-defined]
        )
    )
    assert owner == grids["E"].id  # type: ignore[index]
    pairs = db_session.execute(
        sa.select(Building.code, Grid.code).join(Grid, building_in_grid(Building, Grid))
    ).all()
    assert sorted(pairs) == [("B-EDGE", "E"), ("B-WEST", "W")]


def test_grid_tallies_count_each_household_once(db_session: Session) -> None:
    w = world(db_session)
    collection = features.grid_collection(db_session, w["layout"])  # type: ignore[arg-type]
    tallies = {f["id"]: f["properties"]["households"] for f in collection["features"]}
    assert tallies == {"E": 40, "W": 10}
    assert sum(tallies.values()) == 50


def test_grid_staff_area_follows_the_same_rule(db_session: Session) -> None:
    w = world(db_session)
    grids = w["grids"]
    west_worker = make.staff(db_session, w["community"], "SW", "西网格员")  # type: ignore[arg-type]
    east_worker = make.staff(db_session, w["community"], "SE", "东网格员")  # type: ignore[arg-type]
    make.assign(db_session, west_worker, "grid_worker", grid=grids["W"])  # type: ignore[index]
    make.assign(db_session, east_worker, "grid_worker", grid=grids["E"])  # type: ignore[index]
    on_edge = w["on_edge"].id  # type: ignore[attr-defined]
    assert on_edge not in scope_for_staff(db_session, west_worker.id).building_ids
    assert on_edge in scope_for_staff(db_session, east_worker.id).building_ids
