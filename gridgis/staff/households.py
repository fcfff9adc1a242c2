"""Households (户) as one viewer may see them: the due list, a building's, one with its visits.

Every function here reads through the two rules of
:mod:`gridgis.staff.residents` — which households the viewer's area holds,
and whether the head's name and phone are shown in full or masked — and the
schedule of :mod:`gridgis.staff.visits` (due on, status), in one statement
each: the last visit per household is a LATERAL join, the interval a LEAST of
CASEs built from the setting, so the due list of a whole community is one
query, not a loop over its households.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis.access.permissions import Principal
from gridgis.access.privacy import staff_contact
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.areas import building_in_grid
from gridgis.models import (
    CARE_FLAG_TERMS,
    Building,
    Community,
    Grid,
    Household,
    Staff,
    Unit,
    Visit,
)
from gridgis.staff.household_rows import BuildingCounts, HouseholdDetail, HouseholdRow, VisitShown
from gridgis.staff.residents import READ, in_area, place, shown
from gridgis.staff.visits import (
    DUE_SOON_DAYS,
    due_on_sql,
    interval_sql,
    last_visit,
    local_today,
    status_of,
    status_sql,
)

#: Most rows one list returns.
MAX_LIMIT = 5000


def due_households(
    session: Session,
    viewer: Principal,
    *,
    today: dt.date | None = None,
    community: str | None = None,
    grid_id: int | None = None,
    building_id: int | None = None,
    flag: str | None = None,
    limit: int = 200,
) -> list[HouseholdRow]:
    """The flagged households in the viewer's area that are due or overdue, most overdue first.

    Args:
        session: The database session.
        viewer: Who asks (``households:read``): grid staff get their area's,
            administrators and dispatchers every community's (or ``community``'s,
            or ``grid_id``'s).
        today: The local date to count from (default: today in the display zone).
        community: A community's code, to list only its households.
        grid_id: A grid, to list only the households of its buildings.
        building_id: A building, to list only its households.
        flag: A care flag, to list only the households carrying it (among those
            whose flags the viewer may see: see :func:`_rows`).
        limit: Most households returned (1 to :data:`MAX_LIMIT`).

    Raises:
        Forbidden: The viewer may not read households.
    """
    today = today or local_today()
    query, due = _select(
        session,
        viewer,
        today,
        community=community,
        grid_id=grid_id,
        building_id=building_id,
        flag=flag,
    )
    query = query.where(
        sa.func.cardinality(Household.care_flags) > 0,
        due <= today + dt.timedelta(days=DUE_SOON_DAYS),
    ).order_by(due, Household.id)
    return _rows(session, viewer, query.limit(_limit(limit)), today, flag=flag)


def households_of(
    session: Session,
    viewer: Principal,
    *,
    building_id: int | None = None,
    unit_id: int | None = None,
    community: str | None = None,
    grid_id: int | None = None,
    flag: str | None = None,
    today: dt.date | None = None,
    limit: int = 500,
) -> list[HouseholdRow]:
    """The households in the viewer's area (of a building or unit), by building, unit and room.

    ``flag`` lists only the households carrying that care flag, as in :func:`due_households`.

    Raises:
        Forbidden: The viewer may not read households.
    """
    today = today or local_today()
    query, _ = _select(
        session,
        viewer,
        today,
        community=community,
        grid_id=grid_id,
        building_id=building_id,
        unit_id=unit_id,
        flag=flag,
    )
    query = query.order_by(Building.code, Unit.number.nulls_first(), Household.room, Household.code)
    return _rows(session, viewer, query.limit(_limit(limit)), today, flag=flag)


def building_counts(
    session: Session,
    viewer: Principal,
    *,
    community: str | None = None,
    grid_id: int | None = None,
    today: dt.date | None = None,
) -> list[BuildingCounts]:
    """Per building of the viewer's area: households, flagged, due and overdue (map colours)."""
    today = today or local_today()
    query, _ = _select(session, viewer, today, community=community, grid_id=grid_id)
    rows = query.subquery("households")
    counted = session.execute(
        sa.select(
            rows.c.building_id,
            rows.c.building_code,
            sa.func.count(),
            sa.func.count().filter(sa.func.cardinality(rows.c.care_flags) > 0),
            sa.func.count().filter(rows.c.status == "due"),
            sa.func.count().filter(rows.c.status == "overdue"),
        )
        .group_by(rows.c.building_id, rows.c.building_code)
        .order_by(rows.c.building_code)
    )
    return [BuildingCounts(*(r[:2]), *(int(n) for n in r[2:])) for r in counted]


