"""Visits (四访): who must be visited when, the due list and a month's figures.

The one home of the visiting schedule. Hardship (困难家庭), retiree (离退休),
elderly-alone (孤寡老人) and petitioner (信访) households must be visited on a
schedule ("四进四访"); each care flag has an interval in days
(``GRIDGIS_VISIT_INTERVALS``, default ``elderly_alone=7,petitioner=14,
hardship=30,retiree=90``), handed in by :func:`configure` at start.

- **Interval** of a household: the smallest interval among its flags
  (:func:`interval_for`); no flag, no schedule: never due.
- **Due on** (:func:`due_on`): the local date (display zone, Asia/Shanghai
  by default) of the last visit plus the interval; a household never
  visited is due from the local date it was registered (``created_at``).
- **Status** (:func:`status_of`): ``overdue`` when due before today, ``due``
  when due today or within :data:`DUE_SOON_DAYS` days, else ``not_due``.

Each rule has its Python form (one household) and its SQL form
(:func:`interval_sql`, :func:`due_on_sql`, :func:`status_sql`: every
household at once), and ``tests/gridgis/staff/test_visits.py`` checks that
the two agree. The month's figures are defined in :data:`MONTH_DEFINITIONS`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.config import DEFAULT_VISIT_INTERVALS
from gridgis.errors import GridgisError
from gridgis.models import CARE_FLAGS, Household, Visit

#: A household due within this many days is listed as due now: staff plan
#: their rounds a few days ahead, and a weekly visit seen only on its day is
#: easily missed.
DUE_SOON_DAYS = 3
#: Longest interval a flag may have: a year (a longer one is a typing mistake).
MAX_INTERVAL_DAYS = 366

#: What a month's figures mean (the monthly report prints these).
MONTH_DEFINITIONS = {
    "required": (
        "Visits required of a flagged household in the month: the days of the month "
        "(from the day it was registered, for one registered during the month) divided "
        "by its interval, rounded up: weekly visits need 5 in a 31-day month and 4 in "
        "February 2026. 应访次数：当月天数（月中登记的户自登记日起）除以走访周期，向上取整。"
    ),
    "done": (
        "Visits done: visits logged with a time in the month (display zone), counted up to "
        "the number required (an extra visit does not make up for another household). "
        "已访次数：当月走访次数，每户最多计到应访次数。"
    ),
    "never_visited": (
        "Never visited: flagged households registered by the month's end with no visit "
        "at all up to its end. 从未走访：月末前已登记、截至月末从未走访的关爱户。"
    ),
    "households": (
        "Households counted: those with a care flag now, registered by the month's end "
        "(flags are not kept by date: today's flags count for past months). "
        "统计户数：当前有关爱标记、月末前已登记的户。"
    ),
}


def parse_intervals(text: str) -> dict[str, int]:
    """``"elderly_alone=7,petitioner=14,..."`` → days by flag; every flag needs one.

    Raises:
        GridgisError: The text is malformed, names an unknown flag twice or not
            at all, or gives a number of days out of range; the message names
            the setting and says what to write.
    """
    found: dict[str, int] = {}
    example = f"write it as {DEFAULT_VISIT_INTERVALS!r} (days per care flag)"
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        flag, sep, days = (s.strip() for s in part.partition("="))
        if not sep or flag not in CARE_FLAGS or flag in found:
            raise GridgisError(
                f"GRIDGIS_VISIT_INTERVALS={text!r}: {part!r} is not a flag=days entry "
                f"of one of the care flags {', '.join(CARE_FLAGS)}, each once; {example}."
            )
        if not days.isdigit() or not 1 <= int(days) <= MAX_INTERVAL_DAYS:
            raise GridgisError(
                f"GRIDGIS_VISIT_INTERVALS={text!r}: the interval of {flag} must be a whole "
                f"number of days from 1 to {MAX_INTERVAL_DAYS}, not {days!r}; {example}."
            )
        found[flag] = int(days)
    missing = [f for f in CARE_FLAGS if f not in found]
    if missing:
        raise GridgisError(
            f"GRIDGIS_VISIT_INTERVALS={text!r} gives no interval for {', '.join(missing)}; "
            f"{example}."
        )
    return found


_intervals: dict[str, int] = parse_intervals(DEFAULT_VISIT_INTERVALS)


def configure(visit_intervals: str) -> None:
    """Set the intervals (``GRIDGIS_VISIT_INTERVALS``); a bad value raises before any change."""
    global _intervals
    _intervals = parse_intervals(visit_intervals)


def intervals() -> Mapping[str, int]:
    """Days between visits by care flag, as configured."""
    return dict(_intervals)


def interval_for(flags: Iterable[str] | None) -> int | None:
    """The interval of a household with ``flags``: the smallest of its flags' (None: no flag)."""
    days = [_intervals[f] for f in flags or () if f in _intervals]
    return min(days) if days else None


def local_today() -> dt.date:
    """Today in the display zone."""
    return clock.local(clock.now()).date()


def due_on(
    interval: int | None, last_visit_at: dt.datetime | None, registered_at: dt.datetime
) -> dt.date | None:
    """When a household is next due: last visit's local date + interval, else its registration."""
    if interval is None:
        return None
    if last_visit_at is None:
        return clock.local(registered_at).date()
    return clock.local(last_visit_at).date() + dt.timedelta(days=interval)


