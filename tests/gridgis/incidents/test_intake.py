"""Taking incidents in: located, routed, snapshot kept, deadlines set, never twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput, OutsideCoverage
from gridgis.geo.crs import wgs84_to_gcj02
from gridgis.incidents import intake
from gridgis.incidents.intake import Intake, Report, take_in, take_in_many
from gridgis.models import Grid, Incident, IncidentEvent, IncidentReporter
from tests.support.incidents import IN_GRID_B, IN_UNIT_1, MONDAY, NEAR_UNIT_1, person, report
from tests.support.routing_city import build_routing_city

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


# -- many at once: take_in_many ------------------------------------------------

#: Reports of every kind: a unit, a GCJ-02 point, an address, unclassified, a gap.
MANY = [
    report(external_id="W1"),
    report(wgs84_to_gcj02(*NEAR_UNIT_1), crs="gcj02", category="property", external_id="W2"),
    report((None, None), address="丽景小区1栋", category="medical", external_id="W3"),
    report(IN_GRID_B, category=None, source_category="其他>其他", external_id="W4"),
    report((114.30515, 30.5075), reporter_name=None, reporter_phone=None, external_id="W5"),
]


def stored(session: Session) -> dict[str, object]:
    """Every incident, reporter and event as stored, by external id, without ids and stamps."""
    skip = {"id", "token", "created_at", "updated_at", "geom"}
    incidents = {
        i.external_id: {
            **{
                c.key: getattr(i, c.key)
                for c in sa.inspect(Incident).column_attrs
                if c.key not in skip
            },
            "point": session.scalar(
                sa.select(sa.func.ST_AsText(Incident.geom)).where(Incident.id == i.id)
            ),
            "reporters": [(r.name, r.phone) for r in i.reporters],
            "events": [(e.actor, e.action, e.from_status, e.to_status, e.data) for e in i.events],
        }
        for i in session.scalars(sa.select(Incident))
    }
    return incidents


def test_many_reports_are_stored_as_one_at_a_time_would_store_them(
    db_session: Session, city: dict[str, object]
) -> None:
    savepoint = db_session.begin_nested()
    for one in MANY:
        take_in(db_session, one, actor=DISPATCHER)
    db_session.flush()
    one_by_one = stored(db_session)
    savepoint.rollback()
    db_session.expire_all()
    outcomes = take_in_many(db_session, MANY, actor=DISPATCHER)
    assert [o.created for o in outcomes] == [True] * len(MANY)
    assert [o.rule for o in outcomes] == ["unit", "unit", "address", "grid", "nearest_grid"]
    db_session.expire_all()
    assert stored(db_session) == one_by_one


def test_a_batch_keeps_bad_reports_out_and_says_why_in_a_word(
    db_session: Session, city: dict[str, object]
) -> None:
    bad = [
        report((120.0, 31.0)),
        report((None, None)),
        report((114.301, None)),
        report(category="fireworks"),
        report(reported_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC)),
        report((None, None), address="不存在的地方"),
        report(description="a\x00b"),
        report((1143.4, 305.1), crs="gcj02"),
    ]
    outcomes = take_in_many(db_session, [report(), *bad, report(IN_GRID_B)], actor=DISPATCHER)
    assert [o.reason for o in outcomes] == [
        None,
        "outside_coverage",
        "no_location",
        "bad_coordinates",
        "unknown_category",
        "bad_time",
        "address_not_found",
        "invalid",
        "bad_coordinates",
        None,
    ]
    assert isinstance(outcomes[1].error, OutsideCoverage)
    assert outcomes[3].error is not None and "latitude is missing" in outcomes[3].error.user_msg
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 2


def test_a_batch_takes_each_work_order_in_once(
    db_session: Session, city: dict[str, object]
) -> None:
    earlier = take_in(
        db_session, report(channel="hotline_12345", external_id="GD1"), actor=DISPATCHER
    )
    outcomes = take_in_many(
        db_session,
        [
            report(channel="hotline_12345", external_id="GD1"),
            report(channel="hotline_12345", external_id="GD2"),
            report(IN_GRID_B, channel="hotline_12345", external_id="GD2"),
            report(channel="walk_in", external_id="GD1"),  # another channel's own number
        ],
        actor=DISPATCHER,
    )
    assert [(o.created, o.incident_id is not None) for o in outcomes] == [
        (False, True),
        (True, True),
        (False, True),
        (True, True),
    ]
    assert outcomes[0].incident_id == earlier.incident.id
    assert outcomes[2].incident_id == outcomes[1].incident_id  # the first one stands
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 3


def test_a_batch_reports_progress_per_chunk(
    db_session: Session, city: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "CHUNK", 2)
    seen: list[tuple[int, int]] = []
    outcomes = take_in_many(
        db_session,
        [report() for _ in range(5)],
        actor=DISPATCHER,
        progress=lambda *a: seen.append(a),
    )
    assert seen == [(2, 5), (4, 5), (5, 5)] and all(o.created for o in outcomes)


def _at_once(
    url: str, first_work: Callable[[Session], None], second_work: Callable[[Session], object]
) -> object:
    """Run two units of work at once: the first holds its insert until the second waits on it."""
    engine = sa.create_engine(url)
    holding = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with Session(engine) as session, session.begin():
            first_work(session)
            holding.set()
            threading.Event().wait(0.5)  # the second now waits on the unique index

    def second() -> None:
        holding.wait(5)
        with Session(engine) as session, session.begin():
            outcome["second"] = second_work(session)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    engine.dispose()
    return outcome["second"]


def test_one_work_order_delivered_twice_at_once_is_taken_in_once(
    scratch_database_url: str,
) -> None:
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_routing_city(session)
    hotline = {"channel": "hotline_12345", "external_id": "GD9"}

    def deliver(session: Session) -> None:
        take_in(session, report(**hotline), actor=DISPATCHER)

    again = _at_once(
        scratch_database_url, deliver, lambda s: take_in(s, report(**hotline), actor=DISPATCHER)
    )
    assert isinstance(again, Intake) and not again.created
    in_a_file = _at_once(
        scratch_database_url,
        lambda s: take_in(s, report(channel="hotline_12345", external_id="GD10"), actor=DISPATCHER),
        lambda s: [
            (o.created, o.error)
            for o in take_in_many(
                s,
                [
                    report(**hotline),
                    report(channel="hotline_12345", external_id="GD10"),
                    report(channel="hotline_12345", external_id="GD11"),
                ],
                actor=DISPATCHER,
            )
        ],
    )
    # GD9 was there before; GD10 arrived while the file went in; GD11 is new.
    assert in_a_file == [(False, None), (False, None), (True, None)]
    with Session(engine) as session:
        numbers = session.scalars(sa.select(Incident.external_id).order_by(Incident.external_id))
        assert list(numbers) == ["GD10", "GD11", "GD9"]
    engine.dispose()


def test_a_work_order_the_lookup_missed_is_not_stored_twice(
    db_session: Session, city: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COPY meets the unique index (as after another import's commit): the chunk goes in
    with ON CONFLICT DO NOTHING, and the work order is already there."""
    earlier = take_in(
        db_session, report(channel="hotline_12345", external_id="GD1"), actor=DISPATCHER
    )
    lookup = intake._earlier_ids
    calls: list[int] = []

    def missing_the_first_time(
        session: Session, reports: list[Report]
    ) -> dict[tuple[str, str], int]:
        calls.append(len(reports))
        return {} if len(calls) == 1 else lookup(session, reports)

    monkeypatch.setattr(intake, "_earlier_ids", missing_the_first_time)
    outcomes = take_in_many(
        db_session,
        [report(channel="hotline_12345", external_id=n) for n in ("GD1", "GD2")],
        actor=DISPATCHER,
    )
    assert [(o.incident_id == earlier.incident.id, o.created) for o in outcomes] == [
        (True, False),
        (False, True),
    ]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 2
    assert db_session.scalar(sa.select(sa.func.count()).select_from(IncidentEvent)) == 2
