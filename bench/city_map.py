"""The city map in Chromium: frame times while panning and zooming, tile latencies, screenshots.

    .venv/bin/python bench/city_map.py --url http://127.0.0.1:5077 --user NAME --password PW
    .venv/bin/python bench/city_map.py --database-url URL     # serves it here, makes an account

Opens ``/city`` (every community by vector tiles, Leaflet.VectorGrid on
canvas) in headless Chromium (/usr/bin/chromium, 1400×900), waits for its
tiles, then at each zoom of :data:`STEPS` zooms in (animated), waits for the
tiles, takes a screenshot and drags the map four times, recording every
frame's time (requestAnimationFrame deltas) from the zoom's start to the last
drag's end. Tile latencies come from the Resource Timing entries of
``/tiles/...``: the whole fetch (queued behind Chromium's six connections a
host included) and the server's part (request sent to first byte). Prints
frame-time p50/p95/max per step and overall, tile latency p50/p99 per layer
and zoom, whether any request left the host or any script failed; ``--json``
adds one JSON line at the end. No assertion on speed: figures to read.

``tests/web/test_city_browser.py`` runs :func:`measure` on a small city.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1400, "height": 900}
#: (zoom, layers switched on first): communities at the fitted zoom, grids from 12,
#: compounds from 13, buildings from 14, units (hidden at first) from 15.
STEPS: tuple[tuple[float, tuple[str, ...]], ...] = (
    (12, ()),
    (13, ()),
    (14, ("units",)),
    (15, ()),
    (16, ()),
)
#: Drags per zoom: right, down, left, up (pixels), each over ~20 mouse moves.
DRAGS = ((-300, 0), (0, -200), (300, 0), (0, 200))

#: Before any page script: record every frame, keep every resource entry.
RECORDER = """
performance.setResourceTimingBufferSize(100000);
window.__frames = []; window.__recording = false;
(function tick(last) {
  requestAnimationFrame(function (t) {
    if (window.__recording && last !== null) { window.__frames.push(t - last); }
    tick(t);
  });
})(null);
"""
#: True once every tile layer on the map has its visible tiles in.
TILES_IN = """() => {
  const v = window.ggVector, m = window.gridgis && window.gridgis.map;
  if (!v || !v.ready || !m || m._animatingZoom) return false;
  // A layer on the map (they leave it outside their zooms) has tiles, none loading.
  return v.layers.every(l => !m.hasLayer(l)
    || (Object.keys(l._tiles).length > 0 && l._noTilesToLoad()));
}"""
TILE_URL = re.compile(r"/tiles/(\w+)/(\d+)/\d+/\d+\.mvt")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _log_in(page: Any, base: str, user: str, password: str) -> None:
    page.goto(base + "/login", wait_until="networkidle")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def _wait_tiles(page: Any, timeout_ms: float = 60_000) -> None:
    page.wait_for_function(TILES_IN, timeout=timeout_ms, polling=100)


def _drag(page: Any, dx: float, dy: float) -> None:
    box = page.locator(".folium-map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=20)
    page.mouse.up()
    page.wait_for_timeout(150)


def measure(
    page: Any,
    base: str,
    *,
    user: str,
    password: str,
    shots: Path,
    prefix: str = "city",
    steps: tuple[tuple[float, tuple[str, ...]], ...] = STEPS,
    path: str = "/city",
) -> dict[str, Any]:
    """Run the pan-and-zoom tour on ``base + path`` in ``page``; the figures and what went wrong.

    Returns:
        ``frames`` (per step: count, p50, p95, max in ms), ``tiles`` (per
        ``layer zN``: count, fetch and server p50/p99 in ms, statuses), ``shots``
        (screenshot paths), ``features`` (features drawn per layer at each
        step), ``errors`` (script errors), ``hosts`` (every host asked).
    """
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: hosts.add(urlsplit(r.url).hostname or r.url[:5]))
    statuses: dict[str, list[int]] = {}

    def on_response(r: Any) -> None:
        found = TILE_URL.search(r.url)
        if found:
            statuses.setdefault(f"{found[1]} z{found[2]}", []).append(r.status)

    page.on("response", on_response)
    page.add_init_script(RECORDER)
    _log_in(page, base, user, password)
    page.goto(base + path, wait_until="load")
    page.wait_for_function("() => window.ggVector && window.gridgis && window.gridgis.map")
    _wait_tiles(page)
    shots.mkdir(parents=True, exist_ok=True)
    taken = []
    frames: dict[str, list[float]] = {}
    drawn: dict[str, dict[str, int]] = {}

    def step(name: str, action: str, arg: Any = None) -> None:
        page.evaluate("() => { window.__frames = []; window.__recording = true; }")
        if action:
            page.evaluate(action, arg)
            page.wait_for_timeout(300)
            _wait_tiles(page)
        shot = shots / f"{prefix}_{name}.png"
        page.screenshot(path=str(shot))
        taken.append(str(shot))
        for dx, dy in DRAGS:
            _drag(page, dx, dy)
        _wait_tiles(page)
        page.evaluate("() => { window.__recording = false; }")
        frames[name] = list(page.evaluate("() => window.__frames"))
        drawn[name] = page.evaluate(
            """() => Object.fromEntries(window.ggVector.layers.map(l => [l.ggLayer,
                 Object.values(l._vectorTiles || {}).filter(t => t._map)
                   .reduce((n, t) => n + Object.keys(t._layers).length, 0)]))"""
        )

    zoom = page.evaluate("() => window.gridgis.map.getZoom()")
    step(f"z{zoom:g}", "")
    for z, layers in steps:
        step(
            f"z{z:g}",
            """([z, layers]) => { const g = window.gridgis;
                layers.forEach(k => g.map.addLayer(g.layers[k]));
                g.map.setZoom(z, {animate: true}); }""",
            [z, list(layers)],
        )
    step("out", "() => { window.gridgis.map.setZoom(window.gridgis.map.getZoom() - 3); }")
    entries = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter(e => e.name.includes('/tiles/'))
             .map(e => [e.name, e.responseEnd - e.startTime,
                        e.responseStart - e.requestStart, e.transferSize])"""
    )
    return {
        "frames": {k: _frame_stats(v) for k, v in frames.items()}
        | {"all": _frame_stats([f for v in frames.values() for f in v])},
        "tiles": _tile_stats(entries, statuses),
        "shots": taken,
        "features": drawn,
        "errors": errors,
        "hosts": sorted(hosts),
    }


