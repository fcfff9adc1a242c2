"""Nearby duplicates: open incidents of the same category, close in place and time.

At intake and in the console, the dispatcher sees the open incidents of the
same category within ``radius_m`` metres (on the spheroid) and ``window``
hours of this one (``GRIDGIS_DUPLICATE_RADIUS_M``, 50 m, and
``GRIDGIS_DUPLICATE_HOURS``, 72 h, by default), nearest first, and may merge.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geography
from sqlalchemy.orm import Session, aliased

from gridgis.models import OPEN_STATUSES, Incident

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
    other = aliased(Incident)
    this = (
        sa.select(Incident.geom, Incident.reported_at, Incident.category_id)
        .where(Incident.id == incident.id)
        .subquery()
    )
    there, here = sa.cast(other.geom, Geography), sa.cast(this.c.geom, Geography)
    distance = sa.func.ST_Distance(there, here)
    # A box wide enough for the radius at this latitude (the routing statement's
    # bound on metres per degree), so the GiST index finds the candidates.
    m_per_deg = (
        sa.func.greatest(
            sa.func.least(
                110574.0, 111320.0 * sa.func.cos(sa.func.radians(sa.func.ST_Y(this.c.geom)))
            ),
            1.0,
        )
        * 0.99
    )
    query = (
        sa.select(other)
        .join(this, sa.true())
        .where(
            other.id != incident.id,
            other.status.in_(OPEN_STATUSES),
            other.category_id.is_not_distinct_from(this.c.category_id),
            other.reported_at.between(this.c.reported_at - _window, this.c.reported_at + _window),
            other.geom.op("&&")(sa.func.ST_Expand(this.c.geom, _radius_m / m_per_deg)),
            sa.func.ST_DWithin(there, here, _radius_m),
        )
        .order_by(distance, other.id)
        .limit(LIMIT)
    )
    return list(session.scalars(query))
