"""Staff and their roles ("1+1+1+N") from a CSV file or an Excel workbook.

One row is one role of one person: ``code,name,phone,role,grid,building,unit,
team,on_duty``. A person with two roles has two rows with the same code (and
the same name and phone). Names and phones are personal data (DESIGN.md), so
messages name rows and codes, never those values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gridgis.errors import InvalidFile, NotFound
from gridgis.geo import tables
from gridgis.geo.layouts import choose_layout
from gridgis.models import (
    GRID_ROLES,
    STAFF_ROLES,
    VOLUNTEER_TEAMS,
    Assignment,
    Building,
    Grid,
    Layout,
    Staff,
    Unit,
)
from gridgis.shapes.fields import LAYER_FIELDS, read_records
from gridgis.shapes.loader import Loader

#: Roles of which a grid, building or unit has at most one (models.Assignment).
_SINGLE = {
    "grid_worker": "grid",
    "part_time_worker": "grid",
    "building_head": "building",
    "unit_head": "unit",
}


def load_staff(
    loader: Loader,
    path: Path,
    *,
    code_field: str | None,
    name_field: str | None,
    layout_name: str | None,
) -> None:
    """Check and store the staff and assignments of a CSV file or XLSX workbook."""
    label = loader.label
    if path.suffix.lower() not in tables.TABLE_SUFFIXES:
        raise InvalidFile(
            f"{label}: staff are imported from a CSV file or an Excel workbook (.xlsx) "
            "with the columns code,name,phone,role,grid,building,unit,team,on_duty."
        )
    if not path.is_file():
        raise InvalidFile(f"{label} does not exist or is not a file.")
    table = tables.read_table(path, label)
    labels = table.labels
    records, present, problems = read_records(
        table.frame(),
        LAYER_FIELDS["staff"],
        labels,
        label,
        overrides={"code": code_field, "name": name_field},
    )
    loader.check(problems)
    community = loader.community
    if community is None:
        raise NotFound(
            f"No community with code {loader.report.community!r}; import its grids or "
            "boundary before its staff."
        )
    for column in ("code", "name"):
        if column not in present:
            loader.problem(
                f"the file has no {column!r} column (columns: {', '.join(table.header)})"
            )
    loader.raise_problems()
    people = _people(loader, records, labels)
    targets = _Targets(loader, records, layout_name)
    assignments: list[dict[str, Any]] = []
    for where, r in zip(labels, records):
        if r["role"] is not None:
            assignment = targets.resolve(where, r)
            if assignment is not None:
                assignments.append(assignment)
    targets.check_single(assignments)
    loader.raise_problems()
    result = loader.session.execute(
        sa.insert(Staff).returning(Staff.id, Staff.code),
        [{"community_id": community.id, **person} for person in people.values()],
    )
    staff_ids = {code: staff_id for staff_id, code in result}
    rows = [{**a, "staff_id": staff_ids[a.pop("_code")]} for a in assignments]
    for row in rows:
        row.pop("_where")
    loader.insert(Assignment, rows)
    loader.report.assignments = loader.report.count
    loader.report.count = len(staff_ids)
    if targets.layout is not None and targets.used_grids:
        loader.report.layout = targets.layout.name


def _people(
    loader: Loader, records: list[dict[str, Any]], labels: list[str]
) -> dict[str, dict[str, Any]]:
    people: dict[str, dict[str, Any]] = {}
    first_row: dict[str, str] = {}
    for where, r in zip(labels, records):
        code = r["code"]
        if code is None:
            loader.problem(f"{where}: no staff code")
            continue
        if r["name"] is None:
            loader.problem(f"{where}: staff {code!r} has no name")
        person = {"code": code, "name": r["name"], "phone": r["phone"]}
        if code not in people:
            people[code], first_row[code] = person, where
        elif people[code] != person:
            loader.problem(
                f"{where}: staff {code!r} has a different name or phone than in "
                f"{first_row[code]}; one person, one code"
            )
    taken = set(
        loader.session.scalars(
            sa.select(Staff.code).where(
                Staff.community_id == loader.community_id, Staff.code.in_(people)
            )
        )
    )
    for code in sorted(taken):
        loader.problem(
            f"{first_row[code]}: staff code {code!r} is already used in community "
            f"{loader.report.community}"
        )
    return people


class _Targets:
    """Looks up the grid, building or unit each role answers for."""

    def __init__(
        self, loader: Loader, records: list[dict[str, Any]], layout_name: str | None
    ) -> None:
        self.loader = loader
        self.used_grids = False
        community = loader.community
        if community is None:  # load_staff refuses a missing community before this
            raise NotFound(f"No community with code {loader.report.community!r}.")
        self.layout: Layout | None = None
        try:
            self.layout = choose_layout(loader.session, community, layout_name, newest_draft=True)
        except NotFound as exc:
            loader.problem(exc.user_msg)
        self.grids: dict[str, int] = {}
        if self.layout is not None:
            self.grids = dict(
                loader.session.execute(
                    sa.select(Grid.code, Grid.id).where(Grid.layout_id == self.layout.id)
                ).all()
            )
        codes = {r["building"] for r in records if r["building"] is not None}
        self.buildings = dict(
            loader.session.execute(
                sa.select(Building.code, Building.id).where(
                    Building.community_id == community.id, Building.code.in_(codes)
                )
            ).all()
        )
        self.units = {
            (b, n): u
            for u, b, n in loader.session.execute(
                sa.select(Unit.id, Unit.building_id, Unit.number).where(
                    Unit.building_id.in_(set(self.buildings.values()))
                )
            )
        }

    def _problem(self, text: str) -> None:
        self.loader.problem(text)

    def resolve(self, where: str, r: dict[str, Any]) -> dict[str, Any] | None:
        role = r["role"]
        if role not in STAFF_ROLES:
            self._problem(f"{where}: role {role!r} is not one of {', '.join(STAFF_ROLES)}")
            return None
        team = r["team"]
        if role == "volunteer" and team not in VOLUNTEER_TEAMS:
            self._problem(
                f"{where}: a volunteer needs a team, one of {', '.join(VOLUNTEER_TEAMS)} "
                f"(got {team!r})"
            )
        elif role != "volunteer" and team is not None:
            self._problem(f"{where}: team {team!r} is only for volunteers, not {role}")
        row: dict[str, Any] = {
            "_code": r["code"],
            "_where": where,
            "role": role,
            "volunteer_team": team if role == "volunteer" else None,
            "on_duty": True if r["on_duty"] is None else r["on_duty"],
            "grid_id": None,
            "building_id": None,
            "unit_id": None,
        }
        if role in GRID_ROLES:
            row["grid_id"] = self._grid(where, r["grid"])
        else:
            building_id = self._building(where, r["building"], role)
            if role == "building_head":
                row["building_id"] = building_id
            elif building_id is not None:
                row["unit_id"] = self._unit(where, building_id, r)
        target = row["grid_id"] or row["building_id"] or row["unit_id"]
        return row if target is not None else None

    def _grid(self, where: str, code: str | None) -> int | None:
        self.used_grids = True
        if code is None:
            self._problem(f"{where}: a grid role needs the grid's code in the 'grid' column")
        elif self.layout is None:
            self._problem(
                f"{where}: community {self.loader.report.community} has no grid layout "
                "yet; import its grids first"
            )
        elif code not in self.grids:
            self._problem(f"{where}: grid {code!r} is not in layout {self.layout.name!r}")
        else:
            return self.grids[code]
        return None

    def _building(self, where: str, code: str | None, role: str) -> int | None:
        if code is None:
            self._problem(f"{where}: a {role} needs the building's code in the 'building' column")
        elif code not in self.buildings:
            self._problem(
                f"{where}: building {code!r} is not a building of community "
                f"{self.loader.report.community}"
            )
        else:
            return self.buildings[code]
        return None

    def _unit(self, where: str, building_id: int, r: dict[str, Any]) -> int | None:
        number = r["unit"]
        if number is None:
            self._problem(f"{where}: a unit_head needs the unit number in the 'unit' column")
        elif (building_id, number) not in self.units:
            self._problem(f"{where}: building {r['building']!r} has no unit {number!r}")
        else:
            return self.units[(building_id, number)]
        return None

    def check_single(self, rows: list[dict[str, Any]]) -> None:
        """One grid worker and one part-time worker per grid, one head per building/unit."""
        session = self.loader.session
        holders: dict[tuple[str, int], str] = {}
        for role, column in _SINGLE.items():
            ids = {r[f"{column}_id"] for r in rows if r["role"] == role}
            held = session.scalars(
                sa.select(getattr(Assignment, f"{column}_id")).where(
                    Assignment.role == role, getattr(Assignment, f"{column}_id").in_(ids)
                )
            )
            for target in held:
                holders[(role, target)] = "an existing assignment"
        seen: set[tuple[str, str, int | None]] = set()
        for r in rows:
            key = (r["_code"], r["role"], r["grid_id"])
            if key in seen:
                self._problem(f"{r['_where']}: staff {r['_code']!r} is given this role twice")
            seen.add(key)
            place = _SINGLE.get(r["role"])
            if place is None:
                continue
            target = (r["role"], r[f"{place}_id"])
            if target in holders:
                self._problem(
                    f"{r['_where']}: the {place} already has a {r['role']} ({holders[target]})"
                )
            else:
                holders[target] = r["_where"]
