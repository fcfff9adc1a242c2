"""Grid teams for display: the "1+1+1+N" staff of a community, masked by default.

Names and phones are masked here, before they leave the query, unless the
caller says who may see them (``personal``): so no caller can show more than
``张*`` and ``138****1234`` by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.privacy import mask_name, mask_phone
from gridgis.access.scope import Scope
from gridgis.models import Assignment, Building, Community, Grid, Layout, Staff, Unit


@dataclass(frozen=True)
class TeamMember:
    """One person's role on a team, with name and phone masked unless ``masked`` is False."""

    role: str
    name: str
    phone: str
    volunteer_team: str | None = None
    on_duty: bool = True
    masked: bool = True


@dataclass
class TeamIndex:
    """Who answers for what: grid teams by grid code, heads by building/unit."""

    grids: dict[str, list[TeamMember]] = field(default_factory=dict)
    buildings: dict[str, list[TeamMember]] = field(default_factory=dict)
    units: dict[str, list[TeamMember]] = field(default_factory=dict)


_ROLE_ORDER = sa.case(
    {"grid_worker": 0, "part_time_worker": 1, "building_head": 2, "unit_head": 3},
    value=Assignment.role,
    else_=4,
)


def _shown(
    personal: bool | Scope, grid_id: int | None, building_id: int | None, unit_id: int | None
) -> bool:
    """Whether the person assigned to this place is shown in full."""
    if isinstance(personal, Scope):
        # Grid staff see the people of their own grids, buildings and units.
        return (
            grid_id in personal.grid_ids
            or building_id in personal.building_ids
            or unit_id in personal.unit_ids
        )
    return personal


def team_index(
    session: Session,
    community: Community,
    layout: Layout | None,
    *,
    personal: bool | Scope = False,
) -> TeamIndex:
    """The "1+1+1+N" teams of ``community``: grid teams of ``layout`` and the heads.

    Args:
        session: The database session.
        community: Whose teams.
        layout: The layout whose grid teams to include (None: heads only).
        personal: Who may see names and phones in full: True (an
            administrator), a grid staff member's Scope (the people assigned
            inside it), or False (everyone masked: the default).
    """
    index = TeamIndex()
    member = (
        Assignment.role,
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
            sa.select(Building.code, *member)
            .join(Assignment, Assignment.building_id == Building.id)
            .where(Building.community_id == community.id),
        ),
        (
            index.units,
            sa.select(Building.code + "/" + Unit.number, *member)
            .join(Unit, Unit.building_id == Building.id)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(Building.community_id == community.id),
        ),
    ]
    if layout is not None:
        targets.append(
            (
                index.grids,
                sa.select(Grid.code, *member)
                .join(Assignment, Assignment.grid_id == Grid.id)
                .where(Grid.layout_id == layout.id),
            )
        )
    for target, stmt in targets:
        stmt = stmt.join(Staff, Assignment.staff_id == Staff.id).order_by(
            _ROLE_ORDER, Assignment.volunteer_team, Staff.code
        )
        for key, role, team, on_duty, name, phone, grid_id, building_id, unit_id in session.execute(
            stmt
        ):
            if _shown(personal, grid_id, building_id, unit_id):
                shown = TeamMember(role, name or "", phone or "", team, on_duty, masked=False)
            else:
                shown = TeamMember(role, mask_name(name), mask_phone(phone), team, on_duty)
            target.setdefault(key, []).append(shown)
    return index
