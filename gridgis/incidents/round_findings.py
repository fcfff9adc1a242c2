"""A round's finding becomes an incident (四进: "a finding can become an incident").

A round (:mod:`gridgis.staff.rounds`) often turns up work for someone: a
blocked fire lane on a grid inventory round, a leaking pipe on a home-help
round; a request-collection round may bring many. Each such finding goes in
through :func:`gridgis.incidents.followups.incident_from_field` (channel
``visit``, routed like any other report) and is linked to its round
(``round_incident``), in one savepoint of the caller's unit of work: a finding
that cannot be taken in leaves neither the incident nor the link behind.

It lives here, not in :mod:`gridgis.staff`, because staff may not import
incidents (the import direction).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.followups import incident_from_field
from gridgis.models import Household, Incident, Round, RoundIncident
from gridgis.staff.round_listing import rounds_clause

__all__ = ["incident_from_round"]


def incident_from_round(
    session: Session,
    round_id: int,
    *,
    actor: Principal,
    description: str,
    category: str | None = None,
    building_id: int | None = None,
    unit_id: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
    crs: str = "EPSG:4326",
    reported_at: dt.datetime | None = None,
) -> Incident:
    """Take in one finding of round ``round_id`` as an incident, linked to the round.

    Where it is: the building, unit or point given; else the round's own
    place — its household's unit (or building), its building, its position.
    A round logged only by grid or compound needs the finding's place.
    Flushed, never committed.

    Args:
        session: The unit of work.
        round_id: The round the finding came from.
        actor: Who reports it: ``rounds:write`` (to add to the round) and
            ``incidents:report``; grid staff only for rounds of their area.
        description: What was found (required).
        category: A category code (None: the dispatcher classifies it).
        building_id, unit_id, lon, lat, crs: Where, when not the round's place.
        reported_at: When it was found (default: now).

    Raises:
        Forbidden: The actor may not log rounds or report incidents.
        NotFound: No such round (or not one the actor may read), building or unit.
        InvalidInput: No place to be found, or what intake refuses.
    """
    actor.require("rounds:write")
    found = session.scalar(sa.select(Round).where(Round.id == round_id, rounds_clause(actor)))
    if found is None:
        raise NotFound(f"No round {round_id}.")
    given = any(v is not None for v in (building_id, unit_id, lon, lat))
    if not given:
        building_id, unit_id, lon, lat = _round_place(session, found)
    with session.begin_nested():
        incident = incident_from_field(
            session,
            actor=actor,
            description=description,
            building_id=building_id,
            unit_id=unit_id,
            lon=lon,
            lat=lat,
            crs=crs,
            category=category,
            reported_at=reported_at,
        )
        session.add(RoundIncident(round_id=found.id, incident_id=incident.id))
        session.flush()
        audit.record(
            session, actor, "add_incident", "round", found.id, after={"incident_id": incident.id}
        )
    return incident


def _round_place(
    session: Session, found: Round
) -> tuple[int | None, int | None, float | None, float | None]:
    """(building, unit, lon, lat) of the round's own place, the most precise first."""
    if found.household_id is not None:
        household = session.get(Household, found.household_id)
        if household is not None:
            return household.building_id, household.unit_id, None, None
    if found.building_id is not None:
        return found.building_id, None, None, None
    if found.geom is not None:
        lon, lat = session.execute(
            sa.select(sa.func.ST_X(Round.geom), sa.func.ST_Y(Round.geom)).where(
                Round.id == found.id
            )
        ).one()
        return None, None, float(lon), float(lat)
    raise InvalidInput(
        f"Round {found.id} was logged by its grid or compound only: say where the finding is "
        "(a building, a unit or a position)."
    )
