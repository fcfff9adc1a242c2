"""Load held at peak: how many requests a second does ``gridgis serve`` answer in time?

    .venv/bin/python bench/load.py --database-url URL   # a city already loaded (1M buildings)
    .venv/bin/python bench/load.py --small              # a 20,000-building city of its own
    .venv/bin/python bench/load.py --url http://127.0.0.1:5000 [--database-url URL]
    .venv/bin/python bench/load.py --json | tail -n 1 | jq .knee_rps

Drives the server with an open-model load (Poisson arrivals at a set rate,
locust's HTTP client and statistics, ``bench/_load_locust.py`` in a process of
its own) of 70% single routing (``POST /api/v1/route``), 25% reads (vector
tiles 15%, layer GeoJSON in a bbox 10%) and 5% batch routing (``POST
/api/v1/route/batch``, 100 points in a CSV), stepping the rate up until the
p99 passes 100 ms or a request fails, then refining between the last good
and the first bad step. Prints a table per step, the knee (the highest rate
answered with p99 < 100 ms, no error, no lost request) and p50/p99 at 20×
the average load of a 1M-resident city. With ``--json`` the last line of
stdout is one JSON object. Progress goes to stderr. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

try:
    from bench import _synthetic as synth
    from bench.routing import BenchDatabase, Server, driver_connection
except ImportError:  # run as a script: bench/ is sys.path[0]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _synthetic as synth  # type: ignore[no-redef]
    from routing import BenchDatabase, Server, driver_connection  # type: ignore[no-redef]

from gridgis.config import PROJECT_ROOT, SECRETS_DIR, database_url

HERE = Path(__file__).resolve().parent
#: The request mix of the issue: single routing, reads (tiles and layers), batch routing.
MIX = {"route": 0.70, "tile": 0.15, "layer": 0.10, "batch": 0.05}
#: 100,000 incidents a day, on average, in a city of 1M residents; the peak is 20× that.
INCIDENTS_PER_DAY = 100_000
PEAK_FACTOR = 20
AVG_INCIDENTS_PER_S = INCIDENTS_PER_DAY / 86_400
#: At 20× the routing share (70%) alone carries 20 × 1.157 = 23.1 incidents/s.
PEAK_TOTAL_RPS = PEAK_FACTOR * AVG_INCIDENTS_PER_S / MIX["route"]
P99_LIMIT_MS = 100.0
BENCH_RATE = "1000000 per minute"
APP_ROLE = "gridgis"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the database and the workload --------------------------------------------------


def app_role_url(url: URL) -> URL:
    """The same database as the app's role (``gridgis serve`` refuses privileged roles)."""
    if url.username == APP_ROLE:
        return url
    app = make_url(database_url())
    if app.username == APP_ROLE and app.host == url.host and app.port == url.port:
        return url.set(username=APP_ROLE, password=app.password)
    password_file = SECRETS_DIR / "db-app.password"
    if not password_file.exists():
        raise SystemExit(
            f"{url.username} may not serve (gridgis serve refuses privileged roles) and "
            f"{password_file} is missing: pass --database-url as the app's role ({APP_ROLE})."
        )
    password = password_file.read_text(encoding="ascii").strip()
    log(f"serving as the app's role {APP_ROLE} (the URL's role is {url.username})")
    return url.set(username=APP_ROLE, password=password)


M_PER_DEG_LAT = 110_860.0


