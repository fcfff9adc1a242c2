"""The routed team (the "1+1+1+N" of DESIGN.md) and who covers for whom.

The grid worker leads. Staff who are off duty are skipped, and their duty
passes down a fixed chain: unit head → building head → grid worker →
part-time worker → volunteers. Every skip is stated in a note, in Chinese and
English, so the dispatcher sees why the team differs from the roster.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Order in which duty passes when someone is off duty.
ROLE_ORDER = ("grid_worker", "part_time_worker", "building_head", "unit_head", "volunteer")
ROLE_NAMES = {
    "grid_worker": ("专职网格员", "full-time grid worker"),
    "part_time_worker": ("兼职网格员", "part-time grid worker"),
    "building_head": ("楼栋长", "building head"),
    "unit_head": ("单元长", "unit head"),
    "volunteer": ("志愿者", "volunteer"),
}
#: Who takes over a role's duty when its holder is off duty.
FALLBACK = {
    "unit_head": "building_head",
    "building_head": "grid_worker",
    "grid_worker": "part_time_worker",
    "part_time_worker": "volunteer",
}


@dataclass(frozen=True)
class TeamMember:
    """One person on the routed team. ``name``/``phone`` are personal data."""

    role: str
    staff_id: int
    staff_code: str
    name: str
    phone: str | None
    volunteer_team: str | None = None
    #: The role whose duty this person covers because its holder is off duty.
    covers_for: str | None = None


@lru_cache(maxsize=1 << 16)
def _member(
    role: str,
    staff_id: int,
    code: str,
    name: str,
    phone: str | None,
    volunteer_team: str | None,
    covers_for: str | None,
) -> TeamMember:
    # Results are immutable, so the same person in the same role is one object
    # however many points of a batch route to them.
    return TeamMember(role, staff_id, code, name, phone, volunteer_team, covers_for)


def assemble_team(
    roster: list[dict[str, Any]], volunteer_team: str | None = None
) -> tuple[TeamMember | None, tuple[TeamMember, ...], tuple[str, ...]]:
    """Pick the on-duty team; pass each off-duty holder's duty to the next role.

    Returns the lead (the grid worker, or whoever covers for them), the team in
    role order, and one note per off-duty person naming who covers.
    """
    by_role: dict[str, list[dict[str, Any]]] = {role: [] for role in ROLE_ORDER}
    for member in roster:
        if (
            volunteer_team
            and member["role"] == "volunteer"
            and member["volunteer_team"] != volunteer_team
        ):
            continue
        by_role[member["role"]].append(member)
    duty = {role: [m for m in members if m["on_duty"]] for role, members in by_role.items()}

    covers: dict[int, str] = {}
    notes: list[str] = []
    for role in ROLE_ORDER:
        for member in by_role[role]:
            if member["on_duty"]:
                continue
            # Walk down the fallback chain to the first role with someone on duty.
            substitute_role = FALLBACK.get(role)
            while substitute_role and not duty[substitute_role]:
                substitute_role = FALLBACK.get(substitute_role)
            zh, en = ROLE_NAMES[role]
            if substitute_role:
                sub = duty[substitute_role][0]
                covers.setdefault(sub["staff_id"], role)
                szh, sen = ROLE_NAMES[substitute_role]
                notes.append(
                    f"{zh} {member['code']} 不在岗，由{szh} {sub['code']} 代为处理 / "
                    f"{en} {member['code']} is off duty; {sen} {sub['code']} covers"
                )
            else:
                notes.append(
                    f"{zh} {member['code']} 不在岗，无人可代 / "
                    f"{en} {member['code']} is off duty and nobody can cover"
                )
    team: list[TeamMember] = []
    seen: set[int] = set()
    for role in ROLE_ORDER:
        for m in duty[role]:
            staff_id = m["staff_id"]
            if staff_id in seen and role != "volunteer":
                continue
            seen.add(staff_id)
            covers_for = covers.get(staff_id) if role != "grid_worker" else None
            team.append(
                _member(
                    role,
                    staff_id,
                    m["code"],
                    m["name"],
                    m["phone"],
                    m["volunteer_team"],
                    covers_for,
                )
            )
    lead = None
    for role in ("grid_worker", "part_time_worker", "volunteer"):
        lead = next((m for m in team if m.role == role), None)
        if lead is not None:
            break
    return lead, tuple(team), tuple(notes)
