"""Column-wise batch routing: a batch's answers as Arrow columns, not one object per point.

:func:`route_columns` routes arrays of coordinates and returns a
``pyarrow.Table`` with one row per point, in input order, and the columns of
:data:`SCHEMA`: the same answers :func:`~gridgis.routing.points.route_points`
gives, field for field as :func:`gridgis.routing.files.routing_values` writes
them (``tests/gridgis/routing/test_columns.py`` compares the two on every kind
of point), without a :class:`~gridgis.routing.results.RoutingResult` per point.

The points the in-memory index proves (:func:`gridgis.routing.cache.locate`)
are answered by numpy and Arrow takes over the index's arrays; teams and
department lists are assembled once per distinct (grid, building, unit,
volunteer team) and (category, property company, jurisdictions), which a
city's batch repeats thousands of times. The points the index leaves to the
database (near an edge, in a gap between grids, within a tolerance of a
community's boundary) and every point of a batch with no index go through
``route_points``' statement as before, and their results are turned into the
same columns: the index still answers only what it can prove.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import InvalidInput
from gridgis.geo.crs import normalise_crs_name, to_wgs84
from gridgis.routing import cache as routing_cache
from gridgis.routing.cache import Located, RoutingIndex
from gridgis.routing.points import (
    PointInput,
    RoutingResult,
    check_text,
    rosters_for,
    route_points,
)
from gridgis.staff.team import assemble_team

#: The routed columns, in order. Text is null where a result has no value.
SCHEMA = pa.schema(
    [
        ("rule", pa.string()),
        ("community_id", pa.int64()),
        ("community_code", pa.string()),
        ("layout_id", pa.int64()),
        ("grid_id", pa.int64()),
        ("grid_code", pa.string()),
        ("grid_name", pa.string()),
        ("building_id", pa.int64()),
        ("building_code", pa.string()),
        ("unit_id", pa.int64()),
        ("unit_number", pa.string()),
        ("compound_id", pa.int64()),
        ("distance_m", pa.float64()),
        ("lead_code", pa.string()),
        ("team", pa.string()),
        ("departments", pa.string()),
        ("reason", pa.string()),
    ]
)
_RULES = ("outside_coverage", "unrouted", "unit", "building", "grid")


def route_columns(
    session: Session,
    lon: Any,
    lat: Any,
    *,
    crs: str | int | None = "EPSG:4326",
    categories: Sequence[str | None] | None = None,
    at: dt.datetime | None = None,
    community_code: str | None = None,
    problems: dict[int, str] | None = None,
    use_cache: bool | None = None,
) -> pa.Table:
    """Route every point; one row per point, in order, with the columns of :data:`SCHEMA`.

    Args:
        lon, lat: Coordinates in ``crs`` (array-likes of floats; NaN: missing).
        categories: One category code per point (None or "": none).
        at: The incidents' time (default: now); it picks the layout in force.
        problems: Rows already known to be unusable (position → reason), e.g.
            unparsable text in a file: ``invalid_location`` with that reason.
        use_cache: As for :func:`~gridgis.routing.points.route_points`.

    A point that cannot be located gets ``invalid_location`` and a reason, as
    in ``route_points``; an unknown category a warning in ``reason``.
    """
    check_text(community_code, "community")
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    n = len(x)
    cats: list[str | None] = (
        [c or None for c in categories] if categories is not None else [None] * n
    )
    at = at or clock.now()
    crs_name = normalise_crs_name(crs)
    wlon, wlat, reasons = _normalise(x, y, crs_name)
    if at.tzinfo is None:
        reasons = ["the time has no time zone"] * n
    for i, problem in (problems or {}).items():
        reasons[i] = problem
    valid = np.flatnonzero(np.array([r is None for r in reasons], dtype=bool))
    parts: list[tuple[np.ndarray, pa.Table]] = []
    invalid = np.flatnonzero(np.array([r is not None for r in reasons], dtype=bool))
    if len(invalid):
        parts.append((invalid, _invalid_table([reasons[i] for i in invalid.tolist()])))
    index = (
        routing_cache.index_for(session, len(valid), build=use_cache)
        if len(valid) and use_cache is not False
        else None
    )
    pending = valid
    if index is not None:
        loc = routing_cache.locate(index, wlon[valid], wlat[valid], at, community_code)
        decided = ~loc.undecided
        if decided.any():
            parts.append(
                (
                    valid[decided],
                    _decided_table(session, index, _subset(loc, decided), cats, valid[decided]),
                )
            )
        pending = valid[loc.undecided]
    if len(pending):
        points = [
            PointInput(float(wlon[i]), float(wlat[i]), category=cats[i], at=at)
            for i in pending.tolist()
        ]
        results = route_points(session, points, community_code=community_code, use_cache=False)
        parts.append((pending, result_table(results)))
    if not parts:
        return SCHEMA.empty_table()
    order = np.concatenate([p[0] for p in parts])
    table = pa.concat_tables([p[1] for p in parts])
    return table.take(pa.array(np.argsort(order, kind="stable")))


def _normalise(x: np.ndarray, y: np.ndarray, crs_name: str) -> tuple[Any, Any, list[str | None]]:
    """WGS-84 coordinates, and per point None or why it cannot be located (as route_points)."""
    n = len(x)
    reasons: list[str | None] = [None] * n
    missing = np.isnan(x) | np.isnan(y)
    for i in np.flatnonzero(missing).tolist():
        reasons[i] = "no coordinates"
    if crs_name in ("EPSG:4326", "EPSG:4490"):
        wlon, wlat = x.copy(), y.copy()
        with np.errstate(invalid="ignore"):
            ok = (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
        check = np.flatnonzero(~ok & ~missing)
    else:
        wlon, wlat = np.zeros(n), np.zeros(n)
        check = np.flatnonzero(~missing)
    # The same function route_points calls, so the same values and the same reasons.
    for i in check.tolist():
        try:
            wlon[i], wlat[i] = to_wgs84(float(x[i]), float(y[i]), crs_name)
        except InvalidInput as exc:
            reasons[i] = exc.user_msg
    bad = np.array([r is not None for r in reasons], dtype=bool)
    wlon[bad], wlat[bad] = 0.0, 0.0
    return wlon, wlat, reasons


def _subset(loc: Located, keep: np.ndarray) -> Located:
    points = loc.jurisdiction_pairs[0]
    new_pos = np.cumsum(keep) - 1
    pairs = loc.jurisdiction_pairs[:, keep[points]] if len(points) else loc.jurisdiction_pairs
    return Located(
        undecided=loc.undecided[keep],
        outside=loc.outside[keep],
        community=loc.community[keep],
        layout_id=loc.layout_id[keep],
        grid=loc.grid[keep],
        building=loc.building[keep],
        unit=loc.unit[keep],
        compound=loc.compound[keep],
        jurisdiction_pairs=np.vstack([new_pos[pairs[0]], pairs[1]]) if pairs.size else pairs,
    )


def _take(values: pa.Array, positions: np.ndarray) -> pa.Array:
    """``values[positions]``, null where a position is -1."""
    return values.take(pa.array(positions, mask=positions < 0))


def _layer_columns(index: RoutingIndex) -> dict[str, pa.Array]:
    """The index's attributes as Arrow arrays, made once per index."""
    found = index.extras.get("arrow")
    if found is None:

        def text(values: list[Any]) -> pa.Array:
            return pa.array([None if v is None else str(v) for v in values], type=pa.string())

        found = {
            "community_id": pa.array(index.communities.ids, type=pa.int64()),
            "community_code": text(index.communities.attr_lists["code"]),
            "grid_id": pa.array(index.grids.ids, type=pa.int64()),
            "grid_code": text(index.grids.attr_lists["code"]),
            "grid_name": text(index.grids.attr_lists["name"]),
            "building_id": pa.array(index.buildings.ids, type=pa.int64()),
            "building_code": text(index.buildings.attr_lists["code"]),
            "unit_id": pa.array(index.units.ids, type=pa.int64()),
            "unit_number": text(index.units.attr_lists["number"]),
            "compound_id": pa.array(index.compounds.ids, type=pa.int64()),
            "company": np.array(
                [-1 if v is None else v for v in index.compounds.attr_lists["property_company_id"]],
                dtype=np.int64,
            ),
        }
        index.extras["arrow"] = found
    return found


