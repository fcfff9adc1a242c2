"""The monthly report's staff table: one row per staff member, from their posts.

A person's own figures are what they did: visits they logged, incidents
their account took in or reported done, rounds they took part in. Their
area's figures are those of the places they answer for — the grid of a grid
worker, part-time worker or volunteer, the building of a building head, the
unit of a unit head — so they repeat across a grid's staff and do not add up
(:data:`gridgis.reports.columns.DEFINITIONS`, ``staff_area``). Names are
shown as the privacy rule allows for the viewer
(:func:`gridgis.staff.people.people_shown_to`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis.geo.areas import building_grid
from gridgis.incidents.breaches import breached_at
from gridgis.incidents.views import visible_to
from gridgis.models import (
    Assignment,
    Building,
    Household,
    Incident,
    IncidentEvent,
    RoundParticipant,
    Staff,
    Unit,
    User,
    Visit,
)
from gridgis.models.roles import STAFF_ROLE_TERMS
from gridgis.reports.columns import ROUND_COLUMNS
from gridgis.reports.figures import HANDLING, Context, households_of, rounds_by, visit_sums
from gridgis.staff.people import people_shown_to
from gridgis.staff.residents import in_area


def _posts(ctx: Context) -> Any:
    """Each assignment of the community's staff, with the grid its place belongs to."""
    unit_building = sa.select(Unit.building_id).where(Unit.id == Assignment.unit_id)
    building_of_post = sa.func.coalesce(Assignment.building_id, unit_building.scalar_subquery())
    grid_of_post = sa.func.coalesce(
        Assignment.grid_id,
        building_grid(Building.geom, ctx.layout_id) if ctx.layout_id is not None else sa.null(),
    )
    return (
        sa.select(
            Assignment.staff_id,
            Assignment.role,
            Assignment.grid_id,
            Assignment.building_id,
            Assignment.unit_id,
            grid_of_post.label("post_grid"),
        )
        .join(Staff, Staff.id == Assignment.staff_id)
        .outerjoin(Building, Building.id == building_of_post)
        .where(Staff.community_id == ctx.community_id)
        .subquery("posts")
    )


def _in_post(posts: Any, grid_id: Any, building_id: Any, unit_id: Any) -> ColumnElement[bool]:
    """A place is a post's: in its grid, its building or its unit."""
    return sa.or_(
        posts.c.grid_id == grid_id, posts.c.building_id == building_id, posts.c.unit_id == unit_id
    )


def staff_rows(
    session: Session, ctx: Context, grids: set[int] | None, names: dict[int, str]
) -> list[dict[str, Any]]:
    """One row per staff member with a post (in ``grids``; None: all), and the viewer.

    ``names``: grid codes by id.
    """
    posts = _posts(ctx)
    people: dict[int, dict[str, Any]] = {}
    for staff_id, role, post_grid in session.execute(
        sa.select(posts.c.staff_id, posts.c.role, posts.c.post_grid).order_by(posts.c.staff_id)
    ):
        person = people.setdefault(staff_id, {"roles": [], "grid_ids": set()})
        if role not in person["roles"]:
            person["roles"].append(role)
        if post_grid is not None:
            person["grid_ids"].add(post_grid)
    keep = {
        s
        for s, p in people.items()
        if grids is None or p["grid_ids"] & grids or s == ctx.viewer.staff_id
    }
    if not keep:
        return []
    figures: dict[int, dict[str, Any]] = {s: {} for s in keep}
    for found in (
        _staff_visits(session, ctx),
        _staff_area(session, ctx, posts),
        _staff_incidents(session, ctx, posts),
        rounds_by(session, ctx, RoundParticipant.staff_id),
    ):
        for staff_id, values in found.items():
            if staff_id in figures:
                figures[staff_id].update(values)
    shown = people_shown_to(session, ctx.viewer, keep)
    rows = []
    for staff_id in sorted(keep, key=lambda s: shown[s].code):
        person, values = people[staff_id], figures[staff_id]
        rows.append(
            {
                "staff_id": staff_id,
                "staff": shown[staff_id].code,
                "name": shown[staff_id].name,
                "masked": shown[staff_id].masked,
                "roles": person["roles"],
                "grids": sorted(names[g] for g in person["grid_ids"] if g in names),
                **{c: values.get(c, 0) for c in _STAFF_COUNTS},
            }
        )
    return rows


