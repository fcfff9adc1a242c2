"""Incidents benchmark: the hotline import, the console's queries and the three rates, as ratios.

    .venv/bin/python bench/incidents.py [--scale 200000] [--year 1000000] [--rows 50000]
    .venv/bin/python bench/incidents.py --small          # a quick run (a minute or two)

On the synthetic city of ``bench/routing.py`` (``bench/_synthetic.py``), in a
throwaway database of its own, one run measures:

1. **Import vs routing.** A 12345 work-order export of ``--rows`` rows
   (GB18030, GCJ-02, the hotline's columns; points as ``bench/routing.py``
   draws them) is imported with ``gridgis.incidents.hotline.import_hotline``
   (committed), against two baselines in the same process: routing the same
   file in batch (``gridgis.routing.files.route_table``: the file read and its
   points routed) and ``route_points`` alone on the same points. Target:
   import rate ≥ 0.5 × the file's routing rate (storage and events cost less
   than routing).
2. **A synthetic year** of ``--year`` incidents on the city, made in SQL
   (``INSERT ... SELECT`` over ``generate_series``; secondary indexes built
   after), with events, statuses, deadlines and routing snapshots.
3. **Queries**: the console's list and map for random bboxes and filters
   (``gridgis.incidents.queries.incident_collection`` and
   ``gridgis.incidents.clusters.in_view``) and ``GET /open311/v2/requests.json``
   on a ``gridgis serve`` subprocess for random filters: p50/p99, and each
   statement's plan (``EXPLAIN``): which indexes it used, and whether it
   scanned ``incident`` sequentially.
4. **The three rates** of a month (``gridgis.incidents.rates.compute``, by
   grid) against a naive per-incident Python loop over the same month, with
   the answers checked equal.

Progress goes to stderr; with ``--json`` the last line of stdout is one JSON
object. No assertion on timings (a shared machine): the output says whether
each target is met. See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import http.client
import io
import json
import os
import pstats
import random
import signal
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

try:
    from bench import _synthetic as synth
    from bench import routing as routing_bench
except ImportError:  # run as a script: bench/ is sys.path[0]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _synthetic as synth  # type: ignore[no-redef]
    import routing as routing_bench  # type: ignore[no-redef]

from gridgis import clock
from gridgis.access.permissions import ROLE_PERMISSIONS, Principal, cli_principal
from gridgis.config import database_url
from gridgis.db import make_engine
from gridgis.geo.crs import wgs84_to_gcj02
from gridgis.incidents import clusters, queries, rates
from gridgis.incidents.hotline import import_hotline
from gridgis.incidents.periods import Window
from gridgis.models import OPEN_STATUSES, Community, Grid, Incident
from gridgis.routing import cache as routing_cache
from gridgis.routing.files import route_table
from gridgis.routing.points import PointInput, route_points

log = routing_bench.log
#: The import's rate ÷ the routing baseline's rate.
IMPORT_TARGET = 0.5
LOCAL = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai, as the hotline writes its times
#: 问题分类 of the bench's work orders → the bench category's suffix (None: no mapping).
CLASSES = {
    "噪声污染>生活噪声": "noise",
    "交通管理>违章停车": "parking",
    "物业管理>房屋漏水": "leak",
    "卫生健康>医疗救助": "medical",
    "其他>其他": None,
}
CLASS_P = [0.3, 0.3, 0.2, 0.15, 0.05]
HOTLINE_HEADER = [
    "工单编号",
    "受理时间",
    "来电人",
    "联系电话",
    "诉求类型",
    "问题分类",
    "诉求内容",
    "事发地址",
    "经度",
    "纬度",
    "坐标系",
    "办理时限",
    "工单状态",
]
CHANNEL_P = {  # the year's mix of channels
    "hotline_12345": 0.55,
    "mini_program": 0.15,
    "walk_in": 0.05,
    "visit": 0.10,
    "phone": 0.10,
    "open311": 0.05,
}


# --- 1. the import against routing -------------------------------------------------------


def write_hotline_file(
    path: Path, pts: synth.Points, *, tag: str, seed: int, now: dt.datetime
) -> tuple[list[PointInput], dict[str, str | None]]:
    """A work-order export of the points (GB18030, GCJ-02), and the PointInputs the import
    routes (the same points, CRS, categories and times), with the classification table."""
    rng = np.random.default_rng(seed + 11)
    n = len(pts)
    classes = list(CLASSES)
    cls = rng.choice(len(classes), size=n, p=CLASS_P)
    age = rng.random(n) * 20 * 86400  # the last 20 days
    surname, given = synth.SURNAMES, synth.GIVEN
    names = rng.integers(len(surname), size=n), rng.integers(len(given), size=n)
    phones = rng.integers(10**9, 10**10 - 1, size=n)
    mapping = {c: (f"{tag}_{s}" if s else None) for c, s in CLASSES.items()}
    inputs: list[PointInput] = []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HOTLINE_HEADER)
    for k in range(n):
        lon, lat = wgs84_to_gcj02(float(pts.lon[k]), float(pts.lat[k]))
        lon, lat = round(lon, 7), round(lat, 7)
        at = (now - dt.timedelta(seconds=float(age[k]))).astimezone(LOCAL).replace(microsecond=0)
        classification = classes[cls[k]]
        writer.writerow(
            [
                f"{tag}{k:08d}",
                at.strftime("%Y-%m-%d %H:%M:%S"),
                surname[names[0][k]] + given[names[1][k]],
                f"1{3 + phones[k] % 7}{phones[k]:09d}"[:11],
                "投诉" if k % 3 else "求助",
                classification,
                "楼下噪音扰民，夜间施工，影响休息，请尽快处理" if k % 2 else "车辆占用消防通道",
                f"武汉市洪山区基准路{k % 400 + 1}号附近",
                f"{lon:.7f}",
                f"{lat:.7f}",
                "GCJ-02",
                "1个工作日",
                "待签收",
            ]
        )
        inputs.append(PointInput(lon, lat, crs="gcj02", category=mapping[classification], at=at))
    path.write_bytes(out.getvalue().encode("gb18030"))
    return inputs, mapping


class CpuMeter:
    """CPU seconds of this process and of the session's database backend, since started.

    On a shared machine wall time measures the neighbours too; CPU time does
    not. The backend's is read from /proc (a database on this host), else None.
    """

    def __init__(self, session: Session) -> None:
        pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
        self.stat = Path(f"/proc/{pid}/stat")
        self.client0, self.server0 = time.process_time(), self._server()

    def _server(self) -> float | None:
        try:
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read(self) -> tuple[float, float | None]:
        server = self._server()
        return (
            time.process_time() - self.client0,
            None if server is None or self.server0 is None else server - self.server0,
        )


def run_import(
    engine: Engine,
    pts: synth.Points,
    *,
    tag: str,
    seed: int,
    profile: int,
) -> dict[str, Any]:
    """The import against its baselines, each in its own transaction of one session."""
    now = clock.now()
    with tempfile.TemporaryDirectory(prefix="gridgis-bench-") as tmp:
        path = Path(tmp) / "12345-bench.csv"
        mapping_path = Path(tmp) / "mapping.json"
        inputs, mapping = write_hotline_file(path, pts, tag=tag, seed=seed, now=now)
        mapping_path.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
        data = path.read_bytes()
        n = len(inputs)
        times: dict[str, list[float]] = defaultdict(list)
        with Session(engine) as session:
            # The in-memory routing index, built once beforehand as a server keeps
            # it: every method below finds it warm.
            routing_cache.index_for(session, n, build=True)
            session.rollback()

        cpu: dict[str, list[tuple[float, float | None]]] = defaultdict(list)

        def route_file() -> None:
            with Session(engine) as session:
                meter = CpuMeter(session)
                t0 = time.perf_counter()
                table = route_table(session, data, path.name, crs="gcj02")
                times["file"].append(time.perf_counter() - t0)
                cpu["file"].append(meter.read())
                assert len(table.results) == n
                session.rollback()

        rules: Counter[str] = Counter()

        def route_alone() -> None:
            with Session(engine) as session:
                meter = CpuMeter(session)
                t0 = time.perf_counter()
                results = route_points(session, inputs)
                times["points"].append(time.perf_counter() - t0)
                cpu["points"].append(meter.read())
                rules.clear()
                rules.update(r.rule for r in results)
                session.rollback()

        log(f"import: routing the file ({n:,} rows) and its points, before the import")
        route_file()
        route_alone()
        log("import: gridgis incidents import (import_hotline, committed)")
        profiler = cProfile.Profile() if profile else None
        with Session(engine) as session:
            meter = CpuMeter(session)
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            found = import_hotline(
                session, path, actor=cli_principal("bench"), mapping=mapping_path
            )
            t1 = time.perf_counter()
            session.commit()
            if profiler:
                profiler.disable()
            t2 = time.perf_counter()
            cpu["import"].append(meter.read())
        log("import: routing the file and its points again, after the import")
        route_file()
        route_alone()
    file_s, points_s = min(times["file"]), min(times["points"])
    import_s = t2 - t0
    info = {
        "rows": n,
        "import_seconds": round(import_s, 3),
        "import_commit_seconds": round(t2 - t1, 3),
        "import_rows_per_s": round(n / import_s, 1),
        "file_seconds": [round(t, 3) for t in times["file"]],
        "file_rows_per_s": round(n / file_s, 1),
        "points_seconds": [round(t, 3) for t in times["points"]],
        "points_rows_per_s": round(n / points_s, 1),
        "import_vs_file": round(file_s / import_s, 3),
        "import_vs_points": round(points_s / import_s, 3),
        "taken_in": found.taken_in,
        "refused": dict(found.refused_by_reason()),
        "unclassified": sum(found.unclassified.values()),
        "rules": dict(found.rules),
        "points_rules": dict(rules),
        # CPU seconds (client, database backend) of each run: the machine's neighbours aside.
        "cpu": {
            k: [[round(c, 2), None if b is None else round(b, 2)] for c, b in v]
            for k, v in cpu.items()
        },
    }
    total = {k: min(c + (b or 0) for c, b in v) for k, v in cpu.items()}
    info["cpu_import_vs_file"] = round(total["file"] / total["import"], 3)
    info["cpu_import_vs_points"] = round(total["points"] / total["import"], 3)
    if profiler:
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
        info["profile"] = stream.getvalue()
    return info


# --- 2. a synthetic year -----------------------------------------------------------------


def grid_snapshots(engine: Engine, loaded: synth.Loaded, city: synth.City) -> dict[int, str]:
    """Each grid's routing snapshot (JSON text), from routing a point at the grid's centre.

    An incident of the year stores its grid's snapshot with its own point and
    building/unit: its team, departments and explanation are real ones, of the
    size a real snapshot has.
    """
    r = city.grid_rect
    inputs = [
        PointInput(float((x0 + x1) / 2), float((y0 + y1) / 2), category=loaded.categories[k % 4])
        for k, (x0, y0, x1, y1) in enumerate(r)
    ]
    with Session(engine) as session:
        results = route_points(session, inputs)
        session.rollback()
    return {
        int(gid): res.snapshot_json()
        for gid, res in zip(loaded.grid, results, strict=True)
        if res.grid_id is not None
    }


YEAR_SQL = """
INSERT INTO incident (
    id, token, status, channel, external_id, category_id, source_category, description,
    address, geom, input_crs, input_lon, input_lat, reported_at, created_at, created_by,
    community_id, layout_id, grid_id, building_id, unit_id, rule, routing,
    response_due_at, resolution_due_at, responded_at, resolved_at, closed_at,
    satisfaction, merged_into_id, updated_at)
