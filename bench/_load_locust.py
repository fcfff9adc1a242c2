"""The load generator of ``bench/load.py``, run by it as a process of its own.

Not a module of gridgis, and it does nothing when run without ``--config``
(``make bench`` runs every ``bench/*.py``). It is a separate process because
locust patches the standard library for gevent when imported (sockets,
threads, ``time.sleep``): the parent keeps psycopg and SQLAlchemy unpatched.

**Open model.** Requests arrive as a Poisson process at the step's rate,
whether or not earlier requests have been answered: a scheduler greenlet draws
exponential gaps and, at each arrival time, starts the request in its own
greenlet on an idle keep-alive connection (a new one if none is idle). A
closed model (N locust users looping) lowers its own rate when the server
slows down (coordinated omission) and so hides the knee; here a slow server
meets the same arrivals and the queue shows in the latencies. If the
generator itself falls behind its schedule (CPU starvation), the arrival is
sent late, never dropped, and the lateness is reported (``lag``).

locust provides the HTTP client (``FastHttpSession``, geventhttpclient), the
``Environment`` with its local runner and request statistics (reset per step,
printed beside ours as a cross-check); the latencies that decide the knee are
measured here per request (send to last byte), keyed by the step in which the
request was *scheduled*, so every request sent is accounted for: answered
(any HTTP status) or lost (no status: connection error, timeout, or still
unanswered after the step's drain).

Connections idle for more than ``idle_max_s`` are closed rather than reused:
gunicorn closes keep-alive connections after 2 s idle, and a request written
on a connection the server is closing would fail (and non-idempotent POSTs are
never retried). The client does not retry anything (``max_retries=0``).
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from typing import Any


def _percentiles(values: list[float]) -> dict[str, float | None]:
    import numpy as np

    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    a = np.asarray(values) * 1000.0
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "max": round(float(a.max()), 2),
    }


class CpuMeter:
    """CPU seconds of the generator, the server's processes, its database backends, the machine."""

    def __init__(
        self, server_pids: list[int], db_name: str | None, db_user: str | None, db_port: int | None
    ) -> None:
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.server_pids = server_pids
        self.db_name = db_name
        self.db_user = db_user
        self.db_port = db_port

    def _tree(self) -> list[Any]:
        procs = []
        for pid in self.server_pids:
            try:
                p = self.psutil.Process(pid)
                procs.append(p)
                procs.extend(p.children(recursive=True))
            except self.psutil.Error:
                pass
        return procs

    def _client_ports(self) -> set[int] | None:
        """Local ports of the server's connections to the database (None: unknown)."""
        if not self.server_pids or not self.db_port:
            return None
        ports: set[int] = set()
        try:
            for p in self._tree():
                for c in p.net_connections(kind="tcp"):
                    if c.raddr and c.raddr.port == self.db_port:
                        ports.add(c.laddr.port)
        except self.psutil.Error:
            return None
        return ports

    def _backends(self) -> list[Any]:
        if not self.db_name:
            return []
        # Only the backends of this server's connections: others may serve the same
        # database with the same role (another engineer's server on a shared city).
        ports = self._client_ports()
        found = []
        for p in self.psutil.process_iter(["name", "cmdline"]):
            try:
                cmd = " ".join(p.info["cmdline"] or [])
            except (TypeError, self.psutil.Error):
                continue
            # The backend's process title: "postgres: ROLE DATABASE HOST(PORT) STATE".
            if cmd.startswith("postgres: ") and f" {self.db_name} " in f"{cmd} ":
                role = cmd.split()[1] if len(cmd.split()) > 1 else ""
                if self.db_user is not None and role != self.db_user:
                    continue
                if ports is not None and not any(f"({port})" in cmd for port in ports):
                    continue
                found.append(p)
        return found

    @staticmethod
    def _cpu(procs: list[Any]) -> dict[int, float]:
        out = {}
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except Exception:  # a process that just ended
                pass
        return out

    def snapshot(self) -> dict[str, Any]:
        t = self.me.cpu_times()
        m = self.psutil.cpu_times()
        busy = sum(m) - m.idle - getattr(m, "iowait", 0.0)
        return {
            "wall": time.monotonic(),
            "gen": t.user + t.system,
            "server": self._cpu(self._tree()),
            "db": self._cpu(self._backends()),
            "machine": busy,
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
        wall = max(b["wall"] - a["wall"], 1e-9)

        def procs(key: str) -> float:
            return sum(v - a[key].get(pid, 0.0) for pid, v in b[key].items())

        gen = (b["gen"] - a["gen"]) / wall
        server = procs("server") / wall if b["server"] else None
        db = procs("db") / wall if b["db"] else None
        machine = (b["machine"] - a["machine"]) / wall
        other = machine - gen - (server or 0.0) - (db or 0.0)
        return {
            "generator_cores": round(gen, 3),
            "server_cores": None if server is None else round(server, 3),
            "db_cores": None if db is None else round(db, 3),
            "machine_busy_cores": round(machine, 3),
            "other_cores": round(max(other, 0.0), 3),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    # Importing locust monkey-patches the standard library for gevent: only in here.
    import gevent
    from locust import events
    from locust.contrib.fasthttp import FastHttpSession
    from locust.env import Environment

    env = Environment(events=events)
    env.create_local_runner()  # installs the request statistics listener
    host = cfg["host"]
    auth = {"Authorization": f"Bearer {cfg['key']}"}
    json_h = {**auth, "Content-Type": "application/json", "Accept": "application/json"}
    csv_h = {**auth, "Content-Type": "text/csv"}
    work = cfg["workload"]
    kinds = list(cfg["mix"])
    weights = [cfg["mix"][k] for k in kinds]
    rng = random.Random(cfg["seed"])
    idle_max = float(cfg["idle_max_s"])
    timeout = float(cfg["timeout_s"])
    ok_status = {"route": (200,), "tile": (200, 204), "layer": (200,), "batch": (200,)}

    idle: list[tuple[Any, float]] = []  # LIFO of (session, last used)
    opened = [0]

    def take() -> Any:
        now = time.monotonic()
        while idle:
            session, last = idle.pop()
            if now - last < idle_max:
                return session
            session.client.close()
        opened[0] += 1
        return FastHttpSession(
            host,
            env.events.request,
            None,
            network_timeout=timeout,
            connection_timeout=timeout,
            max_retries=0,
            concurrency=1,
        )

    # One record per request: step, kind, scheduled, sent, done, status (0: no answer).
    rec: list[list[Any]] = []
    inflight = [0]
    errors_seen: dict[str, int] = {}

    def fire(i: int, kind: str, item: Any) -> None:
        session = take()
        r = rec[i]
        r[3] = time.monotonic()
        status = 0
        try:
            if kind == "route":
                body, outside = item
                accept = (200, 422) if outside else (200,)
                cm = session.post(
                    "/api/v1/route", data=body, headers=json_h, name="route", catch_response=True
                )
            elif kind == "batch":
                accept = ok_status[kind]
                cm = session.post(
                    "/api/v1/route/batch?category_field=category",
                    data=item,
                    headers=csv_h,
                    name="batch",
                    catch_response=True,
                )
            else:
                accept = ok_status[kind]
                cm = session.get(item, headers=auth, name=kind, catch_response=True)
            with cm as resp:
                status = int(resp.status_code or 0)
                if status in accept:
                    resp.success()
                else:
                    why = f"HTTP {status}" if status else f"no answer: {resp.error!r}"[:200]
                    resp.failure(why)
                    key = f"{kind} {why}" if status else f"{kind} {why[:120]}"
                    errors_seen[key] = errors_seen.get(key, 0) + 1
                    if status and len(errors_seen) < 20:
                        try:
                            sample = resp.text[:200]
                        except Exception:
                            sample = ""
                        errors_seen[f"{kind} HTTP {status} body: {sample}"] = 1
                ok = status in accept
        except Exception as exc:
            ok = False
            key = f"{kind} exception {exc!r}"[:200]
            errors_seen[key] = errors_seen.get(key, 0) + 1
        r[4] = time.monotonic()
        r[5] = status
        r[6] = ok
        inflight[0] -= 1
        if status:
            idle.append((session, time.monotonic()))
        else:
            session.client.close()

    meter = CpuMeter(
        cfg.get("server_pids") or [], cfg.get("db_name"), cfg.get("db_user"), cfg.get("db_port")
    )
    warm_s, base_measure_s = float(cfg["warmup_s"]), float(cfg["measure_s"])
    min_samples = int(cfg["min_samples"])
    limit_ms = float(cfg["p99_limit_ms"])
    max_inflight = int(cfg["max_inflight"])

    def step(n: int, rate: float, label: str) -> dict[str, Any]:
        first = len(rec)
        t0 = time.monotonic()
        # Enough answers for a p99 that is not just the maximum: at least min_samples.
        measure_s = max(base_measure_s, min_samples / rate)
        w_start, end = t0 + warm_s, t0 + warm_s + measure_s
        snaps: dict[str, Any] = {}

        def snap(name: str) -> None:
            snaps[name] = meter.snapshot()

        def reset_locust() -> None:
            env.stats.reset_all()

        gevent.spawn_later(warm_s, snap, "a")
        gevent.spawn_later(warm_s, reset_locust)
        gevent.spawn_later(warm_s + measure_s, snap, "b")
        not_sent = 0
        t = t0
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                break
            d = t - time.monotonic()
            if d > 0:
                gevent.sleep(d)
            if inflight[0] >= max_inflight:
                not_sent += 1  # the generator's own cap: fails the step, never silent
                continue
            kind = rng.choices(kinds, weights)[0]
            item = rng.choice(work[kind])
            rec.append([n, kind, t, None, None, None, False])
            inflight[0] += 1
            gevent.spawn(fire, len(rec) - 1, kind, item)
        gevent.sleep(max(0.0, end - time.monotonic()))
        while "b" not in snaps:
            gevent.sleep(0.01)
        locust_total = env.stats.total
        locust_view = {
            "requests": locust_total.num_requests,
            "failures": locust_total.num_failures,
            "p50_ms": locust_total.get_response_time_percentile(0.5),
            "p99_ms": locust_total.get_response_time_percentile(0.99),
        }
        # Drain: every request of this step answered or given up (the client's timeout).
        drain_t0 = time.monotonic()
        while any(r[4] is None for r in rec[first:]) and time.monotonic() - drain_t0 < timeout + 5:
            gevent.sleep(0.02)
        drain_s = time.monotonic() - drain_t0

        mine = [r for r in rec[first:] if r[2] >= w_start]
        answered = [r for r in mine if r[5]]
        lat = [r[4] - r[3] for r in answered]
        lag = [r[3] - r[2] for r in mine if r[3] is not None]
        done_in_window = sum(
            1 for r in rec if r[4] is not None and w_start <= r[4] < end and r[5]
        )  # throughput: answers completed inside the window, whichever step sent them
        errors = sum(1 for r in mine if not r[6])
        by_status: dict[str, int] = {}
        for r in mine:
            by_status[str(r[5])] = by_status.get(str(r[5]), 0) + 1
        per_kind = {}
        for k in kinds:
            ks = [r for r in answered if r[1] == k]
            per_kind[k] = {
                "n": sum(1 for r in mine if r[1] == k),
                "errors": sum(1 for r in mine if r[1] == k and not r[6]),
                **{f"{q}_ms": v for q, v in _percentiles([r[4] - r[3] for r in ks]).items()},
            }
        pct = _percentiles(lat)
        interactive = _percentiles([r[4] - r[3] for r in answered if r[1] != "batch"])
        lag_pct = _percentiles(lag)
        offered = len(mine) / measure_s
        achieved = done_in_window / measure_s
        lost = len(mine) - len(answered) + not_sent
        fivexx = sum(1 for r in mine if r[5] and r[5] >= 500)
        held = achieved >= 0.9 * offered
        ok = (
            bool(mine)
            and errors == 0
            and lost == 0
            and pct["p99"] is not None
            and pct["p99"] < limit_ms
            and held
        )
        # The same test on the interactive requests only (single routing, tiles, layers):
        # a batch of 100 points may take ~100 ms by itself at city scale.
        ok_interactive = (
            bool(mine)
            and errors == 0
            and lost == 0
            and interactive["p99"] is not None
            and interactive["p99"] < limit_ms
            and held
        )
        why = []
        if pct["p99"] is not None and pct["p99"] >= limit_ms:
            why.append(f"p99 {pct['p99']:.0f} ms >= {limit_ms:g}")
        if errors:
            why.append(f"{errors} errors")
        if lost:
            why.append(f"{lost} lost")
        if not held:
            why.append("rate not held")
        out = {
            "step": n,
            "label": label,
            "nominal_rps": round(rate, 2),
            "offered_rps": round(offered, 2),
            "achieved_rps": round(achieved, 2),
            "sent": len(mine),
            "answered": len(answered),
            "lost": lost,
            "not_sent": not_sent,
            "errors": errors,
            "http_5xx": fivexx,
            "statuses": by_status,
            **{f"{q}_ms": v for q, v in pct.items()},
            "interactive_p50_ms": interactive["p50"],
            "interactive_p99_ms": interactive["p99"],
            "measured_s": round(measure_s, 1),
            "lag_p50_ms": lag_pct["p50"],
            "lag_p99_ms": lag_pct["p99"],
            "per_kind": per_kind,
            "passed": ok,
            "passed_interactive": ok_interactive,
            "why": ", ".join(why) or "ok",
            "drain_s": round(drain_s, 2),
            "connections_opened": opened[0],
            "locust": locust_view,
            **(CpuMeter.delta(snaps["a"], snaps["b"]) if "a" in snaps else {}),
        }
        print(
            f"[{time.strftime('%H:%M:%S')}] step {n} ({label}) {rate:.1f}/s: offered "
            f"{offered:.1f}, achieved {achieved:.1f}, p50 {pct['p50']} p99 {pct['p99']} ms, "
            f"errors {errors}, lost {lost}, generator {out.get('generator_cores')} cores"
            f" -> {out['why']}",
            file=sys.stderr,
            flush=True,
        )
        return out

    steps: list[dict[str, Any]] = []
    rates = sorted(set(float(r) for r in cfg["rates"]))
    must = float(cfg["must_rate"]) if cfg.get("must_rate") else None
    retries = int(cfg.get("retry_disturbed", 0))
    disturbed = float(cfg.get("disturbed_cores", 0.5))

    def measured(rate: float, label: str) -> dict[str, Any]:
        """A step; a failing one during which other work took > ``disturbed`` cores is
        measured again (up to ``retries`` times), the earlier attempt kept but superseded."""
        for attempt in range(retries + 1):
            s = step(len(steps), rate, label)
            steps.append(s)
            failed = not s["passed_interactive"]  # failing even without the batches
            if not failed or (s.get("other_cores") or 0.0) <= disturbed or attempt == retries:
                return s
            s["superseded"] = True
            print(
                f"  (other work took {s.get('other_cores')} cores during the step: again)",
                file=sys.stderr,
                flush=True,
            )
        raise AssertionError

    for rate in rates:
        s = measured(rate, "20x" if must and math.isclose(rate, must) else "ladder")
        if not s["passed"] and not s["passed_interactive"]:
            break
    # Bisect (geometrically) between the last good and the first bad rate, for the knee
    # of all requests and for the knee without batches.
    for criterion in ("passed", "passed_interactive"):
        for _ in range(int(cfg["refine"])):
            valid = [x for x in steps if not x.get("superseded")]
            bad = [x["nominal_rps"] for x in valid if not x[criterion]]
            if not bad:
                break
            good = [x["nominal_rps"] for x in valid if x[criterion] and x["nominal_rps"] < min(bad)]
            if not good or min(bad) / max(good) < 1.08:
                break
            measured(math.sqrt(max(good) * min(bad)), "refine")
    if must and not any(
        math.isclose(s["nominal_rps"], round(must, 2)) and not s.get("superseded") for s in steps
    ):
        measured(must, "20x")
    for session, _ in idle:
        session.client.close()
    return {
        "steps": steps,
        "errors_seen": dict(sorted(errors_seen.items(), key=lambda kv: -kv[1])[:20]),
        "connections_opened": opened[0],
        "requests_total": len(rec),
        "unanswered_total": sum(1 for r in rec if not r[5]),
    }


def main(argv: list[str]) -> int:
    if "--config" not in argv:
        return 0  # a helper: nothing to do on its own
    with open(argv[argv.index("--config") + 1], encoding="utf-8") as f:
        cfg = json.load(f)
    out = argv[argv.index("--out") + 1]
    result = run(cfg)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
