"""The demo community loads through the ordinary import path and is complete."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from gridgis.demo.loader import DEMO_VALID_FROM, demo_community_code, load_demo
from gridgis.errors import Conflict
from gridgis.geo.layouts import choose_layout, get_community
from gridgis.routing.points import route_point
from tests.support.actors import TESTS


@pytest.fixture
def demo(db_session: Session) -> dict[str, int]:
    return load_demo(db_session, actor=TESTS)


def scalar(session: Session, sql: str, **params: object) -> object:
    return session.execute(sa.text(sql), params).scalar_one()


def test_demo_is_big_enough(db_session: Session, demo: dict[str, int]) -> None:
    assert demo["buildings"] >= 60 and demo["units"] >= 200
    assert 6 <= demo["grids"] <= 10
    assert scalar(db_session, "SELECT sum(households) FROM unit") >= 3000
    assert scalar(db_session, "SELECT count(*) FROM category") >= 12
    names = set(db_session.scalars(sa.text("SELECT name FROM department")))
    assert {"城管执法局", "交警队", "环卫所", "烟草专卖局", "丽景万达物业", "国泰物业"} <= names
    committees = (
        db_session.execute(sa.text("SELECT name FROM compound WHERE has_owners_committee"))
        .scalars()
        .all()
    )
    assert committees == ["南湖中央花园"]


def test_grids_tile_the_community(db_session: Session, demo: dict[str, int]) -> None:
    community = get_community(db_session, demo_community_code())
    layout = choose_layout(db_session, community)
    assert layout is not None
    gap, overlap = db_session.execute(
        sa.text(
            """
        SELECT ST_Area(ST_SymDifference(c.boundary, u.geom)::geography),
               (SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
                FROM grid a JOIN grid b ON a.id < b.id AND a.layout_id = b.layout_id
                     AND ST_Intersects(a.geom, b.geom)
                WHERE a.layout_id = :layout)
        FROM community c,
             (SELECT ST_Union(geom) AS geom FROM grid WHERE layout_id = :layout) u
        WHERE c.id = :community
        """
        ),
        {"layout": layout.id, "community": community.id},
    ).one()
    assert gap < 1.0  # square metres
    assert overlap < 1.0


def test_every_grid_has_its_full_team(db_session: Session, demo: dict[str, int]) -> None:
    rows = db_session.execute(
        sa.text(
            """
        SELECT g.code,
               count(*) FILTER (WHERE a.role = 'grid_worker'),
               count(*) FILTER (WHERE a.role = 'part_time_worker'),
               count(*) FILTER (WHERE a.role = 'volunteer')
        FROM grid g LEFT JOIN assignment a ON a.grid_id = g.id
        GROUP BY g.code
        """
        )
    ).all()
    assert len(rows) == demo["grids"]
    assert all(gw == 1 and pt == 1 and vol >= 3 for _, gw, pt, vol in rows), rows
    headless = scalar(
        db_session,
        """
        SELECT count(*) FROM building b
        WHERE NOT EXISTS (SELECT 1 FROM assignment a WHERE a.building_id = b.id)""",
    )
    unitless = scalar(
        db_session,
        """
        SELECT count(*) FROM unit u
        WHERE NOT EXISTS (SELECT 1 FROM assignment a WHERE a.unit_id = u.id)""",
    )
    assert headless == 0 and unitless == 0
    teams = set(
        db_session.scalars(
            sa.text("SELECT DISTINCT volunteer_team FROM assignment WHERE role = 'volunteer'")
        )
    )
    assert teams == {"red", "blue", "green", "orange", "white"}


def test_a_demo_building_routes_to_its_team(db_session: Session, demo: dict[str, int]) -> None:
    lon, lat, code = db_session.execute(
        sa.text(
            "SELECT ST_X(p), ST_Y(p), code"
            " FROM (SELECT ST_PointOnSurface(geom) p, code FROM building"
            " ORDER BY code LIMIT 1) s"
        )
    ).one()
    result = route_point(db_session, lon, lat, category="parking")
    assert result.building_code == code and result.grid_code
    assert result.lead is not None


def test_the_demo_layout_is_in_force_for_reports_made_before_loading(
    db_session: Session, demo: dict[str, int]
) -> None:
    """The sample hotline export is from November 2026: its reports route to the demo's grids."""
    lon, lat = db_session.execute(
        sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid LIMIT 1) s"
        )
    ).one()
    november = dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC)
    assert route_point(db_session, lon, lat, at=november).grid_code
    before = DEMO_VALID_FROM - dt.timedelta(days=1)
    assert route_point(db_session, lon, lat, at=before).grid_code is None


def test_loading_twice_is_a_conflict(db_session: Session, demo: dict[str, int]) -> None:
    with pytest.raises(Conflict, match="already loaded"):
        load_demo(db_session, actor=TESTS)


def test_cli_loads_once_with_if_empty(scratch_database_url: str) -> None:
    from gridgis.cli import main

    runner = CliRunner()
    first = runner.invoke(main, ["demo", "load", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert "Demo community loaded" in first.output and "166 buildings" in first.output
    second = runner.invoke(main, ["demo", "load", "--if-empty"])
    assert second.exit_code == 0
    assert "already holds a community" in second.output
    third = runner.invoke(main, ["demo", "load"])
    assert third.exit_code == 1 and "already loaded" in third.output
