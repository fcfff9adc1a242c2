"""Logging a visit (走访) to a household: who may, when, what was found.

A visit is logged by the grid staff whose area holds the household (their
own visit) or by an administrator (for a named staff member, or for no one
in particular); dispatchers read households but do not log visits. Visits
kept elsewhere (the demo's weeks of history) are logged many at once by
:func:`log_visits`, under the same checks, all or nothing. A
follow-up that must become an incident is taken in by
:func:`gridgis.incidents.followups.log_visit_with_follow_up`, which calls
:func:`log_visit` and then :func:`attach_follow_up` in one savepoint (staff
may not import incidents). Every write is audited with ids and codes only:
visits speak of residents, and the audit log is not theirs to read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import InvalidInput, capped
from gridgis.models import Household, Staff, Visit
from gridgis.staff.residents import WRITE, holds, household_for

#: A visit logged a little ahead of the server's clock is accepted (a phone's clock runs fast).
FUTURE_LEEWAY = dt.timedelta(minutes=5)
#: Longest findings kept (a page of notes).
MAX_FINDINGS = 4000


@overload
def check_text_field(
    value: str | None, what: str, most: int, *, required: Literal[True]
) -> str: ...
@overload
def check_text_field(value: str | None, what: str, most: int, *, required: bool) -> str | None: ...
def check_text_field(value: str | None, what: str, most: int, *, required: bool) -> str | None:
    """``value`` stripped, or None when blank; refused when required and blank, too long, or NUL.

    Raises:
        InvalidInput: Saying which field and what to fix.
    """
    text = (value or "").strip()
    if "\x00" in text:
        raise InvalidInput(f"The {what} contains a NUL character (\\0); remove it.")
    if len(text) > most:
        raise InvalidInput(f"The {what} is {len(text)} characters long; keep it to {most}.")
    if not text:
        if required:
            raise InvalidInput(f"Write the {what}: what was found or done.")
        return None
    return text


def log_visit(
    session: Session,
    household_id: int,
    *,
    actor: Principal,
    visited_at: dt.datetime,
    findings: str,
    staff_id: int | None = None,
) -> Visit:
    """Log a visit to a household (flushed and audited, never committed).

    Args:
        session: Where to write.
        household_id: The household visited.
        actor: Who logs it: grid staff whose area holds the household (the
            visit is theirs), or an administrator (``visits:write``).
        visited_at: When the visit took place, with its time zone: not in
            the future (:data:`FUTURE_LEEWAY` allowed), not before the
            household was registered.
        findings: What was found (required, at most :data:`MAX_FINDINGS` characters).
        staff_id: Administrators: the staff member who visited (of the
            household's community). Grid staff: their own id or None.

    Returns:
        The visit.

    Raises:
        Forbidden: The actor may not log visits, or grid staff name someone else.
        NotFound: No such household, or one outside the actor's area (the same answer).
        InvalidInput: A time without a zone, in the future or before the
            household was registered; no findings or too long; an unknown staff member.
    """
    actor.require(WRITE)
    household = household_for(session, household_id, actor)
    _check_time(household, visited_at)
    text = check_text_field(findings, "findings", MAX_FINDINGS, required=True)
    visitor = _visitor(session, actor, household, staff_id)
    visit = Visit(
        household_id=household.id,
        visited_at=visited_at,
        staff_id=visitor,
        findings=text,
        logged_by=actor.audit_name,
        logged_at=clock.now(),
    )
    session.add(visit)
    session.flush()
    audit.record(
        session,
        actor,
        "log",
        "visit",
        visit.id,
        after={
            "household_id": household.id,
            "household": household.code,
            "staff_id": visitor,
            "visited_at": visited_at,
        },
    )
    return visit


def attach_follow_up(
    session: Session, visit: Visit, follow_up: str, incident_id: int, *, actor: Principal
) -> Visit:
    """Record that the visit's follow-up became incident ``incident_id`` (flushed, audited)."""
    visit.follow_up = follow_up
    visit.incident_id = incident_id
    session.flush()
    audit.record(session, actor, "follow_up", "visit", visit.id, after={"incident_id": incident_id})
    return visit


def _check_time(household: Household, visited_at: dt.datetime) -> None:
    clock.require_aware(visited_at, "the visit's time")
    if visited_at > clock.now() + FUTURE_LEEWAY:
        raise InvalidInput(
            f"The visit's time {clock.show(visited_at)} is in the future; give when it took place."
        )
    if visited_at < household.created_at:
        raise InvalidInput(
            f"The visit's time {clock.show(visited_at)} is before household {household.code} "
            f"was registered ({clock.show(household.created_at)}); check the date."
        )


def _visitor(
    session: Session, actor: Principal, household: Household, staff_id: int | None
) -> int | None:
    """The staff member who visited: grid staff themselves; for others, the one named."""
    if actor.role == "grid_staff":
        if staff_id is not None and staff_id != actor.staff_id:
            raise Forbidden("Grid staff log their own visits; log in as the one who visited.")
        return actor.staff_id
    if staff_id is None:
        return actor.staff_id
    known = session.scalar(
        sa.select(Staff.id).where(
            Staff.id == staff_id, Staff.community_id == household.community_id
        )
    )
    if known is None:
        raise InvalidInput(
            f"No staff member {staff_id} in the household's community; name who visited."
        )
    return known


@dataclass(frozen=True)
class PastVisit:
    """A visit kept elsewhere, to log with others (:func:`log_visits`)."""

    household_id: int
    visited_at: dt.datetime
    findings: str
    staff_id: int | None = None


def log_visits(session: Session, visits: Sequence[PastVisit], *, actor: Principal) -> int:
    """Log many visits at once, all or nothing: the checks of :func:`log_visit`, one audit entry.

    For administrators (and the command line) loading visits kept elsewhere;
    every problem is listed (by position in ``visits``) and nothing is
    stored when any visit is refused. Returns how many were logged.

    Raises:
        Forbidden: The actor may not log visits, or is grid staff (they log their own, one by one).
        InvalidInput: Any visit refused, each named with its reason.
    """
    actor.require(WRITE)
    if actor.scope is not None or actor.role == "grid_staff":
        raise Forbidden("Grid staff log their own visits one by one; ask an administrator.")
    wanted = sorted({v.household_id for v in visits})
    homes = {h.id: h for h in session.scalars(sa.select(Household).where(Household.id.in_(wanted)))}
    staff = {
        id_: community
        for id_, community in session.execute(
            sa.select(Staff.id, Staff.community_id).where(
                Staff.id.in_(sorted({v.staff_id for v in visits if v.staff_id is not None}))
            )
        )
    }
    problems: list[str] = []
    rows = []
    now = clock.now()
    for n, v in enumerate(visits, start=1):
        home = homes.get(v.household_id)
        try:
            if home is None or not holds(actor, home.building_id, home.unit_id):
                raise InvalidInput(f"No household {v.household_id}.")
            _check_time(home, v.visited_at)
            text = check_text_field(v.findings, "findings", MAX_FINDINGS, required=True)
            if v.staff_id is not None and staff.get(v.staff_id) != home.community_id:
                raise InvalidInput(f"No staff member {v.staff_id} in the household's community.")
        except InvalidInput as exc:
            problems.append(f"visit {n}: {exc.user_msg}")
            continue
        rows.append(
            {
                "household_id": home.id,
                "visited_at": v.visited_at,
                "staff_id": v.staff_id,
                "findings": text,
                "logged_by": actor.audit_name,
                "logged_at": now,
            }
        )
    if problems:
        raise InvalidInput(
            f"{len(problems)} of {len(visits)} visits were refused, so none was logged.",
            details=capped(problems),
        )
    if rows:
        session.execute(sa.insert(Visit), rows)
    audit.record(
        session,
        actor,
        "log_many",
        "visit",
        None,
        after={"count": len(rows), "households": len(homes)},
    )
    return len(rows)
