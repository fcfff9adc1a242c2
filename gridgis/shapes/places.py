"""Layer by layer: from a file's features to rows of community, grid, compound,
building and unit.

Each function checks everything it can before the first insert (codes,
references, where things lie) and leaves the refusal to
``Loader.raise_problems``, so a file's problems are reported together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import shapely
import sqlalchemy as sa

from gridgis.errors import NotFound
from gridgis.geo.layers import LAYER_SPECS
from gridgis.geo.layouts import publish_layout
from gridgis.models import Building, Compound, Department, Grid, Layout, Unit
from gridgis.shapes import checks as _spatial
from gridgis.shapes.fields import read_records
from gridgis.shapes.loader import Loader, default_layout_name, hex_ewkb
from gridgis.shapes.reading import Shapes, repair, to_multipolygon

Records = list[dict[str, Any]]


def load(
    loader: Loader,
    shapes: Shapes,
    *,
    code_field: str | None,
    name_field: str | None,
    layout_name: str | None,
    publish: bool,
) -> None:
    """Check and store the features of ``shapes`` as ``loader.report.layer``."""
    layer = loader.report.layer
    overrides = {"code": code_field, "name": name_field}
    if layer == "units":
        overrides = {"number": code_field}
    # Exactly the fields the layer's files hold (its spec), which the exporter writes.
    fields = LAYER_SPECS[layer].file_fields
    records, present, problems = read_records(
        shapes.frame, fields, shapes.labels, loader.label, overrides=overrides
    )
    loader.check(problems)
    geoms = list(shapes.frame.geometry.array)
    if layer == "community":
        _community(loader, records, present, geoms)
    elif layer == "grids":
        _grids(loader, records, present, shapes.labels, geoms, layout_name, publish)
    elif layer == "compounds":
        _compounds(loader, records, present, shapes.labels, geoms)
    elif layer == "buildings":
        _buildings(loader, records, present, shapes.labels, geoms)
    else:
        _units(loader, records, present, shapes.labels, geoms)


def _union(geoms: Sequence[shapely.Geometry]) -> shapely.MultiPolygon:
    merged = to_multipolygon(shapely.union_all(list(geoms)))
    return merged if merged.is_valid else (repair(merged) or merged)


def _hull(geoms: Sequence[shapely.Geometry]) -> shapely.MultiPolygon:
    return to_multipolygon(shapely.convex_hull(shapely.GeometryCollection(list(geoms))))


def _codes_and_names(
    loader: Loader,
    records: Records,
    present: set[str],
    labels: Sequence[str],
    *,
    name_required: bool,
) -> None:
    loader.codes(records, present, labels)
    for record in records:
        # No name column: the code names the feature. An empty cell in a
        # name column leaves a building unnamed (the column is optional).
        if "name" not in present or (record["name"] is None and name_required):
            record["name"] = record["code"]
    loader.repeated([(w, r["code"]) for w, r in zip(labels, records)], "code")


def _clashes(
    loader: Loader, model: type, records: Records, labels: Sequence[str], what: str
) -> None:
    if loader.community is None:
        return
    codes = [r["code"] for r in records if r["code"] is not None]
    taken = set(
        loader.session.scalars(
            sa.select(model.code).where(  # type: ignore[attr-defined]
                model.community_id == loader.community_id,  # type: ignore[attr-defined]
                model.code.in_(codes),  # type: ignore[attr-defined]
            )
        )
    )
    clashing = [(w, r["code"]) for w, r in zip(labels, records) if r["code"] in taken]
    community = loader.report.community
    if len(clashing) > 10:
        # Usually the same file imported twice: one line says so better than a thousand.
        shown = ", ".join(code for _, code in clashing[:10])
        loader.problem(
            f"{len(clashing)} {what} codes are already used in community {community} "
            f"({shown}, ...); was this file imported before?"
        )
        return
    for where, code in clashing:
        loader.problem(f"{where}: {what} code {code!r} is already used in community {community}")


def _community(loader: Loader, records: Records, present: set[str], geoms: list) -> None:
    code = loader.report.community
    chosen = [i for i, r in enumerate(records) if r["code"] == code]
    if not chosen:
        named = sorted({r["code"] for r in records if r["code"] is not None})
        if len(named) > 1:
            loader.problem(
                f"the file holds communities {', '.join(named)} but none is {code!r}; "
                "pass --community with one of them"
            )
        elif named:
            loader.warn(f"{loader.label} names community {named[0]!r}; it was imported as {code}.")
        chosen = list(range(len(records)))

    def first(key: str) -> Any:
        return next((records[i][key] for i in chosen if records[i][key] is not None), None)

    values = {k: first(k) for k in ("name", "gap_tolerance_m", "households_min", "households_max")}
    low, high = values["households_min"], values["households_max"]
    if low is not None and high is not None and low > high:
        loader.problem(f"households_min {low} is more than households_max {high}")
    loader.raise_problems()
    boundary = _union([geoms[i] for i in chosen])
    community = loader.ensure_community(boundary, "the polygon in the file", values["name"])
    if not loader.report.created_community:
        community.boundary = hex_ewkb([boundary])[0]  # type: ignore[assignment]
    for key, value in values.items():
        if value is not None:
            setattr(community, key, value)
    loader.session.flush()
    loader.report.count = 1


def _grids(
    loader: Loader,
    records: Records,
    present: set[str],
    labels: Sequence[str],
    geoms: list,
    layout_name: str | None,
    publish: bool,
) -> None:
    _codes_and_names(loader, records, present, labels, name_required=True)
    name = layout_name or default_layout_name()
    if loader.community is not None:
        taken = set(
            loader.session.scalars(
                sa.select(Layout.name).where(Layout.community_id == loader.community_id)
            )
        )
        if layout_name is not None and name in taken:
            loader.problem(
                f"community {loader.report.community} already has a layout named {name!r}; "
                "choose another --layout name"
            )
        base, n = name, 2
        while name in taken and layout_name is None:
            name, n = f"{base} ({n})", n + 1
    loader.raise_problems()
    community = loader.ensure_community(_union(geoms), "the union of the grids")
    layout = Layout(
        community_id=community.id, name=name, status="draft", note=f"imported from {loader.label}"
    )
    loader.session.add(layout)
    loader.session.flush()
    rows = [
        {"layout_id": layout.id, "code": r["code"], "name": r["name"], "geom": g}
        for r, g in zip(records, hex_ewkb(geoms))
    ]
    loader.insert(Grid, rows)
    loader.report.layout = name
    if publish:
        publish_layout(loader.session, layout, actor=loader.actor)
        loader.report.published = True


def _compounds(
    loader: Loader, records: Records, present: set[str], labels: Sequence[str], geoms: list
) -> None:
    _codes_and_names(loader, records, present, labels, name_required=True)
    _clashes(loader, Compound, records, labels, "compound")
    wanted = {r["property_company"] for r in records if r["property_company"] is not None}
    departments = dict(
        loader.session.execute(
            sa.select(Department.code, Department.id).where(Department.code.in_(wanted))
        ).all()
    )
    for code in sorted(wanted - departments.keys()):
        where = [w for w, r in zip(labels, records) if r["property_company"] == code]
        loader.problem(
            f"property_company {code!r} ({', '.join(where)}) is not a department code; "
            "add the property company as a department first"
        )
    loader.raise_problems()
    community = loader.ensure_community(_hull(geoms), "the convex hull of the compounds")
    rows = [
        {
            "community_id": community.id,
            "code": r["code"],
            "name": r["name"],
            "property_company_id": departments.get(r["property_company"]),
            "has_owners_committee": bool(r["owners_committee"]),
            "geom": g,
        }
        for r, g in zip(records, hex_ewkb(geoms))
    ]
    loader.insert(Compound, rows)


def _codes_in_community(loader: Loader, model: type, codes: set[str]) -> dict[str, int]:
    if loader.community is None or not codes:
        return {}
    return dict(
        loader.session.execute(
            sa.select(model.code, model.id).where(  # type: ignore[attr-defined]
                model.community_id == loader.community_id,  # type: ignore[attr-defined]
                model.code.in_(codes),  # type: ignore[attr-defined]
            )
        ).all()
    )


def _buildings(
    loader: Loader, records: Records, present: set[str], labels: Sequence[str], geoms: list
) -> None:
    _codes_and_names(loader, records, present, labels, name_required=False)
    _clashes(loader, Building, records, labels, "building")
    community_code = loader.report.community
    named = {r["compound"] for r in records if r["compound"] is not None}
    compounds = _codes_in_community(loader, Compound, named)
    for where, r in zip(labels, records):
        if r["compound"] is not None and r["compound"] not in compounds:
            loader.problem(
                f"{where}: compound {r['compound']!r} is not a compound of "
                f"community {community_code}"
            )
    compound_of = {i: compounds.get(r["compound"]) for i, r in enumerate(records)}
    if loader.community_id is not None:
        # An empty compound cell: the compound the building stands in, if any.
        unplaced = [i for i, r in enumerate(records) if r["compound"] is None]
        found = _spatial.covering(
            loader.session, "compound", loader.community_id, unplaced, [geoms[i] for i in unplaced]
        )
        compound_of.update(found)
        everyone = list(range(len(records)))
        for i in _spatial.outside_boundary(loader.session, loader.community_id, everyone, geoms):
            loader.warn(
                f"{labels[i]} (building {records[i]['code']}) is not inside the boundary of "
                f"community {community_code}; it was imported anyway"
            )
    loader.raise_problems()
    community = loader.ensure_community(_hull(geoms), "the convex hull of the buildings")
    rows = [
        {
            "community_id": community.id,
            "compound_id": compound_of.get(i),
            "code": r["code"],
            "name": r["name"],
            "address": r["address"],
            "floors": r["floors"],
            "households": r["households"],
            "geom": g,
        }
        for i, (r, g) in enumerate(zip(records, hex_ewkb(geoms)))
    ]
    loader.insert(Building, rows)


def _units(
    loader: Loader, records: Records, present: set[str], labels: Sequence[str], geoms: list
) -> None:
    code = loader.report.community
    if loader.community_id is None:
        raise NotFound(f"No community with code {code!r}; import its buildings before their units.")
    buildings = _codes_in_community(
        loader, Building, {r["building"] for r in records if r["building"] is not None}
    )
    building_of: dict[int, int] = {}
    unplaced = []
    for i, (where, r) in enumerate(zip(labels, records)):
        if r["building"] is None:
            unplaced.append(i)
        elif r["building"] in buildings:
            building_of[i] = buildings[r["building"]]
        else:
            loader.problem(
                f"{where}: building {r['building']!r} is not a building of community {code}"
            )
    found = _spatial.covering(
        loader.session, "building", loader.community_id, unplaced, [geoms[i] for i in unplaced]
    )
    building_of.update(found)
    for i in unplaced:
        if i not in found:
            loader.problem(
                f"{labels[i]}: no building of community {code} covers this unit; "
                "add a 'building' column with the building's code"
            )
    code_of = {v: k for k, v in buildings.items()}
    code_of.update(
        dict(
            loader.session.execute(
                sa.select(Building.id, Building.code).where(Building.id.in_(set(found.values())))
            ).all()
        )
    )
    if "number" not in present:
        seen: Counter[int] = Counter()
        for i, r in enumerate(records):
            seen[building_of.get(i, -1)] += 1
            r["number"] = str(seen[building_of.get(i, -1)])
        loader.warn(
            f"{loader.label} has no unit number field (number/单元), so the units "
            "were numbered 1, 2, ... within each building in file order."
        )
    else:
        loader.check(
            [f"{w}: no unit number" for w, r in zip(labels, records) if r["number"] is None]
        )
    placed = sorted(building_of)
    loader.repeated(
        [(labels[i], (code_of[building_of[i]], records[i]["number"])) for i in placed],
        "building and unit number",
    )
    taken = {
        tuple(row)
        for row in loader.session.execute(
            sa.select(Unit.building_id, Unit.number).where(
                Unit.building_id.in_(set(building_of.values()))
            )
        )
    }
    for i in placed:
        if (building_of[i], records[i]["number"]) in taken:
            loader.problem(
                f"{labels[i]}: building {code_of[building_of[i]]!r} already has a "
                f"unit {records[i]['number']!r}"
            )
    outside = _spatial.units_outside(
        loader.session, placed, [building_of[i] for i in placed], [geoms[i] for i in placed]
    )
    for i, area in outside.items():
        loader.problem(
            f"{labels[i]}: unit {records[i]['number']!r} lies outside building "
            f"{code_of[building_of[i]]!r} ({area:.1f} m² of it; at most 0.5 m is allowed)"
        )
    loader.raise_problems()
    rows = [
        {
            "building_id": building_of[i],
            "number": r["number"],
            "households": r["households"],
            "geom": g,
        }
        for i, (r, g) in enumerate(zip(records, hex_ewkb(geoms)))
    ]
    loader.insert(Unit, rows)