SELECT
    %(first)s + d.g - 1,
    gen_random_uuid()::text,
    s.status,
    s.channel,
    CASE WHEN s.channel IN ('hotline_12345', 'mini_program', 'open311')
         THEN %(tag)s || d.g END,
    s.category_id,
    CASE WHEN s.category_id IS NOT NULL THEN '分类' || s.category_id END,
    '居民反映的问题，请网格员核实处理',
    p.address,
    ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
    'EPSG:4326', s.lon, s.lat,
    s.reported_at, s.reported_at, 'cli:bench',
    p.community_id, p.layout_id, p.grid_id, p.building_id, p.unit_id,
    CASE WHEN p.unit_id IS NULL THEN 'building' ELSE 'unit' END,
    gs.snapshot || jsonb_build_object(
        'rule', CASE WHEN p.unit_id IS NULL THEN 'building' ELSE 'unit' END,
        'lon', s.lon, 'lat', s.lat, 'building_id', p.building_id,
        'building_code', p.building_code, 'unit_id', p.unit_id, 'distance_m', 0),
    CASE WHEN s.category_id IS NOT NULL THEN s.reported_at + interval '6 hours' END,
    CASE WHEN s.category_id IS NOT NULL THEN s.reported_at + interval '7 days' END,
    CASE WHEN s.status IN ('in_progress', 'checked', 'closed', 'parked')
         THEN s.reported_at + d.r5 * interval '9 hours' END,
    CASE WHEN s.status IN ('checked', 'closed')
         THEN s.reported_at + d.r6 * interval '9 days' END,
    CASE WHEN s.status = 'closed'
         THEN LEAST(%(now)s, s.reported_at + d.r6 * interval '9 days' + interval '1 day') END,
    CASE WHEN s.status = 'closed' AND d.r7 < 0.8
         THEN (ARRAY['satisfied', 'satisfied', 'satisfied', 'satisfied', 'satisfied',
                     'satisfied', 'satisfied', 'satisfied', 'neutral', 'unsatisfied'])
              [1 + floor(d.r7 / 0.08)::int] END,
    CASE WHEN s.status = 'merged' THEN %(first)s + d.g - 2 END,
    s.reported_at
