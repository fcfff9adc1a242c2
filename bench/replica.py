"""Reads on a replica: routing throughput on one database server, and on a primary + hot standby.

    .venv/bin/python bench/replica.py [--scale 20000] [--seconds 8] [--clients 8] [--json]

Builds what it needs and removes it at the end: a primary and a hot standby of
its own (``tests/support/replica.py``: initdb, then ``pg_basebackup -R``, in a
temporary directory on free ports; never the shared cluster), migrated, with a
synthetic city (``bench/_synthetic.py``) replayed on the standby. Then, for
``--seconds`` each, in ``--rounds`` alternated rounds (the mean is printed):

(a) the databases alone: ``--clients`` processes each route points with
    ``route_point`` (one round trip per point) on a connection of their own,
    all on the primary, then half of them on the standby;
(b) the app: ``gridgis serve`` (2 workers x 4 threads) on the primary alone,
    then with ``GRIDGIS_READ_DATABASE_URL`` naming the standby (its freshness
    check included); ``--clients`` threads POST /api/v1/route with an API key
    over keep-alive connections.

Prints points routed per second, the ratio two servers : one, and how busy the
machine's CPUs were (``/proc/stat``). A second server on the same machine
shares the same cores: it can only help where one server leaves cores idle
(its own locks, a single-threaded bottleneck), not where they are all busy.
With ``--json`` the last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is sys.path[0]
    sys.path.insert(0, str(ROOT))

from bench import _synthetic as synth  # noqa: E402
from bench.routing import Server  # noqa: E402
from gridgis import migrate  # noqa: E402
from gridgis.db import make_engine  # noqa: E402
from gridgis.routing.points import route_point  # noqa: E402
from tests.support.replica import Pair, replica_pair, wait_replayed  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_since(before: tuple[int, int]) -> float:
    busy, total = cpu_times()
    return (busy - before[0]) / max(total - before[1], 1)


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return kids


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_by_part(parts: dict[str, tuple[int, bool]]) -> dict[str, float]:
    """CPU seconds used so far by each part: a pid, with its descendants when asked."""
    kids = _children()
    used: dict[str, float] = {}
    for name, (pid, tree) in parts.items():
        todo, total = [pid], 0.0
        while todo:
            current = todo.pop()
            total += _cpu_seconds(current)
            if tree:
                todo += kids.get(current, [])
        used[name] = total
    return used


def shares(before: dict[str, float], seconds: float) -> dict[str, float]:
    """Each part's share of the machine's CPU time over the run (1.0: every core, all along)."""
    capacity = seconds * (os.cpu_count() or 1)
    return {
        name: round(max(used - before[name], 0.0) / capacity, 3)
        for name, used in cpu_by_part({name: PARTS[name] for name in before}).items()
    }


#: The processes whose CPU the bench accounts for, by part (set as they start).
PARTS: dict[str, tuple[int, bool]] = {}


def postmaster(pair_server: Any) -> int:
    return int((pair_server.data / "postmaster.pid").read_text().split()[0])


# --- (a) the databases alone ---------------------------------------------------------


def _route_loop(
    url: str, points: list[tuple[float, float]], seconds: float, start: Any, out: Any
) -> None:
    """A client process: route points on its own connection until the time is up."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    routed = 0
    with Session(engine) as session:
        route_point(session, *points[0])  # connected and warm before the clock starts
        start.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            route_point(session, *points[routed % len(points)])
            routed += 1
            if routed % 200 == 0:
                session.rollback()  # no transaction held for the whole run
        # Still connected while the bench reads the servers' CPU: a backend
        # that has exited takes its CPU time with it.
        start.wait()
        start.wait()
    engine.dispose()
    out.put(routed)


