"""The roster: every "1+1+1+N" team of a community, as one viewer may see it.

Names and phones are masked here, person by person, before they leave the
query (:meth:`gridgis.staff.team.TeamMember.shown_to`): no caller can show
more than ``张*`` and ``138****1234`` by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Principal
from gridgis.access.privacy import Post
from gridgis.models import Assignment, Building, Community, Grid, Layout, Staff, Unit
from gridgis.staff.team import ROLE_ORDER, TeamMember


@dataclass
class TeamIndex:
    """Who answers for what: grid teams by grid code, heads by building/unit."""

    grids: dict[str, list[TeamMember]] = field(default_factory=dict)
    buildings: dict[str, list[TeamMember]] = field(default_factory=dict)
    units: dict[str, list[TeamMember]] = field(default_factory=dict)


_ROLE_ORDER = sa.case({role: i for i, role in enumerate(ROLE_ORDER)}, value=Assignment.role)


def team_index(
    session: Session,
    community: Community,
    layout: Layout | None,
    *,
    viewer: Principal | None = None,
) -> TeamIndex:
    """The "1+1+1+N" teams of ``community``: grid teams of ``layout`` and the heads.

    Args:
        session: The database session.
        community: Whose teams.
        layout: The layout whose grid teams to include (None: heads only).
        viewer: Who is looking; each person's name and phone is shown in
            full or masked for them (None: everyone masked).
    """
    index = TeamIndex()
    columns = (
        Assignment.role,
        Staff.id,
        Staff.code,
        Assignment.volunteer_team,
        Assignment.on_duty,
        Staff.name,
        Staff.phone,
        Assignment.grid_id,
        Assignment.building_id,
        Assignment.unit_id,
    )
    targets: list[tuple[dict[str, list[TeamMember]], Any]] = [
        (
            index.buildings,
            sa.select(Building.code, *columns)
            .join(Assignment, Assignment.building_id == Building.id)
            .where(Building.community_id == community.id),
        ),
        (
            index.units,
            sa.select(Building.code + "/" + Unit.number, *columns)
            .join(Unit, Unit.building_id == Building.id)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(Building.community_id == community.id),
        ),
    ]
    if layout is not None:
        targets.append(
            (
                index.grids,
                sa.select(Grid.code, *columns)
                .join(Assignment, Assignment.grid_id == Grid.id)
                .where(Grid.layout_id == layout.id),
            )
        )
    for target, stmt in targets:
        stmt = stmt.join(Staff, Assignment.staff_id == Staff.id).order_by(
            _ROLE_ORDER, Assignment.volunteer_team, Staff.code
        )
        for row in session.execute(stmt):
            key, role, staff_id, code, team, on_duty, name, phone, grid_id, building_id, unit_id = (
                row
            )
            person = TeamMember(
                role,
                staff_id,
                code,
                name or "",
                phone,
                volunteer_team=team,
                on_duty=on_duty,
                post=Post(grid_id, building_id, unit_id),
            )
            target.setdefault(key, []).append(person.shown_to(viewer))
    return index