FROM bench_draw d
JOIN bench_place p ON p.k = d.k
JOIN bench_grid_snapshot gs ON gs.grid_id = p.grid_id
CROSS JOIN LATERAL (
    SELECT
        p.x0 + d.r1 * (p.x1 - p.x0) AS lon,
        p.y0 + d.r2 * (p.y1 - p.y0) AS lat,
        %(now)s - d.age AS reported_at,
        CASE
            WHEN d.r3 < 0.03 THEN 'rejected'
            WHEN d.r3 < 0.05 AND d.g > 1 THEN 'merged'
            WHEN d.age > interval '12 days' THEN
                CASE WHEN d.r3 < 0.07 THEN 'parked' WHEN d.r3 < 0.09 THEN 'checked'
                     WHEN d.r3 < 0.11 THEN 'in_progress' ELSE 'closed' END
            ELSE
                CASE WHEN d.r3 < 0.15 THEN 'received' WHEN d.r3 < 0.25 THEN 'registered'
                     WHEN d.r3 < 0.45 THEN 'dispatched' WHEN d.r3 < 0.65 THEN 'in_progress'
                     WHEN d.r3 < 0.75 THEN 'checked' ELSE 'closed' END
        END AS status,
        (%(channels)s::text[])[1 + width_bucket(d.r4, %(channel_edges)s::float8[])] AS channel,
        CASE WHEN d.r8 < 0.1 THEN NULL
             ELSE (%(categories)s::int[])[1 + floor((d.r8 - 0.1) / 0.9 * 4)::int] END
             AS category_id
) s
"""


def make_year(
    engine: Engine, loaded: synth.Loaded, city: synth.City, n: int, *, seed: int, tag: str
) -> dict[str, Any]:
    """``n`` incidents over the year up to now, with one ``take_in`` event each, in SQL."""
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    snapshots = grid_snapshots(engine, loaded, city)
    t["grid_snapshots"] = round(time.perf_counter() - t0, 3)
    b_grid = loaded.grid[city.building_grid]
    now = clock.now()
    with routing_bench.driver_connection(engine) as conn, conn.cursor() as cur:
        clock_ = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock_
            t[name] = round(time.perf_counter() - clock_, 3)
            clock_ = time.perf_counter()

        cur.execute(
            "CREATE TEMP TABLE bench_grid_snapshot (grid_id int PRIMARY KEY, snapshot jsonb)"
        )
        with cur.copy("COPY bench_grid_snapshot FROM STDIN") as cp:
            for gid, text in snapshots.items():
                cp.write_row((gid, text))
        cur.execute("CREATE TEMP TABLE bench_building_grid (building_id int, grid_id int)")
        with cur.copy("COPY bench_building_grid FROM STDIN") as cp:
            cp.write(
                "".join(f"{b}\t{g}\n" for b, g in zip(loaded.building.tolist(), b_grid.tolist()))
            )
        # Places: every unit, and every building without units; a random one per incident.
        cur.execute(
            """
            CREATE TEMP TABLE bench_place AS
            SELECT row_number() OVER (ORDER BY building_id, unit_id)::int AS k, *
            FROM (
                SELECT b.id AS building_id, u.id AS unit_id, bg.grid_id, g.layout_id,
                       b.community_id, b.code AS building_code, b.address,
                       ST_XMin(u.geom) AS x0, ST_YMin(u.geom) AS y0,
                       ST_XMax(u.geom) AS x1, ST_YMax(u.geom) AS y1
                FROM unit u JOIN building b ON b.id = u.building_id
                JOIN bench_building_grid bg ON bg.building_id = b.id
                JOIN grid g ON g.id = bg.grid_id
                UNION ALL
                SELECT b.id, NULL, bg.grid_id, g.layout_id, b.community_id, b.code, b.address,
                       ST_XMin(b.geom), ST_YMin(b.geom), ST_XMax(b.geom), ST_YMax(b.geom)
                FROM building b JOIN bench_building_grid bg ON bg.building_id = b.id
                JOIN grid g ON g.id = bg.grid_id
                WHERE NOT EXISTS (SELECT 1 FROM unit u WHERE u.building_id = b.id)
            ) places
            """
        )
        cur.execute("CREATE UNIQUE INDEX ON bench_place (k)")
        cur.execute("SELECT count(*) FROM bench_place")
        n_places = cur.fetchone()[0]
        cur.execute("SELECT setseed(%s)", ((seed % 1000) / 1000.0,))
        cur.execute(
            """
            CREATE TEMP TABLE bench_draw AS
            SELECT g, 1 + floor(random() * %(p)s)::int AS k, random() * interval '365 days' AS age,
                   random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                   random() AS r5, random() AS r6, random() AS r7, random() AS r8
            FROM generate_series(1, %(n)s) g
            """,
            {"p": n_places, "n": n},
        )
        cur.execute("ANALYZE bench_place")
        cur.execute("ANALYZE bench_draw")
        lap("places_and_draws")
        # Secondary indexes are built once after the rows are in (far faster than
        # keeping a dozen up to date row by row); the unique ones stay.
        cur.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = 'incident'::regclass AND NOT i.indisunique"
        )
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        ids = synth.reserve_ids(cur, "incident", n)
        channels = list(CHANNEL_P)
        edges = np.cumsum(list(CHANNEL_P.values()))[:-1].tolist()
        cur.execute(
            YEAR_SQL,
            {
                "first": int(ids[0]),
                "tag": f"{tag}Y",
                "now": now,
                "channels": channels,
                "channel_edges": edges,
                "categories": category_ids(cur, loaded),
            },
        )
        lap("incidents")
        cur.execute(
            """
            INSERT INTO incident_event
                (incident_id, at, actor, action, from_status, to_status, data)
            SELECT id, reported_at, 'cli:bench', 'take_in', NULL, 'received',
                   jsonb_build_object('channel', channel, 'rule', rule)
                   || CASE WHEN channel = 'open311' AND id %% 2 = 0
                      THEN '{"source": {"media_url": "https://example.org/photo.jpg"}}'::jsonb
                      ELSE '{}'::jsonb END
            FROM incident WHERE id BETWEEN %s AND %s
            """,
            (int(ids[0]), int(ids[-1])),
        )
        lap("events")
        for _, definition in indexes:
            cur.execute(definition)
        lap("indexes")
        conn.commit()
        conn.autocommit = True  # VACUUM runs outside a transaction
        for table in ("incident", "incident_event"):
            cur.execute(f"VACUUM ANALYZE {table}")
        conn.autocommit = False
        lap("vacuum_analyze")
        cur.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('incident')), "
            "avg(pg_column_size(routing))::int FROM incident"
        )
        size, routing_bytes = cur.fetchone()
    return {
        "incidents": n,
        "places": n_places,
        "seconds": t,
        "incident_table_size": size,
        "routing_bytes_avg": routing_bytes,
        "now": now,
    }


def category_ids(cur: Any, loaded: synth.Loaded) -> list[int]:
    cur.execute("SELECT id FROM category WHERE code = ANY(%s) ORDER BY id", (loaded.categories,))
    return [r[0] for r in cur.fetchall()]


# --- plans -----------------------------------------------------------------------------


class Captured:
    """The statements an engine runs on ``incident`` while listening (with their parameters)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []
        sa.event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "incident" in statement:
            self.statements.append((statement, parameters))

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)


