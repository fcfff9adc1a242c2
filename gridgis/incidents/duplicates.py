"""Nearby duplicates: open incidents of the same category, close in place and time.

At intake and in the console, the dispatcher sees the open incidents of the
same category within ``radius_m`` metres (on the spheroid) and ``window``
hours of this one (``GRIDGIS_DUPLICATE_RADIUS_M``, 50 m, and
``GRIDGIS_DUPLICATE_HOURS``, 72 h, by default), nearest first, and may merge.
The same rule answers before an incident exists (the console's preview of a
click) and after (the incident's own page): :func:`nearby_open_at`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis.models import OPEN_STATUSES, SRID, Incident

DEFAULT_RADIUS_M = 50.0
DEFAULT_HOURS = 72.0
#: Most suggestions shown.
LIMIT = 20

_radius_m = DEFAULT_RADIUS_M
_window = dt.timedelta(hours=DEFAULT_HOURS)


def configure(radius_m: float, hours: float) -> None:
    """Set how near in metres and hours a duplicate must be."""
    global _radius_m, _window
    _radius_m, _window = float(radius_m), dt.timedelta(hours=float(hours))


def nearby_open(session: Session, incident: Incident) -> list[Incident]:
    """Open incidents that may be the same as ``incident`` (not itself), nearest first."""
    if incident.geom is None:
        return []
    return nearby_open_at(
        session,
        sa.select(Incident.geom).where(Incident.id == incident.id).scalar_subquery(),
        incident.category_id,
        incident.reported_at,
        exclude=incident.id,
    )


def nearby_open_at(
    session: Session,
    point: Any,
    category_id: int | None,
    at: dt.datetime,
    *,
    exclude: int | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[Incident]:
    """Open incidents of ``category_id`` near ``point`` (geometry or (lon, lat)) around ``at``."""
    if isinstance(point, tuple):
        point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(point[0], point[1]), SRID)
    there, here = sa.cast(Incident.geom, Geography), sa.cast(point, Geography)
    # A box wide enough for the radius at this latitude (the routing statement's
    # bound on metres per degree), so the GiST index finds the candidates.
    m_per_deg = (
        sa.func.greatest(
            sa.func.least(110574.0, 111320.0 * sa.func.cos(sa.func.radians(sa.func.ST_Y(point)))),
            1.0,
        )
        * 0.99
    )
    query = (
        sa.select(Incident)
        .where(
            Incident.status.in_(OPEN_STATUSES),
            Incident.category_id.is_not_distinct_from(category_id),
            Incident.reported_at.between(at - _window, at + _window),
            Incident.geom.op("&&")(sa.func.ST_Expand(point, _radius_m / m_per_deg)),
            sa.func.ST_DWithin(there, here, _radius_m),
        )
        .order_by(sa.func.ST_Distance(there, here), Incident.id)
        .limit(LIMIT)
    )
    if exclude is not None:
        query = query.where(Incident.id != exclude)
    if where is not None:  # e.g. only what the viewer may see
        query = query.where(where)
    return list(session.scalars(query))
