"""The three rates on a small hand-made set with known answers, and against a naive loop."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.intake import take_in
from gridgis.incidents.periods import parse_window
from gridgis.incidents.rates import COUNTS, DEFINITIONS, as_csv, compute
from gridgis.models import Incident
from tests.support import factories as make
from tests.support.incidents import IN_GRID_B, IN_UNIT_1, person, report, staff_member

ADMIN = person("admin")
BEIJING = dt.timezone(dt.timedelta(hours=8))
#: When the report is made: 5 November 2026, noon in Beijing.
AS_OF = dt.datetime(2026, 11, 5, 12, 0, tzinfo=BEIJING)
H = dt.timedelta(hours=1)


def october(day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, 0, tzinfo=BEIJING)


def add(
    session: Session,
    reported: dt.datetime,
    *,
    status: str = "dispatched",
    category: str | None = "fast",
    where: tuple[float, float] = IN_UNIT_1,
    channel: str = "walk_in",
    responded: dt.timedelta | None = None,
    resolved: dt.timedelta | None = None,
    satisfaction: str | None = None,
    merged_into: int | None = None,
) -> Incident:
    """An incident reported at ``reported``, then set to where the rates should find it."""
    incident = take_in(
        session,
        report(where, category, channel=channel, reported_at=reported, reporter_name=None),
        actor=ADMIN,
    ).incident
    incident.status = status
    incident.responded_at = reported + responded if responded is not None else None
    incident.resolved_at = reported + resolved if resolved is not None else None
    incident.closed_at = reported + 2 * resolved if status == "closed" and resolved else None
    incident.satisfaction = satisfaction
    incident.merged_into_id = merged_into
    session.flush()
    return incident


@pytest.fixture
def known(db_session: Session, city: dict[str, object]) -> dict[str, Incident]:
    """Ten incidents whose three rates are worked out by hand in the tests below.

    ``fast`` counts calendar hours: respond within 2, resolve within 24.
    """
    make.category(
        db_session, "fast", response_hours=2, resolution_hours=24, deadline_basis="calendar"
    )
    with clock.frozen(AS_OF):
        made: dict[str, Incident] = {}
        made["on_time"] = add(
            db_session,
            october(12),
            status="closed",
            responded=H,
            resolved=20 * H,
            satisfaction="satisfied",
        )
        made["late"] = add(
            db_session,
            october(12),
            status="closed",
            responded=3 * H,
            resolved=30 * H,
            satisfaction="neutral",
        )
        made["ignored"] = add(db_session, october(13))  # never accepted: late twice
        made["parked"] = add(db_session, october(14), status="parked", responded=H)
        made["rejected"] = add(db_session, october(14), status="rejected")
        made["merged"] = add(
            db_session, october(15), status="merged", merged_into=made["on_time"].id
        )
        made["unclassified"] = add(
            db_session,
            october(16),
            status="closed",
            category=None,
            resolved=5 * H,
            satisfaction="unsatisfied",
        )
        made["grid_b"] = add(
            db_session,
            october(20),
            where=IN_GRID_B,
            channel="hotline_12345",
            status="closed",
            responded=H,
            resolved=H * 10,
            satisfaction="satisfied",
        )
        # Closed unsatisfied, then reopened: its old answer no longer counts.
        made["reopened"] = add(db_session, october(25), responded=H, satisfaction="unsatisfied")
        # Reported an hour ago: neither on time nor late yet.
        made["pending"] = add(db_session, AS_OF - H)
    return made


def counts(row: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(row[n] for n in names)


RESPONSE = ("response_due", "response_on_time", "response_pending", "response_rate")
RESOLUTION = ("resolution_due", "resolution_on_time", "resolution_pending", "resolution_rate")
SATISFACTION = ("closed", "rated", "satisfied", "neutral", "unsatisfied", "satisfaction_rate")


def rates_of(session: Session, **kwargs: Any) -> Any:
    period = kwargs.pop("period", "month")
    window = parse_window(
        period, kwargs.pop("start", "2026-10-01"), kwargs.pop("end", None), now=AS_OF
    )
    return compute(session, viewer=kwargs.pop("viewer", ADMIN), window=window, now=AS_OF, **kwargs)


def test_by_grid_and_month_as_worked_out_by_hand(
    db_session: Session, known: dict[str, Incident]
) -> None:
    with clock.frozen(AS_OF):
        report_ = rates_of(db_session, by="grid")
    rows = {(r["period"], r["grid"]): r for r in report_.rows}
    assert list(rows) == [("2026-10-01", "A"), ("2026-10-01", "B"), ("2026-11-01", "A")]
    a = rows["2026-10-01", "A"]
    assert counts(a, "received", "rejected", "merged", "unclassified") == (8, 1, 1, 1)
    # Due for response: on_time, late (accepted), ignored (deadline passed), parked
    # (accepted), reopened (accepted); on time: on_time, parked, reopened.
    assert counts(a, *RESPONSE) == (5, 3, 0, 0.6)
    # Due for resolution: on_time, late (reported done), ignored and reopened (deadline
    # passed); parked is out. On time: on_time only.
    assert counts(a, *RESOLUTION) == (4, 1, 0, 0.25)
    # Rated: on_time (satisfied), late (neutral), unclassified (unsatisfied); the
    # reopened incident's old answer does not count.
    assert counts(a, *SATISFACTION) == (3, 3, 1, 1, 1, 0.3333)
    assert (a["grid_name"], a["community"], a["period_end"]) == ("网格A", "C1", "2026-11-01")
    b = rows["2026-10-01", "B"]
    assert counts(b, "received", "response_rate", "resolution_rate", "satisfaction_rate") == (
        1,
        1.0,
        1.0,
        1.0,
    )
    november = rows["2026-11-01", "A"]
    assert counts(november, *RESPONSE) == (0, 0, 1, None)  # nothing due yet: no rate
    assert counts(november, *RESOLUTION) == (0, 0, 1, None)
    assert november["period_end"] == "2026-11-05T12:00:00+08:00"  # cut at the window's end
    total = report_.total
    assert counts(total, "received", "response_due", "response_on_time") == (10, 6, 4)
    assert counts(total, "response_rate", "resolution_rate", "satisfaction_rate") == (
        0.6667,
        0.4,
        0.5,
    )


def test_by_channel_and_category_over_one_range(
    db_session: Session, known: dict[str, Incident]
) -> None:
    with clock.frozen(AS_OF):
        channels = rates_of(db_session, by="channel", period="range").rows
        categories = rates_of(db_session, by="category", period="range").rows
    assert [(r["channel"], r["channel_name_zh"], r["received"]) for r in channels] == [
        ("hotline_12345", "12345热线", 1),
        ("walk_in", "窗口", 9),
    ]
    assert channels[0]["period"] == "2026-10-01"
    # The unclassified incident is a group of its own, last, out of the deadline rates.
    assert [(r["category"], r["received"], r["response_due"]) for r in categories] == [
        ("fast", 9, 6),
        (None, 1, 0),
    ]
    assert categories[1]["satisfaction_rate"] == 0.0


def test_grid_staff_count_their_own_area_only(
    db_session: Session, city: dict[str, Any], known: dict[str, Incident]
) -> None:
    worker_b = make.staff(db_session, city["community"], "GB", "李乙", "13800000099")
    make.assign(db_session, worker_b, "grid_worker", grid=city["grids"]["B"])
    with clock.frozen(AS_OF):
        mine = rates_of(db_session, by="grid", viewer=staff_member(db_session, "GB"))
        a = rates_of(db_session, by="none", period="range", viewer=staff_member(db_session, "GW"))
    assert [r["grid"] for r in mine.rows] == ["B"]
    assert mine.total["received"] == 1
    assert a.total["received"] == 9


def test_days_and_weeks_follow_beijing_midnight(db_session: Session, city: dict) -> None:
    make.category(
        db_session, "fast", response_hours=2, resolution_hours=24, deadline_basis="calendar"
    )
    with clock.frozen(AS_OF):
        add(db_session, dt.datetime(2026, 10, 31, 23, 30, tzinfo=BEIJING))  # 15:30 UTC
        add(db_session, dt.datetime(2026, 11, 1, 0, 30, tzinfo=BEIJING))  # still 31 Oct in UTC
        days = rates_of(db_session, by="none", period="day", start="2026-10-31", end="2026-11-01")
        weeks = rates_of(db_session, by="none", period="week", start="2026-10-26")
    assert [(r["period"], r["received"]) for r in days.rows] == [
        ("2026-10-31", 1),
        ("2026-11-01", 1),
    ]
    assert days.as_dict()["to"] == "2026-11-02T00:00:00+08:00"  # the end date is included
    # Saturday 31 October and Sunday 1 November: one week, from Monday 26 October.
    assert [(r["period"], r["period_end"], r["received"]) for r in weeks.rows] == [
        ("2026-10-26", "2026-11-02", 2)
    ]


def test_the_definitions_travel_with_the_numbers(
    db_session: Session, known: dict[str, Incident]
) -> None:
    with clock.frozen(AS_OF):
        report_ = rates_of(db_session, by="grid")
    body = report_.as_dict()
    assert set(body["definitions"]) >= {"response_rate", "resolution_rate", "satisfaction_rate"}
    assert set(COUNTS) <= set(body["definitions"])
    assert body["definitions"]["response_rate"]["zh"].startswith("响应率")
    assert (body["timezone"], body["period"], body["by"]) == ("Asia/Shanghai", "month", "grid")
    assert body["as_of"] == "2026-11-05T12:00:00+08:00"
    text = as_csv(report_)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert len(comments) == 6 + len(DEFINITIONS)
    table = list(csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#")))
    assert [r["grid"] for r in table] == ["A", "B", "A", ""]
    assert table[0]["response_rate"] == "0.6" and table[2]["response_rate"] == ""
    assert table[-1]["period"] == "total" and table[-1]["received"] == "10"


@pytest.mark.parametrize(
    ("period", "start", "end", "message"),
    [
        ("year", None, None, "period must be one of"),
        ("month", "2026-11-01", "2026-10-01", "must be before"),
        ("day", "2020-01-01", "2026-01-01", "at most 400"),
        ("month", "2026-13-01", None, "must be a date"),
        ("month", "2026-10-01T00:00", None, "needs a time zone"),
    ],
)
def test_a_window_that_cannot_be_answered_says_why(
    period: str, start: str | None, end: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_window(period, start, end, now=AS_OF)


def test_unknown_grouping_and_community(db_session: Session, city: dict) -> None:
    window = parse_window("month", now=AS_OF)
    with pytest.raises(InvalidInput, match="by must be one of"):
        compute(db_session, viewer=ADMIN, by="street", window=window)
    with pytest.raises(NotFound, match="No community 'X9'"):
        compute(db_session, viewer=ADMIN, window=window, community="X9")
    assert compute(db_session, viewer=ADMIN, window=window, community="C1").rows == []


def test_the_one_query_agrees_with_a_naive_loop(db_session: Session, city: dict) -> None:
    """Random incidents: the SQL aggregates and the definitions, read one incident at a time."""
    make.category(
        db_session, "fast", response_hours=2, resolution_hours=24, deadline_basis="calendar"
    )
    rng = random.Random(9)
    statuses = ("received", "dispatched", "in_progress", "checked", "closed", "parked", "rejected")
    with clock.frozen(AS_OF):
        first = add(db_session, october(1))
        for _ in range(120):
            reported = october(1) + dt.timedelta(hours=rng.randrange(0, 35 * 24))
            status = rng.choice(statuses)
            add(
                db_session,
                reported,
                status=status,
                category=rng.choice(("fast", "fast", None)),
                where=rng.choice((IN_UNIT_1, IN_GRID_B)),
                channel=rng.choice(("walk_in", "phone", "hotline_12345")),
                responded=rng.choice((None, H, 3 * H)),
                resolved=rng.choice((None, 10 * H, 30 * H)),
                satisfaction=rng.choice((None, "satisfied", "neutral", "unsatisfied")),
            )
        add(db_session, october(2), status="merged", merged_into=first.id)
        report_ = rates_of(db_session, by="channel", period="week", start="2026-09-28")
        incidents = db_session.query(Incident).all()
    naive: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for i in incidents:
        local = clock.local(i.reported_at).date()
        monday = (local - dt.timedelta(days=local.weekday())).isoformat()
        for name in COUNTS:
            naive[monday, i.channel][name] += int(counted(name, i))
    sql = {(r["period"], r["channel"]): {n: r[n] for n in COUNTS} for r in report_.rows}
    assert sql == dict(naive)


def counted(name: str, i: Incident) -> bool:
    """The definitions of DEFINITIONS, one incident at a time."""
    valid = i.status not in ("rejected", "merged")
    timed = valid and i.status != "parked"
    closed = i.status == "closed"
    response_met = bool(
        i.responded_at and i.response_due_at and i.responded_at <= i.response_due_at
    )
    resolution_met = bool(
        i.resolved_at and i.resolution_due_at and i.resolved_at <= i.resolution_due_at
    )
    return {
        "received": True,
        "rejected": i.status == "rejected",
        "merged": i.status == "merged",
        "unclassified": valid and i.category_id is None,
        "response_due": valid
        and i.response_due_at is not None
        and (i.responded_at is not None or i.response_due_at < AS_OF),
        "response_on_time": valid and i.response_due_at is not None and response_met,
        "response_pending": valid
        and i.response_due_at is not None
        and i.responded_at is None
        and i.response_due_at >= AS_OF,
        "resolution_due": timed
        and i.resolution_due_at is not None
        and (i.resolved_at is not None or i.resolution_due_at < AS_OF),
        "resolution_on_time": timed and i.resolution_due_at is not None and resolution_met,
        "resolution_pending": timed
        and i.resolution_due_at is not None
        and i.resolved_at is None
        and i.resolution_due_at >= AS_OF,
        "closed": closed,
        "rated": closed and i.satisfaction is not None,
        "satisfied": closed and i.satisfaction == "satisfied",
        "neutral": closed and i.satisfaction == "neutral",
        "unsatisfied": closed and i.satisfaction == "unsatisfied",
    }[name]