def plan_of(engine: Engine, statement: str, parameters: Any) -> dict[str, Any]:
    """The plan's scans: which indexes on which tables, and any sequential scan of incident."""
    with routing_bench.driver_connection(engine) as conn, conn.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = cur.fetchone()[0][0]["Plan"]
        conn.rollback()
    indexes: set[str] = set()
    seq: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            indexes.add(f"{node['Index Name']} ({node['Node Type']})")
        if node["Node Type"] == "Seq Scan":
            seq.add(node["Relation Name"])
        for child in node.get("Plans", ()):
            walk(child)

    walk(plan)
    return {"indexes": sorted(indexes), "seq_scans": sorted(seq)}


def plans_summary(engine: Engine, statements: list[tuple[str, Any]]) -> dict[str, Any]:
    """Index use over every captured statement: how many plans used each index."""
    used: Counter[str] = Counter()
    seq: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    examples: list[str] = []
    for statement, parameters in statements:
        found = plan_of(engine, statement, parameters)
        used.update(found["indexes"])
        seq.update(found["seq_scans"])
        shapes[" + ".join(found["indexes"]) or "(no index)"] += 1
        if "incident" in found["seq_scans"] and len(examples) < 3:
            where = statement[statement.find("WHERE") :][:400]
            examples.append(f"{' '.join(where.split())} {parameters}")
    return {
        "statements": len(statements),
        "indexes": dict(used.most_common()),
        "seq_scans": dict(seq),
        "seq_scan_on_incident": seq.get("incident", 0),
        "seq_scan_examples": examples,
        "shapes": dict(shapes.most_common(6)),
    }


