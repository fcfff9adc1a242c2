"""The monthly work report (工作月汇报): per grid and per staff member, for one month.

What a community office reads at the start of a month about the last one
(or about this one so far): for each grid and each staff member, visits done
against visits due ("四访", the rule of :mod:`gridgis.staff.visits`),
households never visited, incidents reported (by channel: ``visit`` is what
staff reported themselves), handled and overdue (the rule of
:mod:`gridgis.incidents.breaches`, as of the month's end, or now for the
current month), and rounds ("四进") by kind. Each figure is defined in
:data:`gridgis.reports.columns.DEFINITIONS`, which travels with the numbers.

Incidents are counted as :mod:`gridgis.incidents.rates` counts them: by
their reported time, in calendar months of the display time zone
(:func:`gridgis.incidents.periods.parse_window`), in the grid they were
routed to, as far as the viewer may see them
(:func:`gridgis.incidents.views.visible_to`). A whole community takes a
dozen statements, whatever the number of households or incidents: every
figure is an aggregate (``count(*) FILTER (WHERE ...)``) grouped by grid or
by staff member.

Who reads it (``reports:read``): administrators and dispatchers, for the
whole community; grid staff, for their own grids (and themselves, whatever
their post). Planners and viewers do not: it is an account of people's work,
not of places, and planners' balance figures come from the layout tallies.
Staff names are shown as the privacy rule allows for the viewer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.layouts import get_community, in_force_clause
from gridgis.incidents.periods import Window, parse_window
from gridgis.incidents.views import visible_to
from gridgis.models import Community, Grid, Incident, Layout, Round, Staff
from gridgis.reports.columns import COUNT_COLUMNS
from gridgis.reports.figures import Context, households_of, incident_measures, rounds_by, visit_sums
from gridgis.reports.staff import staff_rows

READ = "reports:read"
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_window(month: str, *, now: dt.datetime | None = None) -> Window:
    """The calendar month ``YYYY-MM`` in the display time zone, as the rates count months.

    Raises:
        InvalidInput: Not ``YYYY-MM``, or a month that has not begun.
    """
    found = _MONTH.fullmatch(month.strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 2000:
        raise InvalidInput(f"month must be a year and a month, such as 2026-11; got {month!r}.")
    first = dt.date(int(found[1]), int(found[2]), 1)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    now = now or clock.now()
    window = parse_window("month", first.isoformat(), last.isoformat(), now=now)
    if window.start > now:
        raise InvalidInput(f"{month} has not begun yet: choose this month or an earlier one.")
    return window


def this_month(now: dt.datetime | None = None) -> str:
    """The current month as ``YYYY-MM`` (display time zone)."""
    return clock.local(now or clock.now()).strftime("%Y-%m")


@dataclass
class MonthlyReport:
    """One month of one community: a row per grid and per staff member, and the total."""

    community: str
    community_name: str
    month: str
    window: Window
    as_of: dt.datetime
    layout: str | None
    grids: list[dict[str, Any]]
    total: dict[str, Any]
    staff: list[dict[str, Any]] = field(default_factory=list)
    #: The grids the viewer may choose from, (code, name), by code.
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def current(self) -> bool:
        """Whether the month is still running (counted as of now)."""
        return self.as_of < self.window.end


def monthly_report(
    session: Session,
    viewer: Principal,
    *,
    community: str | None = None,
    month: str | None = None,
    grid: str | None = None,
    now: dt.datetime | None = None,
) -> MonthlyReport:
    """The monthly report of ``community`` for ``month``, as ``viewer`` may read it.

    Args:
        session: Where to read.
        viewer: Who asks (``reports:read``; grid staff: their own grids).
        community: The community's code (default: a grid staff member's own,
            else the first by code).
        month: ``YYYY-MM`` (default: this month).
        grid: Only this grid (its code) and its staff.
        now: The time the current month is counted to (default: the clock's).

    Raises:
        Forbidden: The viewer may not read reports, or not this grid's.
        InvalidInput: A malformed month, or one not begun.
        NotFound: No such community or grid.
    """
    viewer.require(READ)
    now = now or clock.now()
    month = month or this_month(now)
    window = month_window(month, now=now)
    as_of = min(window.end, now)
    place = _community(session, viewer, community)
    layout = session.execute(
        sa.select(Layout.id, Layout.name).where(
            Layout.community_id == place.id,
            # The month's last instant (or now): a layout from the next month's first is not it.
            in_force_clause(as_of - dt.timedelta(microseconds=1)),
        )
    ).one_or_none()
    layout_id = layout[0] if layout else None
    grids = _grids(session, place.id, layout_id)
    mine = _allowed_grids(viewer, grids, None)
    choices = sorted(v for k, v in grids.items() if mine is None or k in mine)
    allowed = _allowed_grids(viewer, grids, grid)
    ctx = Context(place.id, layout_id, window, as_of, viewer)
    rows: dict[int | None, dict[str, Any]] = {}
    for figures in (_households_by_grid(session, ctx), _incidents_by_grid(session, ctx)):
        for key, values in figures.items():
            rows.setdefault(key, {}).update(values)
    for key, values in rounds_by(session, ctx, Round.grid_id).items():
        rows.setdefault(key, {}).update(values)
    missing = {k for k in rows if k is not None and k not in grids}
    if missing:
        grids.update(_grids(session, place.id, None, ids=missing))
    keys: set[int | None] = set(rows) | set(grids)
    if allowed is not None:
        keys &= set(allowed)
    shown = sorted(
        (_grid_row(grids.get(k) if k is not None else None, rows.get(k, {})) for k in keys),
        key=lambda r: (r["grid"] is None, r["grid"] or ""),
    )
    total = {c: sum(r[c] for r in shown) for c in COUNT_COLUMNS}
    codes = {k: code for k, (code, _) in grids.items()}
    staff = staff_rows(session, ctx, allowed, codes)
    return MonthlyReport(
        community=place.code,
        community_name=place.name,
        month=month,
        window=window,
        as_of=as_of,
        layout=layout[1] if layout else None,
        grids=shown,
        total={"grid": None, "grid_name": None, **total},
        staff=staff,
        choices=choices,
    )


def _community(session: Session, viewer: Principal, code: str | None) -> Community:
    if code:
        return get_community(session, code)
    if viewer.staff_id is not None:
        own = session.scalar(
            sa.select(Community)
            .join(Staff, Staff.community_id == Community.id)
            .where(Staff.id == viewer.staff_id)
        )
        if own is not None:
            return own
    first = session.scalar(sa.select(Community).order_by(Community.code).limit(1))
    if first is None:
        raise NotFound("There is no community yet: load one first.")
    return first


def _grids(
    session: Session, community_id: int, layout_id: int | None, *, ids: Iterable[int] = ()
) -> dict[int, tuple[str, str]]:
    """Grid codes and names by id: the layout's, or the ones named (of the community)."""
    query = sa.select(Grid.id, Grid.code, Grid.name).join(Layout, Layout.id == Grid.layout_id)
    if layout_id is not None:
        query = query.where(Grid.layout_id == layout_id)
    else:
        query = query.where(Layout.community_id == community_id, Grid.id.in_(sorted(ids)))
    return {i: (code, name) for i, code, name in session.execute(query)}


def _allowed_grids(
    viewer: Principal, grids: dict[int, tuple[str, str]], code: str | None
) -> set[int] | None:
    """The grids the report may show (None: every one, the community's own office)."""
    allowed = None if viewer.scope is None else set(viewer.scope.grid_ids)
    if code is None:
        return allowed
    chosen = {i for i, (c, _) in grids.items() if c == code}
    if not chosen:
        raise NotFound(f"No grid {code!r} in force in this community that month.")
    if allowed is None:
        return chosen
    if not chosen & allowed:
        raise Forbidden(f"Grid {code} is not yours: you may read your own grid's report only.")
    return chosen & allowed


def _households_by_grid(session: Session, ctx: Context) -> dict[int | None, dict[str, int]]:
    rows = households_of(ctx)
    found = session.execute(
        sa.select(
            rows.c.grid_id, *visit_sums(rows), sa.func.sum(rows.c.done).label("logged")
        ).group_by(rows.c.grid_id)
    ).all()
    return {
        r.grid_id: {
            "households": r.households,
            "visits_required": int(r.visits_required),
            "visits_done": int(r.visits_done),
            "visits_logged": int(r.logged or 0),
            "never_visited": r.never_visited,
        }
        for r in found
    }


def _incidents_by_grid(session: Session, ctx: Context) -> dict[int | None, dict[str, int]]:
    measures = incident_measures(ctx)
    query = (
        sa.select(
            Incident.grid_id,
            *(sa.func.count().filter(m).label(name) for name, m in measures.items()),
        )
        .where(
            Incident.community_id == ctx.community_id,
            visible_to(ctx.viewer),
            sa.or_(measures["reported"], measures["handled"], measures["overdue"]),
        )
        .group_by(Incident.grid_id)
    )
    return {
        row.grid_id: {name: getattr(row, name) for name in measures}
        for row in session.execute(query)
    }


def _grid_row(grid: tuple[str, str] | None, values: dict[str, Any]) -> dict[str, Any]:
    code, name = grid if grid is not None else (None, None)
    return {"grid": code, "grid_name": name, **{c: values.get(c, 0) for c in COUNT_COLUMNS}}
