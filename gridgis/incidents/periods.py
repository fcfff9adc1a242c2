"""Windows and periods of the reports (the three rates): calendar days, weeks, months, local.

A window is what a request asks for: ``from`` and ``to`` as dates (days in
the display time zone, ``to`` included) or as ISO times with their zone;
without them, the last 30 days, 12 weeks or 12 months up to now (``range``:
this month so far). Periods are the calendar days, weeks (from Monday) and
months of the display time zone, as a grid office counts them; the first and
last are cut at the window's ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gridgis import clock
from gridgis.errors import InvalidInput

PERIODS = ("day", "week", "month", "range")
#: The default window: this many periods back from ``to`` (``range``: this month).
DEFAULT_SPAN = {"day": 30, "week": 12, "month": 12}
#: Most periods one request may ask for (a longer window: a coarser period).
MAX_PERIODS = {"day": 400, "week": 260, "month": 120}
_PERIOD_SECONDS = {"day": 86_400, "week": 604_800, "month": 28 * 86_400}


@dataclass(frozen=True)
class Window:
    """From when to when (``end`` exclusive), cut into which periods."""

    start: dt.datetime
    end: dt.datetime
    period: str


def parse_window(
    period: str = "month",
    start: str | None = None,
    end: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> Window:
    """The window a request asks for: ``from``/``to`` as dates (local, ``to`` included) or times.

    Raises:
        InvalidInput: An unknown period, a malformed date, ``from`` not before
            ``to``, or more periods than one answer holds.
    """
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}; got {period!r}.")
    now = now or clock.now()
    end_at = _moment(end, "to", inclusive=True) or now
    start_at = _moment(start, "from") or _default_start(period, end_at)
    if start_at >= end_at:
        raise InvalidInput(
            f"from ({clock.show(start_at)}) must be before to ({clock.show(end_at)})."
        )
    if period in MAX_PERIODS:
        count = (end_at - start_at).total_seconds() / _PERIOD_SECONDS[period]
        if count > MAX_PERIODS[period]:
            raise InvalidInput(
                f"That window holds about {count:.0f} {period}s; one answer holds at most "
                f"{MAX_PERIODS[period]}: ask for a shorter window or a longer period."
            )
    return Window(start_at, end_at, period)


def _moment(text: str | None, name: str, *, inclusive: bool = False) -> dt.datetime | None:
    if not text:
        return None
    if len(text) == 10:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{name} must be a date (2026-10-01) or a time with its zone; got {text!r}."
            ) from None
        return _midnight(day + dt.timedelta(days=1) if inclusive else day)
    return clock.parse_time(text, name)


def _midnight(day: dt.date) -> dt.datetime:
    zone = clock.local(clock.now()).tzinfo
    return dt.datetime.combine(day, dt.time(0), zone)


def _default_start(period: str, end: dt.datetime) -> dt.datetime:
    last = clock.local(end - dt.timedelta(microseconds=1)).date()
    if period == "day":
        return _midnight(last - dt.timedelta(days=DEFAULT_SPAN["day"] - 1))
    if period == "week":
        monday = last - dt.timedelta(days=last.weekday())
        return _midnight(monday - dt.timedelta(weeks=DEFAULT_SPAN["week"] - 1))
    months = 0 if period == "range" else DEFAULT_SPAN["month"] - 1
    index = last.year * 12 + last.month - 1 - months
    return _midnight(dt.date(index // 12, index % 12 + 1, 1))


def period_of(window: Window, start: dt.datetime | None) -> dict[str, str]:
    """The period's first day and its end (exclusive), cut at the window's ends."""
    if start is None:
        return {"period": _shown(window.start), "period_end": _shown(window.end)}
    day = start.date()
    if window.period == "day":
        after = day + dt.timedelta(days=1)
    elif window.period == "week":
        after = day + dt.timedelta(weeks=1)
    else:
        after = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return {
        "period": _shown(max(_midnight(day), window.start)),
        "period_end": _shown(min(_midnight(after), window.end)),
    }


def _shown(moment: dt.datetime) -> str:
    """A local midnight as its date, any other moment as a local ISO time."""
    local = clock.local(moment)
    if local.time() == dt.time(0):
        return local.date().isoformat()
    return local.isoformat(timespec="seconds")
