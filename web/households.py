"""The office's households page (``/households``): who is due a visit, every household, one.

Grid staff have their own phone page (``/my``); this is the desk's view of
the same data for administrators and dispatchers (and grid staff who open it:
they see their area's).

- ``GET /households?community=CODE&grid=CODE&building=CODE&show=due|all&flag=CODE``:
  a table of households, due and overdue first (``show=due``, the default:
  :func:`gridgis.staff.households.due_households`) or every one by building,
  unit and room (``show=all``: :func:`~gridgis.staff.households.households_of`),
  under a line of counts (:func:`~gridgis.staff.households.building_counts`).
- ``GET /households/<id>``: one household with its visits, newest first
  (:func:`~gridgis.staff.households.household_detail`); a household outside
  the viewer's area is "not found", like one that does not exist.

Which households a viewer may see and how much of them (names and phones in
full or masked) is decided by the domain (:mod:`gridgis.staff.residents`);
this module only parses the filters, turns codes into ids and renders. A
filter that names nothing (an unknown community, grid, building or flag) is
a 400 that says what to give instead, not an empty table that looks like
"nobody is due". Nothing here logs or audits: reading is not audited, and
residents' data never goes into a log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import N_, InvalidInput
from gridgis.geo.areas import building_in_grid
from gridgis.geo.layouts import in_force_clause
from gridgis.models import CARE_FLAG_TERMS, Building, Community, Grid, Layout, Staff
from gridgis.staff.households import (
    HouseholdRow,
    building_counts,
    due_households,
    household_detail,
    households_of,
)
from gridgis.staff.residents import READ
from gridgis.staff.visits import local_today
from web import db, i18n
from web.security import current_principal, requires

bp = Blueprint("households", __name__)

#: What the table lists: the due list, or every household.
SHOW = ("due", "all")
#: Most households one page lists; the counts above the table count them all.
LISTED = 1000
#: Longest piece of a bad filter repeated in its error message.
ECHO = 40
NO_COMMUNITY = N_("There is no community yet: load one first.")


@dataclass(frozen=True)
class Filters:
    """The list's filters, checked: codes found and turned into ids."""

    community: str
    community_name: str
    show: str
    grid_id: int | None = None
    grid: str = ""
    building_id: int | None = None
    building: str = ""
    flag: str = ""


@bp.get("/households")
@requires(READ)
def listing() -> str:
    """The households of a community (grid, building) as the viewer may see them."""
    session = db.get_session()
    viewer = current_principal()
    lang = i18n.current_language()
    communities = _communities(session)
    filters, grids = _filters(session, viewer, request.args, communities)
    rows, more = _listed(session, viewer, filters)
    counts = [
        c
        for c in building_counts(
            session, viewer, community=filters.community, grid_id=filters.grid_id
        )
        if filters.building_id is None or c.building_id == filters.building_id
    ]
    return render_template(
        "households.html",
        filters=filters,
        # Office roles choose the community; grid staff have theirs.
        communities=communities if viewer.scope is None else [],
        grids=grids,
        flags=[(code, term.name(lang)) for code, term in CARE_FLAG_TERMS.items()],
        counts={
            "households": sum(c.households for c in counts),
            "flagged": sum(c.flagged for c in counts),
            "due": sum(c.due for c in counts),
            "overdue": sum(c.overdue for c in counts),
        },
        rows=[_shown(r, lang) for r in rows],
        more=more,
        listed_limit=LISTED,
        masked=any(r.masked for r in rows),
        today=local_today().isoformat(),
    )


@bp.get("/households/<int:household_id>")
@requires(READ)
def household(household_id: int) -> str:
    """One household of the viewer's area with its visits, newest first (404 elsewhere)."""
    session = db.get_session()
    viewer = current_principal()
    found = household_detail(session, viewer, household_id)
    row = found.household
    community = session.execute(
        sa.select(Community.code, Community.name).where(Community.id == row.community_id)
    ).one()
    return render_template(
        "household.html",
        household=_shown(row, i18n.current_language()),
        community=community.code,
        community_name=community.name,
        visits=found.visits,
        masked=row.masked,
    )


def _communities(session: Session) -> list[tuple[str, str]]:
    """Every community (code, name) by code: office roles choose among them."""
    return [
        (code, name)
        for code, name in session.execute(
            sa.select(Community.code, Community.name).order_by(Community.code)
        )
    ]


