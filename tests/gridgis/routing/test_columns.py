"""Column-wise routing gives route_points' answers, field for field, on every kind of point."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.demo.loader import load_demo
from gridgis.routing import cache as routing_cache
from gridgis.routing.columns import SCHEMA, route_columns
from gridgis.routing.files import routing_values
from gridgis.routing.points import PointInput, route_points
from tests.gridgis.routing.test_cache import edge_and_random_points
from tests.support.actors import TESTS
from tests.support.routing_city import AFTER, PUBLISHED


@pytest.fixture(autouse=True)
def fresh_indexes() -> None:
    routing_cache.forget_indexes()


def as_values(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows as routing_values writes a result (null → "", distance as text)."""
    out = []
    for row in table.to_pylist():
        values = {k: "" if v is None else v for k, v in row.items()}
        if row["distance_m"] is not None:
            values["distance_m"] = f"{row['distance_m']:.2f}"
        out.append(values)
    return out


def expected(results: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        values = routing_values(r)
        values.update(
            community_id="" if r.community_id is None else r.community_id,
            layout_id="" if r.layout_id is None else r.layout_id,
            grid_id="" if r.grid_id is None else r.grid_id,
            compound_id="" if r.compound_id is None else r.compound_id,
        )
        del values["grid_name"]
        rows.append(values)
    return rows


def assert_same(
    session: Session,
    coords: list[tuple[float, float]],
    categories: list[str | None],
    at: dt.datetime,
    *,
    use_cache: bool | None,
    crs: str = "EPSG:4326",
) -> pa.Table:
    cats = [categories[i % len(categories)] for i in range(len(coords))]
    by_points = route_points(
        session,
        [PointInput(x, y, crs=crs, category=c, at=at) for (x, y), c in zip(coords, cats)],
        use_cache=False,
    )
    table = route_columns(
        session,
        [np.nan if x is None else x for x, _ in coords],
        [np.nan if y is None else y for _, y in coords],
        crs=crs,
        categories=cats,
        at=at,
        use_cache=use_cache,
    )
    assert table.schema == SCHEMA
    got = [{k: v for k, v in row.items() if k != "grid_name"} for row in as_values(table)]
    want = expected(by_points)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (i, coords[i], cats[i])
    return table


CATEGORIES = [None, "parking", "property", "medical", "nope"]


@pytest.mark.parametrize("use_cache", [True, False])
def test_columns_match_route_points_on_the_routing_city(
    db_session: Session, city, use_cache: bool
) -> None:
    # Every vertex and edge midpoint (ties on shared unit edges, grid corners,
    # jurisdiction edges), random points in and around the community (gaps,
    # the hole far from every grid, outside coverage), every category.
    coords = edge_and_random_points(db_session, 2000, seed=11)
    table = assert_same(db_session, coords, CATEGORIES, AFTER, use_cache=use_cache)
    rules = set(table.column("rule").to_pylist())
    assert {"unit", "grid", "nearest_grid", "unrouted", "outside_coverage"} <= rules


def test_columns_match_before_the_layout(db_session: Session, city) -> None:
    coords = edge_and_random_points(db_session, 300, seed=12)
    table = assert_same(
        db_session, coords, [None], PUBLISHED - dt.timedelta(days=1), use_cache=True
    )
    assert "no layout in force" in table.column("reason").to_pylist()


def test_columns_match_on_the_demo(db_session: Session) -> None:
    load_demo(db_session, actor=TESTS)
    coords = edge_and_random_points(db_session, 3000, seed=13)
    codes = list(db_session.scalars(sa.text("SELECT code FROM category ORDER BY code")))
    assert_same(db_session, coords, [None, *codes], dt.datetime.now(dt.UTC), use_cache=True)


def test_the_team_on_a_shared_unit_edge_and_off_duty_staff(db_session: Session, city) -> None:
    # On the wall between units 1 and 2 (the database decides), inside unit 1
    # (its unit head is off duty: the building head covers), in the road gap.
    coords = [(114.3011, 30.50105), (114.30105, 30.50105), (114.30515, 30.507)]
    table = assert_same(db_session, coords, ["medical", "parking"], AFTER, use_cache=True)
    rows = table.to_pylist()
    assert [r["rule"] for r in rows] == ["unit", "unit", "nearest_grid"]
    assert "building_head:BH" in rows[1]["team"]


def test_bad_rows_and_other_crs(db_session: Session, city) -> None:
    coords: list[tuple[Any, Any]] = [(None, 30.5), (500.0, 30.5), (114.3003, 30.508)]
    table = assert_same(db_session, coords, [None], AFTER, use_cache=True)
    assert table.column("rule").to_pylist() == ["invalid_location", "invalid_location", "grid"]
    assert table.column("reason").to_pylist()[0] == "no coordinates"
    assert_same(
        db_session, [(114.3083, 30.5053), (114.3, 30.5)], [None], AFTER, use_cache=True, crs="gcj02"
    )


def test_problems_and_an_empty_batch(db_session: Session, city) -> None:
    table = route_columns(
        db_session, [114.3003, 114.3003], [30.508, 30.508], at=AFTER, problems={1: "bad text"}
    )
    assert table.column("rule").to_pylist() == ["grid", "invalid_location"]
    assert table.column("reason").to_pylist() == [None, "bad text"]
    assert route_columns(db_session, [], [], at=AFTER).num_rows == 0


def test_gaps_ties_and_the_tolerance_edge(db_session: Session, city) -> None:
    # The nearest grid, an equidistant pair (the smaller wins), the hole, a
    # point just outside the boundary: the gaps module's distances and rule.
    coords = [(114.30505, 30.508), (114.30515, 30.508), (114.3075, 30.5025), (114.29995, 30.505)]
    table = assert_same(db_session, coords, [None, "parking"], AFTER, use_cache=True)
    assert table.column("rule").to_pylist() == [
        "nearest_grid",
        "nearest_grid",
        "unrouted",
        "nearest_grid",
    ]
    assert table.column("grid_code").to_pylist()[:2] == ["A", "C"]
    # Exactly at the tolerance is in; a centimetre less and it is out.
    lon, lat = 114.3075, 30.5025
    dist = db_session.scalar(
        sa.text(
            "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)"
            " FROM grid WHERE code = 'B'"
        ),
        {"x": lon, "y": lat},
    )
    community = city["community"]
    for tolerance, rule in ((dist, "nearest_grid"), (dist - 0.01, "unrouted")):
        community.gap_tolerance_m = tolerance
        db_session.flush()
        routing_cache.forget_indexes()
        table = assert_same(db_session, [(lon, lat)], [None], AFTER, use_cache=True)
        assert table.column("rule").to_pylist() == [rule]


def testjurisdiction_sets_by_bits_and_by_tuples_agree() -> None:
    from types import SimpleNamespace

    from gridgis.routing.distinct import jurisdiction_sets

    pairs = np.array([[0, 0, 2, 3], [1, 4, 1, 0]])
    few = [10, 11, 12, 13, 14]
    for ids in (few, few + list(range(100, 160))):  # bits up to 62, tuples beyond
        index = SimpleNamespace(jurisdictions=SimpleNamespace(id_list=ids))
        numbers, sets = jurisdiction_sets(index, pairs, 5)  # type: ignore[arg-type]
        assert [sets[k] for k in numbers.tolist()] == [{11, 14}, set(), {11}, {10}, set()]


def test_teams_one_by_one_when_the_rosters_have_another_shape(
    db_session: Session, city, monkeypatch: pytest.MonkeyPatch
) -> None:
    # crew_columns declines rosters the constraints do not allow: assemble_team, team by team.
    from gridgis.routing import distinct

    monkeypatch.setattr(distinct, "crew_columns", lambda *args: None)
    coords = edge_and_random_points(db_session, 300, seed=14)
    table = assert_same(db_session, coords, CATEGORIES, AFTER, use_cache=True)
    assert any(table.column("team").to_pylist())
