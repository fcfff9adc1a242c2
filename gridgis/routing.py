"""Routing: where does an incident belong, and who must act on it?

The rules are DESIGN.md's "Routing" section:

1. The point is normalised to WGS-84 (``gridgis.crs``).
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
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.crs import normalise_crs_name, to_wgs84
from gridgis.errors import InvalidInput

#: Rules a result can carry, most specific first.
RULES = (
    "unit", "building", "address", "grid", "nearest_grid", "unrouted", "outside_coverage",
    "invalid_location", "ambiguous_address",
)
#: Order in which duty passes when someone is off duty.
ROLE_ORDER = ("grid_worker", "part_time_worker", "building_head", "unit_head", "volunteer")
ROLE_NAMES = {
    "grid_worker": ("专职网格员", "full-time grid worker"),
    "part_time_worker": ("兼职网格员", "part-time grid worker"),
    "building_head": ("楼栋长", "building head"),
    "unit_head": ("单元长", "unit head"),
    "volunteer": ("志愿者", "volunteer"),
}
#: Who takes over a role's duty when its holder is off duty.
FALLBACK = {
    "unit_head": "building_head",
    "building_head": "grid_worker",
    "grid_worker": "part_time_worker",
    "part_time_worker": "volunteer",
}

# Metres per degree of latitude is at least 110,574 (at the equator); a degree
# of longitude is 111,320·cos(lat) at most. Dividing the tolerance by the
# smaller of the two, with 1% to spare, gives a box around the point that
# holds every polygon within the tolerance, so the index prefilter never
# drops a true candidate. The tolerance test itself compares ST_Distance (the
# distance the result reports) rather than ST_DWithin, whose spheroid shortcut
# can disagree with it in the last millimetre: a point "exactly at the
# tolerance" must be in, whatever the distance printed says.
#
# The statement routes an array of points: one point is a one-element array
# (one round trip, team included); a batch sends thousands per statement and
# fetches the teams of the distinct grids, buildings and units afterwards
# (``with_team`` false). "(A) UNION ALL (B) LIMIT 1" runs B only when A finds
# nothing: the fallback costs nothing when the point is covered.
ROUTE_SQL = sa.text(
    """
SELECT
    i.idx,
    cat.id IS NOT NULL AS category_found,
    cat.volunteer_team AS category_team,
    comm.id AS community_id, comm.code AS community_code, comm.name AS community_name,
    comm.gap_tolerance_m, comm.dist AS community_dist,
    lay.id AS layout_id, lay.name AS layout_name,
    gp.id AS grid_id, gp.code AS grid_code, gp.name AS grid_name, gp.dist AS grid_dist,
    bl.id AS building_id, bl.code AS building_code, bl.name AS building_name,
    bl.address AS address,
    un.id AS unit_id, un.number AS unit_number,
    cp.id AS compound_id, cp.name AS compound_name,
    deps.items AS departments,
    team.members AS team
FROM unnest(CAST(:idx AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),
            CAST(:at AS timestamptz[]), CAST(:category AS text[]))
     AS i(idx, lon, lat, at, category)