# --- 3. the console's queries and GET requests.json ------------------------------------------


def percentiles(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def random_view(
    rng: random.Random, city: synth.City
) -> tuple[tuple[float, float, float, float], float]:
    """A console's view: a bbox 300 m – 3 km wide somewhere in the city, and its zoom."""
    x0, y0, x1, y1 = city.bbox
    width_m = 300 * 10 ** rng.random()  # 300 m … 3 km, log-uniform
    zoom = round(np.log2(1600 * 360 / (256 * width_m / synth.M_PER_DEG_LON)) - 3, 1)
    w = width_m / synth.M_PER_DEG_LON
    h = width_m * 0.6 / synth.M_PER_DEG_LAT
    cx = x0 + rng.random() * max(x1 - x0 - w, 0)
    cy = y0 + rng.random() * max(y1 - y0 - h, 0)
    return (cx, cy, cx + w, cy + h), max(0.0, min(zoom, 20.0))


def random_filters(
    rng: random.Random, categories: list[str], grid_codes: list[str]
) -> dict[str, list[str]]:
    """The filters a dispatcher sets: mostly open statuses, sometimes a category, channel..."""
    params: dict[str, list[str]] = {}
    roll = rng.random()
    if roll < 0.5:
        params["status"] = [",".join(OPEN_STATUSES)]
    elif roll < 0.7:
        params["status"] = [rng.choice(OPEN_STATUSES)]
    if rng.random() < 0.3:
        params["category"] = [rng.choice(categories)]
    if rng.random() < 0.2:
        params["channel"] = [rng.choice(list(CHANNEL_P))]
    if rng.random() < 0.2:
        params["overdue"] = [rng.choice(queries.OVERDUE)]
    if rng.random() < 0.1:
        params["grid"] = [rng.choice(grid_codes)]
    return params


def dispatcher() -> Principal:
    return Principal(
        kind="user",
        name="bench-dispatcher",
        role="dispatcher",
        permissions=ROLE_PERMISSIONS["dispatcher"],
        user_id=None,
    )


def run_console(
    engine: Engine, city: synth.City, loaded: synth.Loaded, n: int, *, seed: int
) -> dict[str, Any]:
    """The list (50 newest) and the map of random views with random filters, as the console asks."""
    rng = random.Random(seed + 21)
    viewer = dispatcher()
    with engine.connect() as conn:
        grid_codes = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT DISTINCT code FROM grid WHERE id = ANY(:ids) LIMIT 500"),
                {"ids": loaded.grid[:2000].tolist()},
            )
        ]
    times: dict[str, list[float]] = {"list": [], "map": []}
    matched: list[int] = []
    clustered = 0
    captured = Captured(engine)
    with Session(engine) as session:
        # Warm-up: connect, load the categories.
        queries.incident_collection(session, viewer, queries.Filters(), limit=1)
        captured.statements.clear()
        for _ in range(n):
            bbox, zoom = random_view(rng, city)
            params = {
                "bbox": [",".join(f"{v:.6f}" for v in bbox)],
                **random_filters(rng, loaded.categories, grid_codes),
            }
            t0 = time.perf_counter()
            filters = queries.parse_filters(params)
            page = queries.incident_collection(session, viewer, filters, limit=50)
            t1 = time.perf_counter()
            where = queries.conditions(session, viewer, filters)
            found = clusters.in_view(
                session, where, zoom, queries.overdue_clause("any", clock.now())
            )
            t2 = time.perf_counter()
            times["list"].append(t1 - t0)
            times["map"].append(t2 - t1)
            matched.append(page["numberMatched"])
            clustered += any(f["properties"]["kind"] == "cluster" for f in found["features"])
        session.rollback()
    captured.close()
    log(f"console: explaining {len(captured.statements)} statements")
    return {
        "queries": n,
        "list": percentiles(times["list"]),
        "map": percentiles(times["map"]),
        "both": percentiles([a + b for a, b in zip(times["list"], times["map"])]),
        "matched_p50": int(np.percentile(matched, 50)),
        "matched_max": int(max(matched)),
        "clustered_views": clustered,
        "plans": plans_summary(engine, captured.statements),
    }


