"""Routing results as dicts and JSON: written out by hand, the same as ``dataclasses.asdict``.

The snapshot an incident stores (DESIGN.md, Routing rule 6) used to be made
by ``dataclasses.asdict``; it is now written out field by field for speed.
These checks generate results of every shape (every field drawn from its
type, so a field added to a result, a team member, a post or a department
and forgotten in the hand-written dict makes them fail) and compare.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.access.privacy import Post
from gridgis.access.scope import Scope
from gridgis.routing.results import RULES, DepartmentRef, RoutingResult, explain
from gridgis.staff.team import TeamMember

ids = st.none() | st.integers(min_value=1, max_value=2**31)
# Text with what JSON and COPY must escape: quotes, backslashes, tabs, newlines, CJK.
text = st.text(alphabet=st.sampled_from('ab网格"\\\t\n\r/ü😀'), max_size=12)
floats = st.floats(allow_nan=False, allow_infinity=False)


def every_field(cls: type, **given: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``cls`` with every field drawn (``...``: from its type), not only those without default."""
    return st.builds(cls, **{f.name: given.get(f.name, ...) for f in fields(cls)})


posts = every_field(Post, grid_id=ids, building_id=ids, unit_id=ids)
members = every_field(TeamMember, post=posts)
departments = every_field(DepartmentRef)
candidates = st.lists(
    st.fixed_dictionaries(
        {"id": st.integers(), "address": st.none() | text, "name": text, "score": floats}
    ),
    max_size=3,
).map(tuple)
results = every_field(
    RoutingResult,
    rule=st.sampled_from(RULES),
    lon=st.none() | floats,
    lat=st.none() | floats,
    distance_m=floats,
    lead=st.none() | members,
    team=st.lists(members, max_size=6).map(tuple),
    departments=st.lists(departments, max_size=4).map(tuple),
    team_notes=st.lists(text, max_size=3).map(tuple),
    candidates=candidates,
    warnings=st.lists(text, max_size=2).map(tuple),
)


def old_snapshot(result: RoutingResult) -> dict[str, Any]:
    """The snapshot as it was made before: ``asdict`` and the two explanations."""
    data = asdict(result)
    data["explanation_zh"], data["explanation_en"] = explain(result)
    return data


@settings(max_examples=300, deadline=None)
@given(results)
def test_the_hand_written_dict_is_what_asdict_gives(result: RoutingResult) -> None:
    assert result.as_dict() == asdict(result)
    # Every field of every nested dataclass, none forgotten (dicts compare keys too).
    assert list(result.as_dict()) == list(asdict(result))
    assert result.snapshot() == old_snapshot(result)


@settings(max_examples=300, deadline=None)
@given(results)
def test_the_snapshot_json_is_the_snapshot(result: RoutingResult) -> None:
    stored = result.snapshot_json()
    assert stored == json.dumps(old_snapshot(result), ensure_ascii=False)
    assert json.loads(stored) == json.loads(json.dumps(old_snapshot(result), ensure_ascii=False))
    assert result.snapshot_json() == stored  # the second time from the members' texts kept
    # Chinese stays readable in the stored text (and in psql), as json.dumps(..., False) kept it.
    if result.grid_name and "网" in result.grid_name:
        assert "网" in stored


@settings(max_examples=200, deadline=None)
@given(results, st.sampled_from([None, "dispatcher", "viewer", "planner"]))
def test_to_dict_is_asdict_of_what_the_viewer_may_see(
    result: RoutingResult, role: str | None
) -> None:
    viewer = (
        None
        if role is None
        else Principal(kind="user", name=role, role=role, permissions=ROLE_PERMISSIONS[role])
    )
    shown = result.shown_to(viewer)
    expected = old_snapshot(shown)
    for member in [expected["lead"], *expected["team"]]:
        if member:
            del member["post"], member["on_duty"]
    assert result.to_dict(viewer) == expected


@settings(max_examples=100, deadline=None)
@given(results)
def test_grid_staff_outside_their_area_get_nothing_in_the_dict(result: RoutingResult) -> None:
    result = replace(result, rule="unit", grid_id=7, building_id=None, unit_id=None)
    staff = Principal(
        kind="user",
        name="gw",
        role="grid_staff",
        permissions=ROLE_PERMISSIONS["grid_staff"],
        staff_id=1,
        scope=Scope(grid_ids=frozenset({8})),
    )
    shown = result.to_dict(staff)
    assert shown["rule"] == "outside_your_area"
    assert shown["lead"] is None and shown["team"] == () and shown["grid_id"] is None


def test_the_dict_is_fresh_each_time() -> None:
    """Callers change what they get (to_dict deletes posts): the result must not change."""
    member = TeamMember("grid_worker", 1, "S1", "王网格", "13900000000", post=Post(grid_id=3))
    result = RoutingResult(rule="grid", lon=1.0, lat=2.0, grid_id=3, lead=member, team=(member,))
    first = result.snapshot()
    first["lead"]["post"]["grid_id"] = 99
    first["team"][0]["name"] = "changed"
    assert result.snapshot()["lead"]["post"]["grid_id"] == 3
    assert result.snapshot()["team"][0]["name"] == "王网格"
    assert first["lead"] is not first["team"][0]
