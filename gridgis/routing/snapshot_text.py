"""A routing result's snapshot as JSON text, for storing many at once.

What :meth:`~gridgis.routing.results.RoutingResult.snapshot_json` returns:
exactly what ``json.dumps(result.snapshot(), ensure_ascii=False)`` writes
(``tests/gridgis/routing/test_results.py`` compares the two on generated
results), made for a hotline import, which stores one snapshot per work
order with COPY.

A batch's results share most of their text: the place's codes and names
(every point of a building), the people and departments (every point of a
grid: routing makes one object per person, team and place and shares it),
the notes and the explanation. Each different piece is encoded once and its
text reused; only the point's coordinates and its distance are written per
result. In a 50,000-row import this took 20 µs a result, 1.0 s in all,
against 9 µs with the pieces kept.

The pieces are kept by value (the place's fields, the notes) or by the
objects themselves, held with the text so that their ids stay theirs: a text
is never reused for different data, and each store is emptied when it fills.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gridgis.routing.explanations import explain
from gridgis.staff.team import TeamMember

if TYPE_CHECKING:
    from gridgis.routing.results import DepartmentRef, RoutingResult

#: The snapshot's encoder: a fresh tree of dicts, lists and scalars has no cycle to look for.
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

#: How many texts each store keeps before it is emptied.
_TEXT_MAX = 1 << 16
_PLACE_TEXT: dict[tuple[Any, ...], str] = {}
_PEOPLE_TEXT: dict[tuple[Any, ...], tuple[Any, Any, str]] = {}
_NOTES_TEXT: dict[tuple[Any, ...], str] = {}
#: Members' JSON by the member object (kept so its id stays its own).
_MEMBER_TEXT: dict[int, tuple[TeamMember, str]] = {}


def snapshot_json(r: RoutingResult) -> str:
    """``json.dumps(r.snapshot(), ensure_ascii=False)``, from the pieces kept."""
    zh, en = explain(r)
    return "".join(
        (
            _rule_json(r.rule),
            ', "lon": ',
            _number_json(r.lon),
            ', "lat": ',
            _number_json(r.lat),
            ", ",
            _place_json(r),
            ', "distance_m": ',
            _number_json(r.distance_m),
            _people_json(r),
            _notes_json(r, zh, en),
        )
    )


def member_dict(m: TeamMember) -> dict[str, Any]:
    """A team member as the snapshot has it (what ``dataclasses.asdict`` gives)."""
    post = m.post
    return {
        "role": m.role,
        "staff_id": m.staff_id,
        "staff_code": m.staff_code,
        "name": m.name,
        "phone": m.phone,
        "volunteer_team": m.volunteer_team,
        "covers_for": m.covers_for,
        "on_duty": m.on_duty,
        "post": {"grid_id": post.grid_id, "building_id": post.building_id, "unit_id": post.unit_id},
        "masked": m.masked,
    }


def department_dict(d: DepartmentRef) -> dict[str, Any]:
    """A department as the snapshot has it (what ``dataclasses.asdict`` gives)."""
    return {"id": d.id, "code": d.code, "name": d.name, "kind": d.kind, "reason": d.reason}


@lru_cache(maxsize=64)
def _rule_json(rule: str) -> str:
    return _encode({"rule": rule})[:-1]


def _number_json(value: Any) -> str:
    """A coordinate or distance as ``json.dumps`` writes it (``float.__repr__`` when finite)."""
    if type(value) is float and value - value == 0.0:  # NaN and ±inf give NaN here
        return repr(value)
    return _encode(value)


def _place_json(r: RoutingResult) -> str:
    """The fields from ``crs`` to ``compound_name`` as JSON members (no braces)."""
    key = (
        r.crs,
        r.community_id,
        r.community_code,
        r.layout_id,
        r.layout_name,
        r.grid_id,
        r.grid_code,
        r.grid_name,
        r.building_id,
        r.building_code,
        r.building_name,
        r.address,
        r.unit_id,
        r.unit_number,
        r.compound_id,
        r.compound_name,
    )
    text = _PLACE_TEXT.get(key)
    if text is None:
        place = r._place()
        for name in ("rule", "lon", "lat", "distance_m"):
            del place[name]
        text = _encode(place)[1:-1]
        _keep(_PLACE_TEXT, key, text)
    return text


def _people_json(r: RoutingResult) -> str:
    """``, "lead": ..., "team": [...], "departments": [...], `` as JSON text."""
    lead, team, departments = r.lead, r.team, r.departments
    key = (id(lead), id(team), departments)
    known = _PEOPLE_TEXT.get(key)
    if known is not None and known[0] is lead and known[1] is team:
        return known[2]
    text = "".join(
        (
            ', "lead": ',
            "null" if lead is None else _member_json(lead),
            ', "team": [',
            ", ".join([_member_json(m) for m in team]),
            '], "departments": [',
            ", ".join([_department_json(d) for d in departments]),
            "], ",
        )
    )
    _keep(_PEOPLE_TEXT, key, (lead, team, text))
    return text


def _notes_json(r: RoutingResult, zh: str, en: str) -> str:
    """The fields after the departments, with the closing brace."""
    if r.candidates:  # dicts, no key; and rare (an address that matched several buildings)
        return _encode_notes(r, zh, en)
    key = (r.team_notes, r.reason, r.matched_address, r.warnings, zh, en)
    text = _NOTES_TEXT.get(key)
    if text is None:
        text = _encode_notes(r, zh, en)
        _keep(_NOTES_TEXT, key, text)
    return text


def _encode_notes(r: RoutingResult, zh: str, en: str) -> str:
    notes = {
        **r._notes(),
        "candidates": r.candidates,
        "warnings": r.warnings,
        "explanation_zh": zh,
        "explanation_en": en,
    }
    return _encode(notes)[1:]


def _member_json(member: TeamMember) -> str:
    known = _MEMBER_TEXT.get(id(member))
    if known is not None and known[0] is member:
        return known[1]
    text = _encode(member_dict(member))
    _keep(_MEMBER_TEXT, id(member), (member, text))
    return text


@lru_cache(maxsize=4096)
def _department_json(department: DepartmentRef) -> str:
    return _encode(department_dict(department))


def _keep(store: dict[Any, Any], key: Any, value: Any) -> None:
    if len(store) >= _TEXT_MAX:
        store.clear()
    store[key] = value
