"""Incidents on a map at any density: points when few, counted clusters when many.

The console asks for what is in view (a bbox) at the map's zoom. Up to
:data:`MAX_POINTS` incidents come as points; beyond that they are grouped in
PostGIS on a square grid of about :data:`CELL_PX` screen pixels at that zoom
(``ST_SnapToGrid``), so the browser draws a few hundred circles with counts
whether the view holds a hundred incidents or a city's year. Done in the
database rather than with a browser clustering library (Leaflet.markercluster)
because that needs every point sent first, which is what does not scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis.errors import InvalidInput
from gridgis.models import Incident

#: Up to this many incidents in view are drawn one by one.
MAX_POINTS = 1500
#: A cluster covers about this many pixels of the screen.
CELL_PX = 64
#: Web Mercator's tile width at zoom 0, in pixels.
TILE_PX = 256


def cell_degrees(zoom: float) -> float:
    """The side of a cluster cell at ``zoom``, in degrees of longitude."""
    if not 0 <= zoom <= 24:
        raise InvalidInput(f"zoom must be between 0 and 24, got {zoom}.")
    return 360.0 / (TILE_PX * 2**zoom) * CELL_PX


def in_view(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    zoom: float,
    overdue: ColumnElement[bool],
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the incidents ``where`` selects (with a bbox, the view).

    Each feature is an incident (``kind: incident`` with id, status, overdue)
    or, when more than :data:`MAX_POINTS` match, a cluster (``kind: cluster``
    with ``count`` and ``overdue``, at the mean of its points). ``numberMatched``
    is how many incidents match either way; those without a point are not drawn.
    """
    inside = sa.and_(Incident.geom.is_not(None), *where)
    points = session.execute(
        sa.select(
            Incident.id,
            Incident.status,
            overdue.label("overdue"),
            sa.func.ST_X(Incident.geom),
            sa.func.ST_Y(Incident.geom),
        )
        .where(inside)
        .limit(MAX_POINTS + 1)
    ).all()
    if len(points) <= MAX_POINTS:
        return {
            "type": "FeatureCollection",
            "numberMatched": len(points),
            "features": [
                _feature(x, y, kind="incident", id=i, status=s, overdue=bool(o))
                for i, s, o, x, y in points
            ],
        }
    size = cell_degrees(zoom)
    cell = sa.func.ST_SnapToGrid(Incident.geom, size, size).label("cell")
    rows = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(overdue),
            sa.func.avg(sa.func.ST_X(Incident.geom)),
            sa.func.avg(sa.func.ST_Y(Incident.geom)),
        )
        .where(inside)
        .group_by(cell)
    ).all()
    return {
        "type": "FeatureCollection",
        "numberMatched": sum(n for n, *_ in rows),
        "features": [
            _feature(x, y, kind="cluster", count=n, overdue=late) for n, late, x, y in rows
        ],
    }


def _feature(x: float, y: float, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
        "properties": properties,
    }
