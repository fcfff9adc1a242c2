"""Taking incidents in: located, routed, snapshot kept, deadlines set, never twice."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput, OutsideCoverage
from gridgis.geo.crs import wgs84_to_gcj02
from gridgis.incidents.intake import take_in
from gridgis.models import Grid, Incident, IncidentEvent, IncidentReporter
from tests.support.incidents import IN_GRID_B, IN_UNIT_1, MONDAY, NEAR_UNIT_1, person, report

DISPATCHER = person("dispatcher", user_id=None)


def test_a_walk_in_report_is_located_routed_and_kept(
    db_session: Session, city: dict[str, object]
) -> None:
    intake = take_in(db_session, report(), actor=DISPATCHER)
    incident = intake.incident
    assert intake.created and incident.status == "received"
    assert incident.rule == "unit" and incident.grid_id == city["grids"]["A"].id  # type: ignore[index]
    snapshot = incident.routing
    assert snapshot["grid_code"] == "A" and snapshot["building_code"] == "X"
    assert snapshot["unit_number"] == "1"
    # The team as it was at intake, contacts included (shown only through the privacy rule).
    assert snapshot["lead"]["name"] == "王网格" and snapshot["lead"]["post"] == {
        "grid_id": incident.grid_id,
        "building_id": None,
        "unit_id": None,
    }
    assert [d["code"] for d in snapshot["departments"]] == ["CG", "JJ"]
    assert "丽景小区1栋" in snapshot["explanation_zh"]
    # parking: 1 h response, 8 h resolution, in working hours from Monday 09:00 Beijing
    # (9–12 and 13:30–17:30 Monday make 7 h; the 8th is Tuesday 09:00–10:00).
    assert incident.response_due_at == MONDAY + dt.timedelta(hours=1)
    assert incident.resolution_due_at == dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    reporter = db_session.scalar(sa.select(IncidentReporter))
    assert reporter is not None and (reporter.name, reporter.phone) == ("陈居民", "13911112222")
    (event,) = db_session.scalars(sa.select(IncidentEvent)).all()
    assert (event.action, event.to_status, event.actor) == (
        "take_in",
        "received",
        "user:dispatcher",
    )


def test_a_redraw_does_not_rewrite_the_snapshot(
    db_session: Session, city: dict[str, object]
) -> None:
    incident = take_in(db_session, report(), actor=DISPATCHER).incident
    grid = db_session.get(Grid, incident.grid_id)
    assert grid is not None
    grid.code, grid.name = "A-NEW", "新网格"
    db_session.flush()
    db_session.refresh(incident)
    assert incident.routing["grid_code"] == "A" and incident.routing["grid_name"] == "网格A"


def test_gcj02_input_keeps_the_reported_coordinates(
    db_session: Session, city: dict[str, object]
) -> None:
    lon, lat = wgs84_to_gcj02(*IN_UNIT_1)
    incident = take_in(
        db_session, report((lon, lat), crs="gcj02", channel="hotline_12345"), actor=DISPATCHER
    ).incident
    assert (incident.input_crs, incident.input_lon, incident.input_lat) == ("gcj02", lon, lat)
    assert incident.rule == "unit"  # the point was un-shifted before routing
    assert incident.routing["lon"] == pytest.approx(IN_UNIT_1[0], abs=1e-7)


def test_an_address_locates_too(db_session: Session, city: dict[str, object]) -> None:
    incident = take_in(
        db_session,
        report((None, None), address="丽景小区1栋"),
        actor=DISPATCHER,  # type: ignore[arg-type]
    ).incident
    assert incident.rule == "address" and incident.routing["building_code"] == "X"
    assert incident.geom is not None and incident.address


def test_an_unclassified_report_comes_in_without_deadlines(
    db_session: Session, city: dict[str, object]
) -> None:
    incident = take_in(
        db_session, report(category=None, source_category="城乡建设>私搭乱建"), actor=DISPATCHER
    ).incident
    assert incident.category_id is None and incident.source_category == "城乡建设>私搭乱建"
    assert incident.response_due_at is None


def test_the_same_work_order_is_taken_in_once(db_session: Session, city: dict[str, object]) -> None:
    first = take_in(
        db_session, report(channel="hotline_12345", external_id="GD20261130001"), actor=DISPATCHER
    )
    again = take_in(
        db_session, report(channel="hotline_12345", external_id="GD20261130001"), actor=DISPATCHER
    )
    assert first.created and not again.created and again.incident.id == first.incident.id
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"lon": 120.0, "lat": 31.0}, OutsideCoverage, "outside every community"),
        ({"category": "fireworks"}, InvalidInput, "Unknown category 'fireworks'"),
        ({"channel": "fax"}, InvalidInput, "Unknown channel 'fax'"),
        ({"lon": None, "lat": None}, InvalidInput, "Give the incident's place"),
        ({"lon": float("nan")}, InvalidInput, "not a finite number"),
        ({"reported_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)}, InvalidInput, "in the future"),
        ({"reported_at": dt.datetime(2026, 11, 30, 9)}, InvalidInput, "needs a time zone"),
        (
            {"lon": None, "lat": None, "address": "不存在的地方"},
            InvalidInput,
            "matches no building",
        ),
        ({"description": "a\x00b"}, InvalidInput, "NUL"),
    ],
)
def test_bad_reports_are_refused_and_change_nothing(
    db_session: Session,
    city: dict[str, object],
    fields: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        take_in(db_session, report(**fields), actor=DISPATCHER)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_nearby_open_incidents_of_the_same_category_are_suggested(
    db_session: Session, city: dict[str, object]
) -> None:
    first = take_in(db_session, report(), actor=DISPATCHER).incident
    take_in(db_session, report(IN_GRID_B), actor=DISPATCHER)  # far away
    take_in(db_session, report(NEAR_UNIT_1, category="property"), actor=DISPATCHER)
    later = report(NEAR_UNIT_1, reported_at=MONDAY + dt.timedelta(hours=2))
    second = take_in(db_session, later, actor=DISPATCHER)
    assert [d.id for d in second.duplicates] == [first.id]
    too_late = report(NEAR_UNIT_1, reported_at=MONDAY - dt.timedelta(hours=80))
    assert take_in(db_session, too_late, actor=DISPATCHER).duplicates == []
