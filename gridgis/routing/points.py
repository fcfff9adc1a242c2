"""Routing: where does an incident belong, and who must act on it?

The rules are DESIGN.md's "Routing" section:

1. The point is normalised to WGS-84 (``gridgis.geo.crs``).
2. The unit whose polygon covers it (ST_Covers: the boundary counts), else the
   building, else the grid of the layout in force at the incident's time.
   **Tie rule**: where several polygons of one kind cover the point (a point
   on a shared edge or vertex), the one with the smallest area wins, then the
   lowest id. The same rule picks the community.
3. In no grid: the nearest grid within the community's tolerance (metres, on
   the geography), candidates found through the GiST index with a bounding
   box that is provably wide enough; ties again by area, then id. Farther:
   ``unrouted`` to the community's dispatcher queue. A point outside every
   community but within a community's tolerance of its boundary is treated as
   in that community (a report from the kerb outside the boundary line);
   beyond that: ``outside_coverage``, never a guess.
4. The team (grid worker leads); off-duty staff are skipped and their duty
   passes to the next role, which the result states (``team_notes``).
5. Departments: the category's, limited by their jurisdiction polygons, plus
   the property company of the compound covering the point for property issues.

A single point costs exactly one database round trip: the statement below
returns the place, the team and the departments in one row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import InvalidInput
from gridgis.geo.crs import normalise_crs_name, to_wgs84
from gridgis.routing import cache as routing_cache
from gridgis.routing.results import RoutingResult, build_result
from gridgis.routing.sql import BATCH_SQL, POINT_SQL
from gridgis.staff.team import assemble_team


def route_point(
    session: Session,
    lon: float,
    lat: float,
    *,
    crs: str | int | None = "EPSG:4326",
    category: str | None = None,
    at: dt.datetime | None = None,
    community_code: str | None = None,
) -> RoutingResult:
    """Route one point (one database round trip).

    ``community_code`` limits routing to one community (a point elsewhere is
    then ``outside_coverage``).
    """
    crs_name = normalise_crs_name(crs)
    wlon, wlat = to_wgs84(float(lon), float(lat), crs_name)
    row = _route_row(session, wlon, wlat, category=category, at=at, community=community_code)
    return build_result(row, wlon, wlat, crs_name)


def _route_row(
    session: Session,
    lon: float,
    lat: float,
    *,
    category: str | None,
    at: dt.datetime | None,
    community: str | None = None,
) -> dict[str, Any]:
    at = at or clock.now()
    if at.tzinfo is None:
        raise InvalidInput("The incident time needs a time zone, e.g. 2026-11-29T08:00:00+08:00.")
    check_text(category, "category")
    check_text(community, "community")
    row = (
        session.execute(
            POINT_SQL,
            {
                "lon": lon,
                "lat": lat,
                "at": at,
                "category": category,
                "with_team": True,
                "community": community,
            },
        )
        .mappings()
        .one()
    )
    if category and not row["category_found"]:
        _raise_unknown_category(session, category)
    return dict(row)


def check_text(value: str | None, what: str) -> None:
    """Refuse text that PostgreSQL cannot store (a NUL character) with a clear message."""
    if value is not None and "\x00" in value:
        raise InvalidInput(f"The {what} contains a NUL character (\\0); remove it.")


def _raise_unknown_category(session: Session, category: str) -> None:
    codes = session.scalars(sa.text("SELECT code FROM category ORDER BY code")).all()
    raise InvalidInput(
        f"Unknown category {category!r}; known categories: {', '.join(codes) or 'none loaded'}."
    )


@dataclass(frozen=True)
class PointInput:
    """One point to route in a batch; bad values become ``invalid_location`` rows."""

    lon: float | None
    lat: float | None
    crs: str | int | None = "EPSG:4326"
    category: str | None = None
    at: dt.datetime | None = None


def route_points(
    session: Session,
    points: Sequence[PointInput],
    *,
    chunk_size: int = 5000,
    community_code: str | None = None,
    use_cache: bool | None = None,
) -> list[RoutingResult]:
    """Route many points set-based: a constant number of statements per chunk.

    Each chunk is one routing statement over arrays of points; the teams of all
    the distinct grids, buildings and units met are then read with one more
    statement. Results come back in input order; a point that cannot be
    located (missing, unparsable, out of range, unknown CRS) gets
    ``rule="invalid_location"`` and a reason instead of stopping the batch.

    Large batches (and any batch once the index is loaded) first go through
    the in-memory index of ``gridgis.routing.cache``, which answers the points
    it can prove the database would answer the same way and leaves the rest
    to the statement. ``use_cache``: None decides by size, False never, True
    always (building the index if needed).
    """
    check_text(community_code, "community")
    default_at = clock.now()
    results: list[RoutingResult | None] = [None] * len(points)
    valid: list[tuple[int, float, float, str, str | None, dt.datetime]] = []
    for idx, (wlon, wlat, crs_name, error) in enumerate(_normalise_all(points)):
        p = points[idx]
        at = p.at or default_at
        if error is None and at.tzinfo is None:
            error = "the time has no time zone"
        if error is not None:
            results[idx] = RoutingResult(
                rule="invalid_location", lon=p.lon, lat=p.lat, crs=crs_name, reason=error
            )
            continue
        valid.append((idx, wlon, wlat, crs_name, p.category, at))
    known_categories = set(session.scalars(sa.text("SELECT code FROM category")))
    rows: list[dict[str, Any]] = []
    pending = valid
    index = (
        routing_cache.index_for(session, len(valid), build=use_cache)
        if valid and use_cache is not False
        else None
    )
    if index is not None:
        decided = routing_cache.resolve(
            index,
            np.fromiter((v[1] for v in valid), dtype=np.float64, count=len(valid)),
            np.fromiter((v[2] for v in valid), dtype=np.float64, count=len(valid)),
            [v[5] for v in valid],
            [v[4] for v in valid],
            community_code,
        )
        rows = [{**row, "idx": valid[i][0]} for i, row in enumerate(decided) if row is not None]
        pending = [v for v, row in zip(valid, decided, strict=True) if row is None]
    for start in range(0, len(pending), chunk_size):
        chunk = pending[start : start + chunk_size]
        found = session.execute(
            BATCH_SQL,
            {
                "idx": [v[0] for v in chunk],
                "lon": [v[1] for v in chunk],
                "lat": [v[2] for v in chunk],
                "at": [v[5] for v in chunk],
                # A code PostgreSQL cannot even hold is unknown (warned below).
                "category": [None if v[4] and "\x00" in v[4] else v[4] for v in chunk],
                "with_team": False,
                "community": community_code,
            },
        ).mappings()
        rows.extend(dict(row) for row in found)
    rosters = _rosters(session, rows)
    by_idx = {v[0]: v for v in valid}
    teams: dict[tuple[Any, ...], Any] = {}
    for row in rows:
        idx, wlon, wlat, crs_name, category, _ = by_idx[row["idx"]]
        # Many points share a team: assemble each distinct one once (a building
        # or unit without staff of its own does not make its team different).
        building_key = row["building_id"] if ("building", row["building_id"]) in rosters else None
        unit_key = row["unit_id"] if ("unit", row["unit_id"]) in rosters else None
        key = (row["grid_id"], building_key, unit_key, row["category_team"])
        if key not in teams:
            roster = [
                m
                for place in (
                    ("grid", row["grid_id"]),
                    ("building", row["building_id"]),
                    ("unit", row["unit_id"]),
                )
                for m in rosters.get(place, [])
            ]
            teams[key] = assemble_team(
                roster,
                row["category_team"],
                grid_id=row["grid_id"],
                building_id=row["building_id"],
                unit_id=row["unit_id"],
            )
        result = build_result(row, wlon, wlat, crs_name, assembled=teams[key])
        if category and category not in known_categories:
            result = replace(result, warnings=(f"unknown category {category!r}",))
        results[idx] = result
    return [r for r in results if r is not None]


def _rosters(session: Session, rows: Sequence[Any]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The staff of every grid, building and unit in ``rows``, in one statement."""
    return rosters_for(
        session,
        sorted({r["grid_id"] for r in rows if r["grid_id"] is not None}),
        sorted({r["building_id"] for r in rows if r["building_id"] is not None}),
        sorted({r["unit_id"] for r in rows if r["unit_id"] is not None}),
    )


