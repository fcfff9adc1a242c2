"""An in-memory routing index for large batches, provably the database's answer.

``route_points`` sends points through one SQL statement per chunk; at city
scale the per-point index probes dominate. This module keeps the polygons
routing reads (communities, layouts, grids, compounds, buildings, units,
department jurisdictions) in shapely STRtrees and answers the points whose
answer cannot depend on how a point-in-polygon test treats an edge:

* A point closer than ``EDGE_MARGIN_DEG`` (about 1 mm) to any polygon edge of
  any layer goes to the database: exactly on an edge, ST_Covers and GEOS might
  round differently, so we do not decide those here.
* Ties between polygons that both cover a point are broken with the areas the
  database computed (``ST_Area``, loaded with the polygons), then the id: the
  same rule, on the same numbers, as the SQL.
* Points in no grid (gaps, needing spheroid distances) and points that might
  be within a community's tolerance of its boundary go to the database; a
  point farther (in degrees) than any tolerance could reach from every
  community is ``outside_coverage`` here, as it is there.

The index is keyed by the routing epoch (``models.RoutingEpoch``), which a
statement-level trigger sets from a sequence after every write to those
tables: a session that sees epoch E sees exactly the data the index of epoch
E was loaded from, so no stale answer can be served. ``tests/gridgis/
test_routing_cache.py`` checks the cache against the SQL on every point kind.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.geo.layouts import in_force

#: A point nearer than this (degrees; ~1.1 mm) to any edge is left to PostGIS.
EDGE_MARGIN_DEG = 1e-8
#: Building the index costs about this much per polygon (load + two trees),
#: routing a point through SQL about this much: build when it pays off within
#: the batch at hand (measured on the synthetic city of bench/routing.py).
BUILD_SECONDS_PER_POLYGON = 6e-6
SQL_SECONDS_PER_POINT = 2e-4
#: Below this many points the SQL path is always cheap enough.
AUTO_MIN_POINTS = 200

_LOCK = threading.Lock()
_INDEXES: dict[str, RoutingIndex] = {}


@dataclass
class _Layer:
    """Polygons of one kind, with their database ids and areas, and two trees."""

    ids: np.ndarray
    area: np.ndarray
    geoms: np.ndarray
    attrs: dict[str, np.ndarray]
    tree: shapely.STRtree = field(init=False)
    edges: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geoms)
        self.edges = shapely.STRtree(shapely.boundary(self.geoms))
        self.id_list: list[int] = self.ids.tolist()
        self.attr_lists: dict[str, list[Any]] = {k: v.tolist() for k, v in self.attrs.items()}
        #: database id → position in the arrays
        self.position: dict[int, int] = {db_id: i for i, db_id in enumerate(self.id_list)}

    def best(self, pairs: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
        """Per point, the index of the covering polygon with the smallest (area, id); -1 if none."""
        points, polys = pairs[0][keep], pairs[1][keep]
        out = np.full(n, -1, dtype=np.int64)
        if len(points) == 0:
            return out
        # Sort by point, then area, then id; the first row per point wins.
        order = np.lexsort((self.ids[polys], self.area[polys], points))
        points, polys = points[order], polys[order]
        first = np.ones(len(points), dtype=bool)
        first[1:] = points[1:] != points[:-1]
        out[points[first]] = polys[first]
        return out


def _load_layer(session: Session, sql: str, attrs: tuple[str, ...]) -> _Layer:
    rows = session.execute(sa.text(sql)).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * (3 + len(attrs))
    return _Layer(
        ids=np.asarray(columns[0], dtype=np.int64),
        area=np.asarray(columns[1], dtype=np.float64),
        geoms=shapely.from_wkb(np.asarray(columns[2], dtype=object)),
        attrs={name: np.asarray(columns[3 + i], dtype=object) for i, name in enumerate(attrs)},
    )


@dataclass
class RoutingIndex:
    """Everything routing reads, for one epoch."""

    epoch: int
    communities: _Layer
    grids: _Layer
    buildings: _Layer
    units: _Layer
    compounds: _Layer
    jurisdictions: _Layer
    #: community id → [(valid_from, valid_to or None, layout id, name)]
    layouts: dict[int, list[tuple[dt.datetime, dt.datetime | None, int, str]]]
    #: category code → (id, is_property, volunteer_team)
    categories: dict[str, tuple[int, bool, str | None]]
    #: category id → [department id]
    category_departments: dict[int, list[int]]
    #: department id → {id, code, name, kind}
    departments: dict[int, dict[str, Any]]
    max_tolerance_m: float


def current_epoch(session: Session) -> int:
    return int(
        session.execute(sa.text("SELECT epoch FROM routing_epoch WHERE id = 1")).scalar_one()
    )


def load_index(session: Session, epoch: int) -> RoutingIndex:
    """Read every routing polygon once (a handful of statements)."""

    def layer(table: str, geom: str, attrs: str, names: tuple[str, ...], where: str = "") -> _Layer:
        sql = f"SELECT id, ST_Area({geom}), ST_AsBinary({geom}), {attrs} FROM {table} {where}"
        return _load_layer(session, sql, names)

    communities = layer(
        "community", "boundary", "code, name, gap_tolerance_m", ("code", "name", "tolerance")
    )
    grids = layer("grid", "geom", "layout_id, code, name", ("layout_id", "code", "name"))
    buildings = layer(
        "building",
        "geom",
        "community_id, code, name, address, compound_id",
        ("community_id", "code", "name", "address", "compound_id"),
    )
    units = layer(
        "unit u",
        "u.geom",
        "u.building_id, u.number, (SELECT community_id FROM building b WHERE b.id = u.building_id)",
        ("building_id", "number", "community_id"),
    )
    compounds = layer(
        "compound",
        "geom",
        "community_id, name, property_company_id",
        ("community_id", "name", "property_company_id"),
    )
    jurisdictions = layer(
        "department", "jurisdiction", "code", ("code",), "WHERE jurisdiction IS NOT NULL"
    )
    layouts: dict[int, list[tuple[dt.datetime, dt.datetime | None, int, str]]] = {}
    for community_id, start, end, layout_id, name in session.execute(
        sa.text(
            "SELECT community_id, valid_from, valid_to, id, name FROM layout"
            " WHERE status = 'published'"
        )
    ):
        layouts.setdefault(community_id, []).append((start, end, layout_id, name))
    categories = {
        code: (cid, bool(prop), team)
        for cid, code, prop, team in session.execute(
            sa.text("SELECT id, code, is_property, volunteer_team FROM category")
        )
    }
    category_departments: dict[int, list[int]] = {}
    for category_id, department_id in session.execute(
        sa.text("SELECT category_id, department_id FROM category_department")
    ):
        category_departments.setdefault(category_id, []).append(department_id)
    departments = {
        row.id: dict(row._mapping)
        for row in session.execute(sa.text("SELECT id, code, name, kind FROM department"))
    }
    tolerances = communities.attrs["tolerance"]
    return RoutingIndex(
        epoch=epoch,
        communities=communities,
        grids=grids,
        buildings=buildings,
        units=units,
        compounds=compounds,
        jurisdictions=jurisdictions,
        layouts=layouts,
        categories=categories,
        category_departments=category_departments,
        departments=departments,
        max_tolerance_m=float(max(tolerances)) if len(tolerances) else 0.0,
    )


def index_for(session: Session, points: int, *, build: bool | None = None) -> RoutingIndex | None:
    """The index for the epoch this session sees, if there is one or it is worth building.

    ``build`` None: build when routing the batch through SQL would cost more
    than building the index (estimated from the tables' sizes); True: always;
    False: only use an index already loaded.
    """
    epoch = current_epoch(session)
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    index = _INDEXES.get(key)
    if index is not None and index.epoch == epoch:
        return index
    if build is False:
        return None
    if build is None:
        if points < AUTO_MIN_POINTS:
            return None
        if points * SQL_SECONDS_PER_POINT < _polygon_count(session) * BUILD_SECONDS_PER_POLYGON:
            return None
    with _LOCK:
        index = _INDEXES.get(key)
        if index is None or index.epoch != epoch:
            index = load_index(session, epoch)
            _INDEXES[key] = index
    return index


def _polygon_count(session: Session) -> float:
    """Rows in the polygon tables: the planner's estimate, or a count where there is none."""
    total = 0.0
    for table in ("unit", "building", "grid", "compound", "community"):
        estimate = session.execute(
            sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
        ).scalar_one()
        if estimate is None or estimate < 0:  # never analysed
            estimate = session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        total += float(estimate)
    return total


def forget_indexes() -> None:
    """Drop every loaded index (tests; memory pressure)."""
    with _LOCK:
        _INDEXES.clear()


def _m_per_deg(lat: np.ndarray) -> np.ndarray:
    # The same lower bound of metres per degree as the SQL (see _route_sql.py).
    return np.maximum(np.minimum(110574.0, 111320.0 * np.cos(np.radians(lat))), 1.0) * 0.99


def resolve(
    index: RoutingIndex,
    lon: np.ndarray,
    lat: np.ndarray,
    at: list[dt.datetime],
    categories: list[str | None],
    community_code: str | None = None,
) -> list[dict[str, Any] | None]:
    """Rows shaped like the SQL's for the points decided here; None for the database."""
    n = len(lon)
    pts = shapely.points(lon, lat)
    undecided = np.zeros(n, dtype=bool)
    for layer in (
        index.communities,
        index.grids,
        index.buildings,
        index.units,
        index.compounds,
        index.jurisdictions,
    ):
        near, _ = layer.edges.query(pts, predicate="dwithin", distance=EDGE_MARGIN_DEG)
        undecided[near] = True

    comm_pairs = index.communities.tree.query(pts, predicate="intersects")
    keep = ~undecided[comm_pairs[0]]
    if community_code is not None:
        keep &= index.communities.attrs["code"][comm_pairs[1]] == community_code
    community = index.communities.best(comm_pairs, keep, n)

    # Not in any community: outside coverage if no community could be within
    # its tolerance even at the degree bound the SQL uses; else the database.
    outside = np.zeros(n, dtype=bool)
    loose = np.flatnonzero((community < 0) & ~undecided)
    if len(loose):
        reach = index.max_tolerance_m / _m_per_deg(lat[loose])
        near_comm = np.zeros(len(loose), dtype=bool)
        for radius in np.unique(np.round(reach, 9)):
            sel = np.flatnonzero(np.round(reach, 9) == radius)
            hit, _ = index.communities.tree.query(
                pts[loose[sel]], predicate="dwithin", distance=radius
            )
            near_comm[sel[hit]] = True
        outside[loose[~near_comm]] = True
        undecided[loose[near_comm]] = True

    comm_of_point = np.where(community >= 0, index.communities.ids[np.maximum(community, 0)], -1)
    layout_id = np.full(n, -1, dtype=np.int64)
    layout_name: list[str | None] = [None] * n
    for i in np.flatnonzero(community >= 0).tolist():
        for start, end, lid, name in index.layouts.get(int(comm_of_point[i]), ()):
            if in_force(start, end, at[i]):
                layout_id[i], layout_name[i] = lid, name
                break

    grid_pairs = index.grids.tree.query(pts, predicate="intersects")
    keep = (
        index.grids.attrs["layout_id"][grid_pairs[1]].astype(np.int64) == layout_id[grid_pairs[0]]
    )
    grid = index.grids.best(grid_pairs, keep & ~undecided[grid_pairs[0]], n)
    # In the community, a layout in force, but in no grid: a gap (spheroid
    # distances to the nearest grid): the database decides.
    undecided |= (community >= 0) & (layout_id >= 0) & (grid < 0)

    unit_pairs = index.units.tree.query(pts, predicate="intersects")
    keep = (
        index.units.attrs["community_id"][unit_pairs[1]].astype(np.int64)
        == comm_of_point[unit_pairs[0]]
    )
    unit = index.units.best(unit_pairs, keep, n)
    bld_pairs = index.buildings.tree.query(pts, predicate="intersects")
    keep = (
        index.buildings.attrs["community_id"][bld_pairs[1]].astype(np.int64)
        == comm_of_point[bld_pairs[0]]
    )
    building = index.buildings.best(bld_pairs, keep, n)
    cmp_pairs = index.compounds.tree.query(pts, predicate="intersects")
    keep = (
        index.compounds.attrs["community_id"][cmp_pairs[1]].astype(np.int64)
        == comm_of_point[cmp_pairs[0]]
    )
    compound = index.compounds.best(cmp_pairs, keep, n)
    juris_pairs = index.jurisdictions.tree.query(pts, predicate="intersects")
    jurisdiction_hits: dict[int, set[int]] = {}
    for p, j in zip(*juris_pairs, strict=True):
        jurisdiction_hits.setdefault(int(p), set()).add(int(index.jurisdictions.ids[j]))
    juris_ids = set(index.jurisdictions.ids.tolist())

    # Plain Python lists: indexing numpy object arrays one element at a time
    # costs more than the rest of this loop.
    comm_ids, comm_attrs = index.communities.id_list, index.communities.attr_lists
    grid_ids, grid_attrs = index.grids.id_list, index.grids.attr_lists
    bld_ids, bld_attrs = index.buildings.id_list, index.buildings.attr_lists
    unit_ids, unit_attrs = index.units.id_list, index.units.attr_lists
    cmp_ids, cmp_attrs = index.compounds.id_list, index.compounds.attr_lists
    building_pos, compound_pos = index.buildings.position, index.compounds.position
    community_l, building_l, unit_l = community.tolist(), building.tolist(), unit.tolist()
    grid_l, compound_l, layout_l = grid.tolist(), compound.tolist(), layout_id.tolist()
    undecided_l, outside_l = undecided.tolist(), outside.tolist()
    rows: list[dict[str, Any] | None] = [None] * n
    for i in range(n):
        if undecided_l[i]:
            continue
        code = categories[i]
        category = index.categories.get(code) if code else None
        row: dict[str, Any] = {
            "idx": i,
            "category_found": category is not None,
            "category_team": category[2] if category else None,
            "team": None,
        }
        c = community_l[i]
        if outside_l[i] or c < 0:
            row.update(dict.fromkeys(_ROW_KEYS))
            row["departments"] = _departments(
                index, category, None, jurisdiction_hits.get(i), juris_ids
            )
            rows[i] = row
            continue
        u = unit_l[i]
        b = building_pos[unit_attrs["building_id"][u]] if u >= 0 else building_l[i]
        compound_id = bld_attrs["compound_id"][b] if b >= 0 else None
        k = compound_pos[compound_id] if compound_id is not None else compound_l[i]
        g = grid_l[i]
        row["community_id"] = comm_ids[c]
        row["community_code"] = comm_attrs["code"][c]
        row["community_name"] = comm_attrs["name"][c]
        row["gap_tolerance_m"] = comm_attrs["tolerance"][c]
        row["community_dist"] = 0.0
        row["layout_id"] = layout_l[i] if layout_l[i] >= 0 else None
        row["layout_name"] = layout_name[i]
        if g >= 0:
            row["grid_id"], row["grid_code"] = grid_ids[g], grid_attrs["code"][g]
            row["grid_name"], row["grid_dist"] = grid_attrs["name"][g], 0.0
        else:
            row["grid_id"] = row["grid_code"] = row["grid_name"] = row["grid_dist"] = None
        if b >= 0:
            row["building_id"], row["building_code"] = bld_ids[b], bld_attrs["code"][b]
            row["building_name"], row["address"] = bld_attrs["name"][b], bld_attrs["address"][b]
        else:
            row["building_id"] = row["building_code"] = None
            row["building_name"] = row["address"] = None
        if u >= 0:
            row["unit_id"], row["unit_number"] = unit_ids[u], unit_attrs["number"][u]
        else:
            row["unit_id"] = row["unit_number"] = None
        if k >= 0:
            row["compound_id"], row["compound_name"] = cmp_ids[k], cmp_attrs["name"][k]
            company = cmp_attrs["property_company_id"][k]
        else:
            row["compound_id"] = row["compound_name"] = company = None
        row["departments"] = (
            _departments(index, category, company, jurisdiction_hits.get(i), juris_ids)
            if category
            else None
        )
        rows[i] = row
    return rows


_ROW_KEYS = (
    "community_id", "community_code", "community_name", "gap_tolerance_m", "community_dist",
    "layout_id", "layout_name", "grid_id", "grid_code", "grid_name", "grid_dist",
    "building_id", "building_code", "building_name", "address", "unit_id", "unit_number",
    "compound_id", "compound_name",
)  # fmt: skip


def _departments(
    index: RoutingIndex,
    category: tuple[int, bool, str | None] | None,
    company: Any,
    covering: set[int] | None,
    with_jurisdiction: set[int],
) -> list[dict[str, Any]] | None:
    """The SQL's department list: category departments whose jurisdiction covers, plus property."""
    if category is None:
        return None
    items = []
    for dep in index.category_departments.get(category[0], ()):
        if dep not in with_jurisdiction or (covering and dep in covering):
            items.append({**index.departments[dep], "reason": "category"})
    if category[1] and company is not None:
        items.append({**index.departments[int(company)], "reason": "property"})
    if not items:
        return None
    unique = {(d["id"], d["reason"]): d for d in items}
    return sorted(unique.values(), key=lambda d: (d["code"], d["reason"]))
