"""Deadlines in working time, on the official Chinese calendar.

A category's response and resolution deadlines are hours. Where the category
says ``working`` (most do), only working hours count: the office's hours
(``GRIDGIS_WORKING_HOURS``, by default 09:00–12:00 and 13:30–17:30, in the
display zone) on working days of the official calendar — public holidays are
off, and the weekend days moved to make up for them (调休) are on. The
calendar comes from the maintained ``chinese-calendar`` package rather than a
hand-typed list: the State Council publishes each year's arrangement in
November and the package follows it. For a year it does not know yet, Monday
to Friday count as working days and :func:`due` says so (``assumed``), so a
dispatcher can see that a deadline past the known calendar may move.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from gridgis import clock
from gridgis.errors import GridgisError

#: The office's hours: a list of (start, end) local times, in order.
DEFAULT_WORKING_HOURS = "09:00-12:00,13:30-17:30"
#: A deadline further than this is a mistake in the category, not a plan.
MAX_DAYS = 3660

Period = tuple[dt.time, dt.time]


def parse_working_hours(text: str) -> tuple[Period, ...]:
    """``"09:00-12:00,13:30-17:30"`` → periods; raise GridgisError naming the setting."""
    periods: list[Period] = []
    try:
        for part in text.split(","):
            start, end = (dt.time.fromisoformat(t.strip()) for t in part.split("-"))
            if not start < end or (periods and start < periods[-1][1]):
                raise ValueError
            periods.append((start, end))
    except ValueError:
        raise GridgisError(
            f"GRIDGIS_WORKING_HOURS={text!r} is not a list of office hours: write them as "
            f"{DEFAULT_WORKING_HOURS!r} (24-hour times, in order, not overlapping)."
        ) from None
    if not periods:
        raise GridgisError("GRIDGIS_WORKING_HOURS names no office hours.")
    return tuple(periods)


_hours = parse_working_hours(DEFAULT_WORKING_HOURS)


def configure(working_hours: str) -> None:
    """Set the office's hours (``GRIDGIS_WORKING_HOURS``)."""
    global _hours
    _hours = parse_working_hours(working_hours)
    _office_hours.cache_clear()


@lru_cache(maxsize=8192)
def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """Whether ``day`` is a working day, and whether that was assumed (calendar unknown).

    Cached: the package checks its arguments at some 50 µs a call, and a
    deadline of ten working days asks about a fortnight of days; a file of
    hotline work orders asks about the same few weeks thousands of times.
    """
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:  # a year the package has no arrangement for yet
        return day.weekday() < 5, True


@lru_cache(maxsize=8192)
def _office_hours(day: dt.date, zone: dt.tzinfo) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The office's periods on ``day`` as times in ``zone``; none on a day off.

    Cached (and cleared by :func:`configure`): a hotline file of 20,000 work
    orders asks for deadlines twice a row, over the same few weeks of days.
    """
    if not is_working_day(day)[0]:
        return ()
    return tuple(
        (dt.datetime.combine(day, begin, zone), dt.datetime.combine(day, end, zone))
        for begin, end in _hours
    )


@dataclass(frozen=True)
class Due:
    """A deadline, and whether it relies on a year the official calendar does not cover yet."""

    at: dt.datetime
    assumed: bool = False


def due(start: dt.datetime, hours: float, basis: str = "working") -> Due:
    """When ``hours`` have passed since ``start``, counting as ``basis`` says.

    Args:
        start: When the clock starts (aware).
        hours: How many hours (working or calendar) the deadline allows.
        basis: ``working`` (office hours on working days) or ``calendar``.
    """
    start = clock.require_aware(start, "the start of a deadline")
    if basis == "calendar":
        return Due(start + dt.timedelta(hours=hours))
    cursor = clock.local(start)
    zone: ZoneInfo = cursor.tzinfo  # type: ignore[assignment]
    remaining = dt.timedelta(hours=hours)
    day = cursor.date()
    assumed = False
    for _ in range(MAX_DAYS):
        assumed |= is_working_day(day)[1]
        for period_start, period_end in _office_hours(day, zone):
            if period_end <= cursor:
                continue
            frm = max(cursor, period_start)
            available = period_end - frm
            if remaining <= available:
                return Due((frm + remaining).astimezone(dt.UTC), assumed)
            remaining -= available
            cursor = period_end
        day += dt.timedelta(days=1)
        cursor = dt.datetime.combine(day, dt.time(0), zone)
    raise GridgisError(f"A deadline of {hours:g} working hours reaches past {MAX_DAYS} days.")
