"""A round's finding becomes a routed incident linked to its round, or nothing at all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.round_findings import incident_from_round
from gridgis.models import AuditEntry, Building, Grid, Incident, Round, RoundIncident, Unit
from gridgis.staff.round_listing import rounds_of
from gridgis.staff.rounds import log_round
from tests.support.households import household
from tests.support.incidents import person
from tests.support.reports import IN_G1, NOW, bj, staff_account
from tests.support.sample_community import build_sample_community

ADMIN = person("admin")


@pytest.fixture
def rounds(db_session: Session) -> Iterator[dict[str, Round]]:
    """Rounds of 张三 (S1, G1's grid worker): at a household of B01/1, by grid only, at a point."""
    build_sample_community(db_session)
    b01 = db_session.scalar(sa.select(Building).where(Building.code == "B01"))
    assert b01 is not None
    unit_1 = next(u for u in b01.units if u.number == "1")
    home = household(db_session, b01, "H1", unit=unit_1, flags=("elderly_alone",))
    g1 = db_session.scalar(sa.select(Grid).where(Grid.code == "420106001002001"))
    g2 = db_session.scalar(sa.select(Grid).where(Grid.code == "420106001002002"))
    assert g1 is not None and g2 is not None
    with clock.frozen(NOW):
        s1 = staff_account(db_session, "S1", "zhangsan")
        yield {
            "home": log_round(
                db_session, actor=s1, kind="home_help", started_at=bj(12, 4), household_id=home.id
            ),
            "grid": log_round(
                db_session, actor=s1, kind="inventory", started_at=bj(12, 4), grid_id=g1.id
            ),
            "point": log_round(
                db_session,
                actor=s1,
                kind="collection",
                started_at=bj(12, 4),
                lon=IN_G1[0],
                lat=IN_G1[1],
            ),
            "elsewhere": log_round(
                db_session, actor=ADMIN, kind="inventory", started_at=bj(12, 4), grid_id=g2.id
            ),
        }


def linked(session: Session, found: Round) -> list[int]:
    return list(
        session.scalars(
            sa.select(RoundIncident.incident_id).where(RoundIncident.round_id == found.id)
        )
    )


def test_a_finding_at_the_rounds_household_goes_to_its_unit(
    db_session: Session, rounds: dict[str, Round]
) -> None:
    s1 = staff_account(db_session, "S1", "zhangsan")
    incident = incident_from_round(
        db_session,
        rounds["home"].id,
        actor=s1,
        description="老人家中水管漏水",
        category="garbage",
    )
    unit = db_session.get(Unit, incident.unit_id)
    assert unit is not None and unit.number == "1"
    assert (incident.channel, incident.status, incident.created_by) == (
        "visit",
        "received",
        "user:zhangsan",
    )
    assert incident.routing["grid_code"] == "420106001002001"
    assert incident.response_due_at is not None  # routed and timed like any other
    assert linked(db_session, rounds["home"]) == [incident.id]
    assert rounds_of(db_session, s1, kind="home_help")[0].incidents == (incident.id,)
    entry = db_session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.entity == "round", AuditEntry.action == "add_incident"
        )
    )
    assert entry is not None and entry.after == {"incident_id": incident.id}
    assert entry.entity_id == str(rounds["home"].id)


def test_a_round_by_point_gives_its_point_and_many_findings_each_link(
    db_session: Session, rounds: dict[str, Round]
) -> None:
    first = incident_from_round(db_session, rounds["point"].id, actor=ADMIN, description="路灯不亮")
    second = incident_from_round(
        db_session,
        rounds["point"].id,
        actor=ADMIN,
        description="井盖缺失",
        lon=IN_G1[0],
        lat=IN_G1[1],
    )
    assert first.building_id is None and first.grid_id == rounds["point"].grid_id
    assert sorted(linked(db_session, rounds["point"])) == sorted([first.id, second.id])


def test_a_round_by_grid_needs_the_findings_place(
    db_session: Session, rounds: dict[str, Round]
) -> None:
    before = db_session.scalar(sa.select(sa.func.count()).select_from(Incident))
    with pytest.raises(InvalidInput, match="say where the finding is"):
        incident_from_round(db_session, rounds["grid"].id, actor=ADMIN, description="违停")
    b02 = db_session.scalar(sa.select(Building.id).where(Building.code == "B02"))
    found = incident_from_round(
        db_session, rounds["grid"].id, actor=ADMIN, description="违停", building_id=b02
    )
    assert found.building_id == b02
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Incident)) == (before or 0) + 1


def test_a_refused_finding_leaves_neither_incident_nor_link(
    db_session: Session, rounds: dict[str, Round]
) -> None:
    before = (
        db_session.scalar(sa.select(sa.func.count()).select_from(Incident)),
        db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)),
    )
    with pytest.raises(InvalidInput):
        incident_from_round(
            db_session, rounds["home"].id, actor=ADMIN, description="漏水", category="no-such"
        )
    with pytest.raises(InvalidInput):
        incident_from_round(db_session, rounds["home"].id, actor=ADMIN, description="  ")
    assert linked(db_session, rounds["home"]) == []
    assert (
        db_session.scalar(sa.select(sa.func.count()).select_from(Incident)),
        db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)),
    ) == before


def test_grid_staff_add_findings_to_their_areas_rounds_only(
    db_session: Session, rounds: dict[str, Round]
) -> None:
    s1 = staff_account(db_session, "S1", "zhangsan")
    with pytest.raises(NotFound, match=f"No round {rounds['elsewhere'].id}"):
        incident_from_round(db_session, rounds["elsewhere"].id, actor=s1, description="违停")
    with pytest.raises(NotFound):
        incident_from_round(db_session, 999_999, actor=ADMIN, description="违停")
    with pytest.raises(Forbidden, match="rounds:write"):
        incident_from_round(
            db_session, rounds["home"].id, actor=person("dispatcher"), description="违停"
        )