def run_requests(
    url: URL, engine: Engine, loaded: synth.Loaded, n: int, *, seed: int, now: dt.datetime
) -> dict[str, Any]:
    """GET /open311/v2/requests.json over HTTP, random service codes, dates and statuses."""
    rng = random.Random(seed + 31)
    # The server runs as the app's role (it refuses the owner), on the bench database.
    server = routing_bench.Server(make_url(database_url()).set(database=url.database))
    try:
        problem = server.wait()
        if problem:
            return {"note": problem}
        key = _incidents_key(url)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        asked: list[list[tuple[str, str]]] = []
        times: list[float] = []
        counts: list[int] = []
        statuses: Counter[int] = Counter()
        for k in range(n + 1):
            args: list[tuple[str, str]] = []
            if rng.random() < 0.5:
                args.append(("service_code", rng.choice(loaded.categories)))
            if rng.random() < 0.8:
                span = dt.timedelta(days=rng.choice((1, 7, 30, 90)))
                end = now - dt.timedelta(days=rng.random() * 300)
                args += [("start_date", (end - span).isoformat()), ("end_date", end.isoformat())]
            if rng.random() < 0.5:
                args.append(("status", rng.choice(("open", "closed"))))
            path = "/open311/v2/requests.json?" + urllib.parse.urlencode(args)
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if k == 0:
                continue  # warm-up: the worker's first request
            times.append(time.perf_counter() - t0)
            statuses[response.status] += 1
            asked.append(args)
            if response.status == 200:
                counts.append(len(json.loads(body)))
        conn.close()
    finally:
        server.stop()
    # The plans of the same requests, from the domain function the view calls.
    from gridgis.incidents import open311_requests

    captured = Captured(engine)
    reader = Principal(kind="apikey", name="bench", permissions=frozenset({"incidents:read"}))
    with Session(engine) as session:
        for args in asked[:100]:
            wanted = open311_requests.parse_filter(args)
            open311_requests.find_requests(session, wanted, reader)
        session.rollback()
    captured.close()
    return {
        "requests": len(times),
        "statuses": dict(statuses),
        **percentiles(times),
        "returned_p50": int(np.percentile(counts, 50)) if counts else None,
        "plans": plans_summary(engine, captured.statements),
    }


def _incidents_key(url: URL) -> str:
    from gridgis.access.apikeys import create_key

    engine = make_engine(url.render_as_string(hide_password=False), poolclass=sa.pool.NullPool)
    try:
        with Session(engine) as session, session.begin():
            _, key = create_key(
                session,
                f"bench-{uuid.uuid4().hex[:8]}",
                ["incidents:read"],
                actor=cli_principal("bench"),
            )
    finally:
        engine.dispose()
    return key


# --- 4. the three rates of a month ---------------------------------------------------------


