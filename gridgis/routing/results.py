"""Routing results: what matched, why, who acts, and the sentence that explains it.

The sentence itself is made by :func:`gridgis.routing.explanations.explain`.

A :class:`RoutingResult` is what gets stored with an incident as its snapshot
(DESIGN.md, Routing rule 6). Names and phones in it are shown to a viewer
person by person (:meth:`RoutingResult.to_dict`), by the one privacy rule.

Its dict is written out field by field (:meth:`RoutingResult.as_dict`) rather
than made by ``dataclasses.asdict``, which walks every value generically and
deep-copies it: a hotline file of 20,000 work orders spent 3.8 s there, 96 µs
a result against 10 µs. The result is the same dict
(``tests/gridgis/routing/test_results.py`` compares the two on generated results).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from typing import Any

from gridgis.access.permissions import Principal
from gridgis.access.scope import Scope
from gridgis.routing.explanations import explain
from gridgis.routing.snapshot_text import department_dict, member_dict, snapshot_json
from gridgis.staff.team import TeamMember, assemble_team

__all__ = ["PLACELESS", "RULES", "DepartmentRef", "RoutingResult", "build_result", "explain"]

RULES = (
    "unit",
    "building",
    "address",
    "grid",
    "nearest_grid",
    "unrouted",
    "outside_coverage",
    "invalid_location",
    "ambiguous_address",
    "outside_your_area",
)
#: Results that name no place of anyone's: shown as they are to everyone.
PLACELESS = ("outside_coverage", "invalid_location", "ambiguous_address")


@dataclass(frozen=True)
class DepartmentRef:
    """A department the incident also goes to."""

    id: int
    code: str
    name: str
    kind: str
    #: ``category`` (the category asks for it) or ``property`` (the compound's company).
    reason: str


@dataclass(frozen=True)
class RoutingResult:
    """What matched, why, and who acts. Stored with an incident as a snapshot."""

    rule: str
    lon: float | None
    lat: float | None
    crs: str = "EPSG:4326"
    community_id: int | None = None
    community_code: str | None = None
    layout_id: int | None = None
    layout_name: str | None = None
    grid_id: int | None = None
    grid_code: str | None = None
    grid_name: str | None = None
    building_id: int | None = None
    building_code: str | None = None
    building_name: str | None = None
    address: str | None = None
    unit_id: int | None = None
    unit_number: str | None = None
    compound_id: int | None = None
    compound_name: str | None = None
    #: Metres from the point to the routed grid (0 inside it).
    distance_m: float | None = None
    lead: TeamMember | None = None
    team: tuple[TeamMember, ...] = ()
    departments: tuple[DepartmentRef, ...] = ()
    #: Why the team differs from the roster (off-duty staff and who covers).
    team_notes: tuple[str, ...] = ()
    reason: str | None = None
    #: For address input: the address matched, or the candidates when ambiguous.
    matched_address: str | None = None
    candidates: tuple[dict[str, Any], ...] = ()
    #: Problems with the input that did not stop routing (e.g. an unknown category).
    warnings: tuple[str, ...] = ()

    # Computed on demand: a batch of 100,000 results need not format 200,000
    # sentences nobody reads.
    @property
    def explanation_zh(self) -> str:
        return explain(self)[0]

    @property
    def explanation_en(self) -> str:
        return explain(self)[1]

    def within(self, scope: Scope) -> bool:
        """Whether the place this result names lies in ``scope`` (grid staff's area)."""
        return self.rule in PLACELESS or scope.holds(self.grid_id, self.building_id, self.unit_id)

    def shown_to(self, viewer: Principal | None) -> RoutingResult:
        """This result as ``viewer`` may see it.

        Grid staff get answers inside their own area only: elsewhere the
        result is stripped of every name and code (rule
        ``outside_your_area``), so a batch of points cannot map what the
        layers hide. Each person's contact is in full or masked by the one
        privacy rule.
        """
        if viewer is not None and viewer.scope is not None and not self.within(viewer.scope):
            return RoutingResult(
                rule="outside_your_area",
                lon=self.lon,
                lat=self.lat,
                crs=self.crs,
                reason="outside your area",
                warnings=self.warnings,
            )
        return replace(
            self,
            lead=self.lead.shown_to(viewer) if self.lead else None,
            team=tuple(m.shown_to(viewer) for m in self.team),
        )

    def as_dict(self) -> dict[str, Any]:
        """Every field, people and departments as dicts: what ``dataclasses.asdict`` gives.

        Written out (see the module's docstring); a field added to this class,
        to :class:`~gridgis.staff.team.TeamMember` or to :class:`DepartmentRef`
        must be added here too (the test that compares with ``asdict`` fails until it is).
        """
        lead = self.lead
        return {
            **self._place(),
            "lead": None if lead is None else member_dict(lead),
            "team": tuple(member_dict(m) for m in self.team),
            "departments": tuple(department_dict(d) for d in self.departments),
            **self._notes(),
            "candidates": tuple(copy.deepcopy(c) for c in self.candidates),
            "warnings": self.warnings,
        }

    def _place(self) -> dict[str, Any]:
        """The fields before the people, in the snapshot's order (as_dict and snapshot_json)."""
        return {
            "rule": self.rule,
            "lon": self.lon,
            "lat": self.lat,
            "crs": self.crs,
            "community_id": self.community_id,
            "community_code": self.community_code,
            "layout_id": self.layout_id,
            "layout_name": self.layout_name,
            "grid_id": self.grid_id,
            "grid_code": self.grid_code,
            "grid_name": self.grid_name,
            "building_id": self.building_id,
            "building_code": self.building_code,
            "building_name": self.building_name,
            "address": self.address,
            "unit_id": self.unit_id,
            "unit_number": self.unit_number,
            "compound_id": self.compound_id,
            "compound_name": self.compound_name,
            "distance_m": self.distance_m,
        }

    def _notes(self) -> dict[str, Any]:
        """The fields between the departments and the candidates, in the snapshot's order."""
        return {
            "team_notes": self.team_notes,
            "reason": self.reason,
            "matched_address": self.matched_address,
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything, contacts and posts included: what an incident stores (rule 6).

        Personal data: shown only through the privacy rule
        (:func:`gridgis.incidents.views.routing_shown_to`).
        """
        data = self.as_dict()
        data["explanation_zh"], data["explanation_en"] = explain(self)
        return data

    def snapshot_json(self) -> str:
        """:meth:`snapshot` as JSON text (what ``json.dumps(..., ensure_ascii=False)`` writes).

        For storing many at once (COPY); see :mod:`gridgis.routing.snapshot_text`.
        """
        return snapshot_json(self)

    def to_dict(self, viewer: Principal | None = None) -> dict[str, Any]:
        """A JSON-ready dict of what ``viewer`` may see (None: nobody in particular)."""
        shown = self.shown_to(viewer)
        data = shown.as_dict()
        data["explanation_zh"], data["explanation_en"] = explain(shown)
        for member in [data["lead"], *data["team"]]:
            if member:
                # Where a person serves is in the result already (grid, building, unit).
                del member["post"], member["on_duty"]
        return data


def _json(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])


def build_result(
    row: Any,
    lon: float,
    lat: float,
    crs: str,
    *,
    assembled: tuple[TeamMember | None, tuple[TeamMember, ...], tuple[str, ...]] | None = None,
) -> RoutingResult:
    """Turn the statement's row into a result: rule, team, departments, explanation."""
    if row["community_id"] is None:
        return RoutingResult(
            rule="outside_coverage", lon=lon, lat=lat, crs=crs, reason="outside every community"
        )
    base: dict[str, Any] = {
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "community_id": row["community_id"],
        "community_code": row["community_code"],
        "layout_id": row["layout_id"],
        "layout_name": row["layout_name"],
        "building_id": row["building_id"],
        "building_code": row["building_code"],
        "building_name": row["building_name"],
        "address": row["address"],
        "unit_id": row["unit_id"],
        "unit_number": row["unit_number"],
        "compound_id": row["compound_id"],
        "compound_name": row["compound_name"],
    }
    departments = tuple(
        DepartmentRef(d["id"], d["code"], d["name"], d["kind"], d["reason"])
        for d in _json(row["departments"])
    )
    if row["layout_id"] is None:
        return RoutingResult(
            rule="unrouted", departments=departments, reason="no layout in force", **base
        )
    if row["grid_id"] is None:
        return RoutingResult(
            rule="unrouted",
            departments=departments,
            reason=f"no grid within {row['gap_tolerance_m']:g} m",
            **base,
        )
    dist = float(row["grid_dist"])
    if dist > 0:
        rule = "nearest_grid"
    elif row["unit_id"] is not None:
        rule = "unit"
    elif row["building_id"] is not None:
        rule = "building"
    else:
        rule = "grid"
    lead, team, notes = assembled or assemble_team(
        _json(row["team"]),
        row["category_team"],
        grid_id=row["grid_id"],
        building_id=row["building_id"],
        unit_id=row["unit_id"],
    )
    return RoutingResult(
        rule=rule,
        grid_id=row["grid_id"],
        grid_code=row["grid_code"],
        grid_name=row["grid_name"],
        distance_m=round(dist, 2),
        lead=lead,
        team=team,
        team_notes=notes,
        departments=departments,
        **base,
    )
