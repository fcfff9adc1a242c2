"""Reading rounds ("四进"): which rounds a viewer may read, and the listing of them.

Those who log rounds (``rounds:write``) and those who read the monthly report
(``reports:read``) read rounds: administrators and dispatchers all of them,
grid staff those of their area (its grids and buildings) and the ones they
took part in (:func:`rounds_clause`, the one rule, also used by the report).
Participants are named as the privacy rule allows for the viewer
(:func:`gridgis.staff.people.people_shown_to`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.models import (
    ROUND_KIND_TERMS,
    Building,
    Community,
    Compound,
    Grid,
    Round,
    RoundIncident,
    RoundParticipant,
)
from gridgis.staff.people import Person, people_shown_to

#: Most rounds one listing returns (newest first).
MAX_LISTED = 1000


@dataclass(frozen=True)
class RoundEntry:
    """One round as a listing shows it: place by code, participants as the viewer may see them."""

    id: int
    kind: str
    started_at: dt.datetime
    community: str
    grid: str | None
    grid_name: str | None
    compound: str | None
    building: str | None
    household_id: int | None
    others: str | None
    findings: str
    logged_by: str
    participants: tuple[Person, ...]
    incidents: tuple[int, ...]

    def kind_name(self, lang: str = "zh") -> str:
        return ROUND_KIND_TERMS[self.kind].name(lang)


def may_read_rounds(viewer: Principal) -> bool:
    """Whether ``viewer`` reads rounds at all: those who log them and those who read reports."""
    return viewer.can("rounds:write") or viewer.can("reports:read")


def rounds_clause(viewer: Principal) -> sa.ColumnElement[bool]:
    """The rounds ``viewer`` may read, as a clause: all, or their area's and their own.

    Grid staff read the rounds in their area (its grids, and its buildings:
    a building or unit head's) and the rounds they took part in.
    """
    if not may_read_rounds(viewer):
        return sa.false()
    scope = viewer.scope
    if scope is None:
        return sa.true()
    taken_part = sa.select(RoundParticipant.round_id).where(
        RoundParticipant.staff_id == (viewer.staff_id or 0)
    )
    return sa.or_(
        Round.grid_id.in_(sorted(scope.grid_ids)),
        Round.building_id.in_(sorted(scope.building_ids)),
        Round.id.in_(taken_part),
    )


def rounds_of(
    session: Session,
    viewer: Principal,
    *,
    community: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    grid: str | None = None,
    kind: str | None = None,
    limit: int = MAX_LISTED,
) -> list[RoundEntry]:
    """The rounds ``viewer`` may read, newest first (three statements, whatever the number).

    Args:
        session: Where to read.
        viewer: Who asks (grid staff: their area's and their own).
        community: Only this community's (its code).
        since, until: Only rounds started in ``[since, until)`` (a month:
            :func:`gridgis.reports.monthly.month_window`).
        grid: Only this grid's (its code).
        kind: Only this kind.
        limit: At most this many (1 to :data:`MAX_LISTED`).

    Raises:
        Forbidden: The viewer reads no rounds.
        InvalidInput: An unknown kind or a limit out of range.
        NotFound: No community with that code.
    """
    if not may_read_rounds(viewer):
        raise Forbidden("Your role does not allow reading rounds.")
    if kind is not None and kind not in ROUND_KIND_TERMS:
        raise InvalidInput(f"kind must be one of {', '.join(ROUND_KIND_TERMS)}; got {kind!r}.")
    if not 1 <= limit <= MAX_LISTED:
        raise InvalidInput(f"The limit must be between 1 and {MAX_LISTED} (got {limit}).")
    query = (
        sa.select(Round, Community.code, Grid.code, Grid.name, Compound.code, Building.code)
        .join(Community, Community.id == Round.community_id)
        .outerjoin(Grid, Grid.id == Round.grid_id)
        .outerjoin(Compound, Compound.id == Round.compound_id)
        .outerjoin(Building, Building.id == Round.building_id)
        .where(rounds_clause(viewer))
    )
    if community is not None:
        if session.scalar(sa.select(Community.id).where(Community.code == community)) is None:
            raise NotFound(f"No community with code {community!r}.")
        query = query.where(Community.code == community)
    if since is not None:
        query = query.where(Round.started_at >= since)
    if until is not None:
        query = query.where(Round.started_at < until)
    if grid is not None:
        query = query.where(Grid.code == grid)
    if kind is not None:
        query = query.where(Round.kind == kind)
    rows = session.execute(query.order_by(Round.started_at.desc(), Round.id.desc()).limit(limit))
    found = list(rows)
    ids = [r[0].id for r in found]
    taking_part: dict[int, list[int]] = {}
    for round_id, staff_id in session.execute(
        sa.select(RoundParticipant.round_id, RoundParticipant.staff_id)
        .where(RoundParticipant.round_id.in_(ids))
        .order_by(RoundParticipant.staff_id)
    ):
        taking_part.setdefault(round_id, []).append(staff_id)
    incidents: dict[int, list[int]] = {}
    for round_id, incident_id in session.execute(
        sa.select(RoundIncident.round_id, RoundIncident.incident_id)
        .where(RoundIncident.round_id.in_(ids))
        .order_by(RoundIncident.incident_id)
    ):
        incidents.setdefault(round_id, []).append(incident_id)
    people = people_shown_to(session, viewer, (s for v in taking_part.values() for s in v))
    return [
        RoundEntry(
            id=r.id,
            kind=r.kind,
            started_at=r.started_at,
            community=community_code,
            grid=grid_code,
            grid_name=grid_name,
            compound=compound_code,
            building=building_code,
            household_id=r.household_id,
            others=r.others,
            findings=r.findings,
            logged_by=r.logged_by,
            participants=tuple(people[s] for s in taking_part.get(r.id, [])),
            incidents=tuple(incidents.get(r.id, [])),
        )
        for r, community_code, grid_code, grid_name, compound_code, building_code in found
    ]
