"""What a report is, what it must be, and the rows it becomes.

The one home of intake's rules, shared by taking in one report
(:func:`gridgis.incidents.intake.take_in`) and many
(:func:`gridgis.incidents.intake.take_in_many`): the checks of a report, why
one is refused (:class:`Refused`, with a reason in a word a summary can count
by), locating by address, and the incident, reporter and event rows that are
stored — the routing snapshot and the deadlines included.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput, OutsideCoverage
from gridgis.incidents import deadlines
from gridgis.models import CHANNELS, SRID, Category
from gridgis.routing.addresses import route_address
from gridgis.routing.points import check_text
from gridgis.routing.results import RoutingResult

#: Longest description kept (a 12345 诉求内容 is a few hundred characters).
MAX_DESCRIPTION = 10_000
#: The longest external id (a channel's own number), address and source
#: category a report may carry (the columns' sizes).
MAX_EXTERNAL_ID = 64
MAX_ADDRESS = 300
MAX_SOURCE_CATEGORY = 200


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
    #: Other fields of the channel's own, kept in the intake event as they came
    #: (the hotline's 诉求类型, 办理时限, 工单状态). No personal data here.
    source_fields: Mapping[str, str] | None = None

    @property
    def has_point(self) -> bool:
        return self.lon is not None or self.lat is not None

    @property
    def has_address(self) -> bool:
        return bool(self.address and self.address.strip())


class Refused(InvalidInput):
    """A report that cannot be taken in; ``reason`` says why in a word, for counting.

    Reasons: ``no_location``, ``bad_coordinates``, ``address_not_found``,
    ``ambiguous_address``, ``bad_time``, ``unknown_category``; a place outside
    coverage is an :class:`~gridgis.errors.OutsideCoverage` (422).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check(report: Report) -> None:
    """Refuse a report whose channel, texts or time are wrong (no database needed)."""
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
    for value, what, most in (
        (report.external_id, "external id", MAX_EXTERNAL_ID),
        (report.address, "address", MAX_ADDRESS),
        (report.source_category, "source category", MAX_SOURCE_CATEGORY),
    ):
        if value is not None and len(value) > most:
            raise InvalidInput(f"The {what} is longer than {most} characters.")
    if report.reported_at is not None:
        try:
            clock.require_aware(report.reported_at, "the report's time")
        except InvalidInput as exc:
            raise Refused("bad_time", exc.user_msg) from None
        if report.reported_at > clock.now() + dt.timedelta(minutes=5):
            raise Refused(
                "bad_time", f"The report's time {clock.show(report.reported_at)} is in the future."
            )
    if report.has_point:
        point_of(report)
    elif not report.has_address:
        raise Refused("no_location", "Give the incident's place: lon and lat, or an address.")


def categories(session: Session) -> dict[str, Category]:
    """Every category by code (a few dozen rows: read once per intake or batch)."""
    return {c.code: c for c in session.scalars(sa.select(Category))}


def category_of(known: Mapping[str, Category], code: str | None) -> Category | None:
    """The report's category (None: unclassified, for the dispatcher to classify)."""
    if not code:
        return None
    category = known.get(code)
    if category is None:
        raise Refused(
            "unknown_category",
            f"Unknown category {code!r}; the categories are: "
            f"{', '.join(sorted(known)) or 'none loaded'}.",
        )
    return category


def point_of(report: Report) -> tuple[float, float]:
    """The report's lon and lat, both given and finite (still in the report's CRS)."""
    return _coordinate(report.lon, "longitude"), _coordinate(report.lat, "latitude")


def _coordinate(value: float | None, what: str) -> float:
    if value is None:
        raise Refused("bad_coordinates", f"The {what} is missing: give both lon and lat.")
    number = float(value)
    if not math.isfinite(number):
        raise Refused("bad_coordinates", f"The {what} {value!r} is not a finite number.")
    return number


