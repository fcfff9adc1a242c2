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

import bisect
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
    _year.cache_clear()


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


@dataclass(frozen=True)
class _Year:
    """A year's office periods in order, with the working time done at each one's start and end."""

    starts: tuple[dt.datetime, ...]
    ends: tuple[dt.datetime, ...]
    done_at_start: tuple[dt.timedelta, ...]
    done_at_end: tuple[dt.timedelta, ...]
    #: Its days are not on the official calendar yet (Monday to Friday assumed).
    assumed: bool


@lru_cache(maxsize=64)
def _year(year: int, zone: dt.tzinfo) -> _Year:
    """The office periods of ``year`` in ``zone`` (cached; cleared by :func:`configure`).

    A deadline is then two binary searches instead of a walk over its days: a
    file of 20,000 hotline work orders asks for 40,000 deadlines of up to ten
    working days each.
    """
    periods: list[tuple[dt.datetime, dt.datetime]] = []
    day = dt.date(year, 1, 1)
    assumed = False
    while day.year == year:
        working, guessed = is_working_day(day)
        assumed |= guessed
        if working:
            periods += [
                (dt.datetime.combine(day, begin, zone), dt.datetime.combine(day, end, zone))
                for begin, end in _hours
            ]
        day += dt.timedelta(days=1)
    done = [dt.timedelta()]
    for period_start, period_end in periods:
        done.append(done[-1] + (period_end - period_start))
    return _Year(
        starts=tuple(p[0] for p in periods),
        ends=tuple(p[1] for p in periods),
        done_at_start=tuple(done[:-1]),
        done_at_end=tuple(done[1:]),
        assumed=assumed,
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
    first_day = cursor.date()
    remaining = dt.timedelta(hours=hours)
    assumed = False
    for year in range(cursor.year, cursor.year + MAX_DAYS // 365 + 2):
        calendar = _year(year, zone)
        assumed |= calendar.assumed
        # The first period that ends after the cursor, and the working time done by then.
        i = bisect.bisect_right(calendar.ends, cursor)
        if i < len(calendar.ends):
            frm = max(cursor, calendar.starts[i])
            target = calendar.done_at_start[i] + (frm - calendar.starts[i]) + remaining
            # The first period by whose end that much working time is done: the deadline.
            j = bisect.bisect_left(calendar.done_at_end, target, lo=i)
            if j < len(calendar.done_at_end):
                at = calendar.starts[j] + (target - calendar.done_at_start[j])
                if (at.date() - first_day).days < MAX_DAYS:
                    return Due(at.astimezone(dt.UTC), assumed)
                break
            remaining = target - calendar.done_at_end[-1]
        cursor = dt.datetime.combine(dt.date(year + 1, 1, 1), dt.time(0), zone)
    raise GridgisError(f"A deadline of {hours:g} working hours reaches past {MAX_DAYS} days.")
