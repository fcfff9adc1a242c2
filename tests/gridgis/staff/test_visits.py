"""The visiting schedule (四访): intervals, due dates across month ends, status, a month's figures.

Each rule is checked in Python and in SQL, and the two must agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from gridgis import clock, staff
from gridgis.config import DEFAULT_VISIT_INTERVALS, Settings
from gridgis.errors import GridgisError
from gridgis.models import Household
from gridgis.staff import visits
from gridgis.staff.residents import in_area
from gridgis.staff.visits import (
    due_on,
    interval_for,
    month_figures,
    parse_intervals,
    required_in_month,
    status_of,
)
from tests.support import households as hh
from tests.support.incidents import staff_member

UTC = dt.UTC


@pytest.fixture
def intervals() -> Iterator[None]:
    """Put the default intervals back after a test that changes them."""
    yield
    visits.configure(DEFAULT_VISIT_INTERVALS)


def test_the_default_intervals() -> None:
    assert parse_intervals(DEFAULT_VISIT_INTERVALS) == {
        "elderly_alone": 7,
        "petitioner": 14,
        "hardship": 30,
        "retiree": 90,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("elderly_alone=7,petitioner=14,hardship=30", "gives no interval for retiree"),
        ("elderly_alone=7,petitioner=14,hardship=30,retiree=0", "from 1 to 366, not '0'"),
        ("elderly_alone=7,petitioner=14,hardship=30,retiree=x", "not 'x'"),
        ("elderly_alone=7,petitioner=14,hardship=30,retiree=90,pets=3", "'pets=3' is not"),
        ("elderly_alone=7,elderly_alone=8", "'elderly_alone=8' is not"),
        ("weekly", "'weekly' is not a flag=days entry"),
    ],
)
def test_a_bad_setting_names_the_variable_and_changes_nothing(
    intervals: None, text: str, message: str
) -> None:
    with pytest.raises(GridgisError, match="GRIDGIS_VISIT_INTERVALS=") as caught:
        staff.configure(Settings(visit_intervals=text))
    assert message in caught.value.user_msg
    assert interval_for(["elderly_alone"]) == 7


def test_a_bad_setting_stops_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gridgis.cli import main

    monkeypatch.setenv("GRIDGIS_VISIT_INTERVALS", "elderly_alone=weekly")
    result = CliRunner().invoke(main, ["demo", "generate", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "GRIDGIS_VISIT_INTERVALS='elderly_alone=weekly'" in result.output
    assert not list(tmp_path.iterdir())
    visits.configure(DEFAULT_VISIT_INTERVALS)


def test_the_interval_is_the_smallest_of_the_flags(intervals: None) -> None:
    assert interval_for([]) is None and interval_for(None) is None
    assert interval_for(["retiree"]) == 90
    assert interval_for(["retiree", "hardship"]) == 30
    assert interval_for(["hardship", "elderly_alone", "petitioner"]) == 7
    staff.configure(Settings(visit_intervals="elderly_alone=5,petitioner=3,hardship=30,retiree=90"))
    assert interval_for(["elderly_alone", "petitioner"]) == 3


@pytest.mark.parametrize(
    ("interval", "last_visit", "expected"),
    [
        # Never visited: due from the day it was registered (2026-01-20 in Beijing).
        (7, None, dt.date(2026, 1, 20)),
        # 31 January 23:30 in Beijing (15:30 UTC) is still January there: + 7 days.
        (7, dt.datetime(2026, 1, 31, 15, 30, tzinfo=UTC), dt.date(2026, 2, 7)),
        # 31 January 16:30 UTC is already 1 February in Beijing.
        (7, dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC), dt.date(2026, 2, 8)),
        # 30 days after 31 January: 2 March in 2026, 1 March in the leap year 2028.
        (30, dt.datetime(2026, 1, 31, 4, 0, tzinfo=UTC), dt.date(2026, 3, 2)),
        (30, dt.datetime(2028, 1, 31, 4, 0, tzinfo=UTC), dt.date(2028, 3, 1)),
        (14, dt.datetime(2028, 2, 20, 4, 0, tzinfo=UTC), dt.date(2028, 3, 5)),
        (90, dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC), dt.date(2027, 3, 1)),
        (None, dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC), None),
    ],
)
def test_due_on_in_python_and_sql(
    db_session: Session,
    city: dict[str, object],
    interval: int | None,
    last_visit: dt.datetime | None,
    expected: dt.date | None,
) -> None:
    registered = dt.datetime(2026, 1, 19, 17, 0, tzinfo=UTC)  # 20 January, 01:00 in Beijing
    assert due_on(interval, last_visit, registered) == expected
    sql = visits.due_on_sql(
        sa.literal(interval, sa.Integer),
        sa.literal(last_visit, sa.DateTime(timezone=True)),
        sa.literal(registered, sa.DateTime(timezone=True)),
    )
    assert db_session.scalar(sa.select(sql)) == expected


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (None, None),
        (dt.date(2026, 11, 29), "overdue"),
        (dt.date(2026, 11, 30), "due"),
        (dt.date(2026, 12, 3), "due"),
        (dt.date(2026, 12, 4), "not_due"),
    ],
)
def test_status_in_python_and_sql(
    db_session: Session, due: dt.date | None, expected: str | None
) -> None:
    today = dt.date(2026, 11, 30)
    assert status_of(due, today) == expected
    sql = visits.status_sql(sa.literal(due, sa.Date), today)
    assert db_session.scalar(sa.select(sql)) == expected


def test_sql_and_python_agree_on_every_household(
    db_session: Session, city: dict[str, object]
) -> None:
    with clock.frozen(hh.NOW):
        homes = hh.routing_city_households(db_session, city)
    last = visits.last_visit()
    rows = db_session.execute(
        sa.select(
            Household.id,
            visits.interval_sql(),
            visits.due_on_sql(visits.interval_sql(), last.c.visited_at),
        )
        .outerjoin(last, sa.true())
        .order_by(Household.id)
    ).all()
    expected = []
    for home in sorted(homes.values(), key=lambda h: h.id):
        interval = interval_for(home.care_flags)
        latest = max((v.visited_at for v in home.visits), default=None)
        expected.append((home.id, interval, due_on(interval, latest, home.created_at)))
    assert [tuple(r) for r in rows] == expected
    assert [r[1] for r in rows] == [7, 14, 30, 90, None]


@pytest.mark.parametrize(
    ("interval", "year", "month", "registered", "required"),
    [
        (7, 2026, 1, None, 5),  # 31 days
        (7, 2026, 2, None, 4),  # 28 days
        (7, 2028, 2, None, 5),  # 29 days, a leap year
        (14, 2026, 4, None, 3),  # 30 days
        (30, 2026, 2, None, 1),
        (30, 2026, 3, None, 2),  # 31 days: ceil(31 / 30)
        (90, 2026, 3, None, 1),
        (7, 2026, 1, dt.date(2026, 1, 20), 2),  # 12 days left
        (7, 2026, 1, dt.date(2026, 1, 31), 1),
        (7, 2026, 1, dt.date(2026, 2, 1), 0),
        (7, 2026, 1, dt.date(2025, 6, 1), 5),
    ],
)
def test_required_in_a_month(
    interval: int, year: int, month: int, registered: dt.date | None, required: int
) -> None:
    assert required_in_month(interval, year, month, registered_on=registered) == required


def test_a_months_figures_on_a_known_fixture(db_session: Session, city: dict[str, object]) -> None:
    """February 2026 in Beijing (28 days)."""
    x, u1 = city["building"], city["u1"]
    feb = [dt.datetime(2026, 2, d, 2, 0, tzinfo=UTC) for d in (2, 6, 10, 14, 18, 22)]
    weekly = hh.household(db_session, x, "A", unit=u1, flags=("elderly_alone",))  # type: ignore[arg-type]
    for at in feb:
        hh.visit(db_session, weekly, at)  # 6 visits, 4 required: 4 count
    hh.household(db_session, x, "B", unit=u1, flags=("hardship",))  # type: ignore[arg-type]
    late = hh.household(
        db_session,
        x,  # type: ignore[arg-type]
        "C",
        flags=("retiree",),
        registered=dt.datetime(2026, 2, 19, 17, 0, tzinfo=UTC),  # 20 February in Beijing
    )
    hh.visit(db_session, late, dt.datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # after the month
    hh.household(db_session, x, "D", unit=u1)  # type: ignore[arg-type]  # no flag
    hh.household(
        db_session,
        x,  # type: ignore[arg-type]
        "E",
        flags=("petitioner",),
        registered=dt.datetime(2026, 3, 5, tzinfo=UTC),  # after the month: not counted
    )
    edges = hh.household(db_session, x, "F", unit=u1, flags=("petitioner",))  # type: ignore[arg-type]
    hh.visit(db_session, edges, dt.datetime(2026, 1, 31, 16, 30, tzinfo=UTC))  # 1 Feb, 00:30
    hh.visit(db_session, edges, dt.datetime(2026, 2, 28, 16, 30, tzinfo=UTC))  # 1 March, 00:30
    codes = dict(db_session.execute(sa.select(Household.id, Household.code)).all())
    rows = {
        codes[r.household_id]: (r.interval_days, r.required, r.done, r.counted, r.never_visited)
        for r in db_session.execute(month_figures(2026, 2))
    }
    assert rows == {
        "A": (7, 4, 6, 4, False),
        "B": (30, 1, 0, 0, True),
        "C": (90, 1, 0, 0, True),  # registered on the 20th: ceil(9 / 90)
        "F": (14, 2, 1, 1, False),
    }
    # The figures of one viewer's area: the unit head of unit 2 holds only C (no unit).
    unit_head_2 = staff_member(db_session, "UH2")
    mine = db_session.execute(month_figures(2026, 2, where=in_area(unit_head_2))).all()
    assert [codes[r.household_id] for r in mine] == ["C"]
    for name in ("required", "done", "never_visited", "households"):
        assert name in visits.MONTH_DEFINITIONS
