"""The routed team (the "1+1+1+N" of DESIGN.md) and who covers for whom.

The grid worker leads. Staff who are off duty are skipped, and their duty
passes down a fixed chain: unit head → building head → grid worker →
part-time worker → volunteers. Every skip is stated in a note, in Chinese and
English, so the dispatcher sees why the team differs from the roster.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def assemble_team(
    roster: list[dict[str, Any]], volunteer_team: str | None = None
) -> tuple[TeamMember | None, tuple[TeamMember, ...], tuple[str, ...]]:
    """Pick the on-duty team; pass each off-duty holder's duty to the next role.

    Returns the lead (the grid worker, or whoever covers for them), the team in
    role order, and one note per off-duty person naming who covers.
    """
    by_role: dict[str, list[dict[str, Any]]] = {}
    for member in roster:
        if (
            member["role"] == "volunteer"
            and volunteer_team
            and member["volunteer_team"] != volunteer_team
        ):
            continue
        by_role.setdefault(member["role"], []).append(member)

    def on_duty(role: str) -> list[dict[str, Any]]:
        return [m for m in by_role.get(role, []) if m["on_duty"]]

    team: list[TeamMember] = []
    covers: dict[int, str] = {}
    notes: list[str] = []
    for role in ROLE_ORDER:
        for member in by_role.get(role, []):
            if member["on_duty"]:
                continue
            # Walk down the fallback chain to the first role with someone on duty.
            substitute_role = FALLBACK.get(role)
            while substitute_role and not on_duty(substitute_role):
                substitute_role = FALLBACK.get(substitute_role)
            zh, en = ROLE_NAMES[role]
            if substitute_role:
                sub = on_duty(substitute_role)[0]
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
    seen: set[int] = set()
    for role in ROLE_ORDER:
        for member in on_duty(role):
            if member["staff_id"] in seen and role != "volunteer":
                continue
            seen.add(member["staff_id"])
            team.append(
                TeamMember(
                    role=role,
                    staff_id=member["staff_id"],
                    staff_code=member["code"],
                    name=member["name"],
                    phone=member["phone"],
                    volunteer_team=member["volunteer_team"],
                    covers_for=covers.get(member["staff_id"]) if role != "grid_worker" else None,
                )
            )
    lead = next((m for m in team if m.role == "grid_worker"), None)
    if lead is None:
        lead = next((m for m in team if m.role == "part_time_worker"), None)
    if lead is None:
        lead = next((m for m in team if m.role == "volunteer"), None)
    return lead, tuple(team), tuple(notes)