def m_per_deg_lon(lat: float) -> float:
    return 111_320.0 * math.cos(math.radians(lat))


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def sample_workload(url: URL, n_points: int, seed: int) -> dict[str, Any]:
    """Requests drawn from the city in the database, as ``bench/routing.py`` draws points.

    90% of the routing points inside buildings (a random point of a random
    building), 5% in the roads beside grids (2-40 m outside a random grid of a
    layout in force, on a random side), 5% 100 m-3 km outside every community
    (these may answer 422 "outside coverage"). Tiles and layer bboxes are
    centred on random buildings, with their community's code.
    """
    rng = random.Random(seed)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000.0})
            n_build = max(float(conn.scalar(sa.text(
                "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'building'::regclass"
            )) or 0.0), 1.0)  # fmt: skip
            if n_build <= 1.0:
                n_build = float(conn.scalar(sa.text("SELECT count(*) FROM building")) or 1)
            want = int(n_points * 0.9) + 600
            pct = min(100.0, 100.0 * want * 3 / n_build)
            buildings = conn.execute(
                sa.text(
                    f"""
                    WITH s AS (
                        SELECT b.geom, c.code
                        FROM building b TABLESAMPLE SYSTEM ({pct:.6f}) REPEATABLE ({seed})
                        JOIN community c ON c.id = b.community_id
                        ORDER BY random() LIMIT :n
                    )
                    SELECT ST_X(p.geom), ST_Y(p.geom), s.code
                    FROM s, LATERAL ST_Dump(ST_GeneratePoints(s.geom, 1, :seed)) p
                    """  # nosec B608 - pct is a float we computed
                ),
                {"n": want, "seed": seed + 1},
            ).all()
            grids = conn.execute(
                sa.text(
                    """
                    SELECT ST_XMin(g.geom), ST_YMin(g.geom), ST_XMax(g.geom), ST_YMax(g.geom)
                    FROM grid g JOIN layout l ON l.id = g.layout_id
                    WHERE l.status = 'published' AND l.valid_from <= now()
                      AND (l.valid_to IS NULL OR l.valid_to > now())
                    ORDER BY random() LIMIT :n
                    """
                ),
                {"n": max(n_points // 20, 50)},
            ).all()
            extent = conn.execute(
                sa.text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                    "FROM (SELECT ST_Extent(boundary)::geometry AS e FROM community) x"
                )
            ).one()
            categories = list(conn.scalars(sa.text("SELECT code FROM category ORDER BY code")))
    finally:
        engine.dispose()
    if not buildings or not grids or extent[0] is None:
        raise SystemExit("The database has no buildings or no grid in force: load a city first.")

    def route_body(lon: float, lat: float) -> str:
        body: dict[str, Any] = {"lon": round(lon, 8), "lat": round(lat, 8)}
        cat = rng.choice([*categories, None]) if categories else None
        if cat is not None:
            body["category"] = cat
        return json.dumps(body)

    points: list[tuple[float, float, bool]] = []  # lon, lat, may be outside coverage
    n_in = int(n_points * 0.9)
    for lon, lat, _ in buildings[:n_in]:
        points.append((lon, lat, False))
    for _ in range(int(n_points * 0.05)):
        x0, y0, x1, y1 = rng.choice(grids)
        d = rng.uniform(2.0, 40.0)
        side = rng.randrange(4)
        mlon = m_per_deg_lon((y0 + y1) / 2)
        if side == 0:
            p = (x0 - d / mlon, rng.uniform(y0, y1))
        elif side == 1:
            p = (x1 + d / mlon, rng.uniform(y0, y1))
        elif side == 2:
            p = (rng.uniform(x0, x1), y0 - d / M_PER_DEG_LAT)
        else:
            p = (rng.uniform(x0, x1), y1 + d / M_PER_DEG_LAT)
        points.append((p[0], p[1], True))  # a road beside a lake may be out of tolerance
    ex0, ey0, ex1, ey1 = extent
    mlon = m_per_deg_lon((ey0 + ey1) / 2)
    while len(points) < n_points:
        d = rng.uniform(100.0, 3000.0)
        side = rng.randrange(4)
        if side == 0:
            p = (ex0 - d / mlon, rng.uniform(ey0, ey1))
        elif side == 1:
            p = (ex1 + d / mlon, rng.uniform(ey0, ey1))
        elif side == 2:
            p = (rng.uniform(ex0, ex1), ey0 - d / M_PER_DEG_LAT)
        else:
            p = (rng.uniform(ex0, ex1), ey1 + d / M_PER_DEG_LAT)
        points.append((p[0], p[1], True))
    rng.shuffle(points)
    route = [[route_body(lon, lat), outside] for lon, lat, outside in points]

    centres = buildings[n_in:] or buildings
    tiles: list[str] = []
    layers: list[str] = []
    for lon, lat, code in centres:
        layer, z = rng.choice([("grids", 14), ("grids", 15), ("buildings", 16), ("units", 17)])
        x, y = tile_of(lon, lat, z)
        tiles.append(f"/tiles/{layer}/{z}/{x}/{y}.mvt?community={code}")
        layer, half = rng.choice([("buildings", 150.0), ("units", 100.0), ("grids", 500.0)])
        dx, dy = half / m_per_deg_lon(lat), half / M_PER_DEG_LAT
        bbox = f"{lon - dx:.6f},{lat - dy:.6f},{lon + dx:.6f},{lat + dy:.6f}"
        layers.append(f"/api/v1/communities/{code}/{layer}?bbox={bbox}&limit=200")
    batches = []
    for _ in range(50):
        rows = ["lon,lat,category"]
        for lon, lat, _ in rng.sample(points, min(100, len(points))):
            cat = rng.choice(categories) if categories else ""
            rows.append(f"{lon:.8f},{lat:.8f},{cat}")
        batches.append("\n".join(rows) + "\n")
    return {
        "route": route,
        "tile": tiles,
        "layer": layers,
        "batch": batches,
        "_counts": {
            "buildings_sampled": len(buildings),
            "route_points": len(route),
            "categories": len(categories),
        },
    }


@contextlib.contextmanager
def bench_key(url: URL) -> Any:
    """A route:read + layers:read API key, revoked and deleted at the end."""
    from gridgis.access.apikeys import create_key, revoke_key
    from gridgis.access.permissions import cli_principal
    from gridgis.models import ApiKey

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    name = f"bench-load-{uuid.uuid4().hex[:8]}"
    try:
        with Session(engine) as session, session.begin():
            _, key = create_key(
                session, name, ["route:read", "layers:read"], actor=cli_principal("bench")
            )
        log(f"created API key {name}")
        yield key
    finally:
        with contextlib.suppress(Exception), Session(engine) as session, session.begin():
            revoke_key(session, name, actor=cli_principal("bench"))
            session.execute(sa.delete(ApiKey).where(ApiKey.name == name))
            log(f"revoked and deleted API key {name}")
        engine.dispose()


# --- the server --------------------------------------------------------------------


def warm_up(host: str, key: str, work: dict[str, Any], n: int = 40) -> dict[str, int]:
    """A few requests of each kind, one at a time, before the clock starts (and a check)."""
    from urllib.parse import urlsplit

    parts = urlsplit(host)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    auth = {"Authorization": f"Bearer {key}"}
    statuses: dict[str, int] = {}
    rng = random.Random(7)
    for i in range(n):
        for kind in ("route", "tile", "layer", "batch"):
            if kind == "batch" and i % 8:
                continue
            item = rng.choice(work[kind])
            if kind == "route":
                conn.request(
                    "POST",
                    "/api/v1/route",
                    item[0],
                    {**auth, "Content-Type": "application/json"},
                )
            elif kind == "batch":
                conn.request(
                    "POST",
                    "/api/v1/route/batch?category_field=category",
                    item,
                    {**auth, "Content-Type": "text/csv"},
                )
            else:
                conn.request("GET", item, headers=auth)
            r = conn.getresponse()
            body = r.read()
            key_ = f"{kind} {r.status}"
            statuses[key_] = statuses.get(key_, 0) + 1
            if r.status >= 500 or r.status in (401, 403, 404, 429) or r.status == 400:
                log(f"warm-up: {kind} answered {r.status}: {body[:300]!r}")
    conn.close()
    return statuses


# --- the run -----------------------------------------------------------------------


def wait_for_quiet(seconds: float, busy_cores: float = 0.5) -> None:
    """Wait (up to ``seconds``) until the machine's other work uses less than ``busy_cores``."""
    import psutil

    deadline = time.monotonic() + seconds
    while True:
        busy = psutil.cpu_percent(interval=5.0) / 100.0 * (os.cpu_count() or 1)
        if busy < busy_cores:
            log(f"machine quiet: {busy:.2f} cores busy")
            return
        if time.monotonic() > deadline:
            log(f"machine still busy ({busy:.2f} cores) after {seconds:.0f} s: measuring anyway")
            return
        log(f"waiting for a quieter machine: {busy:.2f} cores busy, load {os.getloadavg()[0]:.1f}")


def ladder(args: argparse.Namespace) -> list[float]:
    if args.rates:
        rates = [float(r) for r in args.rates.split(",")]
    else:
        rates = [10.0, 20.0, 50.0, 70.0, 100.0, 140.0, 200.0, 280.0, 400.0, 560.0]
    return sorted({*rates, round(PEAK_TOTAL_RPS, 2)})


def run_generator(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The locust process; returns its result and its own resource use."""
    with tempfile.TemporaryDirectory(prefix="gridgis-load-") as tmp:
        cfg_path, out_path = Path(tmp) / "config.json", Path(tmp) / "out.json"
        cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
        t0 = time.perf_counter()
        before = os.times()
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "_load_locust.py"),
                "--config",
                str(cfg_path),
                "--out",
                str(out_path),
            ],
            cwd=PROJECT_ROOT,
        )
        try:
            rc = proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait(10)
            raise
        after = os.times()
        if rc != 0 or not out_path.exists():
            raise SystemExit(f"the load generator failed (exit status {rc})")
        result = json.loads(out_path.read_text(encoding="utf-8"))
        wall = time.perf_counter() - t0
        cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        return result, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def cpu_per_request(steps: list[dict[str, Any]]) -> dict[str, float] | None:
    """Median CPU milliseconds per answered request, and the rate at which they fill the cores."""
    import statistics

    rows = [
        s
        for s in steps
        if s["achieved_rps"] >= 5 and s.get("server_cores") is not None and s.get("db_cores")
    ]
    if not rows:
        return None
    out = {
        k: statistics.median(s[f"{k}_cores"] / s["achieved_rps"] * 1000 for s in rows)
        for k in ("server", "db", "generator")
    }
    out["saturation_rps"] = (os.cpu_count() or 1) * 1000 / sum(out.values())
    return {k: round(v, 2) for k, v in out.items()}


def fmt(v: Any, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def verdict(s: dict[str, Any]) -> str:
    if s.get("superseded"):
        return f"{s['why']}; disturbed (other {s.get('other_cores')} cores): measured again"
    if s["passed"]:
        return "ok"
    return s["why"] + ("; ok without batch" if s["passed_interactive"] else "")


def report(r: dict[str, Any]) -> None:
    print()
    print(
        f"gridgis serve under an open-model load — {r['city']}; "
        f"mix {', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}"
    )
    print(f"server: {r['server']}")
    print(
        f"steps of {r['warmup_s']:g} s warm-up + {r['measure_s']:g} s measured (longer at low "
        f"rates: at least {r['min_samples']} requests); cores in the table are CPU used "
        "(generator, gunicorn, its database backends, the whole machine, the rest); "
        f"machine: {r['cores']} cores, load average at start {r['loadavg_start']}"
    )
    print()
    head = (
        "| step | nominal/s | offered/s | achieved/s | p50 ms | p95 ms | p99 ms | max ms "
        "| errors | 5xx | lost | lag p99 ms | gen cores | server | db | machine | other "
        "| load 1m | |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for s in r["steps"]:
        print(
            f"| {s['step']}{' (20×)' if s['label'] == '20x' else ''} | {s['nominal_rps']:.1f} "
            f"| {s['offered_rps']:.1f} | {s['achieved_rps']:.1f} | {fmt(s['p50_ms'])} "
            f"| {fmt(s['p95_ms'])} | {fmt(s['p99_ms'])} | {fmt(s['max_ms'], '.0f')} "
            f"| {s['errors']} | {s['http_5xx']} | {s['lost']} | {fmt(s['lag_p99_ms'])} "
            f"| {fmt(s.get('generator_cores'), '.2f')} | {fmt(s.get('server_cores'), '.2f')} "
            f"| {fmt(s.get('db_cores'), '.2f')} | {fmt(s.get('machine_busy_cores'), '.2f')} "
            f"| {fmt(s.get('other_cores'), '.2f')} "
            f"| {fmt(s.get('loadavg_1m'), '.2f')} | {verdict(s)} |"
        )
    print()
    print("p50 / p99 ms by kind:")
    for s in r["steps"]:
        parts = [
            f"{k} {fmt(v['p50_ms'])}/{fmt(v['p99_ms'])} (n {v['n']}, err {v['errors']})"
            for k, v in s["per_kind"].items()
        ]
        parts.append(f"without batch {fmt(s['interactive_p50_ms'])}/{fmt(s['interactive_p99_ms'])}")
        print(
            f"  step {s['step']} @ {s['nominal_rps']:.1f}/s ({s['measured_s']:g} s): "
            + "; ".join(parts)
        )
    print()
    k = r["knee"]
    if k:
        print(
            f"knee: {k['achieved_rps']:.1f} requests/s answered (offered {k['offered_rps']:.1f}/s, "
            f"step {k['step']}) with p99 {k['p99_ms']:.1f} ms < {P99_LIMIT_MS:g} ms, "
            f"0 errors, 0 5xx, 0 lost; routing share {k['achieved_rps'] * MIX['route']:.1f}/s "
            f"= {k['achieved_rps'] * MIX['route'] / AVG_INCIDENTS_PER_S:.0f}× the average"
        )
    else:
        print("knee: none — even the lowest step missed p99 < 100 ms with no error")
    ki = r["knee_without_batch"]
    if ki:
        print(
            f"knee without the batches (single routing, tiles, layers: p99 < {P99_LIMIT_MS:g} ms; "
            f"still no error and no lost request of any kind): {ki['achieved_rps']:.1f} requests/s "
            f"(step {ki['step']}, p99 {ki['interactive_p99_ms']:.1f} ms)"
        )
    else:
        print("knee without the batches: none")
    if r["first_bad"]:
        b = r["first_bad"]
        print(f"first step past the knee: {b['nominal_rps']:.1f}/s ({b['why']})")
    print(
        f"20× load: {INCIDENTS_PER_DAY:,} incidents/day ÷ 86,400 s = {AVG_INCIDENTS_PER_S:.3f}/s "
        f"average; × {PEAK_FACTOR} = {PEAK_FACTOR * AVG_INCIDENTS_PER_S:.2f} routing requests/s; "
        f"as 70% of the mix: {PEAK_TOTAL_RPS:.2f} requests/s in all"
    )
    p = r["at_20x"]
    if p:
        rt = p["per_kind"]["route"]
        print(
            f"  at 20×: p50 {fmt(p['p50_ms'])} ms, p99 {fmt(p['p99_ms'])} ms (all requests); "
            f"single routing p50 {fmt(rt['p50_ms'])} ms, p99 {fmt(rt['p99_ms'])} ms; "
            f"errors {p['errors']}, 5xx {p['http_5xx']}, lost {p['lost']}"
        )
    g = r["generator"]
    print(
        f"requests sent {r['sent_total']:,}, answered {r['answered_total']:,}, "
        f"lost {r['lost_total']}, errors {r['errors_total']}, 5xx {r['http_5xx_total']}; "
        f"load generator: {g['cpu_s']} CPU s over {g['wall_s']} s wall "
        f"({g['cpu_s'] / max(g['wall_s'], 1e-9):.2f} cores on average)"
    )
    if r.get("errors_seen"):
        print("errors seen:", json.dumps(r["errors_seen"], ensure_ascii=False)[:1500])
    if r.get("server_errors_logged"):
        print("server log errors:", r["server_errors_logged"])
    c = r.get("cpu_per_request_ms")
    if c:
        print(
            f"CPU per request (median over the steps): gunicorn {c['server']:.1f} ms, its database "
            f"backends {c['db']:.1f} ms, the generator {c['generator']:.1f} ms: "
            f"{r['cores']} cores saturate at ≈ {c['saturation_rps']:.0f} requests/s of this mix "
            "(a bound from CPU alone, not a measurement: the p99 knee lies below it)"
        )
    busy = [s.get("other_cores") for s in r["steps"] if s.get("other_cores") is not None]
    if busy and max(busy) > 0.25 * (r["cores"] or 1):
        print(
            f"Disturbed: other work used up to {max(busy):.2f} of the {r['cores']} cores during "
            "the steps (column 'other'): the latencies are worse and the knee lower than on a "
            "quiet machine."
        )
    print(
        f"Ceiling: this machine has {r['cores']} cores shared by the server, PostgreSQL, the "
        "load generator and any other work: the knee is this machine's, not the code's."
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--url", help="a running server (e.g. http://127.0.0.1:5000); default: start one"
    )
    p.add_argument(
        "--database-url",
        help="the city's database (any role; default DATABASE_URL; neither: --small)",
    )
    p.add_argument("--small", action="store_true", help="build a 20,000-building city of its own")
    p.add_argument("--scale", type=int, default=20_000, help="buildings of --small's city")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--points", type=int, default=5000, help="distinct routing points")
    p.add_argument("--rates", help="comma-separated total request rates (the 20× rate is added)")
    p.add_argument("--refine", type=int, default=2, help="steps between last good and first bad")
    p.add_argument("--warmup", type=float, default=None, help="seconds per step not measured")
    p.add_argument("--measure", type=float, default=None, help="seconds measured per step")
    p.add_argument(
        "--min-samples",
        type=int,
        default=None,
        help="measure a step until this many requests (400; --small 200)",
    )
    p.add_argument("--workers", type=int, help="gunicorn workers of the bench's server")
    p.add_argument("--threads", type=int, help="threads per worker of the bench's server")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the machine's other work to use < 0.5 core",
    )
    p.add_argument(
        "--retry-disturbed",
        type=int,
        default=2,
        help="measure again a step that fails without batches while other work took > 0.5 core",
    )
    p.add_argument("--keep", action="store_true", help="keep --small's database")
    p.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    args = p.parse_args(argv)
    if not args.url and not args.database_url and "DATABASE_URL" not in os.environ:
        args.small = True
    if args.small and args.url:
        p.error("--small starts its own server: leave out --url")
    if args.warmup is None:
        args.warmup = 3.0 if args.small else 5.0
    if args.min_samples is None:
        args.min_samples = 200 if args.small else 400
    if args.measure is None:
        args.measure = 12.0 if args.small else 25.0
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wall0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        city: str
        if args.small:
            if "DATABASE_URL" in os.environ:
                log("--small: a throwaway database on DATABASE_URL's server")
            db = stack.enter_context(BenchDatabase(args.keep, always_own=True))
            t0 = time.perf_counter()
            layout = synth.build_city(args.scale, seed=args.seed, tag="BENCH")
            engine = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
            try:
                with driver_connection(engine) as conn:
                    loaded = synth.load_city(conn, layout, seed=args.seed)
                with engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                        sa.text("VACUUM ANALYZE")
                    )
            finally:
                engine.dispose()
            log(f"built the city in {time.perf_counter() - t0:.1f} s: {loaded.counts}")
            db_url: URL = db.url
            city = f"synthetic city of {args.scale:,} buildings (--small, throwaway database)"
        else:
            db_url = make_url(args.database_url or database_url())
            city = f"database {db_url.database}"
        with sa.create_engine(db_url, poolclass=sa.pool.NullPool).connect() as conn:
            counts = {
                t: int(conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0)  # nosec B608
                for t in ("community", "grid", "building", "unit")
            }
        city += (
            f" ({counts['building']:,} buildings, {counts['unit']:,} units, "
            f"{counts['grid']:,} grids, {counts['community']:,} communities)"
        )
        log(f"city: {city}")
        t0 = time.perf_counter()
        work = sample_workload(db_url, args.points, args.seed)
        log(f"workload sampled in {time.perf_counter() - t0:.1f} s: {work.pop('_counts')}")
        key = stack.enter_context(bench_key(db_url))
        server_pids: list[int] = []
        db_user: str | None = APP_ROLE
        if args.url:
            host = args.url.rstrip("/")
            server_desc = f"{host} (running; its GRIDGIS_API_RATE must allow the load)"
            log(
                "using the running server: raise its per-key limit (GRIDGIS_API_RATE, 600 per "
                "minute by default) or answers past 10/s will be 429s"
            )
        else:
            serve_args = [f"--workers={args.workers}"] if args.workers else []
            serve_args += [f"--threads={args.threads}"] if args.threads else []
            server = Server(app_role_url(db_url), args=serve_args, rate=BENCH_RATE)
            stack.callback(server.stop)
            problem = server.wait(60.0)
            if problem:
                raise SystemExit(f"gridgis serve: {problem}")
            host = server.host
            server_pids = [server.proc.pid]
            server_desc = (
                f"gridgis serve (gunicorn gthread, {args.workers or 'default 2'} workers × "
                f"{args.threads or 'default 4'} threads) at {host}, as role {APP_ROLE}, "
                f"GRIDGIS_API_RATE='{BENCH_RATE}' (raised from 600 per minute)"
            )
        log(f"server: {server_desc}")
        statuses = warm_up(host, key, work)
        log(f"warm-up answers: {statuses}")
        if args.wait_quiet:
            wait_for_quiet(args.wait_quiet)
        load_start = os.getloadavg()
        log(f"load average before the ladder: {load_start}")
        cfg = {
            "host": host,
            "key": key,
            "workload": work,
            "mix": MIX,
            "rates": ladder(args),
            "must_rate": round(PEAK_TOTAL_RPS, 2),
            "refine": args.refine,
            "warmup_s": args.warmup,
            "measure_s": args.measure,
            "min_samples": args.min_samples,
            "retry_disturbed": args.retry_disturbed,
            "disturbed_cores": 0.5,
            "p99_limit_ms": P99_LIMIT_MS,
            "seed": args.seed,
            "idle_max_s": 1.0,
            "timeout_s": 30.0,
            "max_inflight": 2000,
            "server_pids": server_pids,
            "db_name": db_url.database,
            "db_user": db_user,
            "db_port": db_url.port or 5432,
        }
        gen, gen_use = run_generator(cfg)
        server_errors = [] if args.url else server.errors_logged()
        steps = gen["steps"]
        valid = [s for s in steps if not s.get("superseded")]
        passed = [s for s in valid if s["passed"]]
        knee = max(passed, key=lambda s: s["nominal_rps"]) if passed else None
        passed_i = [s for s in valid if s["passed_interactive"]]
        knee_i = max(passed_i, key=lambda s: s["nominal_rps"]) if passed_i else None
        # The first failing step above the knee (a noisy lower one may fail too).
        bad = [
            s
            for s in valid
            if not s["passed"] and (knee is None or s["nominal_rps"] > knee["nominal_rps"])
        ]
        first_bad = min(bad, key=lambda s: s["nominal_rps"]) if bad else None
        peak = [s for s in valid if s["label"] == "20x"]
        at_20x = peak[-1] if peak else None
        result: dict[str, Any] = {
            "cpu_per_request_ms": cpu_per_request(valid),
            "knee_rps": knee["achieved_rps"] if knee else None,
            "knee_offered_rps": knee["offered_rps"] if knee else None,
            "knee_p50_ms": knee["p50_ms"] if knee else None,
            "knee_p99_ms": knee["p99_ms"] if knee else None,
            "knee_without_batch_rps": knee_i["achieved_rps"] if knee_i else None,
            "knee_without_batch_p99_ms": knee_i["interactive_p99_ms"] if knee_i else None,
            "knee_without_batch": knee_i,
            "p50_ms_at_20x": at_20x["p50_ms"] if at_20x else None,
            "p99_ms_at_20x": at_20x["p99_ms"] if at_20x else None,
            "rps_20x": round(PEAK_TOTAL_RPS, 2),
            "routing_rps_20x": round(PEAK_FACTOR * AVG_INCIDENTS_PER_S, 2),
            "arithmetic_20x": (
                f"{INCIDENTS_PER_DAY} incidents/day / 86400 s = {AVG_INCIDENTS_PER_S:.3f}/s; "
                f"x{PEAK_FACTOR} = {PEAK_FACTOR * AVG_INCIDENTS_PER_S:.2f} routing/s; "
                f"/ {MIX['route']} (routing's share) = {PEAK_TOTAL_RPS:.2f} requests/s"
            ),
            "p99_limit_ms": P99_LIMIT_MS,
            "knee": knee,
            "first_bad": first_bad,
            "at_20x": at_20x,
            "steps": steps,
            "sent_total": sum(s["sent"] for s in steps),
            "answered_total": sum(s["answered"] for s in steps),
            "lost_total": sum(s["lost"] for s in steps),
            "errors_total": sum(s["errors"] for s in steps),
            "http_5xx_total": sum(s["http_5xx"] for s in steps),
            "requests_total_incl_warmup": gen["requests_total"],
            "unanswered_total_incl_warmup": gen["unanswered_total"],
            "errors_seen": gen["errors_seen"],
            "server_errors_logged": server_errors,
            "generator": gen_use,
            "connections_opened": gen["connections_opened"],
            "warmup_statuses": statuses,
            "mix": MIX,
            "city": city,
            "counts": counts,
            "server": server_desc,
            "warmup_s": args.warmup,
            "measure_s": args.measure,
            "min_samples": args.min_samples,
            "cores": os.cpu_count(),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
        report(result)
    result["wall_seconds"] = round(time.perf_counter() - wall0, 1)
    print(f"\nwall time {result['wall_seconds']} s")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
