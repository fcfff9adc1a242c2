"""Routing benchmark: how fast does gridgis route incidents, against what ceilings?

    .venv/bin/python bench/routing.py [--scale 200000] [--points 100000] [--json]

Builds a synthetic city with COPY (``bench/_synthetic.py``), then routes the
same incident points with

(a) ``gridgis.routing.columns.route_columns``, the batch path ``gridgis route``
    takes: results as Arrow columns (all points); the ``batch_vs_*`` ratios
    measure it;
(a') ``gridgis.routing.points.route_points``, the batch path of result objects
    (incident intake, the web API) (all points);
(b) ``gridgis.routing.points.route_point``, one round trip per point (a sample);
(c) one hand-written PostGIS statement over a temp table, owners only: the
    database's ceiling;
(d) a naive per-point ORM loop, one query per table (the N+1 a beginner writes);
(e) shapely STRtrees over the same polygons, in memory: the physical ceiling;
(f) ``POST /api/v1/route`` on a ``gridgis serve`` subprocess (a sample);

checks that they all name the same owners (community, grid, building, unit),
profiles the batch statement with EXPLAIN ANALYZE, and prints a table; with
``--json`` the last line of stdout is one JSON object. Progress goes to stderr.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

try:
    from bench import _synthetic as synth
except ImportError:  # run as a script: bench/ is sys.path[0]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _synthetic as synth  # type: ignore[no-redef]

from gridgis import migrate
from gridgis.config import PROJECT_ROOT, database_url, owner_database_url
from gridgis.db import make_engine
from gridgis.routing import cache as routing_cache
from gridgis.routing.columns import route_columns
from gridgis.routing.points import PointInput, route_point, route_points
from gridgis.routing.sql import BATCH_SQL as ROUTE_SQL

#: Metric decisions closer than this to a tie or to the tolerance are "ambiguous":
#: geodesic (PostGIS) and projected (shapely) distances may legitimately differ there.
EPS_M = 0.05
TARGETS = {  # key: (direction, target, note)
    "batch_vs_sql": (">=", 3.0, ""),
    "batch_vs_naive": (">=", 20.0, ""),
    "batch_vs_strtree": (">=", 0.3, ""),
    "single_p50_ms": ("<=", 2.0, ""),
    "http_p50_ms": ("<=", 10.0, ""),
}
OWNER_FIELDS = ("community", "grid", "building", "unit")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the database ---------------------------------------------------------------


class BenchDatabase:
    """The throwaway ``gridgis_bench_<random>`` database, or DATABASE_URL's."""

    def __init__(self, keep: bool, *, always_own: bool = False) -> None:
        self.keep = keep
        # The owner may create databases (the app role may not): the bench makes its own.
        self.server = make_url(owner_database_url())
        # always_own: a throwaway database even with DATABASE_URL set (on that server), for
        # benches that change what they load in ways not to leave in a database in use.
        self.own = always_own or "DATABASE_URL" not in os.environ
        self.admin: Engine | None = None
        self.name: str | None = None
        self.url: URL = self.server

    def __enter__(self) -> BenchDatabase:
        if self.own:
            subprocess.run(
                [str(PROJECT_ROOT / "scripts" / "pgcluster.sh"), "start"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            self.admin = sa.create_engine(
                self.server.set(database="postgres"),
                isolation_level="AUTOCOMMIT",
                poolclass=sa.pool.NullPool,
            )
            self.name = f"gridgis_bench_{uuid.uuid4().hex[:10]}"
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
            self.url = self.server.set(database=self.name)
            log(f"created database {self.name}")
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            if self.own:
                migrate.upgrade(engine)
            elif migrate.current_revision(engine) != migrate.head_revision(engine):
                raise SystemExit(
                    "The DATABASE_URL database is not at the latest migration; "
                    "run `gridgis db upgrade` first (the bench does not migrate it)."
                )
        except BaseException:
            engine.dispose()
            self.__exit__()
            raise
        engine.dispose()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.own and self.admin is not None and self.name:
            if self.keep:
                log(f"kept database {self.url.render_as_string(hide_password=True)}")
            else:
                with self.admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                log(f"dropped database {self.name}")
            self.admin.dispose()


@contextlib.contextmanager
def driver_connection(engine: Engine) -> Iterator[Any]:
    """The psycopg connection under a pooled one (for COPY), returned to the pool after."""
    proxy = engine.raw_connection()
    try:
        yield proxy.driver_connection
    finally:
        proxy.close()


# --- (a) and (b): the project's paths ----------------------------------------------


class DbTimer:
    """Seconds spent inside cursor.execute (statement + transfer) on an engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds = 0.0
        self.statements = 0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, *args: object) -> None:  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, *args: object) -> None:  # type: ignore[no-untyped-def]
        self.seconds += time.perf_counter() - conn.info.pop("bench_t0")
        self.statements += 1

    def reset(self) -> None:
        self.seconds, self.statements = 0.0, 0

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def owners_of(results: list[Any]) -> np.ndarray:
    return np.array(
        [
            [-1 if getattr(r, f"{f}_id") is None else getattr(r, f"{f}_id") for f in OWNER_FIELDS]
            for r in results
        ],
        dtype=np.int64,
    )


def run_batch(
    engine: Engine, pts: synth.Points, cats: list[str | None], at: dt.datetime
) -> tuple[np.ndarray, dict[str, Any], Counter[str]]:
    """The batch path three ways: cold (index built inside), warm, and SQL only.

    The warm run is the figure that counts (a server keeps its index between
    requests); the other two are printed so nobody has to take that on trust.
    """
    inputs = [
        PointInput(float(x), float(y), category=c, at=at) for x, y, c in zip(pts.lon, pts.lat, cats)
    ]
    timings: dict[str, float] = {}
    owners: dict[str, np.ndarray] = {}
    timer = DbTimer(engine)
    with Session(engine) as session:
        routing_cache.forget_indexes()
        for label, use_cache in (("cold", None), ("warm", None), ("sql_only", False)):
            if label == "warm":
                timer.reset()
            t0 = time.perf_counter()
            results = route_points(session, inputs, use_cache=use_cache)
            timings[label] = time.perf_counter() - t0
            owners[label] = owners_of(results)
            if label == "warm":
                warm_results = results
                db_seconds, statements = timer.seconds, timer.statements
        session.rollback()
    timer.close()
    rules = Counter(r.rule for r in warm_results)
    same = all(np.array_equal(owners["warm"], o) for o in owners.values())
    return (
        owners["warm"],
        {
            "seconds": round(timings["warm"], 3),
            "db_seconds": round(db_seconds, 3),
            "python_seconds": round(timings["warm"] - db_seconds, 3),
            "statements": statements,
            "cold_seconds": round(timings["cold"], 3),
            "sql_only_seconds": round(timings["sql_only"], 3),
            "cold_warm_sql_only_agree": same,
        },
        rules,
    )


def run_columns(
    engine: Engine, pts: synth.Points, cats: list[str | None], at: dt.datetime
) -> tuple[np.ndarray, dict[str, Any], Counter[str]]:
    """The column-wise batch path (what ``gridgis route`` runs), index warm and cold.

    As for route_points: a cold run first (index built inside, printed beside),
    then the warm run that counts (a server keeps its index, and the Arrow
    columns made from it, between requests).
    """
    timings: dict[str, float] = {}
    owners: dict[str, np.ndarray] = {}
    timer = DbTimer(engine)
    with Session(engine) as session:
        routing_cache.forget_indexes()
        for label in ("cold", "warm"):
            timer.reset()
            t0 = time.perf_counter()
            table = route_columns(session, pts.lon, pts.lat, categories=cats, at=at, use_cache=True)
            timings[label] = time.perf_counter() - t0
            owners[label] = np.column_stack(
                [
                    table.column(f"{f}_id").fill_null(-1).to_numpy().astype(np.int64)
                    for f in OWNER_FIELDS
                ]
            )
            if label == "warm":
                rules = Counter(table.column("rule").to_pylist())
                db_seconds, statements = timer.seconds, timer.statements
        session.rollback()
    timer.close()
    return (
        owners["warm"],
        {
            "seconds": round(timings["warm"], 3),
            "db_seconds": round(db_seconds, 3),
            "python_seconds": round(timings["warm"] - db_seconds, 3),
            "statements": statements,
            "cold_seconds": round(timings["cold"], 3),
            "cold_warm_agree": bool(np.array_equal(owners["warm"], owners["cold"])),
        },
        rules,
    )


def run_single(
    engine: Engine, pts: synth.Points, idx: np.ndarray, cats: list[str | None], at: dt.datetime
) -> tuple[np.ndarray, dict[str, Any]]:
    times: list[float] = []
    results = []
    with Session(engine) as session:
        # Warm-up: connect and begin the transaction outside the timings.
        route_point(session, float(pts.lon[idx[0]]), float(pts.lat[idx[0]]), at=at)
        for i in idx:
            t0 = time.perf_counter()
            results.append(
                route_point(session, float(pts.lon[i]), float(pts.lat[i]), category=cats[i], at=at)
            )
            times.append(time.perf_counter() - t0)
        session.rollback()
    ms = np.array(times) * 1000
    return owners_of(results), {
        "seconds": round(float(np.sum(times)), 3),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


# --- (c) the hand-written statement ----------------------------------------------

# Tuned by hand: the unit's community is checked with a scalar subquery on the
# building's primary key. Written as "unit JOIN building ... WHERE
# b.community_id = comm.id" (as ROUTE_SQL does), the planner misjudges how
# many units the GiST probe returns and hashes all ~1,000 buildings of the
# community for every point (see the profile).

CEILING_SQL = """
SELECT p.idx, comm.id, COALESCE(gc.id, gn.id), COALESCE(un.building_id, bl.id), un.id
FROM bench_pt p
LEFT JOIN LATERAL (
    (SELECT c.id, c.gap_tolerance_m FROM community c
     WHERE ST_Covers(c.boundary, p.g) ORDER BY ST_Area(c.boundary), c.id LIMIT 1)
    UNION ALL
    (SELECT k.id, k.gap_tolerance_m
     FROM (SELECT c.id, c.gap_tolerance_m, c.boundary FROM community c
           ORDER BY c.boundary <-> p.g LIMIT %(k)s) k
     CROSS JOIN LATERAL (SELECT ST_Distance(k.boundary::geography, p.g::geography) AS d) d
     WHERE d.d <= k.gap_tolerance_m
     ORDER BY d.d, ST_Area(k.boundary), k.id LIMIT 1)
    LIMIT 1
) comm ON true
LEFT JOIN LATERAL (
    SELECT l.id FROM layout l
    WHERE l.community_id = comm.id AND l.status = 'published' AND l.valid_from <= %(at)s
      AND (l.valid_to IS NULL OR l.valid_to > %(at)s)
) lay ON true
LEFT JOIN LATERAL (
    SELECT u.id, u.building_id FROM unit u
    WHERE ST_Covers(u.geom, p.g)
      AND (SELECT b.community_id FROM building b WHERE b.id = u.building_id) = comm.id
    ORDER BY ST_Area(u.geom), u.id LIMIT 1
) un ON true
LEFT JOIN LATERAL (
    SELECT b.id FROM building b
    WHERE un.id IS NULL AND ST_Covers(b.geom, p.g) AND b.community_id = comm.id
    ORDER BY ST_Area(b.geom), b.id LIMIT 1
) bl ON true
LEFT JOIN LATERAL (
    SELECT g.id FROM grid g
    WHERE g.layout_id = lay.id AND ST_Covers(g.geom, p.g)
    ORDER BY ST_Area(g.geom), g.id LIMIT 1
) gc ON true
LEFT JOIN LATERAL (
    SELECT k.id
    FROM (SELECT g.id, g.geom FROM grid g
          WHERE gc.id IS NULL AND g.layout_id = lay.id
          ORDER BY g.geom <-> p.g LIMIT %(k)s) k
    CROSS JOIN LATERAL (SELECT ST_Distance(k.geom::geography, p.g::geography) AS d) d
    WHERE d.d <= comm.gap_tolerance_m
    ORDER BY d.d, ST_Area(k.geom), k.id LIMIT 1
) gn ON true
"""


def run_ceiling_sql(
    engine: Engine, pts: synth.Points, at: dt.datetime, *, knn: int
) -> tuple[np.ndarray, dict[str, Any]]:
    with driver_connection(engine) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE bench_pt (idx int PRIMARY KEY, lon float8, lat float8, "
                "g geometry(Point, 4326) GENERATED ALWAYS AS "
                "(ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED) ON COMMIT DROP"
            )
            with cur.copy("COPY bench_pt (idx, lon, lat) FROM STDIN") as cp:
                cp.write(
                    "".join(
                        f"{i}\t{x!r}\t{y!r}\n"
                        for i, (x, y) in enumerate(zip(pts.lon.tolist(), pts.lat.tolist()))
                    )
                )
            cur.execute("ANALYZE bench_pt")
            # A hand-tuned statement: JIT compilation costs more than it saves here
            # (see the profile), so the ceiling runs without it.
            cur.execute("SET LOCAL jit = off")
            t1 = time.perf_counter()
            cur.execute(CEILING_SQL, {"k": knn, "at": at})
            rows = cur.fetchall()
            t2 = time.perf_counter()
        conn.rollback()
    owners = np.full((len(pts), 4), -1, dtype=np.int64)
    for idx, *ids in rows:
        owners[idx] = [-1 if v is None else v for v in ids]
    return owners, {
        "seconds": round(t2 - t0, 3),
        "load_seconds": round(t1 - t0, 3),
        "statement_seconds": round(t2 - t1, 3),
        "knn_k": knn,
    }


# --- (d) the naive loop ------------------------------------------------------------


def run_naive(
    engine: Engine, pts: synth.Points, idx: np.ndarray, at: dt.datetime
) -> tuple[np.ndarray, dict[str, Any]]:
    """One ORM query per table per point, objects loaded whole, unit.building lazily."""
    from geoalchemy2 import Geography

    from gridgis.models import Building, Community, Grid, Layout, Unit

    f = sa.func
    out = np.full((len(idx), 4), -1, dtype=np.int64)
    queries = 0
    with Session(engine) as session:
        t0 = time.perf_counter()
        for n, i in enumerate(idx):
            pt = f.ST_SetSRID(f.ST_MakePoint(float(pts.lon[i]), float(pts.lat[i])), 4326)
            gpt = sa.cast(pt, Geography)
            comm = (
                session.query(Community)
                .filter(f.ST_Covers(Community.boundary, pt))
                .order_by(f.ST_Area(Community.boundary), Community.id)
                .first()
            )
            queries += 1
            if comm is None:
                dist = f.ST_Distance(sa.cast(Community.boundary, Geography), gpt)
                comm = (
                    session.query(Community)
                    .filter(
                        f.ST_DWithin(
                            sa.cast(Community.boundary, Geography), gpt, Community.gap_tolerance_m
                        )
                    )
                    .order_by(dist, f.ST_Area(Community.boundary), Community.id)
                    .first()
                )
                queries += 1
            if comm is None:
                continue
            layout = (
                session.query(Layout)
                .filter(
                    Layout.community_id == comm.id,
                    Layout.status == "published",
                    Layout.valid_from <= at,
                    sa.or_(Layout.valid_to.is_(None), Layout.valid_to > at),
                )
                .first()
            )
            unit = (
                session.query(Unit)
                .join(Building)
                .filter(Building.community_id == comm.id, f.ST_Covers(Unit.geom, pt))
                .order_by(f.ST_Area(Unit.geom), Unit.id)
                .first()
            )
            queries += 2
            if unit is not None:
                building = unit.building
                queries += 1
            else:
                building = (
                    session.query(Building)
                    .filter(Building.community_id == comm.id, f.ST_Covers(Building.geom, pt))
                    .order_by(f.ST_Area(Building.geom), Building.id)
                    .first()
                )
                queries += 1
            grid = None
            if layout is not None:
                grid = (
                    session.query(Grid)
                    .filter(Grid.layout_id == layout.id, f.ST_Covers(Grid.geom, pt))
                    .order_by(f.ST_Area(Grid.geom), Grid.id)
                    .first()
                )
                queries += 1
                if grid is None:
                    dist = f.ST_Distance(sa.cast(Grid.geom, Geography), gpt)
                    grid = (
                        session.query(Grid)
                        .filter(
                            Grid.layout_id == layout.id,
                            f.ST_DWithin(sa.cast(Grid.geom, Geography), gpt, comm.gap_tolerance_m),
                        )
                        .order_by(dist, f.ST_Area(Grid.geom), Grid.id)
                        .first()
                    )
                    queries += 1
            out[n] = [
                comm.id,
                grid.id if grid else -1,
                building.id if building else -1,
                unit.id if unit else -1,
            ]
        seconds = time.perf_counter() - t0
        session.rollback()
    return out, {"seconds": round(seconds, 3), "queries": queries}


# --- (e) shapely STRtree --------------------------------------------------------------


def _first_per_point(pt: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For pairs (pt, candidate), the pair with the smallest keys (in order) per point."""
    if len(pt) == 0:
        return pt, pt
    order = np.lexsort(tuple(reversed(keys)) + (pt,))
    p = pt[order]
    first = np.r_[True, p[1:] != p[:-1]]
    return p[first], order[first]


class Ceiling:
    """The same polygons in memory: lon/lat trees for covers, projected ones for metres."""

    def __init__(self, engine: Engine, at: dt.datetime, centre: tuple[float, float]) -> None:
        import pyproj
        import shapely

        self.shapely = shapely
        with driver_connection(engine) as conn:
            with conn.cursor(binary=True) as cur:

                def fetch(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
                    cur.execute(sql, params)
                    return cur.fetchall()

                comm = fetch("SELECT id, gap_tolerance_m, ST_AsBinary(boundary) FROM community")
                lay = fetch(
                    "SELECT community_id, id FROM layout WHERE status = 'published' "
                    "AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)",
                    (at, at),
                )
                grid = fetch(
                    "SELECT g.id, g.layout_id, ST_AsBinary(g.geom) FROM grid g JOIN layout l "
                    "ON l.id = g.layout_id WHERE l.status = 'published' AND l.valid_from <= %s "
                    "AND (l.valid_to IS NULL OR l.valid_to > %s)",
                    (at, at),
                )
                bld = fetch("SELECT id, community_id, ST_AsBinary(geom) FROM building")
                unit = fetch(
                    "SELECT u.id, u.building_id, b.community_id, ST_AsBinary(u.geom) "
                    "FROM unit u JOIN building b ON b.id = u.building_id"
                )
            conn.rollback()
        proj = pyproj.Transformer.from_crs(
            "EPSG:4326",
            f"+proj=tmerc +lat_0={centre[1]} +lon_0={centre[0]} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs",
            always_xy=True,
        )
        self.to_m = lambda xy: np.column_stack(proj.transform(xy[:, 0], xy[:, 1]))

        def arr(rows: list[tuple[Any, ...]], k: int) -> np.ndarray:
            return np.array([r[k] for r in rows])

        self.c_id, self.c_tol = arr(comm, 0), arr(comm, 1).astype(float)
        c_geom = shapely.from_wkb([r[2] for r in comm])
        self.c_area = shapely.area(c_geom)
        self.c_tree, self.c_tree_m = (
            shapely.STRtree(c_geom),
            shapely.STRtree(shapely.transform(c_geom, self.to_m)),
        )
        lay_of = dict((c, lo) for c, lo in lay)
        self.layout_of = lambda comms: np.array(
            [lay_of.get(c, -1) for c in comms.tolist()], dtype=np.int64
        )
        self.g_id, self.g_layout = arr(grid, 0), arr(grid, 1)
        g_geom = shapely.from_wkb([r[2] for r in grid])
        self.g_area = shapely.area(g_geom)
        self.g_tree, self.g_tree_m = (
            shapely.STRtree(g_geom),
            shapely.STRtree(shapely.transform(g_geom, self.to_m)),
        )
        self.b_id, self.b_comm = arr(bld, 0), arr(bld, 1)
        b_geom = shapely.from_wkb([r[2] for r in bld])
        self.b_area, self.b_tree = shapely.area(b_geom), shapely.STRtree(b_geom)
        self.u_id, self.u_bld, self.u_comm = arr(unit, 0), arr(unit, 1), arr(unit, 2)
        u_geom = shapely.from_wkb([r[3] for r in unit])
        self.u_area, self.u_tree = shapely.area(u_geom), shapely.STRtree(u_geom)
        self.max_tol = float(self.c_tol.max()) if len(self.c_tol) else 0.0

    def _nearest(
        self, tree_m: Any, pm: np.ndarray, allowed: Any, ids: np.ndarray, area: np.ndarray, tol: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest polygon within each point's tolerance (metres), ties by area then id.

        ``allowed(i, j)`` and ``tol(i, j)`` take (point, polygon) pairs. Returns
        chosen point positions, chosen polygon indexes and per point an
        ambiguity flag (a candidate within EPS_M of the tolerance or of the winner).
        """
        shapely = self.shapely
        i, j = tree_m.query(pm, predicate="dwithin", distance=self.max_tol + EPS_M)
        keep = allowed(i, j)
        i, j = i[keep], j[keep]
        d = shapely.distance(pm[i], tree_m.geometries[j])
        ambiguous = np.zeros(len(pm), dtype=bool)
        limit = tol(i, j)
        ambiguous[i[np.abs(d - limit) < EPS_M]] = True
        inside = d <= limit
        i, j, d = i[inside], j[inside], d[inside]
        pi, sel = _first_per_point(i, d, area[j], ids[j])
        best = np.full(len(pm), np.inf)
        best[pi] = d[sel]
        counts = np.bincount(i[d - best[i] < EPS_M], minlength=len(pm))
        ambiguous |= counts > 1
        return pi, j[sel], ambiguous

    def route(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shapely = self.shapely
        n = len(lon)
        pts = shapely.points(lon, lat)
        pm = shapely.points(self.to_m(np.column_stack([lon, lat])))
        out = np.full((n, 4), -1, dtype=np.int64)
        ambiguous = np.zeros(n, dtype=bool)
        # Community: covering, else nearest within its tolerance.
        i, j = self.c_tree.query(pts, predicate="covered_by")
        pi, sel = _first_per_point(i, self.c_area[j], self.c_id[j])
        out[pi, 0] = self.c_id[j[sel]]
        rest = np.flatnonzero(out[:, 0] < 0)
        if len(rest):
            pi, cj, amb = self._nearest(
                self.c_tree_m,
                pm[rest],
                lambda i, j: np.ones(len(i), bool),
                self.c_id,
                self.c_area,
                lambda i, j: self.c_tol[j],
            )
            out[rest[pi], 0] = self.c_id[cj]
            ambiguous[rest] |= amb
        comm = out[:, 0]
        tol_of = dict(zip(self.c_id.tolist(), self.c_tol.tolist()))
        tol = np.array([tol_of.get(c, 0.0) for c in comm.tolist()])
        # Unit (of a building of that community), else building.
        i, j = self.u_tree.query(pts, predicate="covered_by")
        keep = self.u_comm[j] == comm[i]
        pi, sel = _first_per_point(i[keep], self.u_area[j[keep]], self.u_id[j[keep]])
        out[pi, 3] = self.u_id[j[keep][sel]]
        out[pi, 2] = self.u_bld[j[keep][sel]]
        rest = np.flatnonzero((out[:, 3] < 0) & (comm >= 0))
        i, j = self.b_tree.query(pts[rest], predicate="covered_by")
        keep = self.b_comm[j] == comm[rest][i]
        pi, sel = _first_per_point(i[keep], self.b_area[j[keep]], self.b_id[j[keep]])
        out[rest[pi], 2] = self.b_id[j[keep][sel]]
        # Grid of the layout in force: covering, else nearest within tolerance.
        layout = self.layout_of(comm)
        has = np.flatnonzero(layout >= 0)
        i, j = self.g_tree.query(pts[has], predicate="covered_by")
        keep = self.g_layout[j] == layout[has][i]
        pi, sel = _first_per_point(i[keep], self.g_area[j[keep]], self.g_id[j[keep]])
        out[has[pi], 1] = self.g_id[j[keep][sel]]
        rest = has[out[has, 1] < 0]
        if len(rest):
            lay_r = layout[rest]
            pi, gj, amb = self._nearest(
                self.g_tree_m,
                pm[rest],
                lambda i, j: self.g_layout[j] == lay_r[i],
                self.g_id,
                self.g_area,
                lambda i, j: tol[rest][i],
            )
            out[rest[pi], 1] = self.g_id[gj]
            ambiguous[rest] |= amb
        return out, ambiguous


# --- (f) HTTP -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``gridgis serve`` as a subprocess on a free port, stopped by its own pid.

    The one server of the benches (routing's HTTP method, load.py, replica.py).
    ``env``: settings on top of ours (None removes one); ``args``: more options
    of ``gridgis serve`` (workers, threads).
    """

    def __init__(
        self,
        url: URL | str,
        *,
        env: Mapping[str, str | None] | None = None,
        args: Sequence[str] = (),
        rate: str = "1000000 per minute",
    ) -> None:
        self.port = free_port()
        self.host = f"http://127.0.0.1:{self.port}"
        fd, self.log = tempfile.mkstemp(prefix="gridgis-bench-serve-", suffix=".log")
        environment = dict(
            os.environ,
            DATABASE_URL=url if isinstance(url, str) else url.render_as_string(hide_password=False),
            # A bench is one client (one API key) sending as fast as it can: lift the
            # API rate limit (600/min by default) so it measures the server, not 429s.
            GRIDGIS_API_RATE=rate,
        )
        for name, value in (env or {}).items():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        exe = Path(sys.executable).with_name("gridgis")
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            env=environment,
            stdout=fd,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
        os.close(fd)

    def wait(self, timeout: float = 30.0) -> str | None:
        """None when listening, else why not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"server exited with status {self.proc.returncode}: {self.tail()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return None
            except OSError:
                time.sleep(0.2)
        return f"server did not listen within {timeout:.0f} s: {self.tail()}"

    def tail(self, n: int = 3) -> str:
        text = Path(self.log).read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-n:])[-800:]

    def errors_logged(self) -> list[str]:
        """Tracebacks and errors in the server's log (at most ten lines)."""
        text = Path(self.log).read_text(errors="replace").splitlines()
        return [line for line in text if "Traceback" in line or "[ERROR]" in line][:10]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(OSError):
            os.unlink(self.log)


def _bench_api_key(url: URL) -> str:
    """A route:read API key for the HTTP method, as a hotline system would hold."""
    from gridgis.access.apikeys import create_key
    from gridgis.access.permissions import cli_principal

    engine = make_engine(url.render_as_string(hide_password=False), poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session, session.begin():
            _, key = create_key(
                session,
                f"bench-{uuid.uuid4().hex[:8]}",
                ["route:read"],
                actor=cli_principal("bench"),
            )
    finally:
        engine.dispose()
    return key


def run_http(
    url: URL, pts: synth.Points, idx: np.ndarray
) -> tuple[np.ndarray | None, dict[str, Any]]:
    # `gridgis serve` refuses the owner role (migration 0005): the app's role, same database.
    server = Server(make_url(database_url()).set(database=url.database))
    try:
        problem = server.wait()
        if problem:
            return None, {"p50_ms": None, "note": problem}
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {_bench_api_key(url)}",
        }

        def post(i: int) -> tuple[int, bytes]:
            body = json.dumps({"lon": float(pts.lon[i]), "lat": float(pts.lat[i])})
            for attempt in (0, 1):
                try:
                    conn.request("POST", "/api/v1/route", body, headers)
                    response = conn.getresponse()
                    return response.status, response.read()
                except (http.client.HTTPException, ConnectionError):
                    conn.close()  # the server closed the keep-alive connection: reconnect once
                    if attempt:
                        raise
            raise AssertionError

        status, body = post(int(idx[0]))  # warm-up (connect, first request of the worker)
        if status == 404:
            return None, {
                "p50_ms": None,
                "note": "endpoint missing (POST /api/v1/route answered 404)",
            }
        times, statuses, owners = [], Counter(), np.full((len(idx), 4), -1, dtype=np.int64)
        statuses_seen: list[int] = []
        has_ids = True
        for n, i in enumerate(idx):
            t0 = time.perf_counter()
            status, body = post(int(i))
            times.append(time.perf_counter() - t0)
            statuses[status] += 1
            statuses_seen.append(status)
            if status == 422 and b"outside" in body.lower():
                continue  # outside coverage: no owners, as the other methods say
            if status == 200 and has_ids:
                data = json.loads(body)
                data = data.get("result", data) if isinstance(data, dict) else {}
                if not all(f"{f}_id" in data for f in OWNER_FIELDS):
                    has_ids = False
                    continue
                owners[n] = [
                    -1 if data[f"{f}_id"] is None else data[f"{f}_id"] for f in OWNER_FIELDS
                ]
        conn.close()
        answered = {200, 422}  # 422: outside coverage
        ok = np.array([t for t, s in zip(times, statuses_seen) if s in answered] or times) * 1000
        info: dict[str, Any] = {
            "seconds": round(sum(times), 3),
            "statuses": dict(statuses),
            "p50_ms": round(float(np.percentile(ok, 50)), 3),
            "p99_ms": round(float(np.percentile(ok, 99)), 3),
        }
        n_answered = sum(statuses.get(s, 0) for s in answered)
        if n_answered != len(idx):
            info["note"] = (
                f"not all answers were 200/422: {dict(statuses)}; last body: {body[:200]!r}"
            )
        if not has_ids:
            info["note"] = (
                info.get("note", "") + " answers carry no community/grid/building/unit ids:"
                " not compared"
            ).strip()
        if not has_ids or n_answered != len(idx):
            return None, info
        return owners, info
    finally:
        server.stop()


# --- profiling ------------------------------------------------------------------------


def profile_route_sql(
    engine: Engine, pts: synth.Points, cats: list[str | None], at: dt.datetime, n: int
) -> dict[str, Any]:
    """EXPLAIN ANALYZE of gridgis.routing.points.ROUTE_SQL on one batch-sized chunk."""
    # Parameters the statement may have gained since (e.g. a community filter) stay NULL.
    params: dict[str, Any] = dict.fromkeys(ROUTE_SQL._bindparams)
    params.update(
        {
            "idx": list(range(n)),
            "lon": pts.lon[:n].tolist(),
            "lat": pts.lat[:n].tolist(),
            "at": [at] * n,
            "category": cats[:n],
            "with_team": False,
        }
    )
    with engine.connect() as conn:
        t0 = time.perf_counter()
        conn.execute(ROUTE_SQL, params).all()
        plain = time.perf_counter() - t0
        plan = [
            r[0]
            for r in conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS) " + ROUTE_SQL.text), params)
        ]
        conn.execute(sa.text("SET jit = off"))
        t0 = time.perf_counter()
        conn.execute(ROUTE_SQL, params).all()
        no_jit = time.perf_counter() - t0
        conn.rollback()
    loops: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    ms: Counter[str] = Counter()
    for line in plan:
        m = re.search(
            r"((?:Parallel )?(?:Seq|Index|Index Only|Bitmap Heap|Bitmap Index|Function) Scan"
            r"(?: Backward)?(?: using \S+)? on \S+(?: \S+)?)",
            line,
        )
        t = re.search(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+) loops=(\d+)", line)
        if m and t:
            key = re.sub(r"\s+", " ", m.group(1))
            n_loops = int(t.group(3))
            loops[key] += n_loops
            rows[key] += int(t.group(2)) * n_loops
            ms[key] += float(t.group(1)) * n_loops  # inclusive of the node's children
    jit = [
        line.strip() for line in plan if line.strip().startswith(("JIT:", "Functions:", "Timing:"))
    ]
    exec_ms = next(
        (float(x) for line in plan for x in re.findall(r"Execution Time: ([\d.]+)", line)), None
    )
    return {
        "points": n,
        "seconds": round(plain, 3),
        "seconds_jit_off": round(no_jit, 3),
        "execution_ms": exec_ms,
        "jit": jit,
        "scans": {
            k: {"loops": loops[k], "rows": rows[k], "ms": round(ms[k], 1)}
            for k in sorted(loops, key=lambda k: -ms[k])
        },
        "seq_scans": sorted(k for k in loops if k.startswith(("Seq", "Parallel Seq"))),
        "plan": plan,
    }


# --- comparing --------------------------------------------------------------------------


def compare(
    n: int,
    methods: dict[str, tuple[np.ndarray, np.ndarray]],
    ambiguous: np.ndarray,
    pts: synth.Points,
) -> dict[str, Any]:
    """Owners per point across methods; disagreements split into real and ambiguous."""
    ref = "batch"
    per_method: dict[str, dict[str, int]] = {}
    bad = np.zeros(n, dtype=bool)
    base_idx, base = methods[ref]
    full_ref = np.full((n, 4), -2, dtype=np.int64)
    full_ref[base_idx] = base
    for name, (idx, own) in methods.items():
        if name == ref:
            continue
        diff = np.any(own != full_ref[idx], axis=1)
        bad[idx[diff]] = True
        per_method[name] = {
            "compared": len(idx),
            "disagree": int(diff.sum()),
            "disagree_ambiguous": int((diff & ambiguous[idx]).sum()),
        }
    real = bad & ~ambiguous
    examples = []
    for i in list(np.flatnonzero(real)[:5]) + list(np.flatnonzero(bad & ambiguous)[:2]):
        ex = {
            "idx": int(i),
            "lon": float(pts.lon[i]),
            "lat": float(pts.lat[i]),
            "kind": synth.POINT_KINDS[pts.kind[i]],
            "ambiguous": bool(ambiguous[i]),
        }
        for name, (idx, own) in methods.items():
            pos = np.searchsorted(idx, i)
            if pos < len(idx) and idx[pos] == i:
                ex[name] = [None if v < 0 else int(v) for v in own[pos]]
        examples.append(ex)
    return {
        "fields": list(OWNER_FIELDS),
        "reference": ref,
        "ambiguous_points": int(ambiguous.sum()),
        "disagreements": int(real.sum()),
        "disagreements_ambiguous": int((bad & ambiguous).sum()),
        "per_method": per_method,
        "examples": examples,
        "agree": bool(real.sum() == 0),
    }


# --- main --------------------------------------------------------------------------------


def sample(n: int, k: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--scale", type=int, default=200_000, help="buildings (max 1,000,000; default 200,000)"
    )
    p.add_argument("--points", type=int, default=100_000, help="incident points (default 100,000)")
    p.add_argument(
        "--single", type=int, default=2000, help="points for route_point (default 2,000)"
    )
    p.add_argument(
        "--naive", type=int, default=500, help="points for the naive ORM loop (default 500)"
    )
    p.add_argument("--http", type=int, default=1000, help="HTTP requests (default 1,000; 0 skips)")
    p.add_argument("--knn", type=int, default=8, help="KNN candidates in the hand-written SQL")
    p.add_argument(
        "--profile-points", type=int, default=5000, help="points in the EXPLAIN ANALYZE chunk"
    )
    p.add_argument(
        "--no-categories",
        action="store_true",
        help="route without categories (default: each point gets one of four)",
    )
    p.add_argument(
        "--keep-trigger",
        action="store_true",
        help="load units with the per-row trigger unit_inside_building (slower)",
    )
    p.add_argument("--seed", type=int, default=20261129)
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the bench database (or, with DATABASE_URL, the BENCH* rows)",
    )
    p.add_argument(
        "--purge-bench",
        action="store_true",
        help="with DATABASE_URL: first delete BENCH* rows left by an interrupted --keep run",
    )
    p.add_argument("--plan", action="store_true", help="print the full EXPLAIN ANALYZE plan")
    p.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    args = p.parse_args(argv)
    if not 1 <= args.scale <= 1_000_000:
        p.error("--scale must be between 1 and 1,000,000")
    return args


def fmt_rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    m = r["methods"]
    batch_rate = m["batch"]["points_per_s"]
    rows = [
        ("(a) batch route_columns", "batch"),
        ("(a') batch route_points", "points"),
        ("(b) single route_point", "single"),
        ("(c) hand-written SQL", "sql"),
        ("(d) naive ORM loop", "naive"),
        ("(e) shapely STRtree", "strtree"),
        ("(f) HTTP POST /api/v1/route", "http"),
    ]
    c = r["counts"]
    print(
        f"\nsynthetic city: {c['communities']:,} communities, {c['grids']:,} grids "
        f"(+{c['old_grids']:,} in old layouts), {c['buildings']:,} buildings, "
        f"{c['units']:,} units, "
        f"{c['staff']:,} staff; built in {r['build_seconds']:.1f} s; {r['points']:,} points "
        f"({', '.join(f'{k} {v}' for k, v in r['point_kinds'].items())})"
    )
    print(f"\n{'method':<30}{'points':>9}{'seconds':>10}{'points/s':>11}{'batch ×':>10}  notes")
    for label, key in rows:
        x = m.get(key) or {}
        rate = x.get("points_per_s")
        ratio = f"{batch_rate / rate:.2f}" if rate else "-"
        notes = {
            "batch": f"column-wise, what `gridgis route` runs; warm: db {x.get('db_seconds')} s "
            f"+ python {x.get('python_seconds')} s, {x.get('statements')} statements; "
            f"cold (index built) {x.get('cold_seconds')} s",
            "points": f"result objects; warm: db {x.get('db_seconds')} s + python "
            f"{x.get('python_seconds')} s, {x.get('statements')} statements; cold (index "
            f"built) {x.get('cold_seconds')} s; SQL path only {x.get('sql_only_seconds')} s",
            "single": f"p50 {x.get('p50_ms')} ms, p99 {x.get('p99_ms')} ms",
            "sql": f"statement {x.get('statement_seconds')} s "
            f"+ temp table {x.get('load_seconds')} s",
            "naive": f"{x.get('queries')} queries",
            "strtree": f"+ load {x.get('load_seconds')} s (not counted)",
            "http": x.get("note") or f"p50 {x.get('p50_ms')} ms, p99 {x.get('p99_ms')} ms",
        }[key]
        print(
            f"{label:<30}{x.get('points', 0):>9,}{x.get('seconds', 0) or 0:>10.2f}"
            f"{fmt_rate(rate):>11}{ratio:>10}  {notes}"
        )
    print(f"\n{'metric':<20}{'measured':>10}  target")
    for key, (op, target, note) in TARGETS.items():
        v = r.get(key)
        met = (
            "n/a"
            if v is None
            else ("met" if (v >= target if op == ">=" else v <= target) else "MISSED")
        )
        shown = "null" if v is None else f"{v:.2f}"
        print(f"{key:<20}{shown:>10}  {op} {target:g} {note:<14} {met}")
    cmp = r["comparison"]
    print(
        f"\nagree: {r['agree']} — {cmp['disagreements']} real disagreements, "
        f"{cmp['disagreements_ambiguous']} on {cmp['ambiguous_points']} ambiguous points "
        f"(within {EPS_M} m of a tie or of the tolerance); reference: batch"
    )
    for name, d in cmp["per_method"].items():
        print(
            f"  {name:<8} compared {d['compared']:>7,}  disagree {d['disagree']:>5} "
            f"(ambiguous {d['disagree_ambiguous']})"
        )
    for ex in cmp["examples"]:
        print(f"  e.g. {ex}")
    print(
        f"\nbatch rules: {r['batch_rules']} (route_points: "
        f"{'the same' if r['rules_agree'] else 'DIFFERENT'})"
    )
    print("batch_vs_* measure (a), the column-wise path `gridgis route` and the files use")
    prof = r["profile"]
    print(
        f"\nEXPLAIN ANALYZE of ROUTE_SQL on {prof['points']} points: {prof['execution_ms']} ms "
        f"(plain run {prof['seconds']} s, jit=off {prof['seconds_jit_off']} s); "
        f"seq scans: {prof['seq_scans'] or 'none'}"
    )
    print(f"  {'ms (incl.)':>10} {'loops':>7} {'rows':>9}  scan")
    for k, v in prof["scans"].items():
        print(f"  {v['ms']:>10.1f} {v['loops']:>7} {v['rows']:>9}  {k}")
    if prof["jit"]:
        print("  " + " / ".join(prof["jit"]))
    if args.plan:
        print("\n".join(prof["plan"]))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wall0 = time.perf_counter()
    result: dict[str, Any] = {}
    tag = f"BENCH{uuid.uuid4().hex[:6].upper()}"
    with BenchDatabase(args.keep) as db:
        # The project's engine settings (JIT off, as the app runs), for every method.
        engine = make_engine(db.url.render_as_string(hide_password=False), pool_size=2)
        loaded = None
        try:
            if not db.own:
                with engine.connect() as conn:
                    stale = conn.scalar(
                        sa.text("SELECT count(*) FROM community WHERE code LIKE 'BENCH%'")
                    )
                if stale and not args.purge_bench:
                    log(
                        f"{stale} BENCH* communities from an earlier run are in the database; "
                        "rerun with --purge-bench to delete them first"
                    )
                    return 2
                if stale:
                    with driver_connection(engine) as conn:
                        synth.delete_city(conn, "BENCH")
            t0 = time.perf_counter()
            city = synth.build_city(args.scale, seed=args.seed, tag=tag)
            log(
                f"laid out {len(city.building_rect):,} buildings, {len(city.unit_rect):,} units, "
                f"{len(city.grid_rect):,} grids in {time.perf_counter() - t0:.1f} s; loading"
            )
            with driver_connection(engine) as conn:
                loaded = synth.load_city(conn, city, seed=args.seed, keep_trigger=args.keep_trigger)
            build_seconds = time.perf_counter() - t0
            log(f"built in {build_seconds:.1f} s: {loaded.seconds}")
            pts = synth.make_points(city, args.points, seed=args.seed)
            n = len(pts)
            rng = np.random.default_rng(args.seed + 3)
            cats: list[str | None] = (
                [None] * n
                if args.no_categories
                else [loaded.categories[k] for k in rng.integers(4, size=n)]
            )
            at = dt.datetime.now(dt.UTC)
            all_idx = np.arange(n)
            methods: dict[str, dict[str, Any]] = {}
            owners: dict[str, tuple[np.ndarray, np.ndarray]] = {}

            log("profiling ROUTE_SQL (EXPLAIN ANALYZE)")
            profile = profile_route_sql(engine, pts, cats, at, min(args.profile_points, n))

            log("(c) hand-written SQL")
            own, info = run_ceiling_sql(engine, pts, at, knn=args.knn)
            owners["sql"], methods["sql"] = (all_idx, own), {"points": n, **info}

            log("(a') batch route_points")
            own, info, point_rules = run_batch(engine, pts, cats, at)
            owners["points"], methods["points"] = (all_idx, own), {"points": n, **info}

            log("(a) batch route_columns (column-wise)")
            own, info, rules = run_columns(engine, pts, cats, at)
            owners["batch"], methods["batch"] = (all_idx, own), {"points": n, **info}

            log("(b) single route_point")
            idx = sample(n, args.single, args.seed + 4)
            own, info = run_single(engine, pts, idx, cats, at)
            owners["single"], methods["single"] = (idx, own), {"points": len(idx), **info}

            log("(d) naive ORM loop")
            idx = sample(n, args.naive, args.seed + 5)
            own, info = run_naive(engine, pts, idx, at)
            owners["naive"], methods["naive"] = (idx, own), {"points": len(idx), **info}

            log("(e) shapely STRtree")
            t0 = time.perf_counter()
            bx0, by0, bx1, by1 = city.bbox
            ceiling = Ceiling(engine, at, ((bx0 + bx1) / 2, (by0 + by1) / 2))
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            own, ambiguous = ceiling.route(pts.lon, pts.lat)
            q_s = time.perf_counter() - t0
            del ceiling
            owners["strtree"] = (all_idx, own)
            methods["strtree"] = {
                "points": n,
                "seconds": round(q_s, 3),
                "load_seconds": round(load_s, 3),
            }

            if args.http:
                log("(f) HTTP")
                idx = sample(n, args.http, args.seed + 6)
                own, info = run_http(db.url, pts, idx)
                methods["http"] = {"points": len(idx) if info.get("p50_ms") else 0, **info}
                if own is not None:
                    owners["http"] = (idx, own)
            else:
                methods["http"] = {"points": 0, "p50_ms": None, "note": "skipped (--http 0)"}

            for x in methods.values():
                if x.get("points") and x.get("seconds"):
                    x["points_per_s"] = round(x["points"] / x["seconds"], 1)
            cmp = compare(n, owners, ambiguous, pts)
            rate = {k: v.get("points_per_s") for k, v in methods.items()}

            def ratio(other: str) -> float | None:
                return round(rate["batch"] / rate[other], 3) if rate.get(other) else None

            profile_short = {k: v for k, v in profile.items() if k != "plan"}
            result = {
                "points": n,
                "batch_points_per_s": rate["batch"],
                "batch_vs_sql": ratio("sql"),
                "batch_vs_naive": ratio("naive"),
                "batch_vs_strtree": ratio("strtree"),
                "single_p50_ms": methods["single"]["p50_ms"],
                "single_p99_ms": methods["single"]["p99_ms"],
                "http_p50_ms": methods["http"].get("p50_ms"),
                "http_note": methods["http"].get("note"),
                # Strict: owners on every point, the rules' counts, and each batch path
                # with the index warm, cold and (route_points) without it.
                "agree": bool(
                    cmp["agree"]
                    and rules == point_rules
                    and methods["batch"]["cold_warm_agree"]
                    and methods["points"]["cold_warm_sql_only_agree"]
                ),
                "build_seconds": round(build_seconds, 2),
                "build_steps": loaded.seconds,
                "counts": loaded.counts,
                "point_kinds": dict(Counter(synth.POINT_KINDS[k] for k in pts.kind)),
                "batch_rules": dict(rules),
                "batch_method": "route_columns",
                "rules_agree": rules == point_rules,
                "methods": methods,
                "comparison": cmp,
                "profile": profile_short,
                "targets": {
                    k: f"{op} {t:g}" + (f" ({note})" if note else "")
                    for k, (op, t, note) in TARGETS.items()
                },
                "scale": args.scale,
                "seed": args.seed,
                "categories": not args.no_categories,
            }
            report({**result, "profile": profile}, args)
        finally:
            if loaded is not None and not db.own and not args.keep:
                log("deleting the BENCH rows")
                with driver_connection(engine) as conn:
                    conn.rollback()
                    synth.delete_city(conn, tag)
            engine.dispose()
    result["wall_seconds"] = round(time.perf_counter() - wall0, 1)
    print(f"\nwall time {result['wall_seconds']} s")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
