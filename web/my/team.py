"""The team card of ``/my``: the person's posts, their "1+1+1+N" team, and the area's partners.

- **Posts**: what the person answers for (专职网格员 · 第一网格, 单元长 · 1栋 1单元),
  from their assignments.
- **Team**: the grid team of each grid the person serves in
  (:attr:`gridgis.access.scope.Scope.team`): the grid worker and part-time
  worker, the volunteers by team colour, and the heads of the team's buildings
  and units. People come from :func:`gridgis.staff.roster.team_index`, which
  shows each name and phone in full or masked for the viewer by the one
  privacy rule (:meth:`gridgis.staff.team.TeamMember.shown_to`): nothing here
  decides who sees a contact.
- **Partners**: the departments the categories send incidents to whose
  jurisdiction reaches the area (or that have none), and the property
  companies of the area's compounds, with their office phones.

Only reads; the one statement per part stays small whatever the grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Principal
from gridgis.access.scope import Scope
from gridgis.geo.layouts import choose_layout
from gridgis.models import (
    VOLUNTEER_TEAMS,
    Assignment,
    Building,
    Category,
    Community,
    Compound,
    Department,
    Grid,
    Unit,
    category_department,
)
from gridgis.staff.roster import team_index
from gridgis.staff.team import TeamMember

#: Grid roles on the card, in the vocabulary's order; volunteers are grouped apart.
GRID_STAFF_ROLES = ("grid_worker", "part_time_worker")


@dataclass(frozen=True)
class MyPost:
    """One role the person holds, and where (names for people, ids for the page)."""

    role: str
    place: str
    volunteer_team: str | None = None


@dataclass
class GridTeam:
    """One grid's team: staff, volunteers by team colour, heads by building."""

    code: str
    name: str
    staff: list[TeamMember] = field(default_factory=list)
    #: Volunteer team code → its volunteers, in the vocabulary's order of teams.
    volunteers: dict[str, list[TeamMember]] = field(default_factory=dict)
    #: (building label, [building head, unit heads...]) for the team's buildings.
    heads: list[tuple[str, list[tuple[str, TeamMember]]]] = field(default_factory=list)


@dataclass(frozen=True)
class Partner:
    """A department or property company the area works with (office contacts, not personal)."""

    name: str
    phone: str | None
    #: What it takes: category names for departments, compound names for a property company.
    takes: tuple[str, ...] = ()


@dataclass
class TeamCard:
    """Everything the card shows."""

    posts: list[MyPost]
    grids: list[GridTeam]
    departments: list[Partner]
    property_companies: list[Partner]

    def people(self) -> list[TeamMember]:
        """Everyone on the card once (for a round's participants), staff first."""
        seen: dict[int, TeamMember] = {}
        for grid in self.grids:
            for member in grid.staff + [m for ms in grid.volunteers.values() for m in ms]:
                seen.setdefault(member.staff_id, member)
            for _, heads in grid.heads:
                for _, member in heads:
                    seen.setdefault(member.staff_id, member)
        return list(seen.values())


def posts_of(session: Session, staff_id: int) -> list[MyPost]:
    """The roles ``staff_id`` holds, each with the name of its grid, building or unit."""
    rows = session.execute(
        sa.select(
            Assignment.role,
            Assignment.volunteer_team,
            Grid.name,
            Grid.code,
            Building.name,
            Building.code,
            Unit.number,
            sa.select(Building.name)
            .where(Building.id == Unit.building_id)
            .correlate(Unit)
            .scalar_subquery(),
        )
        .outerjoin(Grid, Grid.id == Assignment.grid_id)
        .outerjoin(Building, Building.id == Assignment.building_id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.staff_id == staff_id)
        .order_by(Assignment.id)
    )
    posts = []
    for role, team, grid, grid_code, building, building_code, unit, unit_building in rows:
        if grid_code is not None:
            place = grid or grid_code
        elif building_code is not None:
            place = building or building_code
        else:
            place = f"{unit_building or ''} {unit}".strip()
        posts.append(MyPost(role, place, team))
    return posts