def _frame_stats(deltas: list[float]) -> dict[str, float]:
    return {
        "frames": len(deltas),
        "p50_ms": round(percentile(deltas, 50), 1),
        "p95_ms": round(percentile(deltas, 95), 1),
        "max_ms": round(max(deltas, default=0.0), 1),
    }


def _tile_stats(entries: list[list[Any]], statuses: dict[str, list[int]]) -> dict[str, Any]:
    by: dict[str, list[tuple[float, float, float]]] = {}
    for url, fetch, server, size in entries:
        found = TILE_URL.search(url)
        if found:
            by.setdefault(f"{found[1]} z{found[2]}", []).append((fetch, server, size))
    out = {}
    for key in sorted(by, key=lambda k: (int(k.split(" z")[1]), k)):
        rows = by[key]
        fetch = [r[0] for r in rows]
        server = [r[1] for r in rows]
        out[key] = {
            "tiles": len(rows),
            "fetch_p50_ms": round(percentile(fetch, 50), 1),
            "fetch_p99_ms": round(percentile(fetch, 99), 1),
            "server_p50_ms": round(percentile(server, 50), 1),
            "server_p99_ms": round(percentile(server, 99), 1),
            "kB_p50": round(statistics.median(r[2] for r in rows) / 1024, 1),
            "statuses": dict(
                sorted({s: statuses.get(key, []).count(s) for s in statuses.get(key, [])}.items())
            ),
        }
    return out


def report(result: dict[str, Any]) -> str:
    """The figures as a table a person reads."""
    lines = [
        "frame times while zooming in and dragging (ms):",
        "  step    frames   p50   p95    max",
    ]
    for name, f in result["frames"].items():
        lines.append(f"  {name:<7}{f['frames']:>7}{f['p50_ms']:>6}{f['p95_ms']:>6}{f['max_ms']:>7}")
    lines.append("tile latency (ms; fetch = queued + server + transfer, server = to first byte):")
    lines.append("  layer zoom        tiles  fetch p50  p99   server p50  p99   kB p50  statuses")
    for key, t in result["tiles"].items():
        lines.append(
            f"  {key:<18}{t['tiles']:>6}{t['fetch_p50_ms']:>10}{t['fetch_p99_ms']:>7}"
            f"{t['server_p50_ms']:>12}{t['server_p99_ms']:>7}{t['kB_p50']:>9}  {t['statuses']}"
        )
    lines.append(f"features drawn per step: {result['features']}")
    lines.append(f"hosts asked: {result['hosts']}; script errors: {result['errors'] or 'none'}")
    lines.append("screenshots: " + " ".join(result["shots"]))
    return "\n".join(lines)


@contextlib.contextmanager
def _served(database_url: str) -> Iterator[tuple[str, str, str]]:
    """The app on ``database_url`` in this process, with an account of the bench's own."""
    import secrets

    from werkzeug.serving import make_server

    from gridgis.access.accounts import create_user
    from gridgis.access.permissions import cli_principal
    from gridgis.db import make_engine
    from web import create_app

    user, password = f"citymap_{secrets.token_hex(4)}", secrets.token_urlsafe(16) + "aA1"
    engine = make_engine(database_url)
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        create_user(session, user, password, "dispatcher", actor=cli_principal("bench"))
    engine.dispose()
    app = create_app({"DATABASE_URL": database_url, "RATELIMIT_ENABLED": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", user, password
    finally:
        server.shutdown()
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running gridgis (else --database-url: served here)")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--database-url", help="the app's database, to serve it in this process")
    p.add_argument("--shots", type=Path, default=Path("/tmp/gridgis_city_map"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        if args.url:
            if not (args.user and args.password):
                p.error("--url needs --user and --password (an account of that server)")
            base, user, password = args.url.rstrip("/"), args.user, args.password
        elif args.database_url:
            base, user, password = stack.enter_context(_served(args.database_url))
        else:
            p.error("say --url (a running server) or --database-url (served here)")
        play = stack.enter_context(sync_playwright())
        browser = play.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport=VIEWPORT, locale="zh-CN").new_page()
        result = measure(page, base, user=user, password=password, shots=args.shots)
        browser.close()
    print(report(result), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
