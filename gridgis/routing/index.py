"""The in-memory routing index: every polygon routing reads, loaded once per epoch.

The index is keyed by the routing epoch (``models.RoutingEpoch``), which a
statement-level trigger sets from a sequence after every write to the tables
routing reads: a session that sees epoch E sees exactly the data the index of
epoch E was loaded from, so no stale answer can be served
(:mod:`gridgis.routing.cache` answers points from it).
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

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
class Layer:
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
        # The keys the point queries filter pairs on, as integers once.
        self.community_ids = _int_column(self.attrs.get("community_id"), len(self.ids))
        self.layout_ids = _int_column(self.attrs.get("layout_id"), len(self.ids))

    @functools.cached_property
    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every edge of every polygon as rows (x1, y1, x2, y2), and each polygon's first
        and past-the-last row (polygons with holes and multipolygons included)."""
        parts, owner = shapely.get_parts(shapely.boundary(self.geoms), return_index=True)
        coords, part_of = shapely.get_coordinates(parts, return_index=True)
        same = part_of[1:] == part_of[:-1]  # consecutive vertices of one line
        edges = np.hstack([coords[:-1][same], coords[1:][same]])
        polygon = owner[part_of[:-1][same]]
        bounds = np.searchsorted(polygon, np.arange(len(self.geoms) + 1))
        return edges, bounds[:-1], bounds[1:]

    def positions(self, db_ids: np.ndarray) -> np.ndarray:
        """Positions of database ids in this layer (-1 for -1 or an id not in it)."""
        out = np.full(len(db_ids), -1, dtype=np.int64)
        if len(self.ids) == 0 or len(db_ids) == 0:
            return out
        order = np.argsort(self.ids, kind="stable")
        found = np.searchsorted(self.ids, db_ids, sorter=order)
        found = np.minimum(found, len(order) - 1)
        hit = self.ids[order[found]] == db_ids
        out[hit] = order[found[hit]]
        return out

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


def _int_column(values: np.ndarray | None, n: int) -> np.ndarray:
    """An object column of ids as int64, None as -1 (all -1 where there is no such column)."""
    if values is None:
        return np.full(n, -1, dtype=np.int64)
    return np.array([-1 if v is None else v for v in values.tolist()], dtype=np.int64)


def _load_layer(session: Session, sql: str, attrs: tuple[str, ...]) -> Layer:
    rows = session.execute(sa.text(sql)).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * (3 + len(attrs))
    return Layer(
        ids=np.asarray(columns[0], dtype=np.int64),
        area=np.asarray(columns[1], dtype=np.float64),
        geoms=shapely.from_wkb(np.asarray(columns[2], dtype=object)),
        attrs={name: np.asarray(columns[3 + i], dtype=object) for i, name in enumerate(attrs)},
    )


@dataclass
class RoutingIndex:
    """Everything routing reads, for one epoch."""

    epoch: int
    communities: Layer
    grids: Layer
    buildings: Layer
    units: Layer
    compounds: Layer
    jurisdictions: Layer
    #: community id → [(valid_from, valid_to or None, layout id, name)]
    layouts: dict[int, list[tuple[dt.datetime, dt.datetime | None, int, str]]]
    #: category code → (id, is_property, volunteer_team)
    categories: dict[str, tuple[int, bool, str | None]]
    #: category id → [department id]
    category_departments: dict[int, list[int]]
    #: department id → {id, code, name, kind}
    departments: dict[int, dict[str, Any]]
    max_tolerance_m: float
    #: Per unit, the position of its building; per building, of its compound (-1: none).
    unit_building: np.ndarray = field(init=False)
    building_compound: np.ndarray = field(init=False)
    #: layout id → name
    layout_names: dict[int, str] = field(init=False)
    #: Derived columns kept with the index by their users (gridgis.routing.columns).
    extras: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.unit_building = self.buildings.positions(
            _int_column(self.units.attrs["building_id"], len(self.units.ids))
        )
        self.building_compound = self.compounds.positions(
            _int_column(self.buildings.attrs["compound_id"], len(self.buildings.ids))
        )
        self.layout_names = {
            lid: name for periods in self.layouts.values() for _, _, lid, name in periods
        }
        self.extras = {}


def current_epoch(session: Session) -> int:
    return int(
        session.execute(sa.text("SELECT epoch FROM routing_epoch WHERE id = 1")).scalar_one()
    )


def load_index(session: Session, epoch: int) -> RoutingIndex:
    """Read every routing polygon once (a handful of statements)."""

    def layer(table: str, geom: str, attrs: str, names: tuple[str, ...], where: str = "") -> Layer:
        # Table and column names are this module's constants, never user input.
        sql = f"SELECT id, ST_Area({geom}), ST_AsBinary({geom}), {attrs} FROM {table} {where}"  # nosec B608
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
            # ``table`` comes from the constant tuple above.
            count = sa.text(f"SELECT count(*) FROM {table}")  # nosec B608
            estimate = session.execute(count).scalar_one()
        total += float(estimate)
    return total


def forget_indexes() -> None:
    """Drop every loaded index (tests; memory pressure)."""
    with _LOCK:
        _INDEXES.clear()
