"""Who sees a person's name and phone: one rule, decided per person (DESIGN.md, Security)."""

from __future__ import annotations

import pytest

from gridgis.access.permissions import ANONYMOUS, ROLE_PERMISSIONS, Principal, cli_principal
from gridgis.access.privacy import (
    Post,
    mask_name,
    mask_phone,
    sees_resident_data,
    sees_staff_contact,
    staff_contact,
)
from gridgis.access.scope import Places, Scope
from gridgis.staff.team import TeamMember


def person(role: str, scope: Scope | None = None) -> Principal:
    return Principal(
        kind="user", name=role, role=role, permissions=ROLE_PERMISSIONS[role], scope=scope
    )


#: A building head: their area is building 10 and its unit 100; their team is
#: grid 1 (which building 10 belongs to) with buildings 10 and 11 and their units.
TEAM = Places(frozenset({1}), frozenset({10, 11}), frozenset({100, 110}))
GRID_STAFF = person("grid_staff", Scope(frozenset(), frozenset({10}), frozenset({100}), team=TEAM))
IN_AREA = [Post(building_id=10), Post(unit_id=100)]
IN_TEAM = [Post(grid_id=1), Post(building_id=11), Post(unit_id=110)]
ELSEWHERE = [Post(grid_id=2), Post(building_id=20), Post(unit_id=200), Post()]
EVERYWHERE = IN_AREA + IN_TEAM + ELSEWHERE


@pytest.mark.parametrize("post", EVERYWHERE)
def test_administrators_dispatchers_and_the_command_line_see_every_contact(post: Post) -> None:
    assert sees_staff_contact(person("admin"), post)
    assert sees_staff_contact(person("dispatcher"), post)  # they call the team
    assert sees_staff_contact(cli_principal("root"), post)


@pytest.mark.parametrize("role", ["planner", "viewer"])
@pytest.mark.parametrize("post", EVERYWHERE)
def test_planners_and_viewers_see_masks(role: str, post: Post) -> None:
    assert not sees_staff_contact(person(role), post)


@pytest.mark.parametrize("post", IN_AREA + IN_TEAM)
def test_grid_staff_see_the_contacts_of_their_own_grid_team(post: Post) -> None:
    assert sees_staff_contact(GRID_STAFF, post)


@pytest.mark.parametrize("post", ELSEWHERE)
def test_grid_staff_see_masks_of_other_grids(post: Post) -> None:
    assert not sees_staff_contact(GRID_STAFF, post)


@pytest.mark.parametrize("post", EVERYWHERE)
def test_residents_are_seen_by_administrators_only_of_the_office_roles(post: Post) -> None:
    assert sees_resident_data(person("admin"), post)
    for role in ("planner", "dispatcher", "viewer"):
        assert not sees_resident_data(person(role), post)


def test_residents_are_seen_by_grid_staff_in_their_area_only() -> None:
    for post in IN_AREA:
        assert sees_resident_data(GRID_STAFF, post)
    for post in IN_TEAM + ELSEWHERE:  # the team's contacts, yes; its households, no
        assert not sees_resident_data(GRID_STAFF, post)


def test_the_dispatcher_handling_an_incident_sees_its_reporter() -> None:
    place = Post(grid_id=2)
    assert sees_resident_data(person("dispatcher"), place, handles_incident=True)
    assert not sees_resident_data(person("planner"), place, handles_incident=True)


def test_nobody_in_particular_and_api_keys_see_masks() -> None:
    key = Principal(kind="apikey", name="hotline", permissions=frozenset({"route:read"}))
    for viewer in (None, ANONYMOUS, key):
        assert not sees_staff_contact(viewer, Post(grid_id=1))


def test_a_contact_is_masked_the_way_public_notices_are() -> None:
    masked = staff_contact(person("planner"), Post(grid_id=1), "李四光", "139-0000-5678")
    assert (masked.name, masked.phone, masked.masked) == ("李**", "139****5678", True)
    full = staff_contact(person("admin"), Post(grid_id=1), "李四光", "139-0000-5678")
    assert (full.name, full.phone, full.masked) == ("李四光", "139-0000-5678", False)


def test_a_team_member_is_shown_per_person() -> None:
    inside = TeamMember("grid_worker", 1, "S1", "张三", "13812341234", post=Post(grid_id=1))
    assert inside.shown_to(person("viewer")).masked
    outside = TeamMember("grid_worker", 2, "S9", "王九", "13912349999", post=Post(grid_id=2))
    assert inside.shown_to(GRID_STAFF) == inside
    shown = outside.shown_to(GRID_STAFF)
    assert (shown.name, shown.phone, shown.masked) == ("王*", "139****9999", True)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("王", "*"), (None, ""), (" ", "")],
)
def test_mask_name(name: str | None, expected: str) -> None:
    assert mask_name(name) == expected


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13812341234", "138****1234"),
        ("027-8888-1234", "027****1234"),
        ("1234", "****"),
        ("12345", "***45"),
        (None, ""),
    ],
)
def test_mask_phone(phone: str | None, expected: str) -> None:
    assert mask_phone(phone) == expected
