"""The "1+1+1+N" team of a place, and who covers for whom (DESIGN.md, Routing rule 4).

One :class:`TeamMember` type serves every surface: the routed team of an
incident, and the teams the map shows. A member carries the post it serves
(grid, building or unit), so the one privacy rule
(:func:`gridgis.access.privacy.sees_staff_contact`) can decide, person by
person, who sees the name and phone: :meth:`TeamMember.shown_to`.

The grid worker leads. Staff who are off duty are skipped, and their duty
passes down a fixed chain: unit head → building head → grid worker →
part-time worker → volunteers. Every skip is stated in a note, in Chinese and
English, so the dispatcher sees why the team differs from the roster.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from gridgis.access.permissions import Principal
from gridgis.access.privacy import Post, staff_contact
from gridgis.models import GRID_ROLES, STAFF_ROLES
from gridgis.models.roles import STAFF_ROLE_TERMS

#: Order of roles in a team (the vocabulary's order: the lead first).
ROLE_ORDER = STAFF_ROLES
#: Who takes over a role's duty when its holder is off duty.
FALLBACK = {
    "unit_head": "building_head",
    "building_head": "grid_worker",
    "grid_worker": "part_time_worker",
    "part_time_worker": "volunteer",
}


#: The post of a member not tied to a place (nobody sees such a contact in full
#: but those who see every contact).
NOWHERE = Post()


@dataclass(frozen=True)
class TeamMember:
    """One person in one role on a team. ``name`` and ``phone`` are personal data."""

    role: str
    staff_id: int
    staff_code: str
    name: str
    phone: str | None
    volunteer_team: str | None = None
    #: The role whose duty this person covers because its holder is off duty.
    covers_for: str | None = None
    on_duty: bool = True
    #: Where the person serves in this role (decides who sees the contact).
    post: Post = NOWHERE
    #: True once :meth:`shown_to` has masked the name and phone.
    masked: bool = False

    def shown_to(self, viewer: Principal | None) -> TeamMember:
        """This member as ``viewer`` may see them: full contact, or masked."""
        contact = staff_contact(viewer, self.post, self.name, self.phone)
        if not contact.masked:
            return self
        return replace(self, name=contact.name, phone=contact.phone, masked=True)


def post_of(role: str, grid_id: int | None, building_id: int | None, unit_id: int | None) -> Post:
    """The post of a role at a routed place: grid roles serve the grid, heads theirs."""
    if role in GRID_ROLES:
        return Post(grid_id=grid_id)
    if role == "building_head":
        return Post(building_id=building_id)
    return Post(unit_id=unit_id)


@lru_cache(maxsize=1 << 16)
def _member(
    role: str,
    staff_id: int,
    code: str,
    name: str,
    phone: str | None,
    volunteer_team: str | None,
    covers_for: str | None,
    post: Post,
) -> TeamMember:
    # Results are immutable, so the same person in the same role is one object
    # however many points of a batch route to them.
    return TeamMember(role, staff_id, code, name, phone, volunteer_team, covers_for, post=post)


def assemble_team(
    roster: list[dict[str, Any]],
    volunteer_team: str | None = None,
    *,
    grid_id: int | None = None,
    building_id: int | None = None,
    unit_id: int | None = None,
) -> tuple[TeamMember | None, tuple[TeamMember, ...], tuple[str, ...]]:
    """Pick the on-duty team; pass each off-duty holder's duty to the next role.

    Args:
        roster: The staff of the grid, building and unit (role, volunteer_team,
            on_duty, staff_id, code, name, phone).
        volunteer_team: Only volunteers of this team (a category may ask for one).
        grid_id, building_id, unit_id: The routed place, for each member's post.

    Returns:
        The lead (the grid worker, or whoever covers for them), the team in
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
            notes.append(_off_duty_note(role, member["code"], substitute_role, duty, covers))
    team: list[TeamMember] = []
    seen: set[int] = set()
    for role in ROLE_ORDER:
        for m in duty[role]:
            staff_id = m["staff_id"]
            if staff_id in seen and role != "volunteer":
                continue
            seen.add(staff_id)
            covers_for = covers.get(staff_id) if role != "grid_worker" else None
            post = post_of(role, grid_id, building_id, unit_id)
            team.append(
                _member(
                    role,
                    staff_id,
                    m["code"],
                    m["name"],
                    m["phone"],
                    m["volunteer_team"],
                    covers_for,
                    post,
                )
            )
    lead = None
    for role in ("grid_worker", "part_time_worker", "volunteer"):
        lead = next((m for m in team if m.role == role), None)
        if lead is not None:
            break
    return lead, tuple(team), tuple(notes)


def _off_duty_note(
    role: str,
    code: str,
    substitute_role: str | None,
    duty: dict[str, list[dict[str, Any]]],
    covers: dict[int, str],
) -> str:
    """One sentence, in Chinese and English, on who covers for an off-duty person."""
    term = STAFF_ROLE_TERMS[role]
    if substitute_role is None:
        return (
            f"{term.zh} {code} 不在岗，无人可代 / "
            f"{term.en.lower()} {code} is off duty and nobody can cover"
        )
    sub = duty[substitute_role][0]
    covers.setdefault(sub["staff_id"], role)
    sub_term = STAFF_ROLE_TERMS[substitute_role]
    return (
        f"{term.zh} {code} 不在岗，由{sub_term.zh} {sub['code']} 代为处理 / "
        f"{term.en.lower()} {code} is off duty; {sub_term.en.lower()} {sub['code']} covers"
    )