def run_databases(urls: list[str], points: list[tuple[float, float]], seconds: float) -> dict:
    """Points per second with one client process per URL in ``urls``."""
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(urls) + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_route_loop, args=(url, points[i::7] or points, seconds, start, out))
        for i, url in enumerate(urls)
    ]
    for proc in procs:
        proc.start()
    start.wait()
    for i, proc in enumerate(procs):
        PARTS[f"client{i}"] = (proc.pid or 0, False)
    parts = {
        k: v for k, v in PARTS.items() if k in ("primary", "standby") or k.startswith("client")
    }
    before = cpu_by_part(parts)
    cpu = cpu_times()
    start.wait()  # every client is done
    busy = busy_since(cpu)
    used = shares(before, seconds)
    start.wait()  # and may disconnect
    routed = sum(out.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join()
    for i in range(len(procs)):
        del PARTS[f"client{i}"]
    clients = sum(v for k, v in used.items() if k.startswith("client"))
    split = {k: v for k, v in used.items() if not k.startswith("client")}
    return {"per_s": routed / seconds, "cpu_busy": busy, "cpu": {**split, "clients": clients}}


# --- (b) the app -------------------------------------------------------------------------


def run_app(
    pair: Pair,
    key: str,
    points: list[tuple[float, float]],
    seconds: float,
    clients: int,
    *,
    read: bool,
) -> dict:
    """Routed answers per second from ``clients`` keep-alive HTTP clients."""
    # Without `read` the standby setting is removed, should the shell have one.
    served = Server(
        pair.app_url,
        env={"GRIDGIS_READ_DATABASE_URL": pair.read_url if read else None},
        rate="100000000 per minute",
    )
    try:
        problem = served.wait()
        if problem:
            raise RuntimeError(f"gridgis serve: {problem}")
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        counts = [0] * clients
        errors: list[str] = []
        go = threading.Event()
        stop_at = [0.0]

        def client(i: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
            mine = points[i::clients] or points
            n = 0

            def post() -> None:
                lon, lat = mine[n % len(mine)]
                conn.request("POST", "/api/v1/route", json.dumps({"lon": lon, "lat": lat}), headers)
                answer = conn.getresponse()
                body = answer.read()
                if answer.status != 200:
                    errors.append(f"{answer.status}: {body[:200]!r}")

            for _ in range(5):  # warm: connections, the workers' imports
                post()
            go.wait()
            while time.perf_counter() < stop_at[0]:
                post()
                n += 1
            counts[i] = n
            conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # let every client warm up
        parts = {
            **{k: PARTS[k] for k in ("primary", "standby")},
            "app": (served.proc.pid, True),
            "clients": (os.getpid(), False),  # the client threads (and nothing else) run here
        }
        PARTS.update(parts)
        before = cpu_by_part(parts)
        cpu = cpu_times()
        stop_at[0] = time.perf_counter() + seconds
        go.set()
        for thread in threads:
            thread.join()
        busy = busy_since(cpu)
        used = shares(before, seconds)
        if errors:
            raise RuntimeError(f"{len(errors)} failed request(s), e.g. {errors[0]}")
        return {"per_s": sum(counts) / seconds, "cpu_busy": busy, "cpu": used}
    finally:
        served.stop()


# --- building -------------------------------------------------------------------------


def build(pair: Pair, scale: int, seed: int) -> tuple[list[tuple[float, float]], str]:
    """Migrate the primary, load the city, make an API key; the standby replays it all."""
    from gridgis.access.apikeys import create_key
    from gridgis.access.permissions import cli_principal

    owner = make_engine(pair.owner_url, poolclass=sa.pool.NullPool)
    migrate.upgrade(owner)
    t0 = time.perf_counter()
    city = synth.build_city(scale, seed=seed, tag=f"BENCH{uuid.uuid4().hex[:6].upper()}")
    proxy = owner.raw_connection()
    try:
        synth.load_city(proxy.driver_connection, city, seed=seed)
    finally:
        proxy.close()
    owner.dispose()
    log(f"loaded {len(city.building_rect):,} buildings in {time.perf_counter() - t0:.1f} s")
    app = make_engine(pair.app_url, poolclass=sa.pool.NullPool)
    with Session(app) as session, session.begin():
        _, key = create_key(session, "bench-replica", ["route:read"], actor=cli_principal("bench"))
    app.dispose()
    wait_replayed(pair)
    pts = synth.make_points(city, 2000, seed=seed)
    return [(float(x), float(y)) for x, y in zip(pts.lon, pts.lat, strict=True)], key


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=20_000, help="buildings (default 20,000)")
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds (mean)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="a JSON object as the last line")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result: dict[str, Any] = {
        "cores": os.cpu_count(),
        "clients": args.clients,
        # Others' work on the machine skews every figure: say how much there was.
        "load_before": os.getloadavg()[0],
    }
    log("starting a primary and a hot standby of the bench's own")
    with replica_pair() as pair:
        points, key = build(pair, args.scale, args.seed)
        PARTS["primary"] = (postmaster(pair.primary), True)
        PARTS["standby"] = (postmaster(pair.standby), True)
        one = [pair.app_url] * args.clients
        two = [pair.app_url if i % 2 == 0 else pair.read_url for i in range(args.clients)]
        # Alternated, round after round: the machine's other load drifts, and a
        # fixed order would hand the drift to one side.
        runs: dict[str, list[dict]] = {k: [] for k in ("db_one", "db_two", "app_one", "app_two")}
        for r in range(args.rounds):
            log(f"round {r + 1}: (a) route_point processes, on the primary / half on the standby")
            runs["db_one"].append(run_databases(one, points, args.seconds))
            runs["db_two"].append(run_databases(two, points, args.seconds))
            log(f"round {r + 1}: (b) gridgis serve, without / with GRIDGIS_READ_DATABASE_URL")
            for read in (False, True):
                runs["app_two" if read else "app_one"].append(
                    run_app(pair, key, points, args.seconds, args.clients, read=read)
                )
    for name, measured in runs.items():
        result[name] = {
            "per_s": sum(m["per_s"] for m in measured) / len(measured),
            "cpu_busy": sum(m["cpu_busy"] for m in measured) / len(measured),
            "rounds": [round(m["per_s"], 1) for m in measured],
            # Each part's share of the machine's CPU (1.0: every core all along).
            "cpu": {
                part: round(sum(m["cpu"][part] for m in measured) / len(measured), 3)
                for part in measured[0]["cpu"]
            },
        }
    result["db_ratio"] = result["db_two"]["per_s"] / result["db_one"]["per_s"]
    result["app_ratio"] = result["app_two"]["per_s"] / result["app_one"]["per_s"]
    print(
        f"routing throughput, {args.clients} clients, {os.cpu_count()} cores, one machine "
        f"(load average {result['load_before']:.1f} before the run)"
    )
    print(f"{'':38} {'one server':>12} {'two servers':>12} {'ratio':>7}")
    for name, label in (("db", "(a) route_point, points/s"), ("app", "(b) POST /api/v1/route, /s")):
        a, b = result[f"{name}_one"], result[f"{name}_two"]
        print(f"{label:38} {a['per_s']:12,.0f} {b['per_s']:12,.0f} {result[name + '_ratio']:7.2f}")
        print(f"{'    CPU busy':38} {a['cpu_busy']:12.0%} {b['cpu_busy']:12.0%}")
        each = ["/".join(f"{v:.0f}" for v in m["rounds"]) for m in (a, b)]
        print(f"{'    each round':38} {each[0]:>12} {each[1]:>12}")
        for part in a["cpu"]:
            label = f"    CPU share: {part}"
            print(f"{label:38} {a['cpu'][part]:12.0%} {b['cpu'][part]:12.0%}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
