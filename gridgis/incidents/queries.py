"""Lists of incidents: the filters every surface shares, and the one query behind them.

The dispatch console, ``GET /api/v1/incidents`` and Open311 list incidents
through :func:`incident_collection`: a GeoJSON FeatureCollection of
:func:`gridgis.incidents.views.summary` properties (no personal data), newest
report first, with ``numberMatched``/``numberReturned`` for paging, and only
what :func:`gridgis.incidents.views.visible_to` lets the viewer see.

:class:`Filters` are read from request parameters by :func:`parse_filters`
(every surface refuses a bad value with the same sentence):

- ``bbox=minlon,minlat,maxlon,maxlat`` — ``geom && envelope``, the GiST index;
- ``status`` — one or several (repeated, or comma-separated);
- ``grid`` — a grid's code (in any layout); ``category`` — a category's code;
- ``channel``;
- ``overdue`` — ``response``, ``resolution`` or ``any``: open incidents whose
  deadline has passed with the work not done;
- ``since`` / ``until`` — the report's time (ISO 8601 with a zone), until excluded.

The statement is written for the indexes of migration 0006 (GiST on the point;
status with community; grid; reported_at, which also serves the order) and
stays a few milliseconds at hundreds of thousands of incidents
(``tests/gridgis/incidents/test_queries.py`` looks at its plans).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput
from gridgis.geo.query import BBox, parse_bbox
from gridgis.incidents.breaches import breached
from gridgis.incidents.views import summary, visible_to
from gridgis.models import CHANNELS, INCIDENT_STATUSES, Category, Grid, Incident

OVERDUE = ("response", "resolution", "any")
#: The query parameters a list reads (paging links carry these and no others).
PARAMETERS = (
    "bbox",
    "status",
    "grid",
    "category",
    "channel",
    "overdue",
    "since",
    "until",
    "limit",
    "offset",
)


@dataclass(frozen=True)
class Filters:
    """Which incidents a list shows (every field optional: None or empty is no filter)."""

    bbox: BBox | None = None
    statuses: tuple[str, ...] = ()
    grid: str | None = None
    category: str | None = None
    channel: str | None = None
    overdue: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def parse_filters(params: Mapping[str, Sequence[str]]) -> Filters:
    """Filters from request parameters (name → every value given).

    Raises:
        InvalidInput: A value that is not one of its kind (the message lists them).
    """

    def one(name: str) -> str | None:
        values = [v.strip() for v in params.get(name, ()) if v.strip()]
        if len(values) > 1:
            raise InvalidInput(f"Give {name} once; got {len(values)} values.")
        return values[0] if values else None

    statuses = tuple(
        dict.fromkeys(
            s.strip() for v in params.get("status", ()) for s in v.split(",") if s.strip()
        )
    )
    _known("status", statuses, INCIDENT_STATUSES)
    channel, overdue = one("channel"), one("overdue")
    _known("channel", (channel,) if channel else (), CHANNELS)
    _known("overdue", (overdue,) if overdue else (), OVERDUE)
    bbox = one("bbox")
    filters = Filters(
        bbox=parse_bbox(bbox) if bbox else None,
        statuses=statuses,
        grid=one("grid"),
        category=one("category"),
        channel=channel,
        overdue=overdue,
        since=clock.parse_time(one("since"), "since"),
        until=clock.parse_time(one("until"), "until"),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be before until.")
    return filters


def _known(name: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    wrong = [v for v in given if v not in allowed]
    if wrong:
        raise InvalidInput(
            f"Unknown {name} {', '.join(map(repr, wrong))}; it must be one of {', '.join(allowed)}."
        )


def conditions(session: Session, viewer: Principal, filters: Filters) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a list: what ``viewer`` may see, narrowed by ``filters``.

    Raises:
        InvalidInput: An unknown category code.
    """
    where = [visible_to(viewer)]
    if filters.bbox is not None:
        where.append(Incident.geom.op("&&")(filters.bbox.envelope()))
    if filters.statuses:
        where.append(Incident.status.in_(filters.statuses))
    if filters.grid:
        # Grid codes are kept across redraws: every layout's grid of that code.
        where.append(Incident.grid_id.in_(sa.select(Grid.id).where(Grid.code == filters.grid)))
    if filters.category:
        category_id = session.scalar(
            sa.select(Category.id).where(Category.code == filters.category)
        )
        if category_id is None:
            known = session.scalars(sa.select(Category.code).order_by(Category.code)).all()
            raise InvalidInput(
                f"Unknown category {filters.category!r}; the categories are: "
                f"{', '.join(known) or 'none loaded'}."
            )
        where.append(Incident.category_id == category_id)
    if filters.channel:
        where.append(Incident.channel == filters.channel)
    if filters.overdue:
        where.append(overdue_clause(filters.overdue, clock.now()))
    if filters.since is not None:
        where.append(Incident.reported_at >= filters.since)
    if filters.until is not None:
        where.append(Incident.reported_at < filters.until)
    return where


def overdue_clause(which: str, now: dt.datetime) -> ColumnElement[bool]:
    """Open incidents past their ``response`` or ``resolution`` deadline, or ``any``."""
    return breached(which, now)


def incident_collection(
    session: Session,
    viewer: Principal,
    filters: Filters,
    *,
    limit: int,
    offset: int = 0,
    lang: str = "zh",
) -> dict[str, Any]:
    """One page of the incidents ``viewer`` may see, newest report first, as GeoJSON."""
    where = conditions(session, viewer, filters)
    page = session.execute(
        sa.select(Incident, Category)
        .outerjoin(Category, Category.id == Incident.category_id)
        .where(*where)
        .options(defer(Incident.description))
        .order_by(Incident.reported_at.desc(), Incident.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    matched = session.scalar(sa.select(sa.func.count()).select_from(Incident).where(*where))
    return collection([feature(i, c, lang) for i, c in page], int(matched or 0))


def feature(incident: Incident, category: Category | None, lang: str = "zh") -> dict[str, Any]:
    """An incident as a GeoJSON Feature of its summary (its point, or no geometry)."""
    properties = summary(incident, category, lang)
    lon, lat = properties["lon"], properties["lat"]
    return {
        "type": "Feature",
        "id": incident.id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]}
        if lon is not None and lat is not None
        else None,
        "properties": properties,
    }


def collection(features: list[dict[str, Any]], matched: int | None = None) -> dict[str, Any]:
    """A FeatureCollection with the paging members (``numberMatched``: all that match)."""
    return {
        "type": "FeatureCollection",
        "numberMatched": len(features) if matched is None else matched,
        "numberReturned": len(features),
        "features": features,
    }
