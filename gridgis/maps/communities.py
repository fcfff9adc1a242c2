"""Summaries of communities: extent, layout in force and how much each holds.

The web API lists communities with these (``/api/v1/communities``) before a
client asks for one of their layers (:mod:`gridgis.maps.features`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.scope import Scope
from gridgis.geo.layers import COORDINATE_DIGITS, LAYER_SPECS
from gridgis.geo.layouts import get_community, in_force_clause
from gridgis.models import Building, Community, Compound, Grid, Layout, Unit

__all__ = ["communities_of", "community_summaries", "community_summary", "in_scope"]

JSON = dict[str, Any]

#: The layers a summary counts; grids in the layout in force.
_COUNTED = ("grids", "compounds", "buildings", "units")


def community_summaries(
    session: Session, *, code: str | None = None, scope: Scope | None = None
) -> list[JSON]:
    """Every community (or the one with ``code``) by code, with extent, layout and counts.

    Args:
        session: The database session.
        code: Only this community.
        scope: A grid staff member's area: only the communities it lies in, and
            counts of only what it holds (the layers show them no more).

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
        where = [spec.owner == owner_id]
        if scope is not None:
            where.append(in_scope(layer, scope))
        return (
            sa.select(sa.func.count())
            .select_from(spec.from_clause())
            .where(*where)
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
    if scope is not None:
        stmt = stmt.where(Community.id.in_(communities_of(scope)))
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


def in_scope(layer: str, scope: Scope) -> ColumnElement[bool]:
    """The rows of ``layer`` inside ``scope``, as the layer views filter them."""
    if layer == "grids":
        return Grid.id.in_(sorted(scope.grid_ids))
    if layer == "buildings":
        return Building.id.in_(sorted(scope.building_ids))
    if layer == "units":
        return Unit.id.in_(sorted(scope.unit_ids))
    return Compound.id.in_(
        sa.select(Building.compound_id).where(Building.id.in_(sorted(scope.building_ids)))
    )


def communities_of(scope: Scope) -> Any:
    """The ids of the communities a grid staff member's area lies in."""
    return sa.union(
        sa.select(Building.community_id).where(Building.id.in_(sorted(scope.building_ids))),
        sa.select(Layout.community_id)
        .join(Grid, Grid.layout_id == Layout.id)
        .where(Grid.id.in_(sorted(scope.grid_ids))),
    )


def community_summary(session: Session, code: str, *, scope: Scope | None = None) -> JSON:
    """One community's summary (see :func:`community_summaries`), or NotFound."""
    found = community_summaries(session, code=code, scope=scope)
    if not found:
        get_community(session, code)  # raises NotFound naming the code
    return found[0]