CROSS JOIN LATERAL (
    SELECT ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326) AS g,
           GREATEST(LEAST(110574.0, 111320.0 * cos(radians(i.lat))), 1.0) * 0.99 AS m_per_deg
) pt
LEFT JOIN category cat ON cat.code = i.category
LEFT JOIN LATERAL (
    (SELECT c.id, c.code, c.name, c.gap_tolerance_m, 0.0::float8 AS dist
     FROM community c
     WHERE ST_Covers(c.boundary, pt.g)
       AND (CAST(:community AS text) IS NULL OR c.code = CAST(:community AS text))
     ORDER BY ST_Area(c.boundary), c.id
     LIMIT 1)
    UNION ALL
    (SELECT c.id, c.code, c.name, c.gap_tolerance_m, d.dist
     FROM community c
     CROSS JOIN LATERAL (SELECT ST_Distance(c.boundary::geography, pt.g::geography) AS dist) d
     WHERE c.boundary && ST_Expand(pt.g, c.gap_tolerance_m / pt.m_per_deg)
       AND d.dist <= c.gap_tolerance_m
       AND (CAST(:community AS text) IS NULL OR c.code = CAST(:community AS text))
     ORDER BY d.dist, ST_Area(c.boundary), c.id
     LIMIT 1)
    LIMIT 1
) comm ON true
LEFT JOIN LATERAL (
    SELECT l.id, l.name FROM layout l
    WHERE l.community_id = comm.id AND l.status = 'published' AND l.valid_from <= i.at
      AND (l.valid_to IS NULL OR l.valid_to > i.at)
) lay ON true
LEFT JOIN LATERAL (
    SELECT u.id, u.number, u.building_id
    FROM unit u JOIN building b ON b.id = u.building_id
    WHERE b.community_id = comm.id AND ST_Covers(u.geom, pt.g)
    ORDER BY ST_Area(u.geom), u.id
    LIMIT 1
) un ON true
LEFT JOIN LATERAL (
    (SELECT b.id, b.code, b.name, b.address, b.compound_id
     FROM building b WHERE b.id = un.building_id)
    UNION ALL
    (SELECT b.id, b.code, b.name, b.address, b.compound_id
     FROM building b
     WHERE un.id IS NULL AND b.community_id = comm.id AND ST_Covers(b.geom, pt.g)
     ORDER BY ST_Area(b.geom), b.id
     LIMIT 1)
    LIMIT 1
) bl ON true
LEFT JOIN LATERAL (
    (SELECT g.id, g.code, g.name, 0.0::float8 AS dist
     FROM grid g
     WHERE g.layout_id = lay.id AND ST_Covers(g.geom, pt.g)
     ORDER BY ST_Area(g.geom), g.id
     LIMIT 1)
    UNION ALL
    (SELECT g.id, g.code, g.name, d.dist
     FROM grid g
     CROSS JOIN LATERAL (SELECT ST_Distance(g.geom::geography, pt.g::geography) AS dist) d
     WHERE g.layout_id = lay.id
       AND g.geom && ST_Expand(pt.g, comm.gap_tolerance_m / pt.m_per_deg)
       AND d.dist <= comm.gap_tolerance_m
     ORDER BY d.dist, ST_Area(g.geom), g.id
     LIMIT 1)
    LIMIT 1
) gp ON true
LEFT JOIN LATERAL (
    (SELECT co.id, co.name, co.property_company_id FROM compound co WHERE co.id = bl.compound_id)
    UNION ALL
    (SELECT co.id, co.name, co.property_company_id
     FROM compound co
     WHERE bl.compound_id IS NULL AND co.community_id = comm.id AND ST_Covers(co.geom, pt.g)
     ORDER BY ST_Area(co.geom), co.id
     LIMIT 1)
    LIMIT 1
) cp ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('id', x.id, 'code', x.code, 'name', x.name,
                                      'kind', x.kind, 'reason', x.reason)
                    ORDER BY x.code, x.reason) AS items
    FROM (
        SELECT d.id, d.code, d.name, d.kind, 'category' AS reason
        FROM category_department cd JOIN department d ON d.id = cd.department_id
        WHERE cd.category_id = cat.id
          AND (d.jurisdiction IS NULL OR ST_Covers(d.jurisdiction, pt.g))
        UNION
        SELECT d.id, d.code, d.name, d.kind, 'property' AS reason
        FROM department d
        WHERE cat.is_property AND d.id = cp.property_company_id
    ) x
) deps ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object(
               'role', a.role, 'volunteer_team', a.volunteer_team, 'on_duty', a.on_duty,
               'staff_id', s.id, 'code', s.code, 'name', s.name, 'phone', s.phone)
           ORDER BY a.role, s.code) AS members
    FROM assignment a JOIN staff s ON s.id = a.staff_id
    WHERE CAST(:with_team AS boolean)
      AND (a.grid_id = gp.id OR a.building_id = bl.id OR a.unit_id = un.id)
) team ON true
ORDER BY i.idx
"""
)


@dataclass(frozen=True)
class TeamMember:
    """One person on the routed team. ``name``/``phone`` are personal data."""

    role: str
    staff_id: int
    staff_code: str
    name: str
    phone: str | None
    volunteer_team: str | None = None
    #: The role whose duty this person covers because its holder is off duty.
    covers_for: str | None = None


@dataclass(frozen=True)
class DepartmentRef:
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
    explanation_zh: str = ""
    explanation_en: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, personal: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``personal=False`` masks names and phones."""
        data = asdict(self)
        data.pop("extra")
        if not personal:
            for member in [data["lead"], *data["team"]]:
                if member:
                    member["name"] = mask_name(member["name"])
                    member["phone"] = mask_phone(member["phone"])
        return data


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 欧阳娜娜 → 欧***: the surname stays so a dispatcher can address them."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str | None:
    """13812341234 → 138****1234."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    session: Session, lon: float, lat: float, *, category: str | None, at: dt.datetime | None,
    community: str | None = None,
) -> dict[str, Any]:
    at = at or _now()
    if at.tzinfo is None:
        raise InvalidInput("The incident time needs a time zone, e.g. 2026-11-29T08:00:00+08:00.")
    row = session.execute(
        ROUTE_SQL,
        {"idx": [0], "lon": [lon], "lat": [lat], "at": [at],
         "category": [category], "with_team": True, "community": community},
    ).mappings().one()
    if category and not row["category_found"]:
        _raise_unknown_category(session, category)
    return dict(row)


def _raise_unknown_category(session: Session, category: str) -> None:
    codes = session.scalars(sa.text("SELECT code FROM category ORDER BY code")).all()
    raise InvalidInput(
        f"Unknown category {category!r}; known categories: {', '.join(codes) or 'none loaded'}."
    )


def _json(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])


def build_result(row: Any, lon: float, lat: float, crs: str) -> RoutingResult:
    """Turn the statement's row into a result: rule, team, departments, explanation."""
    if row["community_id"] is None:
        return _explained(RoutingResult(rule="outside_coverage", lon=lon, lat=lat, crs=crs,
                                        reason="outside every community"))
    base: dict[str, Any] = {
        "lon": lon, "lat": lat, "crs": crs,
        "community_id": row["community_id"], "community_code": row["community_code"],
        "layout_id": row["layout_id"], "layout_name": row["layout_name"],
        "building_id": row["building_id"], "building_code": row["building_code"],
        "building_name": row["building_name"], "address": row["address"],
        "unit_id": row["unit_id"], "unit_number": row["unit_number"],
        "compound_id": row["compound_id"], "compound_name": row["compound_name"],
    }
    departments = tuple(
        DepartmentRef(d["id"], d["code"], d["name"], d["kind"], d["reason"])
        for d in _json(row["departments"])
    )
    if row["layout_id"] is None:
        return _explained(RoutingResult(rule="unrouted", departments=departments,
                                        reason="no layout in force", **base))
    if row["grid_id"] is None:
        return _explained(RoutingResult(
            rule="unrouted", departments=departments,
            reason=f"no grid within {row['gap_tolerance_m']:g} m", **base))
    dist = float(row["grid_dist"])
    if dist > 0:
        rule = "nearest_grid"
    elif row["unit_id"] is not None:
        rule = "unit"
    elif row["building_id"] is not None:
        rule = "building"
    else:
        rule = "grid"
    lead, team, notes = assemble_team(_json(row["team"]), row["category_team"])
    return _explained(RoutingResult(
        rule=rule, grid_id=row["grid_id"], grid_code=row["grid_code"],
        grid_name=row["grid_name"], distance_m=round(dist, 2), lead=lead, team=team,
        team_notes=notes, departments=departments, **base))


