"""The in-memory routing index gives exactly the database's answers."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import cli_principal
from gridgis.demo.loader import load_demo
from gridgis.routing import cache as routing_cache
from gridgis.routing.points import PointInput, route_points
from tests.support.actors import TESTS
from tests.support.routing_city import AFTER, PUBLISHED


@pytest.fixture(autouse=True)
def fresh_indexes() -> None:
    routing_cache.forget_indexes()


def edge_and_random_points(session: Session, n_random: int, seed: int) -> list[tuple[float, float]]:
    """Every vertex and edge midpoint of every polygon, plus random points around them."""
    rows = session.execute(
        sa.text(
            """
        WITH polys AS (
            SELECT geom FROM grid UNION ALL SELECT geom FROM building
            UNION ALL SELECT geom FROM unit UNION ALL SELECT geom FROM compound
            UNION ALL SELECT boundary FROM community
            UNION ALL SELECT jurisdiction FROM department WHERE jurisdiction IS NOT NULL
        ), pts AS (SELECT (ST_DumpPoints(geom)).geom AS p FROM polys)
        SELECT ST_X(p), ST_Y(p) FROM pts
        """
        )
    ).all()
    vertices = [(float(x), float(y)) for x, y in rows]
    mids = [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in itertools.pairwise(vertices)]
    xmin, ymin, xmax, ymax = session.execute(
        sa.text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
            " FROM (SELECT ST_Expand(ST_Extent(boundary), 0.001) e FROM community) s"
        )
    ).one()
    rng = np.random.default_rng(seed)
    random = list(
        zip(rng.uniform(xmin, xmax, n_random), rng.uniform(ymin, ymax, n_random), strict=True)
    )
    return vertices + mids + [(float(x), float(y)) for x, y in random]


def compare(
    session: Session, coords: list[tuple[float, float]], categories: list[str | None], at
) -> int:  # type: ignore[no-untyped-def]
    points = [
        PointInput(x, y, category=categories[i % len(categories)], at=at)
        for i, (x, y) in enumerate(coords)
    ]
    by_sql = route_points(session, points, use_cache=False)
    by_cache = route_points(session, points, use_cache=True)
    everything = cli_principal("tests")
    assert [r.to_dict(everything) for r in by_cache] == [r.to_dict(everything) for r in by_sql]
    index = routing_cache.index_for(session, 0, build=False)
    assert index is not None
    decided = routing_cache.resolve(
        index,
        np.array([c[0] for c in coords]),
        np.array([c[1] for c in coords]),
        [at] * len(coords),
        [None] * len(coords),
    )
    return sum(row is not None for row in decided)


def test_cache_matches_sql_on_the_routing_city(db_session: Session, city) -> None:
    coords = edge_and_random_points(db_session, 3000, seed=1)
    decided = compare(db_session, coords, [None, "parking", "property", "medical"], AFTER)
    assert decided > len(coords) // 2  # the cache really answers most points


def test_cache_matches_sql_before_the_layout(db_session: Session, city) -> None:
    coords = edge_and_random_points(db_session, 500, seed=2)
    compare(db_session, coords, [None], PUBLISHED - dt.timedelta(days=1))


def test_cache_matches_sql_on_the_demo(db_session: Session) -> None:
    load_demo(db_session, actor=TESTS)
    coords = edge_and_random_points(db_session, 5000, seed=3)
    codes = list(db_session.scalars(sa.text("SELECT code FROM category ORDER BY code")))
    compare(db_session, coords, [None, *codes], dt.datetime.now(dt.UTC))


def test_a_write_invalidates_the_index(db_session: Session, city) -> None:
    point = [PointInput(114.3003, 30.508, at=AFTER)]
    assert route_points(db_session, point, use_cache=True)[0].grid_code == "A"
    before = routing_cache.current_epoch(db_session)
    db_session.execute(sa.text("UPDATE grid SET code = 'A2' WHERE code = 'A'"))
    assert routing_cache.current_epoch(db_session) != before
    assert route_points(db_session, point, use_cache=True)[0].grid_code == "A2"
    assert routing_cache.index_for(db_session, 0, build=False).epoch == (  # type: ignore[union-attr]
        routing_cache.current_epoch(db_session)
    )


def test_small_batches_do_not_build_an_index(db_session: Session, city) -> None:
    route_points(db_session, [PointInput(114.3003, 30.508, at=AFTER)])
    assert routing_cache.index_for(db_session, 0, build=False) is None
