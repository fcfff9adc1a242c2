"""Incidents from the field: found on a visit or a round, taken in with channel ``visit``."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.crs import wgs84_to_gcj02
from gridgis.incidents.followups import incident_from_field, log_visit_with_follow_up
from gridgis.models import AuditEntry, Incident, IncidentEvent, Visit
from tests.support import households as hh
from tests.support.incidents import IN_UNIT_1, person, staff_member

NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Beijing


@pytest.fixture
def frozen() -> object:
    with clock.frozen(NOW) as fixed:
        yield fixed


def count(session: Session, model: type) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_a_finding_at_a_unit_is_routed_to_its_team(
    db_session: Session, city: dict[str, object], frozen: object
) -> None:
    worker = staff_member(db_session, "GW")
    u1 = city["u1"]
    incident = incident_from_field(
        db_session, actor=worker, description="楼道灯坏了", unit_id=u1.id, category="property"
    )  # type: ignore[attr-defined]
    assert incident.channel == "visit" and incident.status == "received"
    assert incident.unit_id == u1.id and incident.rule == "unit"  # type: ignore[attr-defined]
    assert incident.grid_id == city["grids"]["A"].id  # type: ignore[index]
    assert incident.routing["lead"]["name"] == "王网格"
    assert incident.description == "楼道灯坏了" and incident.created_by == "user:gw"
    (event,) = db_session.scalars(sa.select(IncidentEvent)).all()
    assert (event.action, event.actor, event.data["channel"]) == ("take_in", "user:gw", "visit")


def test_a_finding_at_a_building_or_a_phone_position(
    db_session: Session, city: dict[str, object], frozen: object
) -> None:
    admin = person("admin")
    building = city["building"]
    at_building = incident_from_field(
        db_session,
        actor=admin,
        description="外墙脱落",
        building_id=building.id,  # type: ignore[attr-defined]
    )
    assert at_building.building_id == building.id  # type: ignore[attr-defined]
    lon, lat = wgs84_to_gcj02(*IN_UNIT_1)
    by_phone = incident_from_field(
        db_session, actor=admin, description="占道堆放", lon=lon, lat=lat, crs="gcj02"
    )
    assert by_phone.unit_id == city["u1"].id and by_phone.channel == "visit"  # type: ignore[attr-defined]


def test_grid_staff_name_only_places_of_their_own_area(
    db_session: Session, city: dict[str, object], frozen: object
) -> None:
    unit_head_2 = staff_member(db_session, "UH2")
    with pytest.raises(NotFound, match="No unit"):
        incident_from_field(
            db_session,
            actor=unit_head_2,
            description="x",
            unit_id=city["u1"].id,  # type: ignore[attr-defined]
        )
    with pytest.raises(NotFound, match="No building 999999"):
        incident_from_field(db_session, actor=unit_head_2, description="x", building_id=999999)
    with pytest.raises(NotFound, match="in building"):
        incident_from_field(
            db_session,
            actor=person("admin"),
            description="x",
            unit_id=city["u1"].id,  # type: ignore[attr-defined]
            building_id=city["building"].id + 1,  # type: ignore[attr-defined]
        )
    assert count(db_session, Incident) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": "  "}, "Write the description"),
        ({"description": "x", "building_id": 1, "lon": 114.3, "lat": 30.5}, "not both"),
        ({"description": "x"}, "Give the place"),
        ({"description": "x" * 4001, "lon": 114.3, "lat": 30.5}, "keep it to 4000"),
    ],
)
def test_a_finding_without_what_or_where_is_refused(
    db_session: Session, city: dict[str, object], fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        incident_from_field(db_session, actor=person("admin"), **fields)  # type: ignore[arg-type]
    assert count(db_session, Incident) == 0


def test_a_planner_reports_no_incident(db_session: Session, city: dict[str, object]) -> None:
    with pytest.raises(Forbidden, match="incidents:report"):
        incident_from_field(db_session, actor=person("planner"), description="x", building_id=1)


def test_a_visit_follow_up_becomes_a_routed_incident(
    db_session: Session, city: dict[str, object], frozen: object
) -> None:
    home = hh.household(
        db_session, city["building"], "X-1-101", unit=city["u1"], flags=("elderly_alone",)
    )  # type: ignore[arg-type]
    worker = staff_member(db_session, "GW")
    with hh.no_resident_in_logs():
        visit = log_visit_with_follow_up(
            db_session,
            home.id,
            actor=worker,
            visited_at=NOW - dt.timedelta(hours=1),
            findings="老人血压偏高，独自在家",
            follow_up="需要医生上门查看",
            category="medical",
        )
    incident = db_session.get(Incident, visit.incident_id)
    assert incident is not None and incident.channel == "visit"
    assert incident.unit_id == city["u1"].id and incident.grid_id == city["grids"]["A"].id  # type: ignore[attr-defined,index]
    assert incident.description == "需要医生上门查看"
    # medical help asks for the white volunteer team: 吴白 is on it.
    volunteers = [m["name"] for m in incident.routing["team"] if m["role"] == "volunteer"]
    assert "吴白" in volunteers
    assert visit.follow_up == "需要医生上门查看" and visit.staff_id == worker.staff_id
    audited = db_session.scalars(
        sa.select(AuditEntry).where(AuditEntry.entity == "visit").order_by(AuditEntry.id)
    ).all()
    assert [(a.action, a.entity_id) for a in audited] == [
        ("log", str(visit.id)),
        ("follow_up", str(visit.id)),
    ]
    assert audited[1].after == {"incident_id": incident.id}
    text = repr([(a.before, a.after, a.note) for a in audited])
    assert not any(secret in text for secret in (*hh.RESIDENTS, "血压", "医生"))


def test_a_failed_follow_up_stores_neither_visit_nor_incident(
    db_session: Session, city: dict[str, object], frozen: object
) -> None:
    home = hh.household(db_session, city["building"], "X-1-102", unit=city["u1"])  # type: ignore[arg-type]
    worker = staff_member(db_session, "GW")
    with pytest.raises(InvalidInput, match="Unknown category 'no-such'"):
        log_visit_with_follow_up(
            db_session,
            home.id,
            actor=worker,
            visited_at=NOW,
            findings="漏水",
            follow_up="卫生间漏水到楼下",
            category="no-such",
        )
    assert count(db_session, Visit) == count(db_session, Incident) == 0
    assert count(db_session, AuditEntry) == db_session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.entity != "visit")
    )
    # The session is still usable: the same visit without the follow-up goes in.
    visit = log_visit_with_follow_up(
        db_session, home.id, actor=worker, visited_at=NOW, findings="漏水"
    )
    assert visit.incident_id is None and count(db_session, Visit) == 1


def test_a_category_without_a_follow_up_is_refused(
    db_session: Session, city: dict[str, object], frozen: object
) -> None:
    home = hh.household(db_session, city["building"], "X-1-103", unit=city["u1"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="A category is for a follow-up"):
        log_visit_with_follow_up(
            db_session,
            home.id,
            actor=person("admin"),
            visited_at=NOW,
            findings="正常",
            category="medical",
        )
    assert count(db_session, Visit) == 0
