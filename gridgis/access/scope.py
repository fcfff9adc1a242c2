"""Grid staff's area: the grids, buildings and units they answer for.

A grid role (grid worker, part-time worker, volunteer) answers for the grid
and every building that belongs to it (:func:`gridgis.geo.areas.building_in_grid`)
with their units; a building head for the building and its units; a unit head
for the unit (and, to find it on the map, its building).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.geo.areas import building_in_grid
from gridgis.models import Assignment, Building, Grid, Unit


@dataclass(frozen=True)
class Scope:
    """The places a grid staff member answers for (ids), and what lies inside them."""

    grid_ids: frozenset[int] = frozenset()
    building_ids: frozenset[int] = frozenset()
    unit_ids: frozenset[int] = frozenset()


def scope_for_staff(session: Session, staff_id: int) -> Scope:
    """The area of the staff member ``staff_id`` (three statements, whatever the area's size)."""
    mine = session.execute(
        sa.select(Assignment.grid_id, Assignment.building_id, Assignment.unit_id).where(
            Assignment.staff_id == staff_id
        )
    ).all()
    grids = {g for g, _, _ in mine if g is not None}
    headed = {b for _, b, _ in mine if b is not None}
    units = {u for _, _, u in mine if u is not None}
    in_grids: set[int] = set()
    if grids:
        in_grids = set(
            session.scalars(
                sa.select(Building.id)
                .join(Grid, building_in_grid(Building, Grid))
                .where(Grid.id.in_(sorted(grids)))
            )
        )
    whole = headed | in_grids
    unit_rows = session.execute(
        sa.select(Unit.id, Unit.building_id).where(
            sa.or_(Unit.building_id.in_(sorted(whole)), Unit.id.in_(sorted(units)))
        )
    ).all()
    return Scope(
        grid_ids=frozenset(grids),
        building_ids=frozenset(whole | {b for u, b in unit_rows if u in units}),
        unit_ids=frozenset(u for u, b in unit_rows if b in whole or u in units),
    )