def _decided_table(
    session: Session,
    index: RoutingIndex,
    loc: Located,
    categories: list[str | None],
    rows: np.ndarray,
) -> pa.Table:
    """The columns of the points the index decided (``rows``: their input positions)."""
    cols = _layer_columns(index)
    placed = ~loc.outside & (loc.community >= 0)
    c = np.where(placed, loc.community, -1)
    b = np.where(placed, loc.building, -1)
    u = np.where(placed, loc.unit, -1)
    k = np.where(placed, loc.compound, -1)
    routed = placed & (loc.layout_id >= 0)
    g = np.where(routed, loc.grid, -1)
    rule = np.select(
        [~placed, ~routed, u >= 0, b >= 0], [0, 1, 2, 3], default=4
    )  # positions in _RULES
    # Category per point, through its distinct codes (a batch has a handful).
    distinct: dict[str | None, int] = {}
    cat = np.fromiter(
        (distinct.setdefault(categories[i], len(distinct)) for i in rows.tolist()),
        dtype=np.int64,
        count=len(rows),
    )
    infos = [index.categories.get(code) if code else None for code in distinct]
    lead, team = _teams(session, index, g, b, u, cat, [i[2] if i else None for i in infos])
    departments = _department_lists(index, loc, placed, k, cat, infos)
    base = np.select([~placed, ~routed], [1, 2], default=0)
    unknown = np.array([code is not None and info is None for code, info in zip(distinct, infos)])
    reason_key = base * (len(distinct) + 1) + np.where(unknown[cat], cat + 1, 0)
    keys, inverse = np.unique(reason_key, return_inverse=True)
    texts = []
    codes = list(distinct)
    for key in keys.tolist():
        why = (None, "outside every community", "no layout in force")[key // (len(distinct) + 1)]
        code = key % (len(distinct) + 1) - 1
        warning = f"unknown category {codes[code]!r}" if code >= 0 else None
        texts.append("; ".join(filter(None, [why, warning])) or None)
    layout = pa.array(loc.layout_id, mask=~placed | (loc.layout_id < 0))
    return pa.table(
        {
            "rule": pa.array(_RULES).take(pa.array(rule)),
            "community_id": _take(cols["community_id"], c),
            "community_code": _take(cols["community_code"], c),
            "layout_id": layout,
            "grid_id": _take(cols["grid_id"], g),
            "grid_code": _take(cols["grid_code"], g),
            "grid_name": _take(cols["grid_name"], g),
            "building_id": _take(cols["building_id"], b),
            "building_code": _take(cols["building_code"], b),
            "unit_id": _take(cols["unit_id"], u),
            "unit_number": _take(cols["unit_number"], u),
            "compound_id": _take(cols["compound_id"], k),
            "distance_m": pa.array(np.zeros(len(g)), mask=g < 0),
            "lead_code": lead,
            "team": team,
            "departments": departments,
            "reason": pa.array(texts, type=pa.string()).take(pa.array(inverse.ravel())),
        },
        schema=SCHEMA,
    )


def _teams(
    session: Session,
    index: RoutingIndex,
    g: np.ndarray,
    b: np.ndarray,
    u: np.ndarray,
    cat: np.ndarray,
    volunteer_teams: list[str | None],
) -> tuple[pa.Array, pa.Array]:
    """The lead's code and the team (``role:code;...``) per point, assembled once per team."""
    n = len(g)
    has = np.flatnonzero(g >= 0)
    if not len(has):
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    grid_ids = index.grids.ids[g[has]]
    bld_ids = np.where(b[has] >= 0, index.buildings.ids[np.maximum(b[has], 0)], -1)
    unit_ids = np.where(u[has] >= 0, index.units.ids[np.maximum(u[has], 0)], -1)
    rosters = rosters_for(
        session,
        np.unique(grid_ids).tolist(),
        np.unique(bld_ids[bld_ids >= 0]).tolist(),
        np.unique(unit_ids[unit_ids >= 0]).tolist(),
    )
    staffed = {kind: [i for k, i in rosters if k == kind] for kind in ("building", "unit")}
    # A building or unit without staff of its own does not make its team different.
    bkey = np.where(np.isin(bld_ids, staffed["building"]), bld_ids, -1)
    ukey = np.where(np.isin(unit_ids, staffed["unit"]), unit_ids, -1)
    vteam = np.array([-1 if t is None else i for i, t in enumerate(volunteer_teams)] or [-1])
    tkey = vteam[cat[has]] if len(volunteer_teams) else np.full(len(has), -1)
    keys, first, inverse = np.unique(
        np.column_stack([grid_ids, bkey, ukey, tkey]),
        axis=0,
        return_index=True,
        return_inverse=True,
    )
    leads: list[str | None] = []
    teams: list[str | None] = []
    for key, at in zip(keys.tolist(), first.tolist(), strict=True):
        grid_id, building_id, unit_id = grid_ids[at], bld_ids[at], unit_ids[at]
        roster = [
            m
            for place in (("grid", grid_id), ("building", building_id), ("unit", unit_id))
            for m in rosters.get((place[0], int(place[1])), [])
        ]
        lead, members, _ = assemble_team(
            roster,
            volunteer_teams[key[3]] if key[3] >= 0 else None,
            grid_id=int(grid_id),
            building_id=None if building_id < 0 else int(building_id),
            unit_id=None if unit_id < 0 else int(unit_id),
        )
        leads.append(lead.staff_code if lead else None)
        teams.append(";".join(f"{m.role}:{m.staff_code}" for m in members) or None)
    positions = np.full(n, -1, dtype=np.int64)
    positions[has] = inverse.ravel()
    return (
        _take(pa.array(leads, type=pa.string()), positions),
        _take(pa.array(teams, type=pa.string()), positions),
    )


def _department_lists(
    index: RoutingIndex,
    loc: Located,
    placed: np.ndarray,
    k: np.ndarray,
    cat: np.ndarray,
    infos: list[tuple[int, bool, str | None] | None],
) -> pa.Array:
    """The departments' codes (``a;b``) per point, listed once per distinct case."""
    n = len(cat)
    known = np.array([info is not None for info in infos], dtype=bool)
    wanted = placed & known[cat]
    if not wanted.any():
        return pa.nulls(n, pa.string())
    is_property = np.array([bool(info and info[1]) for info in infos], dtype=bool)
    company = np.where(
        is_property[cat] & (k >= 0), _layer_columns(index)["company"][np.maximum(k, 0)], -1
    )
    # The set of jurisdictions covering each point, numbered.
    pts, juris = loc.jurisdiction_pairs
    covering: dict[int, list[int]] = {}
    for p, j in zip(pts.tolist(), juris.tolist(), strict=True):
        covering.setdefault(p, []).append(int(index.jurisdictions.ids[j]))
    sets: dict[tuple[int, ...], int] = {(): 0}
    juris_key = np.zeros(n, dtype=np.int64)
    for p, ids in covering.items():
        juris_key[p] = sets.setdefault(tuple(sorted(ids)), len(sets))
    sel = np.flatnonzero(wanted)
    keys, inverse = np.unique(
        np.column_stack([cat[sel], company[sel], juris_key[sel]]), axis=0, return_inverse=True
    )
    with_jurisdiction = set(index.jurisdictions.id_list)
    by_number = {number: set(ids) for ids, number in sets.items()}
    texts: list[str | None] = []
    for category, company_id, number in keys.tolist():
        found = routing_cache.departments(
            index,
            infos[category],
            company_id if company_id >= 0 else None,
            by_number[number],
            with_jurisdiction,
        )
        texts.append(";".join(dict.fromkeys(d["code"] for d in found or ())) or None)
    positions = np.full(n, -1, dtype=np.int64)
    positions[sel] = inverse.ravel()
    return _take(pa.array(texts, type=pa.string()), positions)


def _invalid_table(reasons: list[str | None]) -> pa.Table:
    n = len(reasons)
    columns = {f.name: pa.nulls(n, f.type) for f in SCHEMA}
    columns["rule"] = pa.array(["invalid_location"] * n, type=pa.string())
    columns["reason"] = pa.array(reasons, type=pa.string())
    return pa.table(columns, schema=SCHEMA)


def result_table(results: Sequence[RoutingResult]) -> pa.Table:
    """The columns of results made one by one (the points the database answered)."""

    def text(value: str | None) -> str | None:
        return value or None

    rows = [
        {
            "rule": r.rule,
            "community_id": r.community_id,
            "community_code": text(r.community_code),
            "layout_id": r.layout_id,
            "grid_id": r.grid_id,
            "grid_code": text(r.grid_code),
            "grid_name": text(r.grid_name),
            "building_id": r.building_id,
            "building_code": text(r.building_code),
            "unit_id": r.unit_id,
            "unit_number": text(r.unit_number),
            "compound_id": r.compound_id,
            "distance_m": r.distance_m,
            "lead_code": r.lead.staff_code if r.lead else None,
            "team": text(";".join(f"{m.role}:{m.staff_code}" for m in r.team)),
            "departments": text(";".join(dict.fromkeys(d.code for d in r.departments))),
            "reason": text("; ".join(filter(None, [r.reason, *r.warnings]))),
        }
        for r in results
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)