def naive_rates(session: Session, window: Window, now: dt.datetime) -> dict[Any, dict[str, int]]:
    """The counts of :mod:`gridgis.incidents.rates` per grid, one incident at a time in Python."""
    grids = {g.id: g for g in session.scalars(sa.select(Grid))}
    communities = {c.id: c.code for c in session.scalars(sa.select(Community))}
    out: dict[Any, dict[str, int]] = {}
    incidents = session.scalars(
        sa.select(Incident).where(
            Incident.reported_at >= window.start, Incident.reported_at < window.end
        )
    )
    for i in incidents:
        grid = grids.get(i.grid_id) if i.grid_id is not None else None
        key = (
            i.grid_id,
            grid.code if grid else None,
            grid.name if grid else None,
            communities.get(i.community_id) if i.community_id is not None else None,
        )
        c = out.setdefault(key, dict.fromkeys(rates.COUNTS, 0))
        valid = i.status not in ("rejected", "merged")
        timed = valid and i.status != "parked"
        closed = i.status == "closed"
        c["received"] += 1
        c["rejected"] += i.status == "rejected"
        c["merged"] += i.status == "merged"
        c["unclassified"] += valid and i.category_id is None
        if valid and i.response_due_at is not None:
            c["response_due"] += i.responded_at is not None or i.response_due_at < now
            c["response_on_time"] += (
                i.responded_at is not None and i.responded_at <= i.response_due_at
            )
            c["response_pending"] += i.responded_at is None and i.response_due_at >= now
        if timed and i.resolution_due_at is not None:
            c["resolution_due"] += i.resolved_at is not None or i.resolution_due_at < now
            c["resolution_on_time"] += (
                i.resolved_at is not None and i.resolved_at <= i.resolution_due_at
            )
            c["resolution_pending"] += i.resolved_at is None and i.resolution_due_at >= now
        c["closed"] += closed
        c["rated"] += closed and i.satisfaction is not None
        c["satisfied"] += closed and i.satisfaction == "satisfied"
        c["neutral"] += closed and i.satisfaction == "neutral"
        c["unsatisfied"] += closed and i.satisfaction == "unsatisfied"
    return out


def run_rates(engine: Engine, now: dt.datetime) -> dict[str, Any]:
    """Last month's rates by grid: ``rates.compute`` against the naive loop."""
    local = clock.local(now)
    this_month = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    window = Window(last_month.astimezone(dt.UTC), this_month.astimezone(dt.UTC), "month")
    viewer = cli_principal("bench")
    with Session(engine) as session:
        rates.compute(session, viewer=viewer, by="none", window=window, now=now)  # warm-up
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = rates.compute(session, viewer=viewer, by="grid", window=window, now=now)
            runs.append(time.perf_counter() - t0)
        fast = float(np.median(runs))
        session.rollback()
    with Session(engine) as session:
        t0 = time.perf_counter()
        naive = naive_rates(session, window, now)
        slow = time.perf_counter() - t0
        session.rollback()
    real = {
        tuple(r[c] for c in rates.GROUP_COLUMNS["grid"]): {c: r[c] for c in rates.COUNTS}
        for r in report.rows
    }
    return {
        "month": last_month.strftime("%Y-%m"),
        "incidents": report.total["received"],
        "groups": len(real),
        "compute_seconds": round(fast, 3),
        "naive_seconds": round(slow, 3),
        "ratio": round(slow / fast, 1),
        "same_answers": real == naive,
        "rates": {k: report.total[k] for k in rates.RATES},
    }


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scale", type=int, default=200_000, help="buildings (default 200,000)")
    p.add_argument("--year", type=int, default=1_000_000, help="incidents in the year (1,000,000)")
    p.add_argument("--rows", type=int, default=50_000, help="work orders imported (50,000)")
    p.add_argument("--queries", type=int, default=300, help="console views measured (300)")
    p.add_argument("--requests", type=int, default=200, help="GET requests.json (200; 0 skips)")
    p.add_argument(
        "--small",
        action="store_true",
        help="a quick run: --scale 20000 --year 100000 --rows 10000 --queries 100 --requests 50",
    )
    p.add_argument("--only-import", action="store_true", help="stop after the import")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="profile the import (cProfile) and print its N top functions",
    )
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    p.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    args = p.parse_args(argv)
    if args.small:
        args.scale, args.year, args.rows = 20_000, 100_000, 10_000
        args.queries, args.requests = 100, min(args.requests, 50)
    return args


def met(value: float, target: float) -> str:
    return "met" if value >= target else "NOT met"


