"""Lists of incidents: every filter, paging, who sees what, and plans that use the indexes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import move
from gridgis.incidents.queries import (
    Filters,
    conditions,
    incident_collection,
    parse_filters,
)
from gridgis.models import Incident
from tests.support.incidents import (
    IN_GRID_B,
    IN_UNIT_1,
    MONDAY,
    NEAR_UNIT_1,
    person,
    report,
    staff_member,
)

DISPATCHER = person("dispatcher")
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def incidents(db_session: Session, city: dict[str, object]) -> Iterator[dict[str, int]]:
    """Four incidents of the routing city, the clock on Monday 13:00 in Beijing."""
    with clock.frozen(MONDAY + 4 * HOUR) as now:

        def made(where: tuple[float, float], **fields: object) -> int:
            return take_in(db_session, report(where, **fields), actor=DISPATCHER).incident.id

        found = {
            "a1": made(IN_UNIT_1, reported_at=MONDAY),
            "a2": made(
                NEAR_UNIT_1,
                category="property",
                channel="hotline_12345",
                external_id="GD1",
                reported_at=MONDAY + HOUR,
            ),
            "b1": made(IN_GRID_B, channel="phone", reported_at=MONDAY + 2 * HOUR),
            "b2": made(IN_GRID_B, category="medical", reported_at=MONDAY + 3 * HOUR),
        }
        for action in ("register", "dispatch"):
            move(db_session, found["b1"], action, actor=DISPATCHER)
        move(db_session, found["b2"], "reject", actor=DISPATCHER, reason="重复")
        now.advance(hours=2)  # 15:00: a1's parking response (1 h) is overdue, a2's (4 h) not
        yield found


def ids(session: Session, viewer: Principal, **params: list[str]) -> list[int]:
    page = incident_collection(session, viewer, parse_filters(params), limit=100)
    return [f["id"] for f in page["features"]]


def test_every_filter_narrows_the_list(db_session: Session, incidents: dict[str, int]) -> None:
    a1, a2, b1, b2 = (incidents[k] for k in ("a1", "a2", "b1", "b2"))
    assert ids(db_session, DISPATCHER) == [b2, b1, a2, a1]  # newest report first
    assert ids(db_session, DISPATCHER, bbox=["114.3009,30.5009,114.3013,30.5012"]) == [a2, a1]
    assert ids(db_session, DISPATCHER, status=["received"]) == [a2, a1]
    assert ids(db_session, DISPATCHER, status=["dispatched,rejected"]) == [b2, b1]
    assert ids(db_session, DISPATCHER, status=["dispatched", "received"]) == [b1, a2, a1]
    assert ids(db_session, DISPATCHER, grid=["B"]) == [b2, b1]
    assert ids(db_session, DISPATCHER, grid=["NO-SUCH-GRID"]) == []
    assert ids(db_session, DISPATCHER, category=["parking"]) == [b1, a1]
    assert ids(db_session, DISPATCHER, channel=["hotline_12345"]) == [a2]
    assert ids(db_session, DISPATCHER, overdue=["response"]) == [b1, a1]
    assert ids(db_session, DISPATCHER, overdue=["any"]) == [b1, a1]
    assert ids(db_session, DISPATCHER, overdue=["resolution"]) == []
    since, until = (MONDAY + HOUR).isoformat(), (MONDAY + 3 * HOUR).isoformat()
    assert ids(db_session, DISPATCHER, since=[since]) == [b2, b1, a2]
    assert ids(db_session, DISPATCHER, since=[since], until=[until]) == [b1, a2]


def test_overdue_follows_the_clock_and_the_work(
    db_session: Session, incidents: dict[str, int]
) -> None:
    with clock.frozen(MONDAY + 30 * HOUR):  # Tuesday: every open deadline but a2's has passed
        assert ids(db_session, DISPATCHER, overdue=["resolution"]) == [
            incidents["b1"],
            incidents["a1"],
        ]
        gw = staff_member(db_session, "GW")
        move(db_session, incidents["a1"], "register", actor=DISPATCHER)
        move(db_session, incidents["a1"], "dispatch", actor=DISPATCHER)
        move(db_session, incidents["a1"], "accept", actor=gw)
        # Taken on: no longer late to respond, still late to resolve.
        assert incidents["a1"] not in ids(db_session, DISPATCHER, overdue=["response"])
        assert incidents["a1"] in ids(db_session, DISPATCHER, overdue=["resolution"])


def test_the_page_says_how_many_match(db_session: Session, incidents: dict[str, int]) -> None:
    page = incident_collection(db_session, DISPATCHER, Filters(), limit=2, offset=1, lang="en")
    assert (page["numberMatched"], page["numberReturned"]) == (4, 2)
    assert [f["id"] for f in page["features"]] == [incidents["b1"], incidents["a2"]]
    feature = page["features"][1]
    assert feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx(list(NEAR_UNIT_1))
    props = feature["properties"]
    assert (props["status_name"], props["category_name"], props["grid"]) == (
        "Received",
        "Property",
        "A",
    )
    assert "reporters" not in props and "description" not in props


def test_each_sees_what_views_allow(db_session: Session, incidents: dict[str, int]) -> None:
    a1, a2, b1, b2 = (incidents[k] for k in ("a1", "a2", "b1", "b2"))
    assert ids(db_session, staff_member(db_session, "GW")) == [a2, a1]  # grid A's worker
    assert ids(db_session, staff_member(db_session, "BH")) == [a2, a1]  # building X's head
    # Unit heads: their own unit's only (a1 is in unit 1, a2 in unit 2).
    assert ids(db_session, staff_member(db_session, "UH1")) == [a1]
    assert ids(db_session, staff_member(db_session, "UH2")) == [a2]
    assert ids(db_session, person("planner")) == [b2, b1, a2, a1]
    assert ids(db_session, person("viewer")) == []
    assert ids(db_session, staff_member(db_session, "GW"), grid=["B"]) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": ["open"]}, "Unknown status 'open'; it must be one of received, registered"),
        ({"channel": ["fax"]}, "Unknown channel 'fax'"),
        ({"channel": ["phone", "walk_in"]}, "Give channel once; got 2 values."),
        (
            {"overdue": ["yes"]},
            "Unknown overdue 'yes'; it must be one of response, resolution, any",
        ),
        ({"bbox": ["1,2,3"]}, "bbox must be four numbers"),
        ({"since": ["2026-11-30 09:00"]}, "since '2026-11-30 09:00' needs a time zone"),
        ({"until": ["yesterday"]}, "until must be an ISO 8601 time"),
        (
            {"since": ["2026-12-01T00:00+08:00"], "until": ["2026-11-01T00:00+08:00"]},
            "since must be before until",
        ),
    ],
)
def test_bad_filters_are_refused_with_a_sentence(
    params: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_filters(params)


def test_an_unknown_category_is_refused(db_session: Session, city: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="Unknown category 'fireworks'; the categories are: "):
        conditions(db_session, DISPATCHER, Filters(category="fireworks"))


def plan(session: Session, viewer: Principal, filters: Filters) -> str:
    """The plan of a list's count, sequential scans priced out (a tiny table would take one)."""
    statement = (
        sa.select(sa.func.count())
        .select_from(Incident)
        .where(*conditions(session, viewer, filters))
    )
    sql = str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    try:
        return "\n".join(session.scalars(sa.text(f"EXPLAIN {sql}")))
    finally:
        session.execute(sa.text("SET LOCAL enable_seqscan = on"))


def test_the_lists_can_use_the_indexes(db_session: Session, incidents: dict[str, int]) -> None:
    # Grid staff: grid and building combined (migration 0007), no scan of every incident;
    # the unit test is a filter on the building's few rows.
    mine = plan(db_session, staff_member(db_session, "GW"), Filters())
    assert "BitmapOr" in mine and "Seq Scan" not in mine
    for index in ("ix_incident_grid_id", "ix_incident_building_id"):
        assert index in mine, mine
    box = Filters(bbox=parse_filters({"bbox": ["114.30,30.50,114.302,30.502"]}).bbox)
    assert "ix_incident_geom" in plan(db_session, DISPATCHER, box)
    assert "ix_incident_status_community" in plan(
        db_session, DISPATCHER, Filters(statuses=("received",))
    )
    assert "ix_incident_grid_id" in plan(db_session, DISPATCHER, Filters(grid="A"))
    since = Filters(since=MONDAY)
    assert "ix_incident_reported_at" in plan(db_session, DISPATCHER, since)