def status_of(due: dt.date | None, today: dt.date) -> str | None:
    """``overdue``, ``due`` or ``not_due`` (None: never due, no flag)."""
    if due is None:
        return None
    if due < today:
        return "overdue"
    if due <= today + dt.timedelta(days=DUE_SOON_DAYS):
        return "due"
    return "not_due"


# --- the same rules in SQL --------------------------------------------------------


def interval_sql(flags: Any = Household.care_flags) -> ColumnElement[int]:
    """:func:`interval_for` of a flags column: LEAST of one CASE per flag (NULL: no flag).

    Built from the configured intervals; PostgreSQL's LEAST skips NULLs.
    """
    return sa.func.least(
        *(
            sa.case((sa.literal(flag, sa.String) == sa.any_(flags), sa.literal(days, sa.Integer)))
            for flag, days in _intervals.items()
        ),
        type_=sa.Integer,
    )


def local_date_sql(moment: Any) -> ColumnElement[dt.date]:
    """A timestamptz column's date in the display zone."""
    return sa.cast(sa.func.timezone(clock.zone_name(), moment), sa.Date)


def due_on_sql(
    interval: Any, last_visit_at: Any, registered_at: Any = Household.created_at
) -> ColumnElement[dt.date]:
    """:func:`due_on` in SQL (NULL when the interval is NULL)."""
    return sa.case(
        (interval.is_(None), sa.null()),
        (last_visit_at.is_(None), local_date_sql(registered_at)),
        else_=local_date_sql(last_visit_at) + interval,
    )


def status_sql(due: Any, today: dt.date) -> ColumnElement[str]:
    """:func:`status_of` in SQL."""
    return sa.case(
        (due.is_(None), sa.null()),
        (due < today, "overdue"),
        (due <= today + dt.timedelta(days=DUE_SOON_DAYS), "due"),
        else_="not_due",
    )


def last_visit(household: Any = Household) -> Any:
    """The last visit of each ``household`` row: a LATERAL subquery (``visited_at``, ``staff_id``).

    Join it with ``sa.true()`` as the condition (outer: a household never visited
    keeps its row); the index on (household_id, visited_at) finds it.
    """
    return (
        sa.select(Visit.visited_at, Visit.staff_id)
        .where(Visit.household_id == household.id)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(1)
        .lateral("last_visit")
    )


# --- a month ----------------------------------------------------------------------


def required_in_month(
    interval_days: int, year: int, month: int, *, registered_on: dt.date | None = None
) -> int:
    """Visits required in a month (:data:`MONTH_DEFINITIONS`): ceil(days / interval).

    Args:
        interval_days: The household's interval.
        year: The month's year.
        month: The month, 1 to 12.
        registered_on: The local date the household was registered: one
            registered during the month counts from that day, one registered
            after it requires nothing.
    """
    first = dt.date(year, month, 1)
    last = first.replace(day=calendar.monthrange(year, month)[1])
    start = max(first, registered_on) if registered_on is not None else first
    if start > last:
        return 0
    return math.ceil(((last - start).days + 1) / interval_days)


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The month's first instant and the next month's first, in the display zone."""
    zone = ZoneInfo(clock.zone_name())
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start, end


def month_figures(
    year: int, month: int, *, where: ColumnElement[bool] | None = None
) -> sa.Select[Any]:
    """Per flagged household, the month's figures (:data:`MONTH_DEFINITIONS`), as one SELECT.

    Columns: ``household_id``, ``community_id``, ``building_id``, ``unit_id``,
    ``interval_days``, ``required``, ``done`` (all visits in the month),
    ``counted`` (done, capped at required), ``never_visited`` (no visit up to
    the month's end). ``where`` limits the households (a clause on
    :class:`~gridgis.models.Household`, e.g. a community, or
    :func:`gridgis.staff.residents.in_area`); group the result by grid or
    staff as a subquery.
    """
    start, end = month_bounds(year, month)
    first = start.date()
    last = (end - dt.timedelta(days=1)).date()
    interval = interval_sql()
    registered = local_date_sql(Household.created_at)
    days = sa.cast(last - sa.func.greatest(registered, first), sa.Integer) + 1
    required = sa.cast(sa.func.ceil(sa.cast(days, sa.Numeric) / interval), sa.Integer)
    done = (
        sa.select(sa.func.count(Visit.id))
        .where(
            Visit.household_id == Household.id, Visit.visited_at >= start, Visit.visited_at < end
        )
        .correlate(Household)
        .scalar_subquery()
    )
    ever = (
        sa.select(Visit.id)
        .where(Visit.household_id == Household.id, Visit.visited_at < end)
        .correlate(Household)
        .exists()
    )
    inner = sa.select(
        Household.id.label("household_id"),
        Household.community_id,
        Household.building_id,
        Household.unit_id,
        interval.label("interval_days"),
        required.label("required"),
        done.label("done"),
        sa.not_(ever).label("never_visited"),
    ).where(
        sa.func.cardinality(Household.care_flags) > 0,
        interval.is_not(None),
        Household.created_at < end,
    )
    if where is not None:
        inner = inner.where(where)
    rows = inner.subquery("month_household")
    return sa.select(
        *rows.c,
        sa.func.least(rows.c.done, rows.c.required).label("counted"),
    )
