"""The database itself keeps the data sane, whatever code writes to it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy.orm import Session

from gridgis.models import (
    SRID,
    Assignment,
    Building,
    Community,
    Grid,
    Layout,
    Staff,
    Unit,
)

# A 100 m × 100 m block in Wuhan: 0.001 deg ≈ 96 m east, 111 m north.
X0, Y0 = 114.345, 30.505


def multi(geom: Polygon) -> object:
    return from_shape(MultiPolygon([geom]), srid=SRID)


def square(dx: float, dy: float, size: float) -> Polygon:
    return box(X0 + dx, Y0 + dy, X0 + dx + size, Y0 + dy + size)


@pytest.fixture
def community(db_session: Session) -> Community:
    c = Community(code="C1", name="测试社区", boundary=multi(square(0, 0, 0.01)))
    db_session.add(c)
    db_session.flush()
    return c


@pytest.fixture
def building(db_session: Session, community: Community) -> Building:
    b = Building(community_id=community.id, code="B1", geom=multi(square(0.001, 0.001, 0.0004)))
    db_session.add(b)
    db_session.flush()
    return b


def flush_fails(session: Session, obj: object, constraint: str) -> None:
    # Add inside the savepoint: begin_nested() flushes what is pending first.
    with pytest.raises(sa.exc.DBAPIError) as info, session.begin_nested():
        session.add(obj)
        session.flush()
    assert constraint in str(info.value)
    if obj in session:
        session.expunge(obj)


def test_self_intersecting_polygon_is_refused(db_session: Session, community: Community) -> None:
    bowtie = Polygon([(X0, Y0), (X0 + 0.001, Y0 + 0.001), (X0 + 0.001, Y0), (X0, Y0 + 0.001)])
    assert not bowtie.is_valid
    flush_fails(
        db_session,
        Building(community_id=community.id, code="BAD", geom=multi(bowtie)),
        "ck_building_geom_valid",
    )


def test_building_codes_are_unique_within_a_community(
    db_session: Session, community: Community, building: Building
) -> None:
    flush_fails(
        db_session,
        Building(community_id=community.id, code="B1", geom=multi(square(0.003, 0.003, 0.0002))),
        "uq_building_community_id_code",
    )
    other = Community(code="C2", name="别的社区", boundary=multi(square(0.02, 0, 0.01)))
    db_session.add(other)
    db_session.flush()
    db_session.add(
        Building(community_id=other.id, code="B1", geom=multi(square(0.021, 0.001, 0.0002)))
    )
    db_session.flush()  # the same code in another community is fine


def test_unit_inside_its_building_is_accepted(db_session: Session, building: Building) -> None:
    half = square(0.001, 0.001, 0.0002)
    db_session.add(Unit(building_id=building.id, number="1", households=12, geom=multi(half)))
    db_session.flush()


def test_unit_outside_its_building_is_refused(db_session: Session, building: Building) -> None:
    far = square(0.005, 0.005, 0.0002)
    flush_fails(
        db_session,
        Unit(building_id=building.id, number="1", geom=multi(far)),
        "outside its building",
    )


def test_unit_numbers_are_unique_within_a_building(db_session: Session, building: Building) -> None:
    db_session.add(
        Unit(building_id=building.id, number="1", geom=multi(square(0.001, 0.001, 0.0001)))
    )
    db_session.flush()
    flush_fails(
        db_session,
        Unit(building_id=building.id, number="1", geom=multi(square(0.0012, 0.001, 0.0001))),
        "uq_unit_building_id_number",
    )


def test_grid_codes_unique_per_layout(db_session: Session, community: Community) -> None:
    layout = Layout(community_id=community.id, name="L1")
    db_session.add(layout)
    db_session.flush()
    db_session.add(
        Grid(layout_id=layout.id, code="001", name="一", geom=multi(square(0, 0, 0.005)))
    )
    db_session.flush()
    flush_fails(
        db_session,
        Grid(layout_id=layout.id, code="001", name="二", geom=multi(square(0.005, 0, 0.005))),
        "uq_grid_layout_id_code",
    )


@pytest.mark.parametrize(
    ("role", "target", "team", "constraint"),
    [
        ("grid_worker", "building", None, "ck_assignment_role_target"),
        ("building_head", "grid", None, "ck_assignment_role_target"),
        ("volunteer", "grid", None, "ck_assignment_team_for_volunteers"),
        ("volunteer", "grid", "purple", "ck_assignment_volunteer_team"),
        ("mayor", "grid", None, "ck_assignment_role"),
    ],
)
def test_assignment_role_must_match_its_place(
    db_session: Session,
    community: Community,
    building: Building,
    role: str,
    target: str,
    team: str | None,
    constraint: str,
) -> None:
    layout = Layout(community_id=community.id, name="L1")
    db_session.add(layout)
    db_session.flush()
    grid = Grid(layout_id=layout.id, code="001", name="一", geom=multi(square(0, 0, 0.005)))
    staff = Staff(community_id=community.id, code="S1", name="王小明", phone="13800000000")
    db_session.add_all([grid, staff])
    db_session.flush()
    place = {"grid_id": grid.id} if target == "grid" else {"building_id": building.id}
    flush_fails(
        db_session,
        Assignment(staff_id=staff.id, role=role, volunteer_team=team, **place),
        constraint,
    )


def test_one_grid_worker_per_grid(db_session: Session, community: Community) -> None:
    layout = Layout(community_id=community.id, name="L1")
    db_session.add(layout)
    db_session.flush()
    grid = Grid(layout_id=layout.id, code="001", name="一", geom=multi(square(0, 0, 0.005)))
    a = Staff(community_id=community.id, code="S1", name="王小明")
    b = Staff(community_id=community.id, code="S2", name="李四")
    db_session.add_all([grid, a, b])
    db_session.flush()
    db_session.add(Assignment(staff_id=a.id, role="grid_worker", grid_id=grid.id))
    db_session.flush()
    flush_fails(
        db_session,
        Assignment(staff_id=b.id, role="grid_worker", grid_id=grid.id),
        "uq_assignment_grid_role",
    )


def test_every_geometry_column_has_a_gist_index(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                """
                SELECT c.f_table_name, c.f_geometry_column,
                       EXISTS (SELECT 1 FROM pg_indexes i
                               WHERE i.tablename = c.f_table_name
                                 AND i.indexdef ILIKE '%USING gist%'
                                 AND i.indexdef LIKE '%(' || c.f_geometry_column || ')%')
                FROM geometry_columns c WHERE c.f_table_schema = 'public'
                """
            )
        ).all()
    assert rows, "no geometry columns found"
    assert [r[:2] for r in rows if not r[2]] == []
    assert {r[2] for r in rows} == {True}
    assert {(r[0], r[1]) for r in rows} >= {
        ("grid", "geom"),
        ("unit", "geom"),
        ("building", "geom"),
    }