def report(r: dict[str, Any]) -> None:
    imp = r["import"]
    print(
        f"\nsynthetic city: {r['counts']['buildings']:,} buildings, {r['counts']['units']:,} "
        f"units, {r['counts']['grids']:,} grids; built in {r['build_seconds']:.1f} s"
    )
    print(f"\n1. hotline import of {imp['rows']:,} work orders (GB18030, GCJ-02), committed")
    print(f"  {'method':<44}{'seconds':>9}{'rows/s':>10}")
    print(
        f"  {'gridgis incidents import (import_hotline)':<44}{imp['import_seconds']:>9.2f}"
        f"{imp['import_rows_per_s']:>10,.0f}  (commit {imp['import_commit_seconds']} s)"
    )
    print(
        f"  {'route the file in batch (route_table)':<44}{min(imp['file_seconds']):>9.2f}"
        f"{imp['file_rows_per_s']:>10,.0f}  (runs: {imp['file_seconds']})"
    )
    print(
        f"  {'route_points alone':<44}{min(imp['points_seconds']):>9.2f}"
        f"{imp['points_rows_per_s']:>10,.0f}  (runs: {imp['points_seconds']})"
    )
    print(
        f"  import ÷ routing the file:  {imp['import_vs_file']:.2f}×  target ≥ {IMPORT_TARGET}: "
        f"{met(imp['import_vs_file'], IMPORT_TARGET)}"
    )
    print(
        f"  import ÷ route_points alone: {imp['import_vs_points']:.2f}×  (stricter; same target: "
        f"{met(imp['import_vs_points'], IMPORT_TARGET)})"
    )
    print(
        "  CPU seconds (this process + its database backend), each run: "
        + "; ".join(
            f"{k} " + ", ".join(f"{c:.2f} + {'?' if b is None else f'{b:.2f}'}" for c, b in v)
            for k, v in imp["cpu"].items()
        )
    )
    print(
        f"  by CPU time (best runs): import ÷ routing the file {imp['cpu_import_vs_file']:.2f}×, "
        f"÷ route_points alone {imp['cpu_import_vs_points']:.2f}×"
    )
    print(
        f"  taken in {imp['taken_in']:,}, unclassified {imp['unclassified']:,}, refused "
        f"{imp['refused']}; rules {imp['rules']}"
    )
    if "profile" in imp:
        print(imp["profile"])
    if "year" not in r:
        return
    y = r["year"]
    print(
        f"\n2. synthetic year: {y['incidents']:,} incidents on {y['places']:,} places, "
        f"made in {sum(y['seconds'].values()):.1f} s ({y['seconds']}); "
        f"table {y['incident_table_size']}, "
        f"routing snapshot {y['routing_bytes_avg']} bytes on average (stored)"
    )
    c = r["console"]
    print(f"\n3. console, {c['queries']} random views (300 m – 3 km) and filters, dispatcher:")
    for name in ("list", "map", "both"):
        x = c[name]
        print(
            f"  {name:<6} p50 {x['p50_ms']:>8.1f} ms   p99 {x['p99_ms']:>8.1f} ms   "
            f"max {x['max_ms']:.1f} ms"
        )
    print(
        f"  matched per view: p50 {c['matched_p50']:,}, max {c['matched_max']:,}; "
        f"{c['clustered_views']} views clustered"
    )
    print_plans(c["plans"])
    q = r.get("requests") or {}
    if q.get("requests"):
        print(
            f"\n   GET /open311/v2/requests.json over HTTP, {q['requests']} random filters "
            f"(statuses {q['statuses']}, {q['returned_p50']} requests returned at p50):"
        )
        print(f"  p50 {q['p50_ms']:.1f} ms   p99 {q['p99_ms']:.1f} ms   max {q['max_ms']:.1f} ms")
        print_plans(q["plans"])
    elif q:
        print(f"\n   GET requests.json: {q.get('note')}")
    t = r["rates"]
    print(
        f"\n4. three rates of {t['month']} by grid "
        f"({t['incidents']:,} incidents, {t['groups']:,} grids):"
    )
    print(
        f"  rates.compute {t['compute_seconds']:.2f} s; "
        f"naive per-incident loop {t['naive_seconds']:.2f} s; "
        f"ratio {t['ratio']}×; same answers: {t['same_answers']}; {t['rates']}"
    )


def print_plans(p: dict[str, Any]) -> None:
    print(f"  plans of {p['statements']} statements: indexes used (statements): {p['indexes']}")
    if p["seq_scan_on_incident"]:
        print(f"  !! Seq Scan on incident in {p['seq_scan_on_incident']} statements, e.g.:")
        for example in p["seq_scan_examples"]:
            print(f"     {example}")
    else:
        print(f"  no Seq Scan on incident (seq scans elsewhere: {p['seq_scans'] or 'none'})")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wall0 = time.perf_counter()
    tag = f"BENCH{uuid.uuid4().hex[:6].upper()}"
    result: dict[str, Any] = {}
    # Always a throwaway database, even with DATABASE_URL set: a year of incidents is
    # not something to add to a database in use.
    with routing_bench.BenchDatabase(args.keep, always_own=True) as db:
        engine = make_engine(db.url.render_as_string(hide_password=False), pool_size=2)
        try:
            t0 = time.perf_counter()
            city = synth.build_city(args.scale, seed=args.seed, tag=tag)
            with routing_bench.driver_connection(engine) as conn:
                loaded = synth.load_city(conn, city, seed=args.seed)
            result["build_seconds"] = round(time.perf_counter() - t0, 2)
            result["counts"] = loaded.counts
            log(f"built the city in {result['build_seconds']} s")
            year: dict[str, Any] | None = None
            if not args.only_import:
                log(f"making a synthetic year of {args.year:,} incidents")
                year = make_year(engine, loaded, city, args.year, seed=args.seed, tag=tag)
                result["year"] = year
                log(f"year made: {year['seconds']}")
            pts = synth.make_points(city, args.rows, seed=args.seed)
            result["import"] = run_import(
                engine, pts, tag=tag, seed=args.seed, profile=args.profile
            )
            if year is not None:
                log(f"console: {args.queries} views")
                result["console"] = run_console(engine, city, loaded, args.queries, seed=args.seed)
                if args.requests:
                    log(f"GET requests.json: {args.requests} requests")
                    result["requests"] = run_requests(
                        db.url, engine, loaded, args.requests, seed=args.seed, now=year["now"]
                    )
                log("three rates of a month")
                result["rates"] = run_rates(engine, year["now"])
            report(result)
        finally:
            engine.dispose()
    result["wall_seconds"] = round(time.perf_counter() - wall0, 1)
    print(f"\nwall time {result['wall_seconds']} s")
    if args.json:
        result.get("import", {}).pop("profile", None)
        print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