def _filters(
    session: Session,
    viewer: Principal,
    args: MultiDict[str, str],
    communities: list[tuple[str, str]],
) -> tuple[Filters, list[tuple[str, str]]]:
    """The checked filters, and the grids to choose from (code, name).

    Raises:
        InvalidInput: A filter names nothing there is; the message says what to give.
    """
    show = args.get("show") or "due"
    if show not in SHOW:
        raise InvalidInput(
            i18n.gettext(
                "show must be 'due' (households due or overdue) or 'all' (every household); "
                "got {value}."
            ).format(value=repr(show[:ECHO]))
        )
    flag = args.get("flag") or ""
    if flag and flag not in CARE_FLAG_TERMS:
        raise InvalidInput(
            i18n.gettext("Unknown care flag {value}: give one of {flags}.").format(
                value=repr(flag[:ECHO]), flags=", ".join(CARE_FLAG_TERMS)
            )
        )
    if not communities:
        raise InvalidInput(NO_COMMUNITY)
    names = dict(communities)
    code = args.get("community") or _own_community(session, viewer) or communities[0][0]
    if code not in names:
        raise InvalidInput(
            i18n.gettext("There is no community {code}: choose one from the list.").format(
                code=repr(code[:ECHO])
            )
        )
    in_force = _grids(session, code)
    # Grid staff choose among their own grids; the domain keeps them to their area anyway.
    mine = None if viewer.scope is None else viewer.scope.grid_ids
    choices = [(c, n) for i, c, n in in_force if mine is None or i in mine]
    filters = Filters(community=code, community_name=names[code], show=show, flag=flag)
    grid = args.get("grid") or ""
    if grid:
        ids = {c: i for i, c, _ in in_force}
        if grid not in ids:
            raise InvalidInput(
                i18n.gettext(
                    "Community {community} has no grid {code} in force: choose one of its grids "
                    "({codes}) or every grid."
                ).format(
                    community=code,
                    code=repr(grid[:ECHO]),
                    codes=", ".join(c for _, c, _ in in_force) or "-",
                )
            )
        filters = replace(filters, grid_id=ids[grid], grid=grid)
    building = (args.get("building") or "").strip()
    if building:
        filters = replace(filters, building=building)
        filters = replace(filters, building_id=_building(session, filters))
    return filters, choices


def _own_community(session: Session, viewer: Principal) -> str | None:
    """A grid staff member's own community's code (None for office roles)."""
    if viewer.staff_id is None:
        return None
    return session.scalar(
        sa.select(Community.code)
        .join(Staff, Staff.community_id == Community.id)
        .where(Staff.id == viewer.staff_id)
    )


def _grids(session: Session, community: str) -> list[tuple[int, str, str]]:
    """The grids (id, code, name) of the layout in force in ``community``, by code."""
    return [
        (i, c, n)
        for i, c, n in session.execute(
            sa.select(Grid.id, Grid.code, Grid.name)
            .join(Layout, Layout.id == Grid.layout_id)
            .join(Community, Community.id == Layout.community_id)
            .where(Community.code == community, in_force_clause(clock.now()))
            .order_by(Grid.code)
        )
    ]


def _building(session: Session, filters: Filters) -> int:
    """The id of the filters' building (in their community, and grid when one is given).

    Raises:
        InvalidInput: No such building there; the message says what to check.
    """
    code = filters.building
    found = session.scalar(
        sa.select(Building.id)
        .join(Community, Community.id == Building.community_id)
        .where(Community.code == filters.community, Building.code == code)
    )
    if found is None:
        raise InvalidInput(
            i18n.gettext(
                "Community {community} has no building {code}: check the building's code, "
                "or leave it empty for every building."
            ).format(community=filters.community, code=repr(code[:ECHO]))
        )
    if filters.grid_id is not None:
        in_grid = session.scalar(
            sa.select(sa.func.count())
            .select_from(Building)
            .join(Grid, building_in_grid(Building, Grid))
            .where(Building.id == found, Grid.id == filters.grid_id)
        )
        if not in_grid:
            raise InvalidInput(
                i18n.gettext(
                    "Building {building} is not in grid {grid}: choose its grid or every grid."
                ).format(building=code, grid=filters.grid)
            )
    return int(found)


def _listed(session: Session, viewer: Principal, f: Filters) -> tuple[list[HouseholdRow], bool]:
    """The rows to list (at most :data:`LISTED`), and whether there were more.

    Building and care flag are the domain's filters too: the database narrows
    the rows (a care flag lists only households whose flags the viewer sees).
    """
    if f.show == "due":
        read = due_households(
            session,
            viewer,
            community=f.community,
            grid_id=f.grid_id,
            building_id=f.building_id,
            flag=f.flag or None,
            limit=LISTED + 1,
        )
    else:
        read = households_of(
            session,
            viewer,
            community=f.community,
            grid_id=f.grid_id,
            building_id=f.building_id,
            flag=f.flag or None,
            limit=LISTED + 1,
        )
    return read[:LISTED], len(read) > LISTED


def _shown(row: HouseholdRow, lang: str) -> dict[str, Any]:
    """A row as the templates print it: flags by name, times in the display zone."""
    return {
        "id": row.id,
        "code": row.code,
        "building": row.building_code,
        "building_name": row.building_name or "",
        "unit": row.unit_number or "",
        "room": row.room or "",
        "head_name": row.head_name,
        "phone": row.phone,
        "members": "" if row.members is None else row.members,
        "flags": [CARE_FLAG_TERMS[f].name(lang) for f in CARE_FLAG_TERMS if f in row.flags],
        "last_visit": i18n.local_time(row.last_visit_at) if row.last_visit_at else "",
        "due_on": row.due_on.isoformat() if row.due_on else "",
        "status": row.status,
        "status_text": _status(row),
        "overdue_days": row.overdue_days,
        "note": row.note,
        "masked": row.masked,
    }


def _status(row: HouseholdRow) -> str:
    """Where the household stands in the schedule, in words (— for one never due)."""
    if row.status == "overdue":
        if row.overdue_days == 1:
            return i18n.gettext("Overdue 1 day")
        return i18n.gettext("Overdue {days} days").format(days=row.overdue_days)
    if row.status == "due":
        return i18n.gettext("Due")
    if row.status == "not_due":
        return i18n.gettext("Not due")
    return "—"
