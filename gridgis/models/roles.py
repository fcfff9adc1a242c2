"""The vocabulary of roles and teams, with their Chinese and English names: one table.

Every surface names a role from here: the database's CHECK constraints, the
routed team's notes, the map's popups, the account pages and the command
line. Codes are stable identifiers (stored in the database); the names are
what people read (``zh`` first: the interface speaks Chinese by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One code of a vocabulary and its names."""

    code: str
    zh: str
    en: str

    def name(self, lang: str = "zh") -> str:
        """The name in ``lang`` (``zh`` or ``en``; anything else gets Chinese)."""
        return self.en if lang == "en" else self.zh


def _table(*terms: Term) -> dict[str, Term]:
    return {t.code: t for t in terms}


#: The "1+1+1+N" team (DESIGN.md), in the order duty passes when someone is off
#: duty: one full-time and one part-time grid worker per grid, a head per
#: building and per unit, and N volunteers.
STAFF_ROLE_TERMS: Mapping[str, Term] = _table(
    Term("grid_worker", "专职网格员", "Full-time grid worker"),
    Term("part_time_worker", "兼职网格员", "Part-time grid worker"),
    Term("building_head", "楼栋长", "Building head"),
    Term("unit_head", "单元长", "Unit head"),
    Term("volunteer", "志愿者", "Volunteer"),
)
STAFF_ROLES = tuple(STAFF_ROLE_TERMS)
#: Roles that attach to a grid; the heads attach to their building or unit.
GRID_ROLES = ("grid_worker", "part_time_worker", "volunteer")

#: Volunteer teams (the N of "1+1+1+N").
VOLUNTEER_TEAM_TERMS: Mapping[str, Term] = _table(
    Term("red", "红色先锋队", "Red Pioneer team"),
    Term("blue", "蓝色网格队", "Blue Grid team"),
    Term("green", "绿色老兵队", "Green Veteran team"),
    Term("orange", "橙色老年队", "Orange Elderly team"),
    Term("white", "白色医疗队", "White Medical team"),
)
VOLUNTEER_TEAMS = tuple(VOLUNTEER_TEAM_TERMS)

#: Roles of people who log in (DESIGN.md, Security). ``grid_staff`` accounts
#: are linked to a staff record and see only that person's area; ``viewer``
#: reads without personal data.
USER_ROLE_TERMS: Mapping[str, Term] = _table(
    Term("admin", "管理员", "Administrator"),
    Term("planner", "规划员", "Planner"),
    Term("dispatcher", "受理派遣员", "Dispatcher"),
    Term("grid_staff", "网格员", "Grid staff"),
    Term("viewer", "只读用户", "Viewer"),
)
USER_ROLES = tuple(USER_ROLE_TERMS)

DEPARTMENT_KINDS = (
    "urban_management",
    "traffic_police",
    "sanitation",
    "tobacco",
    "property_company",
    "co_building",
    "other",
)
LAYOUT_STATUSES = ("draft", "published")


def role_name(code: str, lang: str = "zh") -> str:
    """The name of a staff or account role (the code itself if unknown)."""
    term = STAFF_ROLE_TERMS.get(code) or USER_ROLE_TERMS.get(code)
    return term.name(lang) if term else code


def team_name(code: str, lang: str = "zh") -> str:
    """The name of a volunteer team (the code itself if unknown)."""
    term = VOLUNTEER_TEAM_TERMS.get(code)
    return term.name(lang) if term else code
