"""Grid staff's area (what they see) and team (whose contacts they see)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.scope import Places, scope_for_staff
from gridgis.models import Building, Grid, Staff, Unit
from tests.support.sample_community import GRID_CODES, build_sample_community


def ids(session: Session, model: type, codes: list[str]) -> frozenset[int]:
    column = model.code  # type: ignore[attr-defined]
    return frozenset(session.scalars(sa.select(model.id).where(column.in_(codes))))  # type: ignore[attr-defined]


def unit_ids(session: Session, *names: str) -> frozenset[int]:
    found = set()
    for name in names:
        building, number = name.split("/")
        found |= set(
            session.scalars(
                sa.select(Unit.id)
                .join(Building)
                .where(Building.code == building, Unit.number == number)
            )
        )
    return frozenset(found)


def staff_id(session: Session, code: str) -> int:
    return int(session.scalar(sa.select(Staff.id).where(Staff.code == code)))  # type: ignore[arg-type]


def test_a_grid_worker_answers_for_the_grid_and_is_on_its_team(db_session: Session) -> None:
    build_sample_community(db_session)
    scope = scope_for_staff(db_session, staff_id(db_session, "S1"))  # 张三, 网格一
    assert scope.grid_ids == ids(db_session, Grid, [GRID_CODES[0]])
    assert scope.building_ids == ids(db_session, Building, ["B01", "B02"])
    assert scope.unit_ids == unit_ids(db_session, "B01/1", "B01/2")
    assert scope.team == Places(scope.grid_ids, scope.building_ids, scope.unit_ids)


def test_a_building_head_answers_for_the_building_and_is_on_the_grid_team(
    db_session: Session,
) -> None:
    build_sample_community(db_session)
    scope = scope_for_staff(db_session, staff_id(db_session, "S5"))  # 钱七, head of B01
    assert scope.grid_ids == frozenset()
    assert scope.building_ids == ids(db_session, Building, ["B01"])
    assert scope.unit_ids == unit_ids(db_session, "B01/1", "B01/2")
    # B01 belongs to 网格一 in the layout in force: that is the team they are on.
    assert scope.team.grid_ids == ids(db_session, Grid, [GRID_CODES[0]])
    assert scope.team.building_ids == ids(db_session, Building, ["B01", "B02"])


def test_a_unit_head_answers_for_the_unit_and_is_on_the_grid_team(db_session: Session) -> None:
    build_sample_community(db_session)
    scope = scope_for_staff(db_session, staff_id(db_session, "S6"))  # 孙八, head of B01/1
    assert scope.unit_ids == unit_ids(db_session, "B01/1")
    assert scope.building_ids == ids(db_session, Building, ["B01"])  # to find it on the map
    assert scope.team.grid_ids == ids(db_session, Grid, [GRID_CODES[0]])


def test_a_draft_does_not_move_anyones_area(db_session: Session) -> None:
    """A draft copies the grid teams; until it is in force, nobody's area follows it."""
    from gridgis.models import Community
    from gridgis.planning.drafts import draft_layout
    from tests.support.actors import TESTS

    build_sample_community(db_session)
    worker = staff_id(db_session, "S1")
    before = scope_for_staff(db_session, worker)
    community = db_session.scalars(sa.select(Community)).one()
    draft_layout(db_session, community, name="redraw", actor=TESTS)  # 张三 copied onto it
    db_session.flush()
    assert scope_for_staff(db_session, worker) == before