def household_detail(
    session: Session, viewer: Principal, household_id: int, *, today: dt.date | None = None
) -> HouseholdDetail:
    """One household with its visits, newest first.

    Raises:
        Forbidden: The viewer may not read households.
        NotFound: No such household, or one outside the viewer's area (the same answer).
    """
    today = today or local_today()
    query, _ = _select(session, viewer, today)
    found = _rows(session, viewer, query.where(Household.id == household_id), today)
    if not found:
        raise NotFound(f"No household {household_id}.")
    row = found[0]
    full = not row.masked
    visits = session.execute(
        sa.select(Visit, Staff.code, Staff.name)
        .outerjoin(Staff, Staff.id == Visit.staff_id)
        .where(Visit.household_id == household_id)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
    ).all()
    where = place(row.building_id, row.unit_id)
    return HouseholdDetail(
        row,
        [
            VisitShown(
                id=v.id,
                visited_at=v.visited_at,
                staff_code=code,
                staff_name=staff_contact(viewer, where, name, None).name,
                findings=v.findings if full else None,
                follow_up=v.follow_up if full else None,
                incident_id=v.incident_id,
                logged_by=v.logged_by,
                logged_at=v.logged_at,
            )
            for v, code, name in visits
        ],
    )


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"The limit must be between 1 and {MAX_LIMIT} (got {limit}).")
    return limit


def _select(
    session: Session,
    viewer: Principal,
    today: dt.date,
    *,
    community: str | None = None,
    grid_id: int | None = None,
    building_id: int | None = None,
    unit_id: int | None = None,
    flag: str | None = None,
) -> tuple[sa.Select[Any], ColumnElement[dt.date]]:
    """The households of the viewer's area with their last visit and schedule; and due_on."""
    viewer.require(READ)
    visited = last_visit()
    due = due_on_sql(interval_sql(), visited.c.visited_at)
    columns: list[Any] = [
        Household.id,
        Household.code,
        Household.community_id,
        Household.building_id,
        Building.code.label("building_code"),
        Building.name.label("building_name"),
        Household.unit_id,
        Unit.number.label("unit_number"),
        Household.room,
        Household.members,
        Household.care_flags,
        visited.c.visited_at.label("last_visit_at"),
        due.label("due_on"),
        status_sql(due, today).label("status"),
        Household.head_name,
        Household.phone,
        Household.note,
    ]
    query = (
        sa.select(*columns)
        .select_from(Household)
        .join(Building, Building.id == Household.building_id)
        .outerjoin(Unit, Unit.id == Household.unit_id)
        .outerjoin(visited, sa.true())
        .where(in_area(viewer))
    )
    if community is not None:
        community_id = session.scalar(sa.select(Community.id).where(Community.code == community))
        if community_id is None:
            raise NotFound(f"No community with code {community!r}.")
        query = query.where(Household.community_id == community_id)
    if grid_id is not None:
        in_grid = (
            sa.select(Building.id)
            .join(Grid, building_in_grid(Building, Grid))
            .where(Grid.id == grid_id)
        )
        query = query.where(Household.building_id.in_(in_grid))
    if building_id is not None:
        query = query.where(Household.building_id == building_id)
    if unit_id is not None:
        query = query.where(Household.unit_id == unit_id)
    if flag is not None:
        if flag not in CARE_FLAG_TERMS:
            raise InvalidInput(
                f"care flag must be one of {', '.join(CARE_FLAG_TERMS)}; got {flag!r}."
            )
        query = query.where(Household.care_flags.contains([flag]))
    return query, due


def _rows(
    session: Session,
    viewer: Principal,
    query: sa.Select[Any],
    today: dt.date,
    *,
    flag: str | None = None,
) -> list[HouseholdRow]:
    """The rows as ``viewer`` sees them; asked for by ``flag``, only those whose flags it sees.

    Otherwise a list filtered by a care flag would tell a viewer who sees
    households masked which ones are, say, petitioners.
    """
    out = []
    for r in session.execute(query).mappings():
        resident = shown(
            viewer, r["building_id"], r["unit_id"], r["head_name"], r["phone"], r["note"]
        )
        due = r["due_on"]
        out.append(
            HouseholdRow(
                id=r["id"],
                code=r["code"],
                community_id=r["community_id"],
                building_id=r["building_id"],
                building_code=r["building_code"],
                building_name=r["building_name"],
                unit_id=r["unit_id"],
                unit_number=r["unit_number"],
                room=r["room"],
                members=r["members"],
                # Which care flag (a petitioner, a hardship household) is personal data
                # like the name (DESIGN.md, Security): masked rows keep that the household
                # is due, for supervising visits, but not why.
                flags=() if resident.masked else tuple(r["care_flags"] or ()),
                last_visit_at=r["last_visit_at"],
                due_on=due,
                status=status_of(due, today),
                overdue_days=max(0, (today - due).days) if due is not None else 0,
                head_name=resident.head_name,
                phone=resident.phone,
                note=resident.note,
                masked=resident.masked,
            )
        )
    if flag is not None:
        out = [row for row in out if not row.masked]
    return out