def by_address(
    session: Session, report: Report, category: Category | None, at: dt.datetime
) -> RoutingResult:
    """Route a report by its address; refuse one that matches no building, or several."""
    code = category.code if category else None
    result = route_address(session, report.address or "", category=code, at=at)
    if result.rule == "ambiguous_address":
        if not result.candidates:
            raise Refused(
                "address_not_found",
                f"The address {report.address!r} matches no building; give the point "
                "(click the map) or a fuller address.",
            )
        names = "; ".join(str(c["address"] or c["name"]) for c in result.candidates[:5])
        raise Refused(
            "ambiguous_address",
            f"The address {report.address!r} matches several buildings ({names}); "
            "give a fuller address or the point.",
        )
    return result


def refuse_unplaced(result: RoutingResult) -> RoutingResult:
    """``result``, unless it places the report nowhere gridgis covers."""
    if result.rule == "outside_coverage":
        raise OutsideCoverage(
            "The place is outside every community gridgis covers; it cannot be taken in here."
        )
    if result.rule == "invalid_location":
        reason = (result.reason or "no usable point").rstrip(".")
        raise Refused("bad_coordinates", f"The place cannot be located: {reason}.")
    return result


def incident_row(
    report: Report,
    category: Category | None,
    result: RoutingResult,
    reported_at: dt.datetime,
    actor: Principal,
    *,
    now: dt.datetime | None = None,
    for_copy: bool = False,
) -> dict[str, Any]:
    """The incident's columns: the report, its routing snapshot and its deadlines.

    Args:
        now: The time of the row (``updated_at``); default: the clock's.
        for_copy: The routing snapshot as JSON text and the point as hex
            EWKB, as COPY takes them (the batch path), rather than a dict and
            a geometry element (the ORM).
    """
    response_due = resolution_due = None
    if category is not None:
        basis = category.deadline_basis
        response_due = deadlines.due(reported_at, category.response_hours, basis).at
        resolution_due = deadlines.due(reported_at, category.resolution_hours, basis).at
    geom: Any = None
    if result.lon is not None and result.lat is not None:
        geom = (
            _ewkb_point(result.lon, result.lat)
            if for_copy
            else from_shape(Point(result.lon, result.lat), srid=SRID)
        )
    return {
        "token": str(uuid.uuid4()),
        "status": "received",
        "channel": report.channel,
        "external_id": report.external_id or None,
        "category_id": category.id if category else None,
        "source_category": report.source_category or None,
        "description": (report.description or "").strip()[:MAX_DESCRIPTION],
        "address": report.address or result.matched_address or result.address or None,
        "geom": geom,
        "input_crs": str(report.crs) if report.lon is not None else None,
        "input_lon": report.lon,
        "input_lat": report.lat,
        "reported_at": reported_at,
        "created_by": actor.audit_name,
        "community_id": result.community_id,
        "layout_id": result.layout_id,
        "grid_id": result.grid_id,
        "building_id": result.building_id,
        "unit_id": result.unit_id,
        "rule": result.rule,
        "routing": result.snapshot_json() if for_copy else result.snapshot(),
        "response_due_at": response_due,
        "resolution_due_at": resolution_due,
        "handled_by_id": actor.user_id if actor.role == "dispatcher" else None,
        "updated_at": now or clock.now(),
    }


def _ewkb_point(lon: float, lat: float) -> str:
    """A point in EPSG:4326 as hex EWKB: exact, and without a shapely object per row."""
    return struct.pack("<BIIdd", 1, _EWKB_POINT_WITH_SRID, SRID, lon, lat).hex()


#: EWKB's type word: point (1) with the flag that an SRID follows.
_EWKB_POINT_WITH_SRID = 0x20000001


def reporter_row(report: Report, incident_id: int) -> dict[str, Any] | None:
    """Who reported it (personal data), or None when the report names nobody."""
    if not (report.reporter_name or report.reporter_phone):
        return None
    return {
        "incident_id": incident_id,
        "name": (report.reporter_name or "").strip()[:100] or None,
        "phone": (report.reporter_phone or "").strip()[:32] or None,
    }


def intake_data(report: Report, result: RoutingResult) -> dict[str, Any]:
    """The data of an incident's first event (``take_in``, to ``received``)."""
    data: dict[str, Any] = {
        "channel": report.channel,
        "rule": result.rule,
        "category": report.category,
    }
    if report.source_fields:
        data["source"] = dict(report.source_fields)
    return data