def rosters_for(
    session: Session, grids: list[int], buildings: list[int], units: list[int]
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The staff of these grids, buildings and units, by ("grid", id) etc., in one statement."""
    if not (grids or buildings or units):
        return {}
    found = session.execute(
        _ROSTERS,
        # Array literals: a city's batch names tens of thousands of places, which
        # psycopg's list dumper spends longer on than the statement.
        {
            "grids": _int_array(grids),
            "buildings": _int_array(buildings),
            "units": _int_array(units),
        },
    ).all()
    rosters: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in found:
        m = dict(zip(_ROSTER_KEYS, row, strict=True))
        key = (
            ("grid", m["grid_id"])
            if m["grid_id"] is not None
            else ("building", m["building_id"])
            if m["building_id"] is not None
            else ("unit", m["unit_id"])
        )
        rosters.setdefault(key, []).append(m)
    return rosters


_ROSTER_KEYS = (
    "role", "volunteer_team", "on_duty", "grid_id", "building_id", "unit_id",
    "staff_id", "code", "name", "phone",
)  # fmt: skip
_ROSTERS = sa.text(
    """
    SELECT a.role, a.volunteer_team, a.on_duty, a.grid_id, a.building_id, a.unit_id,
           s.id AS staff_id, s.code, s.name, s.phone
    FROM assignment a JOIN staff s ON s.id = a.staff_id
    WHERE a.grid_id = ANY(CAST(:grids AS int[]))
       OR a.building_id = ANY(CAST(:buildings AS int[]))
       OR a.unit_id = ANY(CAST(:units AS int[]))
    ORDER BY a.role, s.code
    """
)


def _int_array(ids: Sequence[int]) -> str:
    return "{" + ",".join(str(int(i)) for i in ids) + "}"


def _normalise_all(
    points: Sequence[PointInput],
) -> list[tuple[float, float, str, str | None]]:
    """WGS-84 lon/lat per point, or the reason it cannot be located."""
    out: list[tuple[float, float, str, str | None]] = []
    for p in points:
        crs_name = normalise_crs_name(p.crs)
        try:
            if p.lon is None or p.lat is None:
                raise InvalidInput("no coordinates")
            lon, lat = to_wgs84(float(p.lon), float(p.lat), crs_name)
        except (InvalidInput, TypeError, ValueError) as exc:
            reason = (
                exc.user_msg if isinstance(exc, InvalidInput) else f"unparsable coordinates ({exc})"
            )
            out.append((0.0, 0.0, crs_name, reason))
            continue
        out.append((lon, lat, crs_name, None))
    return out