_STAFF_COUNTS = (
    "visits_logged",
    "households_visited",
    "households",
    "visits_required",
    "visits_done",
    "never_visited",
    "reported",
    "reported_visit",
    "handled",
    "overdue",
    *ROUND_COLUMNS,
    "rounds",
)


def _staff_visits(session: Session, ctx: Context) -> dict[Any, dict[str, int]]:
    """The visits each person logged in the month (in the viewer's area)."""
    query = (
        sa.select(
            Visit.staff_id,
            sa.func.count(),
            sa.func.count(sa.distinct(Visit.household_id)),
        )
        .join(Household, Household.id == Visit.household_id)
        .where(
            Household.community_id == ctx.community_id,
            in_area(ctx.viewer),
            ctx.in_month(Visit.visited_at),
            Visit.staff_id.is_not(None),
        )
        .group_by(Visit.staff_id)
    )
    return {s: {"visits_logged": n, "households_visited": h} for s, n, h in session.execute(query)}


def _staff_area(session: Session, ctx: Context, posts: Any) -> dict[int, dict[str, int]]:
    """Households, visits due and done, never visited, of the places each person answers for."""
    rows = households_of(ctx)
    pairs = (
        sa.select(
            posts.c.staff_id,
            rows.c.household_id,
            rows.c.required,
            rows.c.counted,
            rows.c.never_visited,
        )
        .distinct()
        .join(posts, _in_post(posts, rows.c.grid_id, rows.c.building_id, rows.c.unit_id))
        .subquery("pairs")
    )
    query = sa.select(pairs.c.staff_id, *visit_sums(pairs)).group_by(pairs.c.staff_id)
    return {
        r.staff_id: {
            "households": r.households,
            "visits_required": int(r.visits_required),
            "visits_done": int(r.visits_done),
            "never_visited": r.never_visited,
        }
        for r in session.execute(query)
    }


def _staff_incidents(session: Session, ctx: Context, posts: Any) -> dict[Any, dict[str, int]]:
    """Incidents each person took in or reported done, and the overdue ones of their places."""
    found: dict[Any, dict[str, int]] = {}
    mine = visible_to(ctx.viewer)
    base = sa.and_(Incident.community_id == ctx.community_id, mine)
    account = sa.literal("user:") + User.username
    reported = ctx.in_month(Incident.reported_at)
    for staff_id, n, visit in session.execute(
        sa.select(
            User.staff_id,
            sa.func.count(),
            sa.func.count().filter(Incident.channel == "visit"),
        )
        .join(User, Incident.created_by == account)
        .where(base, reported, User.staff_id.is_not(None))
        .group_by(User.staff_id)
    ):
        found.setdefault(staff_id, {}).update(reported=n, reported_visit=visit)
    for staff_id, n in session.execute(
        sa.select(User.staff_id, sa.func.count(sa.distinct(IncidentEvent.incident_id)))
        .select_from(IncidentEvent)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .join(User, IncidentEvent.actor == account)
        .where(
            base,
            IncidentEvent.action.in_(HANDLING),
            ctx.in_month(IncidentEvent.at),
            User.staff_id.is_not(None),
        )
        .group_by(User.staff_id)
    ):
        found.setdefault(staff_id, {})["handled"] = n
    for staff_id, n in session.execute(
        sa.select(posts.c.staff_id, sa.func.count(sa.distinct(Incident.id)))
        .join(posts, _in_post(posts, Incident.grid_id, Incident.building_id, Incident.unit_id))
        .where(base, breached_at("any", ctx.as_of))
        .group_by(posts.c.staff_id)
    ):
        found.setdefault(staff_id, {})["overdue"] = n
    return found


def role_names(codes: Iterable[str], lang: str = "zh") -> str:
    """Role codes as people read them, joined (``专职网格员、楼栋长``)."""
    return ("、" if lang != "en" else ", ").join(STAFF_ROLE_TERMS[c].name(lang) for c in codes)
