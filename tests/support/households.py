"""Households and visits for tests: factories, a small world, the residents' data, a leak check.

The factories write rows directly (a household registered at a chosen time,
a visit at a chosen time), so that a test can set up any schedule; the
domain's own writes (import, ``log_visit``) are what the tests exercise.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from gridgis.models import Building, Community, Household, Staff, Unit, Visit
from tests.support import factories as make
from tests.support.leaks import LeakRecorder

#: Residents' names and phones the tests use: no log record may hold one.
RESIDENTS = (
    *("刘桂英", "陈建国", "杨秀兰", "黄志明", "周玉兰", "徐德胜"),
    *("13900001111", "13900002222", "13900003333", "13900004444", "13900005555"),
    "13900006666",
)
#: Registered long before the tests' times, so any visit time is after it.
LONG_AGO = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
#: Monday 30 November 2026, 10:00 in Beijing: "now" in the scheduling tests.
NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)
#: Building Y of the routing city's grid B: no units.
BUILDING_Y = make.box(114.3060, 30.5010, 114.3065, 30.5015)


def household(
    session: Session,
    building: Building,
    code: str,
    *,
    unit: Unit | None = None,
    flags: tuple[str, ...] = (),
    head_name: str | None = RESIDENTS[0],
    phone: str | None = RESIDENTS[6],
    registered: dt.datetime = LONG_AGO,
    **fields: Any,
) -> Household:
    row = Household(
        community_id=building.community_id,
        building_id=building.id,
        unit_id=unit.id if unit is not None else None,
        code=code,
        head_name=head_name,
        phone=phone,
        care_flags=list(flags),
        created_at=registered,
        updated_at=registered,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def visit(
    session: Session,
    of: Household,
    at: dt.datetime,
    *,
    staff: Staff | None = None,
    findings: str = "家中一切正常",
) -> Visit:
    row = Visit(
        household_id=of.id,
        visited_at=at,
        staff_id=staff.id if staff is not None else None,
        findings=findings,
        logged_by="cli:tests",
    )
    session.add(row)
    session.flush()
    return row


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def routing_city_households(session: Session, city: dict[str, object]) -> dict[str, Household]:
    """Five households in the routing city, each in a different place of the schedule at NOW.

    - ``h1`` unit 1, elderly alone (7 days), last visited 10 days ago: overdue 3 days.
    - ``h2`` unit 2, petitioner (14 days), visited 12 days ago: due (in 2 days).
    - ``h3`` building X without a unit, hardship (30 days), never visited since
      2025-01-01: the most overdue.
    - ``h4`` building Y of grid B, retiree (90 days), visited 29 days ago: not due.
    - ``h5`` unit 1, no flag: never due.
    """
    community = city["community"]
    assert isinstance(community, Community)
    x, u1, u2 = city["building"], city["u1"], city["u2"]
    assert isinstance(x, Building) and isinstance(u1, Unit) and isinstance(u2, Unit)
    y = make.building(session, community, "Y", BUILDING_Y, name="花园小区Y栋")
    homes = {
        "h1": household(
            session, x, "X-1-101", unit=u1, flags=("elderly_alone",), note="独居，行动不便"
        ),
        "h2": household(
            session,
            x,
            "X-2-201",
            unit=u2,
            flags=("petitioner", "retiree"),
            head_name=RESIDENTS[1],
            phone=RESIDENTS[7],
        ),
        "h3": household(
            session, x, "X-000", flags=("hardship",), head_name=RESIDENTS[2], phone=RESIDENTS[8]
        ),
        "h4": household(
            session, y, "Y-001", flags=("retiree",), head_name=RESIDENTS[3], phone=RESIDENTS[9]
        ),
        "h5": household(
            session, x, "X-1-102", unit=u1, head_name=RESIDENTS[4], phone=RESIDENTS[10]
        ),
    }
    visit(session, homes["h1"], days_ago(17), findings="身体尚可")
    visit(session, homes["h1"], days_ago(10), findings="需要助老服务")
    visit(session, homes["h2"], days_ago(12))
    visit(session, homes["h4"], days_ago(29))
    return homes


@contextmanager
def no_resident_in_logs(*extra: str) -> Iterator[LeakRecorder]:
    """Record every log record inside the block; fail if one holds a resident's data."""
    recorder = LeakRecorder((*RESIDENTS, *extra))
    root = logging.getLogger()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    assert not recorder.leaks, "personal data in the log:\n" + "\n".join(recorder.leaks)
