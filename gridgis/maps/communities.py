"""Summaries of communities: extent, layout in force and how much each holds.

The web API lists communities with these (``/api/v1/communities``) before a
client asks for one of their layers (:mod:`gridgis.maps.features`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.geo.layers import COORDINATE_DIGITS, LAYER_SPECS
from gridgis.geo.layouts import get_community, in_force_clause
from gridgis.models import Community, Layout

__all__ = ["community_summaries", "community_summary"]

JSON = dict[str, Any]

#: The layers a summary counts; grids in the layout in force.
_COUNTED = ("grids", "compounds", "buildings", "units")


def community_summaries(session: Session, *, code: str | None = None) -> list[JSON]:
    """Every community (or the one with ``code``) by code, with extent, layout and counts.

    Returns:
        Dicts with ``code``, ``name``, ``bbox`` ([minlon, minlat, maxlon, maxlat]),
        ``layout`` (the layout in force: ``name`` and ``valid_from``, or None) and
        ``counts`` of grids (in the layout in force), compounds, buildings, units.
    """
    layout = (
        sa.select(Layout.id, Layout.name, Layout.valid_from)
        .where(Layout.community_id == Community.id, in_force_clause(clock.now()))
        .limit(1)
        .lateral("layout_in_force")
    )

    def count(layer: str, owner_id: Any) -> Any:
        # What belongs to a community (or a layout) is the layer's own rule.
        spec = LAYER_SPECS[layer]
        return (
            sa.select(sa.func.count())
            .select_from(spec.from_clause())
            .where(spec.owner == owner_id)
            .scalar_subquery()
        )

    stmt = (
        sa.select(
            Community.code,
            Community.name,
            sa.func.ST_XMin(Community.boundary),
            sa.func.ST_YMin(Community.boundary),
            sa.func.ST_XMax(Community.boundary),
            sa.func.ST_YMax(Community.boundary),
            layout.c.name,
            layout.c.valid_from,
            # Grids belong to a layout: those of the layout in force are counted.
            *(
                count(layer, layout.c.id if layer == "grids" else Community.id)
                for layer in _COUNTED
            ),
        )
        .outerjoin(layout, sa.true())
        .order_by(Community.code)
    )
    if code is not None:
        stmt = stmt.where(Community.code == code)
    out = []
    for row in session.execute(stmt):
        c_code, name, x0, y0, x1, y1, l_name, l_from, *counts = row
        out.append(
            {
                "code": c_code,
                "name": name,
                "bbox": [round(v, COORDINATE_DIGITS) for v in (x0, y0, x1, y1)],
                "layout": None
                if l_name is None
                else {"name": l_name, "valid_from": l_from.isoformat()},
                "counts": dict(zip(_COUNTED, counts)),
            }
        )
    return out


def community_summary(session: Session, code: str) -> JSON:
    """One community's summary (see :func:`community_summaries`), or NotFound."""
    found = community_summaries(session, code=code)
    if not found:
        get_community(session, code)  # raises NotFound naming the code
    return found[0]
