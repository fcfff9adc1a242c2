"""Grid staff's area and team: the places they answer for, and the team they are on.

The **area** decides what a grid staff member sees of the map, the layers and
the routing answers, and whose households they may see: a grid role (grid
worker, part-time worker, volunteer) answers for the grid and every building
that belongs to it (:func:`gridgis.geo.areas.building_in_grid`) with their
units; a building head for the building and its units; a unit head for the
unit (and, to find it on the map, its building).

The **team** decides whose work contacts they see (DESIGN.md, Security:
members of the same grid team): the whole "1+1+1+N" of the grids they serve
in — for a building or unit head, the grid of the layout in force that their
building belongs to — with its buildings and units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.geo.areas import building_grid, building_in_grid
from gridgis.geo.layouts import in_force_clause
from gridgis.models import Assignment, Building, Grid, Layout, Unit


@dataclass(frozen=True)
class Places:
    """Grids, buildings and units, by id."""

    grid_ids: frozenset[int] = frozenset()
    building_ids: frozenset[int] = frozenset()
    unit_ids: frozenset[int] = frozenset()

    def holds(
        self, grid_id: int | None = None, building_id: int | None = None, unit_id: int | None = None
    ) -> bool:
        """Whether the place given (a grid, a building, a unit in a building) is in these.

        A place in a unit is held through its grid or its unit, not through its
        building alone: a unit head's places hold their building (to draw it)
        but not the building's other units. ``gridgis.incidents.views.visible_to``
        is the same rule as SQL.
        """
        if grid_id is not None and grid_id in self.grid_ids:
            return True
        if unit_id is not None:
            return unit_id in self.unit_ids
        return building_id is not None and building_id in self.building_ids


@dataclass(frozen=True)
class Scope(Places):
    """A grid staff member's area (the places themselves) and team (``team``)."""

    team: Places = Places()


def scope_for_staff(session: Session, staff_id: int) -> Scope:
    """The area and team of the staff member ``staff_id`` (a few statements, whatever the size)."""
    # Grid posts count in the layout in force only: a draft (a redraw being planned,
    # gridgis.planning) carries copies of the grid teams, which must not widen or move
    # anyone's area before it is published and in force.
    mine = session.execute(
        sa.select(Assignment.grid_id, Assignment.building_id, Assignment.unit_id)
        .outerjoin(Grid, Grid.id == Assignment.grid_id)
        .outerjoin(Layout, Layout.id == Grid.layout_id)
        .where(
            Assignment.staff_id == staff_id,
            sa.or_(Assignment.grid_id.is_(None), in_force_clause(clock.now())),
        )
    ).all()
    grids = {g for g, _, _ in mine if g is not None}
    headed = {b for _, b, _ in mine if b is not None}
    units = {u for _, _, u in mine if u is not None}
    area = _with_contents(session, grids, headed, units)
    # The team: the grids served, and for heads the grid their building belongs to.
    building_of_unit = sa.select(Unit.building_id).where(Unit.id.in_(sorted(units)))
    heads_grids = set(
        session.scalars(
            sa.select(building_grid(Building.geom, _layout_in_force(Building.community_id))).where(
                sa.or_(Building.id.in_(sorted(headed)), Building.id.in_(building_of_unit))
            )
        )
    )
    team_grids = grids | {g for g in heads_grids if g is not None}
    team = area if team_grids == grids else _with_contents(session, team_grids, set(), set())
    return Scope(area.grid_ids, area.building_ids, area.unit_ids, team=team)


def _layout_in_force(community_id: Any) -> Any:
    """The id of the layout in force now in ``community_id`` (a correlated subquery)."""
    return (
        sa.select(Layout.id)
        .where(Layout.community_id == community_id, in_force_clause(clock.now()))
        .limit(1)
        .scalar_subquery()
    )


def _with_contents(
    session: Session, grids: set[int], buildings: set[int], units: set[int]
) -> Places:
    """The places given, with the buildings of the grids and the units of the buildings."""
    in_grids: set[int] = set()
    if grids:
        in_grids = set(
            session.scalars(
                sa.select(Building.id)
                .join(Grid, building_in_grid(Building, Grid))
                .where(Grid.id.in_(sorted(grids)))
            )
        )
    whole = buildings | in_grids
    unit_rows = session.execute(
        sa.select(Unit.id, Unit.building_id).where(
            sa.or_(Unit.building_id.in_(sorted(whole)), Unit.id.in_(sorted(units)))
        )
    ).all()
    return Places(
        grid_ids=frozenset(grids),
        building_ids=frozenset(whole | {b for u, b in unit_rows if u in units}),
        unit_ids=frozenset(u for u, b in unit_rows if b in whole or u in units),
    )
