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

import contextlib
import datetime as dt
import gc
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import InvalidInput
from gridgis.geo.crs import normalise_crs_name, to_wgs84
from gridgis.routing import cache as routing_cache
from gridgis.routing.cache import Located, RoutingIndex
from gridgis.routing.distinct import (
    department_lists,
    distinct_rows,
    layer_columns,
    take,
    teams,
)
from gridgis.routing.gaps import nearest_grids
from gridgis.routing.points import PointInput, RoutingResult, check_text, route_points

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
_RULES = ("outside_coverage", "unrouted", "unit", "building", "grid", "nearest_grid")


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
    with collector_paused():
        return _route(lon, lat, session, crs, categories, at, community_code, problems, use_cache)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for one batch (reference counting still frees).

    A batch (a routed file here, a hotline import in :mod:`gridgis.incidents.hotline`)
    makes hundreds of thousands of short-lived objects (geometries, arrays,
    rows, results), all acyclic, while a warm process holds its routing index:
    the collector's full passes over every object of the process found nothing
    and took 0.2-0.4 s of a warm 100,000-point batch, and 0.9 s of a
    30,000-row import.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _route(
    lon: Any,
    lat: Any,
    session: Session,
    crs: str | int | None,
    categories: Sequence[str | None] | None,
    at: dt.datetime | None,
    community_code: str | None,
    problems: dict[int, str] | None,
    use_cache: bool | None,
) -> pa.Table:
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
        # Grids inside: 0 m; gaps: the database's distances (gridgis.routing.gaps).
        distance = np.where(loc.grid >= 0, 0.0, np.nan)
        gap = np.flatnonzero(loc.gap)
        loc.grid[gap], distance[gap] = nearest_grids(
            session,
            index,
            wlon[valid[gap]],
            wlat[valid[gap]],
            loc.community[gap],
            loc.layout_id[gap],
        )
        decided = ~loc.undecided | loc.gap
        if decided.any():
            table = _decided_table(
                session, index, _subset(loc, decided), distance[decided], cats, valid[decided]
            )
            parts.append((valid[decided], table))
        pending = valid[~decided]
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
        gap=loc.gap[keep],
        jurisdiction_pairs=np.vstack([new_pos[pairs[0]], pairs[1]]) if pairs.size else pairs,
    )


def _decided_table(
    session: Session,
    index: RoutingIndex,
    loc: Located,
    distance: np.ndarray,
    categories: list[str | None],
    rows: np.ndarray,
) -> pa.Table:
    """The columns of the points decided in memory (``rows``: their input positions).

    ``distance``: metres to the grid (NaN: no grid), as the statement computes it.
    """
    cols = layer_columns(index)
    placed = ~loc.outside & (loc.community >= 0)
    c = np.where(placed, loc.community, -1)
    b = np.where(placed, loc.building, -1)
    u = np.where(placed, loc.unit, -1)
    k = np.where(placed, loc.compound, -1)
    routed = placed & (loc.layout_id >= 0)
    g = np.where(routed, loc.grid, -1)
    # Positions in _RULES, in build_result's order of tests.
    rule = np.select(
        [~placed, ~routed, g < 0, distance > 0, u >= 0, b >= 0], [0, 1, 1, 5, 2, 3], default=4
    )
    # Category per point, through its distinct codes (a batch has a handful).
    distinct: dict[str | None, int] = {}
    cat = np.fromiter(
        (distinct.setdefault(categories[i], len(distinct)) for i in rows.tolist()),
        dtype=np.int64,
        count=len(rows),
    )
    infos = [index.categories.get(code) if code else None for code in distinct]
    lead, team = teams(session, index, g, b, u, cat, [i[2] if i else None for i in infos])
    departments = department_lists(index, loc, placed, k, cat, infos)
    # The reason (outside, no layout, no grid within the community's tolerance)
    # and the unknown category's warning, each distinct sentence made once.
    why = np.select([~placed, ~routed, g < 0], [1, 2, 3], default=0)
    unknown = np.array([code is not None and info is None for code, info in zip(distinct, infos)])
    keys, inverse = distinct_rows(why, np.where(why == 3, c, -1), np.where(unknown[cat], cat, -1))
    texts = []
    codes = list(distinct)
    tolerances = index.communities.attr_lists["tolerance"]
    for reason, community, code in keys.tolist():
        sentence = (
            None,
            "outside every community",
            "no layout in force",
            f"no grid within {tolerances[community]:g} m" if community >= 0 else None,
        )[reason]
        warning = f"unknown category {codes[code]!r}" if code >= 0 else None
        texts.append("; ".join(filter(None, [sentence, warning])) or None)
    layout = pa.array(loc.layout_id, mask=~placed | (loc.layout_id < 0))
    return pa.table(
        {
            "rule": pa.array(_RULES).take(pa.array(rule)),
            "community_id": take(cols["community_id"], c),
            "community_code": take(cols["community_code"], c),
            "layout_id": layout,
            "grid_id": take(cols["grid_id"], g),
            "grid_code": take(cols["grid_code"], g),
            "grid_name": take(cols["grid_name"], g),
            "building_id": take(cols["building_id"], b),
            "building_code": take(cols["building_code"], b),
            "unit_id": take(cols["unit_id"], u),
            "unit_number": take(cols["unit_number"], u),
            "compound_id": take(cols["compound_id"], k),
            "distance_m": pa.array(_rounded(distance, g >= 0), mask=g < 0, type=pa.float64()),
            "lead_code": lead,
            "team": team,
            "departments": departments,
            "reason": pa.array(texts, type=pa.string()).take(pa.array(inverse.ravel())),
        },
        schema=SCHEMA,
    )


def _rounded(distance: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Metres as build_result rounds them (Python's round, to the centimetre); 0 where none."""
    out = np.zeros(len(distance))
    # Inside a grid the distance is 0 (most points); only gaps need rounding.
    gaps = np.flatnonzero(has & (distance != 0))
    out[gaps] = [round(float(d), 2) for d in distance[gaps].tolist()]
    return out


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
