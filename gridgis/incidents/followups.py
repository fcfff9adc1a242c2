"""Incidents from the field: what a visit (走访) or a round (四进) finds becomes an incident.

Grid staff who find something to act on — a broken stair light on a round, a
resident who needs help on a visit — report it where it is: at a building or
a unit (its representative point, ``ST_PointOnSurface``, always inside it),
or at the phone's position. It goes in through the one intake
(:func:`gridgis.incidents.intake.take_in`) with channel ``visit``: routed,
its snapshot kept, its deadlines set, like any other incident.

This orchestration lives here, not in :mod:`gridgis.staff`, because staff
may not import incidents (the import direction); :func:`log_visit_with_follow_up`
logs the visit through :func:`gridgis.staff.visit_log.log_visit` and takes its
follow-up in, in one savepoint: a follow-up that cannot be taken in (an
unknown category, say) leaves neither the visit nor the incident behind.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.intake import Report, take_in
from gridgis.models import Building, Incident, Unit, Visit
from gridgis.staff.residents import household_for
from gridgis.staff.visit_log import attach_follow_up, check_text_field, log_visit

__all__ = ["MAX_FOLLOW_UP", "incident_from_field", "log_visit_with_follow_up"]

#: Longest follow-up or field description kept (the same bound as a visit's findings).
MAX_FOLLOW_UP = 4000


def incident_from_field(
    session: Session,
    *,
    actor: Principal,
    description: str,
    building_id: int | None = None,
    unit_id: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
    crs: str | int | None = "EPSG:4326",
    category: str | None = None,
    reported_at: dt.datetime | None = None,
) -> Incident:
    """Take in what a staff member found in the field as an incident (channel ``visit``).

    The place is a unit, a building (the unit's or building's representative
    point) or a point (``lon``/``lat`` in ``crs``: WGS-84 as a phone gives it,
    or ``gcj02``/``bd09``/an EPSG code). Flushed, never committed.

    Args:
        session: Where to write.
        actor: Who found it; needs ``incidents:report``. Grid staff may name
            only a building or unit of their own area (another one is "not
            found", as if it did not exist); a point may be anywhere, as a
            report from any channel may.
        description: What was found (required, at most :data:`MAX_FOLLOW_UP`
            characters).
        building_id: The building where it was found.
        unit_id: The unit (of ``building_id``, when both are given).
        lon: The point's longitude, instead of a building or unit.
        lat: The point's latitude.
        crs: The CRS of ``lon``/``lat``.
        category: A category code (None: the dispatcher classifies it).
        reported_at: When it was found (default: now).

    Returns:
        The incident, routed and stored as ``received``.

    Raises:
        Forbidden: The actor may not report incidents.
        NotFound: No such building or unit (or not in the actor's area).
        InvalidInput: No description or place, both a place and a point, or
            what intake refuses (an unknown category, a time in the future).
        OutsideCoverage: A point outside every community gridgis covers.
    """
    actor.require("incidents:report")
    text = check_text_field(description, "description", MAX_FOLLOW_UP, required=True)
    has_point = lon is not None or lat is not None
    if has_point and (building_id is not None or unit_id is not None):
        raise InvalidInput("Give the place as a building or unit, or as a point, not both.")
    if has_point:
        report_crs = crs
    elif building_id is not None or unit_id is not None:
        lon, lat = _representative_point(session, actor, building_id, unit_id)
        report_crs = "EPSG:4326"
    else:
        raise InvalidInput("Give the place of what was found: a building, a unit or a point.")
    report = Report(
        channel="visit",
        category=category or None,
        description=text,
        lon=lon,
        lat=lat,
        crs=report_crs,
        reported_at=reported_at,
    )
    return take_in(session, report, actor=actor).incident


def log_visit_with_follow_up(
    session: Session,
    household_id: int,
    *,
    actor: Principal,
    visited_at: dt.datetime,
    findings: str,
    follow_up: str | None = None,
    category: str | None = None,
    staff_id: int | None = None,
) -> Visit:
    """Log a visit to a household; a follow-up becomes an incident routed like any other.

    The visit is logged by :func:`gridgis.staff.visit_log.log_visit` (who may,
    when, what). With a ``follow_up``, an incident is taken in at the
    household's unit (or building) with the follow-up as its description and
    the visitor as its actor, and the visit points to it. All in one
    savepoint: when any part is refused, nothing of it is stored and the
    caller's session is as it was. Flushed, never committed.

    Args:
        session: Where to write.
        household_id: The household visited.
        actor: Who logs it (grid staff of the household's area, or an administrator).
        visited_at: When the visit took place (with its time zone).
        findings: What was found (required).
        follow_up: What must follow (optional): becomes an incident.
        category: The follow-up's category code (optional).
        staff_id: Administrators: the staff member who visited.

    Returns:
        The visit, with ``incident_id`` set when a follow-up was taken in.
    """
    text = check_text_field(follow_up, "follow-up", MAX_FOLLOW_UP, required=False)
    if category and not text:
        raise InvalidInput("A category is for a follow-up: describe what must follow, too.")
    with session.begin_nested():
        visit = log_visit(
            session,
            household_id,
            actor=actor,
            visited_at=visited_at,
            findings=findings,
            staff_id=staff_id,
        )
        if text:
            household = household_for(session, household_id)
            incident = incident_from_field(
                session,
                actor=actor,
                description=text,
                building_id=household.building_id,
                unit_id=household.unit_id,
                category=category,
            )
            attach_follow_up(session, visit, text, incident.id, actor=actor)
    return visit


def _representative_point(
    session: Session, actor: Principal, building_id: int | None, unit_id: int | None
) -> tuple[float, float]:
    """The unit's (else the building's) point on its surface, as lon/lat."""
    if unit_id is not None:
        row = session.execute(
            sa.select(
                Unit.building_id,
                sa.func.ST_X(sa.func.ST_PointOnSurface(Unit.geom)),
                sa.func.ST_Y(sa.func.ST_PointOnSurface(Unit.geom)),
            ).where(Unit.id == unit_id)
        ).one_or_none()
        wrong_building = row is not None and building_id is not None and row[0] != building_id
        if row is None or wrong_building or not _holds(actor, row[0], unit_id):
            where = f" in building {building_id}" if building_id is not None else ""
            raise NotFound(f"No unit {unit_id}{where}.")
        return float(row[1]), float(row[2])
    point = session.execute(
        sa.select(
            sa.func.ST_X(sa.func.ST_PointOnSurface(Building.geom)),
            sa.func.ST_Y(sa.func.ST_PointOnSurface(Building.geom)),
        ).where(Building.id == building_id)
    ).one_or_none()
    if point is None or not _holds(actor, building_id, None):
        raise NotFound(f"No building {building_id}.")
    return float(point[0]), float(point[1])


def _holds(actor: Principal, building_id: int | None, unit_id: int | None) -> bool:
    """Whether the place is the actor's to name (grid staff: their area; others: any)."""
    return actor.scope is None or actor.scope.holds(None, building_id, unit_id)