def team_card(
    session: Session, community: Community, viewer: Principal, staff_id: int, lang: str = "zh"
) -> TeamCard:
    """The card for grid staff member ``viewer`` (whose staff record is ``staff_id``)."""
    scope = viewer.scope or Scope()
    layout = choose_layout(session, community, None, drafts=False)
    index = team_index(session, community, layout, viewer=viewer)
    team = scope.team
    grids = session.execute(
        sa.select(Grid.id, Grid.code, Grid.name)
        .where(Grid.id.in_(sorted(team.grid_ids)))
        .order_by(Grid.code)
    ).all()
    buildings = session.execute(
        sa.select(Building.id, Building.code, Building.name)
        .where(Building.id.in_(sorted(team.building_ids)))
        .order_by(Building.code)
    ).all()
    units = session.execute(
        sa.select(Unit.building_id, Building.code, Unit.number)
        .join(Building, Building.id == Unit.building_id)
        .where(Unit.id.in_(sorted(team.unit_ids)))
        .order_by(Building.code, Unit.number)
    ).all()
    heads: list[tuple[str, list[tuple[str, TeamMember]]]] = []
    for building_id, code, name in buildings:
        label = name or code
        people = [(label, m) for m in index.buildings.get(code, [])]
        for unit_building, unit_code, number in units:
            if unit_building == building_id:
                people += [(number, m) for m in index.units.get(f"{unit_code}/{number}", [])]
        if people:
            heads.append((label, people))
    cards = []
    for _, code, name in grids:
        members = index.grids.get(code, [])
        card = GridTeam(code=code, name=name or code)
        card.staff = [m for m in members if m.role in GRID_STAFF_ROLES]
        for colour in VOLUNTEER_TEAMS:
            volunteers = [
                m for m in members if m.role == "volunteer" and m.volunteer_team == colour
            ]
            if volunteers:
                card.volunteers[colour] = volunteers
        cards.append(card)
    if cards:
        # A head serves the grid their building belongs to; with several grids
        # the first carries them (the page shows buildings by name anyway).
        cards[0].heads = heads
    departments, companies = partners(session, scope, lang)
    return TeamCard(posts_of(session, staff_id), cards, departments, companies)


def partners(
    session: Session, scope: Scope, lang: str = "zh"
) -> tuple[list[Partner], list[Partner]]:
    """The area's partner departments (by category) and property companies (by compound)."""
    category_name = Category.name_en if lang == "en" else Category.name_zh
    area = sa.or_(
        sa.exists().where(
            Grid.id.in_(sorted(scope.grid_ids)),
            sa.func.ST_Intersects(Grid.geom, Department.jurisdiction),
        ),
        sa.exists().where(
            Building.id.in_(sorted(scope.building_ids)),
            sa.func.ST_Intersects(Building.geom, Department.jurisdiction),
        ),
    )
    rows = session.execute(
        sa.select(
            Department.name,
            Department.phone,
            sa.func.array_agg(sa.distinct(category_name)),
        )
        .join(category_department, category_department.c.department_id == Department.id)
        .join(Category, Category.id == category_department.c.category_id)
        .where(
            Department.kind != "property_company",
            sa.or_(Department.jurisdiction.is_(None), area),
        )
        .group_by(Department.id)
        .order_by(Department.name)
    ).all()
    departments = [Partner(name, phone, tuple(sorted(takes))) for name, phone, takes in rows]
    compounds = session.execute(
        sa.select(
            Department.name,
            Department.phone,
            sa.func.array_agg(sa.distinct(Compound.name)),
        )
        .join(Compound, Compound.property_company_id == Department.id)
        .where(
            Compound.id.in_(
                sa.select(Building.compound_id).where(Building.id.in_(sorted(scope.building_ids)))
            )
        )
        .group_by(Department.id)
        .order_by(Department.name)
    ).all()
    companies = [Partner(name, phone, tuple(sorted(takes))) for name, phone, takes in compounds]
    return departments, companies