def assemble_team(
    roster: list[dict[str, Any]], volunteer_team: str | None = None
) -> tuple[TeamMember | None, tuple[TeamMember, ...], tuple[str, ...]]:
    """Pick the on-duty team; pass each off-duty holder's duty to the next role.

    Returns the lead (the grid worker, or whoever covers for them), the team in
    role order, and one note per off-duty person naming who covers.
    """
    by_role: dict[str, list[dict[str, Any]]] = {}
    for member in roster:
        if member["role"] == "volunteer" and volunteer_team and member["volunteer_team"] != volunteer_team:
            continue
        by_role.setdefault(member["role"], []).append(member)

    def on_duty(role: str) -> list[dict[str, Any]]:
        return [m for m in by_role.get(role, []) if m["on_duty"]]

    team: list[TeamMember] = []
    covers: dict[int, str] = {}
    notes: list[str] = []
    for role in ROLE_ORDER:
        for member in by_role.get(role, []):
            if member["on_duty"]:
                continue
            # Walk down the fallback chain to the first role with someone on duty.
            substitute_role = FALLBACK.get(role)
            while substitute_role and not on_duty(substitute_role):
                substitute_role = FALLBACK.get(substitute_role)
            zh, en = ROLE_NAMES[role]
            if substitute_role:
                sub = on_duty(substitute_role)[0]
                covers.setdefault(sub["staff_id"], role)
                szh, sen = ROLE_NAMES[substitute_role]
                notes.append(f"{zh} {member['code']} 不在岗，由{szh} {sub['code']} 代为处理 / "
                             f"{en} {member['code']} is off duty; {sen} {sub['code']} covers")
            else:
                notes.append(f"{zh} {member['code']} 不在岗，无人可代 / "
                             f"{en} {member['code']} is off duty and nobody can cover")
    seen: set[int] = set()
    for role in ROLE_ORDER:
        for member in on_duty(role):
            if member["staff_id"] in seen and role != "volunteer":
                continue
            seen.add(member["staff_id"])
            team.append(TeamMember(
                role=role, staff_id=member["staff_id"], staff_code=member["code"],
                name=member["name"], phone=member["phone"],
                volunteer_team=member["volunteer_team"],
                covers_for=covers.get(member["staff_id"]) if role != "grid_worker" else None,
            ))
    lead = next((m for m in team if m.role == "grid_worker"), None)
    if lead is None:
        lead = next((m for m in team if m.role == "part_time_worker"), None)
    if lead is None:
        lead = next((m for m in team if m.role == "volunteer"), None)
    return lead, tuple(team), tuple(notes)


