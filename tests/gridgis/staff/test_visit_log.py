"""Logging a visit: who may, when, what; audited with ids only; the due list moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden
from gridgis.errors import InvalidInput, NotFound
from gridgis.models import AuditEntry, Household, Staff, Visit
from gridgis.staff.households import due_households
from gridgis.staff.visit_log import log_visit
from tests.support import households as hh
from tests.support.incidents import person, staff_member


@pytest.fixture
def homes(db_session: Session, city: dict[str, object]) -> Iterator[dict[str, Household]]:
    with clock.frozen(hh.NOW):
        yield hh.routing_city_households(db_session, city)


def visits_of(session: Session, home: Household) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count()).select_from(Visit).where(Visit.household_id == home.id)
        )
        or 0
    )


def test_a_unit_head_logs_a_visit_and_the_due_list_changes(
    db_session: Session, homes: dict[str, Household]
) -> None:
    unit_head = staff_member(db_session, "UH1")
    assert [r.code for r in due_households(db_session, unit_head)] == ["X-000", "X-1-101"]
    with hh.no_resident_in_logs():
        visit = log_visit(
            db_session,
            homes["h1"].id,
            actor=unit_head,
            visited_at=hh.NOW - dt.timedelta(hours=2),
            findings="  老人身体好转，已联系家属  ",
        )
    assert visit.staff_id == unit_head.staff_id and visit.logged_by == "user:uh1"
    assert visit.findings == "老人身体好转，已联系家属" and visit.incident_id is None
    assert [r.code for r in due_households(db_session, unit_head)] == ["X-000"]
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "visit")).one()
    assert (entry.action, entry.entity_id, entry.actor) == ("log", str(visit.id), "user:uh1")
    assert entry.after == {
        "household_id": homes["h1"].id,
        "household": "X-1-101",
        "staff_id": unit_head.staff_id,
        "visited_at": (hh.NOW - dt.timedelta(hours=2)).isoformat(),
    }


def test_outside_the_area_it_is_not_found(db_session: Session, homes: dict[str, Household]) -> None:
    for who, home in (("UH1", "h2"), ("GW", "h4")):
        before = visits_of(db_session, homes[home])
        with pytest.raises(NotFound, match=f"No household {homes[home].id}"):
            log_visit(
                db_session,
                homes[home].id,
                actor=staff_member(db_session, who),
                visited_at=hh.NOW,
                findings="x",
            )
        assert visits_of(db_session, homes[home]) == before == 1


@pytest.mark.parametrize("who", ["dispatcher", "planner", "viewer"])
def test_only_grid_staff_and_administrators_log_visits(
    db_session: Session, homes: dict[str, Household], who: str
) -> None:
    with pytest.raises(Forbidden, match="visits:write"):
        log_visit(db_session, homes["h1"].id, actor=person(who), visited_at=hh.NOW, findings="x")
    assert visits_of(db_session, homes["h1"]) == 2


@pytest.mark.parametrize(
    ("visited_at", "findings", "message"),
    [
        (hh.NOW + dt.timedelta(minutes=6), "x", "is in the future"),
        (dt.datetime(2024, 12, 31, tzinfo=dt.UTC), "x", "before household X-1-101 was registered"),
        (dt.datetime(2026, 11, 30, 9, 0), "x", "needs a time zone"),
        (hh.NOW, "   ", "Write the findings"),
        (hh.NOW, "x" * 4001, "keep it to 4000"),
        (hh.NOW, "a\x00b", "NUL character"),
    ],
)
def test_a_bad_time_or_findings_is_refused_and_changes_nothing(
    db_session: Session,
    homes: dict[str, Household],
    visited_at: dt.datetime,
    findings: str,
    message: str,
) -> None:
    with clock.frozen(hh.NOW), pytest.raises(InvalidInput, match=message):
        log_visit(
            db_session,
            homes["h1"].id,
            actor=staff_member(db_session, "GW"),
            visited_at=visited_at,
            findings=findings,
        )
    assert visits_of(db_session, homes["h1"]) == 2
    assert (
        db_session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.entity == "visit")
        )
        == 0
    )


def test_a_phone_clock_a_little_fast_is_accepted(
    db_session: Session, homes: dict[str, Household]
) -> None:
    with clock.frozen(hh.NOW):
        visit = log_visit(
            db_session,
            homes["h1"].id,
            actor=staff_member(db_session, "GW"),
            visited_at=hh.NOW + dt.timedelta(minutes=4),
            findings="正常",
        )
    assert visit.visited_at == hh.NOW + dt.timedelta(minutes=4)


def test_who_visited(db_session: Session, homes: dict[str, Household]) -> None:
    worker = staff_member(db_session, "GW")
    other = db_session.scalar(sa.select(Staff.id).where(Staff.code == "PT"))
    with pytest.raises(Forbidden, match="Grid staff log their own visits"):
        log_visit(
            db_session,
            homes["h1"].id,
            actor=worker,
            visited_at=hh.NOW,
            findings="x",
            staff_id=other,
        )
    admin = person("admin")
    for_pt = log_visit(
        db_session, homes["h1"].id, actor=admin, visited_at=hh.NOW, findings="x", staff_id=other
    )
    assert for_pt.staff_id == other and for_pt.logged_by == "user:admin"
    nobody = log_visit(db_session, homes["h1"].id, actor=admin, visited_at=hh.NOW, findings="x")
    assert nobody.staff_id is None
    with pytest.raises(InvalidInput, match="No staff member 999999"):
        log_visit(
            db_session,
            homes["h1"].id,
            actor=admin,
            visited_at=hh.NOW,
            findings="x",
            staff_id=999999,
        )
