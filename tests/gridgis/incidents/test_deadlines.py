"""Deadlines count office hours on the official calendar: weekends, holidays and 调休."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgis.errors import GridgisError
from gridgis.incidents import deadlines
from gridgis.incidents.deadlines import due, is_working_day

BJ = ZoneInfo("Asia/Shanghai")


def bj(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=BJ)  # type: ignore[misc]


@pytest.fixture(autouse=True)
def office_hours() -> Iterator[None]:
    """The default hours (09:00–12:00, 13:30–17:30) during each test, and after it."""
    deadlines.configure(deadlines.DEFAULT_WORKING_HOURS)
    yield
    deadlines.configure(deadlines.DEFAULT_WORKING_HOURS)  # a test that changed them leaks not


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Within a morning.
        (bj(2026, 11, 30, 9, 0), 2, bj(2026, 11, 30, 11, 0)),
        # Over lunch: 11:00 + 2 h = 12:00, then 13:30 + 1 h.
        (bj(2026, 11, 30, 11, 0), 2, bj(2026, 11, 30, 14, 30)),
        # Reported at night: the clock starts next morning.
        (bj(2026, 11, 30, 22, 0), 1, bj(2026, 12, 1, 10, 0)),
        # Over a weekend: Friday 16:00 + 8 h = 1.5 h Friday, 6.5 h Monday.
        (bj(2026, 11, 27, 16, 0), 8, bj(2026, 11, 30, 17, 0)),
        # Over National Day (1–7 October 2026 off): Wednesday 30 September
        # 16:00 + 4 h = 1.5 h then, 2.5 h on Thursday 8 October.
        (bj(2026, 9, 30, 16, 0), 4, bj(2026, 10, 8, 11, 30)),
        # 调休: Saturday 10 October 2026 is a working day.
        (bj(2026, 10, 9, 17, 0), 2, bj(2026, 10, 10, 10, 30)),
        # Mid-Autumn: Friday 25 September 2026 is a holiday.
        (bj(2026, 9, 24, 17, 0), 1, bj(2026, 9, 28, 9, 30)),
    ],
)
def test_working_hours_skip_nights_weekends_and_holidays(
    start: dt.datetime, hours: float, expected: dt.datetime
) -> None:
    found = due(start, hours, "working")
    assert found.at == expected and not found.assumed
    assert found.at.tzinfo is not None


def test_calendar_hours_count_every_hour() -> None:
    assert due(bj(2026, 9, 30, 16, 0), 24, "calendar").at == bj(2026, 10, 1, 16, 0)


def test_the_calendar_of_the_official_arrangement() -> None:
    assert is_working_day(dt.date(2026, 10, 10)) == (True, False)  # 调休 Saturday
    assert is_working_day(dt.date(2026, 10, 5)) == (False, False)  # National Day Monday
    assert is_working_day(dt.date(2026, 2, 14)) == (True, False)  # Spring Festival 调休


def test_a_year_without_an_arrangement_yet_assumes_monday_to_friday() -> None:
    found = due(bj(2027, 1, 1, 9, 0), 1, "working")
    assert found.assumed  # the dispatcher is told the deadline may move
    assert found.at == bj(2027, 1, 1, 10, 0)  # a Friday, counted as a working day
    assert is_working_day(dt.date(2027, 1, 2)) == (False, True)


def test_office_hours_are_configurable_and_checked() -> None:
    deadlines.configure("08:30-12:00,14:00-17:30")
    assert due(bj(2026, 11, 30, 11, 0), 2, "working").at == bj(2026, 11, 30, 15, 0)
    with pytest.raises(GridgisError, match="GRIDGIS_WORKING_HOURS='9-12' is not a list"):
        deadlines.configure("9-12")
    with pytest.raises(GridgisError, match="not overlapping"):
        deadlines.configure("09:00-13:00,12:00-17:00")


def minute_by_minute(start: dt.datetime, hours: float) -> dt.datetime:
    """The deadline counted the slow way: one minute at a time, each in office hours or not."""
    periods = deadlines.parse_working_hours(deadlines.DEFAULT_WORKING_HOURS)
    needed = round(hours * 60)
    at = start.astimezone(BJ)
    while needed:
        working = is_working_day(at.date())[0] and any(
            begin <= at.time() < end for begin, end in periods
        )
        at += dt.timedelta(minutes=1)
        needed -= working
    return at


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(2025, 12, 20), max_value=dt.datetime(2026, 12, 20)
    ).map(lambda t: t.replace(second=0, microsecond=0, tzinfo=BJ)),
    quarters=st.integers(min_value=1, max_value=64),
)
def test_deadlines_agree_with_counting_minute_by_minute(start: dt.datetime, quarters: int) -> None:
    """Across nights, weekends, holidays, 调休 days and the turn of the year (2025 → 2026)."""
    hours = quarters / 4
    assert due(start, hours, "working").at == minute_by_minute(start, hours)


def test_a_deadline_beyond_ten_years_is_refused() -> None:
    with pytest.raises(GridgisError, match="reaches past 3660 days"):
        due(bj(2026, 1, 5, 9, 0), 10**6, "working")