def _explained(result: RoutingResult) -> RoutingResult:
    """Add the one-sentence explanations in Chinese and English."""
    r = result
    if r.rule == "ambiguous_address":
        names = "、".join(str(c["address"] or c["name"]) for c in r.candidates[:5])
        zh = f"地址不唯一，请从候选中选择：{names}。" if r.candidates else "找不到该地址，请输入坐标或更完整的地址。"
        en = (f"The address matches {len(r.candidates)} buildings; choose one of the candidates."
              if r.candidates else "No building matches that address; give coordinates or a fuller address.")
        return replace(r, explanation_zh=zh, explanation_en=en)
    if r.rule == "invalid_location":
        zh = f"位置无效：{r.reason}。"
        en = f"Invalid location: {r.reason}."
    elif r.rule == "outside_coverage":
        zh = "该位置不在任何社区范围内，无法派遣。"
        en = "The location is outside every community gridgis covers; it cannot be routed."
    elif r.rule == "unrouted":
        if r.reason == "no layout in force":
            zh = f"该位置属于社区 {r.community_code}，但该时刻没有生效的网格方案，转社区受理员处理。"
            en = (f"The location is in community {r.community_code}, but no grid layout was in "
                  "force at that time; it goes to the community's dispatcher queue.")
        else:
            zh = f"该位置在社区 {r.community_code} 内，但不在任何网格容差范围内，转社区受理员处理。"
            en = (f"The location is in community {r.community_code} but {r.reason}; "
                  "it goes to the community's dispatcher queue.")
    elif r.rule == "nearest_grid":
        zh = f"该位置不在任何网格内，距最近的网格 {r.grid_code}（{r.grid_name}）{r.distance_m:.1f} 米，归该网格处理。"
        en = (f"The location is in no grid; the nearest grid, {r.grid_code} ({r.grid_name}), "
              f"is {r.distance_m:.1f} m away and takes it.")
    else:
        place_zh = {"address": f"地址“{r.matched_address}”所在楼栋 {r.building_name or r.building_code}",
                    "unit": f"{r.building_name or r.building_code} {r.unit_number} 单元",
                    "building": f"楼栋 {r.building_name or r.building_code}",
                    "grid": f"网格 {r.grid_code}"}[r.rule]
        place_en = {"address": f"building {r.building_code} at the address {r.matched_address!r}",
                    "unit": f"unit {r.unit_number} of building {r.building_code}",
                    "building": f"building {r.building_code}",
                    "grid": f"grid {r.grid_code}"}[r.rule]
        zh = f"该位置位于{place_zh}，属网格 {r.grid_code}（{r.grid_name}）。"
        en = f"The location is in {place_en}, which belongs to grid {r.grid_code} ({r.grid_name})."
    return replace(r, explanation_zh=zh, explanation_en=en)


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
) -> list[RoutingResult]:
    """Route many points set-based: a constant number of statements per chunk.

    Each chunk is one routing statement over arrays of points; the teams of all
    the distinct grids, buildings and units met are then read with one more
    statement. Results come back in input order; a point that cannot be
    located (missing, unparsable, out of range, unknown CRS) gets
    ``rule="invalid_location"`` and a reason instead of stopping the batch.
    """
    default_at = _now()
    results: list[RoutingResult | None] = [None] * len(points)
    valid: list[tuple[int, float, float, str, str | None, dt.datetime]] = []
    for idx, (wlon, wlat, crs_name, error) in enumerate(_normalise_all(points)):
        p = points[idx]
        at = p.at or default_at
        if error is None and at.tzinfo is None:
            error = "the time has no time zone"
        if error is not None:
            results[idx] = _explained(RoutingResult(
                rule="invalid_location", lon=p.lon, lat=p.lat, crs=crs_name, reason=error))
            continue
        valid.append((idx, wlon, wlat, crs_name, p.category, at))
    known_categories = set(session.scalars(sa.text("SELECT code FROM category")))
    for start in range(0, len(valid), chunk_size):
        chunk = valid[start:start + chunk_size]
        rows = session.execute(ROUTE_SQL, {
            "idx": [v[0] for v in chunk], "lon": [v[1] for v in chunk],
            "lat": [v[2] for v in chunk], "at": [v[5] for v in chunk],
            "category": [v[4] for v in chunk], "with_team": False,
            "community": community_code,
        }).mappings().all()
        rosters = _rosters(session, rows)
        by_idx = {v[0]: v for v in chunk}
        for row in rows:
            idx, wlon, wlat, crs_name, category, _ = by_idx[row["idx"]]
            roster = [m for key in (("grid", row["grid_id"]), ("building", row["building_id"]),
                                    ("unit", row["unit_id"]))
                      for m in rosters.get(key, [])]
            result = build_result({**row, "team": roster}, wlon, wlat, crs_name)
            if category and category not in known_categories:
                result = replace(result, warnings=(f"unknown category {category!r}",))
            results[idx] = result
    return [r for r in results if r is not None]


