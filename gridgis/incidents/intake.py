"""Taking an incident in: locate it, route it, keep the routing snapshot, set its deadlines.

Every channel comes through :func:`take_in`: the console (a click on the map,
coordinates in any CRS including ``gcj02``/``bd09``, or an address), Open311,
``POST /api/v1/incidents`` and hotline work-order files. A report the
channel has already delivered (same channel and external id: the hotline's
work-order number) is not taken in twice: the first incident is returned.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput, OutsideCoverage
from gridgis.incidents import deadlines
from gridgis.incidents.duplicates import nearby_open
from gridgis.incidents.history import append_event
from gridgis.models import CHANNELS, SRID, Category, Incident, IncidentReporter
from gridgis.routing.addresses import route_address
from gridgis.routing.points import check_text, route_point
from gridgis.routing.results import RoutingResult

#: Longest description kept (a 12345 诉求内容 is a few hundred characters).
MAX_DESCRIPTION = 10_000


@dataclass(frozen=True)
class Report:
    """What a channel delivers: where, what, who, when.

    Give ``lon``/``lat`` (in ``crs``: an EPSG code, ``gcj02`` or ``bd09``) or
    an ``address``; with both, the point locates and the address is kept.
    """

    channel: str
    category: str | None = None
    description: str = ""
    lon: float | None = None
    lat: float | None = None
    crs: str | int | None = "EPSG:4326"
    address: str | None = None
    reported_at: dt.datetime | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_id: str | None = None
    #: The channel's own classification, kept as it came (问题分类).
    source_category: str | None = None


@dataclass
class Intake:
    """The incident taken in (or found again), and what the dispatcher should look at."""

    incident: Incident
    created: bool
    result: RoutingResult | None = None
    duplicates: list[Incident] = field(default_factory=list)


def take_in(session: Session, report: Report, *, actor: Principal) -> Intake:
    """Locate, route and store a report as a ``received`` incident (flushed, not committed).

    Raises:
        InvalidInput: An unknown channel or category, no location, a bad
            coordinate or time, an address that matches no building (or
            several: the candidates are named).
        OutsideCoverage: The place lies outside every community gridgis covers.
    """
    _check(report)
    if report.external_id:
        earlier = session.scalar(
            sa.select(Incident).where(
                Incident.channel == report.channel, Incident.external_id == report.external_id
            )
        )
        if earlier is not None:
            return Intake(earlier, created=False)
    category = _category(session, report.category)
    reported_at = report.reported_at or clock.now()
    result = _locate(session, report, category, reported_at)
    incident = Incident(
        token=str(uuid.uuid4()),
        status="received",
        channel=report.channel,
        external_id=report.external_id or None,
        category_id=category.id if category else None,
        source_category=(report.source_category or None),
        description=(report.description or "").strip()[:MAX_DESCRIPTION],
        address=(report.address or result.matched_address or result.address or None),
        geom=from_shape(Point(result.lon, result.lat), srid=SRID)
        if result.lon is not None and result.lat is not None
        else None,
        input_crs=str(report.crs) if report.lon is not None else None,
        input_lon=report.lon,
        input_lat=report.lat,
        reported_at=reported_at,
        created_by=actor.audit_name,
        community_id=result.community_id,
        layout_id=result.layout_id,
        grid_id=result.grid_id,
        building_id=result.building_id,
        unit_id=result.unit_id,
        rule=result.rule,
        routing=result.snapshot(),
        handled_by_id=actor.user_id if actor.role == "dispatcher" else None,
        updated_at=clock.now(),
    )
    if category is not None:
        incident.response_due_at = deadlines.due(
            reported_at, category.response_hours, category.deadline_basis
        ).at
        incident.resolution_due_at = deadlines.due(
            reported_at, category.resolution_hours, category.deadline_basis
        ).at
    session.add(incident)
    session.flush()
    if report.reporter_name or report.reporter_phone:
        session.add(
            IncidentReporter(
                incident_id=incident.id,
                name=(report.reporter_name or "").strip()[:100] or None,
                phone=(report.reporter_phone or "").strip()[:32] or None,
            )
        )
    append_event(
        session,
        incident,
        actor,
        "take_in",
        None,
        "received",
        data={"channel": report.channel, "rule": result.rule, "category": report.category},
    )
    duplicates = nearby_open(session, incident) if incident.geom is not None else []
    return Intake(incident, created=True, result=result, duplicates=duplicates)


def _check(report: Report) -> None:
    if report.channel not in CHANNELS:
        raise InvalidInput(
            f"Unknown channel {report.channel!r}; the channels are {', '.join(CHANNELS)}."
        )
    for value, what in (
        (report.description, "description"),
        (report.address, "address"),
        (report.reporter_name, "reporter's name"),
        (report.reporter_phone, "reporter's phone"),
        (report.external_id, "external id"),
        (report.source_category, "source category"),
    ):
        check_text(value, what)
    if report.external_id is not None and len(report.external_id) > 64:
        raise InvalidInput("The external id is longer than 64 characters.")
    if report.reported_at is not None:
        clock.require_aware(report.reported_at, "the report's time")
        if report.reported_at > clock.now() + dt.timedelta(minutes=5):
            raise InvalidInput(
                f"The report's time {clock.show(report.reported_at)} is in the future."
            )


def _category(session: Session, code: str | None) -> Category | None:
    if not code:
        return None  # unclassified: for the dispatcher to classify
    category = session.scalar(sa.select(Category).where(Category.code == code))
    if category is None:
        known = session.scalars(sa.select(Category.code).order_by(Category.code)).all()
        raise InvalidInput(
            f"Unknown category {code!r}; the categories are: {', '.join(known) or 'none loaded'}."
        )
    return category


def _locate(
    session: Session, report: Report, category: Category | None, at: dt.datetime
) -> RoutingResult:
    code = category.code if category else None
    if report.lon is not None or report.lat is not None:
        lon, lat = _coordinate(report.lon, "longitude"), _coordinate(report.lat, "latitude")
        result = route_point(session, lon, lat, crs=report.crs, category=code, at=at)
    elif report.address and report.address.strip():
        result = route_address(session, report.address, category=code, at=at)
        if result.rule == "ambiguous_address":
            names = "; ".join(str(c["address"] or c["name"]) for c in result.candidates[:5])
            raise InvalidInput(
                f"The address {report.address!r} "
                + (
                    f"matches several buildings ({names}); give a fuller address or the point."
                    if result.candidates
                    else "matches no building; give the point (click the map) or a fuller address."
                )
            )
    else:
        raise InvalidInput("Give the incident's place: lon and lat, or an address.")
    if result.rule == "outside_coverage":
        raise OutsideCoverage(
            "The place is outside every community gridgis covers; it cannot be taken in here."
        )
    if result.rule == "invalid_location":
        raise InvalidInput(f"The place cannot be located: {result.reason}.")
    return result


def _coordinate(value: float | None, what: str) -> float:
    if value is None:
        raise InvalidInput(f"The {what} is missing: give both lon and lat.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"The {what} {value!r} is not a finite number.")
    return number