def _rosters(session: Session, rows: Sequence[Any]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The staff of every grid, building and unit in ``rows``, in one statement."""
    grids = sorted({r["grid_id"] for r in rows if r["grid_id"] is not None})
    buildings = sorted({r["building_id"] for r in rows if r["building_id"] is not None})
    units = sorted({r["unit_id"] for r in rows if r["unit_id"] is not None})
    if not (grids or buildings or units):
        return {}
    found = session.execute(sa.text(
        """
        SELECT a.role, a.volunteer_team, a.on_duty, a.grid_id, a.building_id, a.unit_id,
               s.id AS staff_id, s.code, s.name, s.phone
        FROM assignment a JOIN staff s ON s.id = a.staff_id
        WHERE a.grid_id = ANY(CAST(:grids AS int[]))
           OR a.building_id = ANY(CAST(:buildings AS int[]))
           OR a.unit_id = ANY(CAST(:units AS int[]))
        ORDER BY a.role, s.code
        """), {"grids": grids, "buildings": buildings, "units": units}).mappings()
    rosters: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for m in found:
        key = (("grid", m["grid_id"]) if m["grid_id"] is not None
               else ("building", m["building_id"]) if m["building_id"] is not None
               else ("unit", m["unit_id"]))
        rosters.setdefault(key, []).append(dict(m))
    return rosters


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
            reason = exc.user_msg if isinstance(exc, InvalidInput) else f"unparsable coordinates ({exc})"
            out.append((0.0, 0.0, crs_name, reason))
            continue
        out.append((lon, lat, crs_name, None))
    return out


# Trigram similarity a fuzzy match needs, and how far ahead of the runner-up
# the best match must be before we take it rather than ask.
FUZZY_MIN = 0.45
FUZZY_MARGIN = 0.15


def _normalise_address(text: str) -> str:
    # NFKC folds full-width digits and letters (１８号 → 18号); spaces carry no meaning.
    return "".join(unicodedata.normalize("NFKC", text).split())


def route_address(
    session: Session,
    address: str,
    *,
    category: str | None = None,
    at: dt.datetime | None = None,
    community_code: str | None = None,
) -> RoutingResult:
    """Route by a building's address or name: exact, then substring, then fuzzy (pg_trgm).

    When several buildings match equally well the result's rule is
    ``ambiguous_address`` and it lists the candidates: a person chooses, we
    never guess.
    """
    query = _normalise_address(address or "")
    if len(query) < 2:
        raise InvalidInput("Give an address or building name of at least two characters.")
    params = {"q": query, "community": community_code}
    scope = "AND (CAST(:community AS text) IS NULL OR c.code = :community)"
    base = f"""
        SELECT b.id, b.code, b.name, b.address, c.code AS community_code,
               ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat,
               greatest(similarity(coalesce(b.address, ''), :q),
                        similarity(coalesce(b.name, ''), :q)) AS score
        FROM building b JOIN community c ON c.id = b.community_id
        WHERE {{where}} {scope}
        ORDER BY score DESC, b.id
        LIMIT 10
    """
    candidates: list[dict[str, Any]] = []
    for where in (
        "(replace(b.address, ' ', '') = :q OR replace(b.name, ' ', '') = :q)",
        "(b.address LIKE '%' || :q || '%' OR b.name LIKE '%' || :q || '%')",
        "(b.address % :q OR b.name % :q)",
    ):
        candidates = [dict(r) for r in session.execute(sa.text(base.format(where=where)), params).mappings()]
        if candidates:
            break
    if not candidates:
        return _explained(RoutingResult(rule="ambiguous_address", lon=None, lat=None,
                                        reason="no match"))
    top = candidates[0]
    exact = _normalise_address(top["address"] or "") == query or _normalise_address(top["name"] or "") == query
    clear = len(candidates) == 1 or (
        top["score"] >= FUZZY_MIN and top["score"] - candidates[1]["score"] >= FUZZY_MARGIN)
    if exact and len(candidates) > 1 and candidates[1]["score"] == top["score"]:
        clear = False
    if not clear:
        listed = tuple({k: c[k] for k in ("id", "code", "name", "address", "community_code", "score")}
                       for c in candidates)
        return _explained(RoutingResult(rule="ambiguous_address", lon=None, lat=None,
                                        candidates=listed, reason="ambiguous"))
    row = _route_row(session, top["lon"], top["lat"], category=category, at=at,
                     community=community_code)
    # An address names a building, not a stairwell: drop the unit the
    # point-on-surface happened to fall in, and its head.
    row["unit_id"] = row["unit_number"] = None
    row["team"] = [m for m in _json(row["team"]) if m["role"] != "unit_head"]
    result = build_result(row, top["lon"], top["lat"], "EPSG:4326")
    if result.rule in ("unit", "building"):
        result = replace(result, rule="address")
    return _explained(replace(result, matched_address=top["address"] or top["name"]))
