"""Planning benchmark: an edit with incremental tallies, and the checks, as ratios.

    .venv/bin/python bench/planning.py [--scale 200000] [--reps 7] [--json]
    .venv/bin/python bench/planning.py --small          # a quick run (≈ 30 s)

On the synthetic city of ``bench/routing.py`` (``bench/_synthetic.py``), in a
throwaway database of its own, every community but the first is merged into
one city-wide community whose draft layout is a copy of their grids in force
(≈ 5,000 grids over ≈ 200,000 buildings at the default scale; a draft, so it
may be painted). One run measures, each figure the median of ``--reps``:

1. **An edit and its tallies.** ``painting.assign_buildings`` moves three
   buildings of a random grid into its neighbour across the road, then either
   ``tallies.tally_grids`` of the grids it touched, given the layout's
   unplaced buildings and households before the edit carried forward by
   ``tallies.unplaced_after`` (an editor holds them from the tallies it
   showed; the layout-wide count is not redone), or ``tallies.tally_layout``
   of every grid (the from-scratch baseline), whose unplaced figures must
   equal the carried ones. Each edit runs in a transaction that is rolled
   back, so every repetition starts from the same layout. Target ≥ 20×.
2. **The checks.** ``checks.check_layout`` of the whole layout against a naive
   overlap check: one SQL statement over every pair of grids (a nested loop,
   no bounding-box test, so no index can help), ``ST_Relate(a, b, '2********')``
   for each pair and the geodesic area of the intersection of those that
   overlap. Over all grids that is n²/2 pairs, so it is timed on the first
   ``--naive-grids`` grids (by code: neighbours, with the overlaps planted
   below) and extrapolated by the number of pairs; the output says so. A few
   grids are enlarged by 30 m beforehand, so both find real overlaps, and the
   overlapping pairs of the subset are compared. Target ≥ 10×. Both are timed
   again with JIT off (``SET LOCAL jit = off``): PostgreSQL JIT-compiles each
   costly plan, a fixed cost the extrapolation multiplies with the pairs.
3. **A demo-sized community.** The demo community (``gridgis demo``'s data) is
   loaded into the same database; an edit with its incremental tallies on a
   draft of it, in absolute time ("well under a second").

Progress goes to stderr; with ``--json`` the last line of stdout is one JSON
object. No assertion on timings (a shared machine). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

try:
    from bench import _synthetic as synth
    from bench import routing as routing_bench
except ImportError:  # run as a script: bench/ is sys.path[0]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _synthetic as synth  # type: ignore[no-redef]
    import routing as routing_bench  # type: ignore[no-redef]

from gridgis.access.permissions import cli_principal
from gridgis.db import make_engine
from gridgis.demo.loader import demo_community_code, load_demo
from gridgis.geo.areas import building_in_grid
from gridgis.geo.layouts import get_community
from gridgis.models import Building, Grid, Layout
from gridgis.planning.checks import SLIVER_M2, check_layout
from gridgis.planning.drafts import draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.tallies import tally_grids, tally_layout, unplaced_after

log = routing_bench.log
ACTOR = cli_principal("bench")
TARGETS = {"edit_incremental_vs_full": 20.0, "check_vs_naive": 10.0}
#: Grids enlarged by this much (degrees, ≈ 30 m) to plant overlaps across the roads.
GROW = 0.0003


# --- the city as one community with a draft ------------------------------------------------


@dataclass(frozen=True)
class City:
    community: int
    layout: int
    grids: int
    buildings: int
    incidents: int
    enlarged: list[str]


def merge_city(
    engine: Engine, loaded: synth.Loaded, tag: str, *, incidents: int, seed: int
) -> City:
    """Every community but the first merged into one, with a draft copy of their grids.

    The first community keeps its own buildings (nothing in it is measured);
    ``incidents`` incidents are spread over the merged buildings (one in ten
    at a point without a building), a year of them, a third still open.
    """
    merged = [int(i) for i in loaded.community[1:]] or [int(loaded.community[0])]
    grids = [int(i) for i in loaded.grid]
    with engine.begin() as conn:
        city = conn.scalar(
            sa.text(
                "INSERT INTO community (code, name, boundary, households_min, households_max) "
                "SELECT :code, '基准城', ST_Multi(ST_Union(boundary)), 300, 500 "
                "FROM community WHERE id = ANY(:ids) RETURNING id"
            ),
            {"code": f"{tag}-CITY", "ids": merged},
        )
        for table in ("building", "compound"):
            conn.execute(
                sa.text(f"UPDATE {table} SET community_id = :city WHERE community_id = ANY(:ids)"),
                {"city": city, "ids": merged},
            )
        layout = conn.scalar(
            sa.text(
                "INSERT INTO layout (community_id, name, status, note) "
                "VALUES (:city, 'bench draft', 'draft', 'the city in one draft') RETURNING id"
            ),
            {"city": city},
        )
        n_grids = conn.execute(
            sa.text(
                "INSERT INTO grid (layout_id, code, name, geom) "
                "SELECT :layout, g.code, g.name, g.geom FROM grid g "
                "JOIN layout l ON l.id = g.layout_id "
                "WHERE g.id = ANY(:grids) AND l.community_id = ANY(:ids)"
            ),
            {"layout": layout, "grids": grids, "ids": merged},
        ).rowcount
        conn.execute(
            sa.text(
                "INSERT INTO assignment (staff_id, role, grid_id, volunteer_team, on_duty) "
                "SELECT a.staff_id, a.role, n.id, a.volunteer_team, a.on_duty "
                "FROM assignment a JOIN grid o ON o.id = a.grid_id "
                "JOIN grid n ON n.layout_id = :layout AND n.code = o.code "
                "WHERE o.id = ANY(:grids) AND a.grid_id IS NOT NULL"
            ),
            {"layout": layout, "grids": grids},
        )
        conn.execute(sa.text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
        conn.execute(
            sa.text(
                """
                INSERT INTO incident (token, status, channel, description, reported_at,
                                      created_by, community_id, layout_id, building_id, geom,
                                      rule, routing)
                SELECT gen_random_uuid()::text,
                       CASE WHEN random() < 0.33 THEN 'dispatched' ELSE 'closed' END,
                       'walk_in', 'bench', now() - random() * interval '365 days', 'cli:bench',
                       :city, :layout,
                       CASE WHEN k % 10 = 0 THEN NULL ELSE b.id END,
                       ST_PointOnSurface(b.geom),
                       CASE WHEN k % 10 = 0 THEN 'grid' ELSE 'building' END, '{}'::jsonb
                FROM (
                    SELECT k, ids[1 + floor(random() * cardinality(ids))::int] AS building
                    FROM (SELECT array_agg(id) AS ids FROM building WHERE community_id = :city) a
                    CROSS JOIN generate_series(1, :count) k
                    OFFSET 0
                ) s
                JOIN building b ON b.id = s.building
                """
            ),
            {"city": city, "layout": layout, "count": incidents},
        )
        # Overlaps to find: every 40th grid of the first ones by code grows by ≈ 30 m.
        enlarged = list(
            conn.scalars(
                sa.text(
                    "UPDATE grid SET geom = ST_Multi(ST_Expand(geom, :grow)) WHERE id IN "
                    "(SELECT id FROM grid WHERE layout_id = :layout ORDER BY code LIMIT 400) "
                    "AND id % 40 = 0 RETURNING code"
                ),
                {"grow": GROW, "layout": layout},
            )
        )
        counts = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM building WHERE community_id = :c), "
                "(SELECT count(*) FROM incident WHERE community_id = :c)"
            ),
            {"c": city},
        ).one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("building", "compound", "grid", "assignment", "incident", "community"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    return City(city, layout, n_grids, int(counts[0]), int(counts[1]), sorted(enlarged))


# --- where the time goes ---------------------------------------------------------------------


class Statements:
    """Seconds per statement on an engine, labelled by what the statement reads."""

    #: (label, text the statement contains); the first match names it.
    LABELS = (
        ("unplaced (whole layout)", "building.id NOT IN"),
        ("unplaced (whole layout)", "count(*) - "),
        ("grids' figures", "WITH placed AS"),
        ("buildings placed once", "WITH pairs AS"),
        ("buildings' details", "CASE WHEN g.id IS NULL"),
        ("grids' parts and areas", "ST_NumGeometries"),
        ("incidents", "FROM incident"),
        ("gaps and outside", "covered AS (SELECT ST_Union(geom)"),
        ("overlaps", "ST_Relate(a.geom, b.geom"),
        ("buildings", "other_grid"),
        ("painting: move the land", "WITH sites AS"),
        ("painting: sites", "FROM building AS under"),
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds: dict[str, float] = {}
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, *args: object) -> None:  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, *args: object) -> None:  # type: ignore[no-untyped-def]
        label = next((name for name, text in self.LABELS if text in statement), "other")
        spent = time.perf_counter() - conn.info.pop("bench_t0")
        self.seconds[label] = self.seconds.get(label, 0.0) + spent

    def take(self) -> dict[str, float]:
        """The seconds so far, by label, and start again."""
        out = {k: round(v, 3) for k, v in sorted(self.seconds.items(), key=lambda kv: -kv[1])}
        self.seconds = {}
        return out


# --- 1. an edit and its tallies --------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    buildings: list[str]
    source: str
    target: str


def pick_edits(engine: Engine, layout_id: int, n: int, seed: int, *, per: int = 3) -> list[Edit]:
    """``n`` edits: ``per`` buildings of a random grid to a neighbour that touches or faces it."""
    rng = random.Random(seed)
    with Session(engine) as session:
        pairs = session.execute(
            sa.text(
                "SELECT a.code, b.code FROM grid a JOIN grid b ON b.layout_id = a.layout_id "
                "AND a.id <> b.id AND ST_DWithin(a.geom, b.geom, 0.0005) "
                "WHERE a.layout_id = :layout ORDER BY a.code, b.code"
            ),
            {"layout": layout_id},
        ).all()
        edits = []
        for source, target in rng.sample(pairs, min(n, len(pairs))):
            codes = list(
                session.scalars(
                    sa.select(Building.code)
                    .join(Grid, building_in_grid(Building, Grid))
                    .where(Grid.layout_id == layout_id, Grid.code == source)
                    .order_by(Building.code)
                )
            )
            edits.append(Edit(rng.sample(codes, min(per, len(codes) - 1)), source, target))
    return edits


def unplaced_now(engine: Engine, layout_id: int) -> tuple[int, int]:
    """The layout's unplaced buildings and households, from scratch: what an editor
    holds from the tallies it showed before the edit."""
    with Session(engine) as session:
        tallies = tally_layout(session, session.get_one(Layout, layout_id))
    return tallies.unplaced_buildings, tallies.unplaced_households


def time_edit(
    engine: Engine, layout_id: int, edit: Edit, incremental: bool, unplaced: tuple[int, int]
) -> tuple[float, float]:
    """Seconds of the edit and of its tallies; rolled back after.

    Incremental: ``tally_grids`` of the grids touched, given the unplaced figures
    before the edit carried forward by ``unplaced_after`` (the layout-wide count
    is not redone). Full: ``tally_layout``, whose unplaced figures are checked
    against the carried ones (a check of ``unplaced_after`` on the city).
    """
    with Session(engine) as session:
        layout = session.get_one(Layout, layout_id)
        t0 = time.perf_counter()
        painted = assign_buildings(session, layout, edit.buildings, edit.target, actor=ACTOR)
        t1 = time.perf_counter()
        carried = unplaced_after(unplaced, painted.moved)
        if incremental:
            tallies = tally_grids(session, layout, painted.touched, unplaced=carried)
            assert {g.code for g in tallies.grids} == set(painted.touched)
        else:
            tallies = tally_layout(session, layout)
        t2 = time.perf_counter()
        assert (tallies.unplaced_buildings, tallies.unplaced_households) == carried
        session.rollback()
    return t1 - t0, t2 - t1


def run_edits(
    engine: Engine, layout_id: int, reps: int, seed: int, statements: Statements
) -> dict[str, Any]:
    """Median edit + incremental and edit + full, alternating, after one warm-up of each;
    then one more of each with the time of each statement."""
    edits = pick_edits(engine, layout_id, reps + 1, seed)
    unplaced = unplaced_now(engine, layout_id)
    times: dict[str, list[tuple[float, float]]] = {"incremental": [], "full": []}
    for i, edit in enumerate(edits):
        order = (True, False) if i % 2 else (False, True)
        for incremental in order:
            t = time_edit(engine, layout_id, edit, incremental, unplaced)
            if i:  # the first edit warms the caches
                times["incremental" if incremental else "full"].append(t)
        log(f"edit {i}/{reps}: {edit.buildings} {edit.source} → {edit.target}")
    out: dict[str, Any] = {"reps": len(times["full"]), "buildings_per_edit": 3}
    for name, ts in times.items():
        out[name] = {
            "edit_s": round(statistics.median(e for e, _ in ts), 4),
            "tallies_s": round(statistics.median(t for _, t in ts), 4),
            "total_s": round(statistics.median(e + t for e, t in ts), 4),
        }
    for incremental in (True, False):
        statements.take()
        time_edit(engine, layout_id, edits[-1], incremental, unplaced)
        out["incremental" if incremental else "full"]["statements_s"] = statements.take()
    out["ratio"] = round(out["full"]["total_s"] / out["incremental"]["total_s"], 1)
    out["tallies_ratio"] = round(out["full"]["tallies_s"] / out["incremental"]["tallies_s"], 1)
    return out


# --- 2. the checks against a naive pairwise overlap -----------------------------------------

# Every pair, no bounding-box test (ST_Relate has no index support): the loop
# a first attempt writes. The subset is the first :n grids by code.
_NAIVE = """
WITH g AS (SELECT id, code, geom FROM grid WHERE layout_id = :layout ORDER BY code LIMIT :n)
SELECT a.code, b.code, ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS area
FROM g a JOIN g b ON a.code < b.code
WHERE ST_Relate(a.geom, b.geom, '2********')
"""


def median_time(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def run_checks(
    engine: Engine, city: City, reps: int, naive_grids: int, statements: Statements
) -> dict[str, Any]:
    with Session(engine) as session:
        layout = session.get_one(Layout, city.layout)
        statements.take()
        check_layout(session, layout)  # warm-up, with the time of each statement
        check_statements = statements.take()
        check_s, report = median_time(lambda: check_layout(session, layout), reps)
        n = min(naive_grids, city.grids)
        subset = set(
            session.scalars(
                sa.select(Grid.code)
                .where(Grid.layout_id == city.layout)
                .order_by(Grid.code)
                .limit(n)
            )
        )
        naive_s, rows = median_time(
            lambda: session.execute(sa.text(_NAIVE), {"layout": city.layout, "n": n}).all(),
            max(1, reps // 2),
        )
        # Both again with JIT off: PostgreSQL JIT-compiles each costly plan (a
        # fixed ≈ 0.1-0.5 s on this machine), and the naive subset's share of it
        # is extrapolated with its pairs.
        session.execute(sa.text("SET LOCAL jit = off"))
        check_nojit_s, _ = median_time(lambda: check_layout(session, layout), reps)
        naive_nojit_s, _ = median_time(
            lambda: session.execute(sa.text(_NAIVE), {"layout": city.layout, "n": n}).all(),
            max(1, reps // 2),
        )
    naive_pairs = {(a, b) for a, b, area in rows if area >= SLIVER_M2}
    check_pairs = {tuple(sorted(p.grids)) for p in report.problems if p.kind == "overlap"}
    pairs_sub, pairs_all = n * (n - 1) // 2, city.grids * (city.grids - 1) // 2
    naive_all_s = naive_s * pairs_all / pairs_sub
    return {
        "check_s": round(check_s, 3),
        "statements_s": check_statements,
        "problems": len(report.problems),
        "errors": len(report.errors),
        "overlaps": len(check_pairs),
        "naive_grids": n,
        "naive_pairs": pairs_sub,
        "naive_subset_s": round(naive_s, 3),
        "naive_us_per_pair": round(1e6 * naive_s / pairs_sub, 2),
        "all_pairs": pairs_all,
        "naive_all_s": round(naive_all_s, 1),
        "extrapolated": n < city.grids,
        "same_overlaps_in_subset": naive_pairs
        == {p for p in check_pairs if p[0] in subset and p[1] in subset},
        "subset_overlaps": len(naive_pairs),
        "ratio": round(naive_all_s / check_s, 1),
        "jit_off": {
            "check_s": round(check_nojit_s, 3),
            "naive_subset_s": round(naive_nojit_s, 3),
            "naive_all_s": round(naive_nojit_s * pairs_all / pairs_sub, 1),
            "ratio": round(naive_nojit_s * pairs_all / pairs_sub / check_nojit_s, 1),
        },
    }


# --- 3. a demo-sized community --------------------------------------------------------------


def run_demo(engine: Engine, reps: int, seed: int) -> dict[str, Any]:
    with Session(engine) as session, session.begin():
        load_demo(session, actor=ACTOR)
        community = get_community(session, demo_community_code())
        community_id = community.id
        layout_id = draft_layout(session, community, name="bench", actor=ACTOR).layout.id
    with Session(engine) as session:
        size = session.execute(
            sa.select(sa.func.count(), sa.func.sum(Building.households)).where(
                Building.community_id == community_id
            )
        ).one()
        n_grids = session.scalar(
            sa.select(sa.func.count()).select_from(Grid).where(Grid.layout_id == layout_id)
        )
    edits = pick_edits(engine, layout_id, reps + 1, seed, per=2)
    unplaced = unplaced_now(engine, layout_id)
    inc, full = [], []
    for i, edit in enumerate(edits):
        a = time_edit(engine, layout_id, edit, True, unplaced)
        b = time_edit(engine, layout_id, edit, False, unplaced)
        if i:
            inc.append(a)
            full.append(b)
    return {
        "grids": n_grids,
        "buildings": int(size[0]),
        "households": int(size[1] or 0),
        "reps": len(inc),
        "edit_s": round(statistics.median(e for e, _ in inc), 4),
        "tallies_s": round(statistics.median(t for _, t in inc), 4),
        "total_s": round(statistics.median(e + t for e, t in inc), 4),
        "total_max_s": round(max(e + t for e, t in inc), 4),
        "full_total_s": round(statistics.median(e + t for e, t in full), 4),
    }


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scale", type=int, default=200_000, help="buildings (default 200,000)")
    p.add_argument("--reps", type=int, default=7, help="edits timed per method (7)")
    p.add_argument("--check-reps", type=int, default=3, help="check_layout runs (3)")
    p.add_argument("--incidents", type=int, default=20_000, help="incidents in the city (20,000)")
    p.add_argument(
        "--naive-grids", type=int, default=600, help="grids in the naive overlap's subset (600)"
    )
    p.add_argument(
        "--small",
        action="store_true",
        help="a quick run: --scale 20000 --incidents 2000 --reps 5 (≈ 30 s)",
    )
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    p.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    args = p.parse_args(argv)
    if args.small:
        args.scale, args.incidents, args.reps = 20_000, 2_000, 5
    return args


def met(value: float, target: float) -> str:
    return "met" if value >= target else "NOT met"


def report(r: dict[str, Any]) -> None:
    c = r["city"]
    print(
        f"\nthe city as one community: {c['grids']:,} grids, {c['buildings']:,} buildings, "
        f"{c['incidents']:,} incidents, one draft layout; built in {r['build_seconds']} s"
    )
    e = r["edits"]
    print(
        f"\n1. one edit (assign_buildings, 3 buildings to a neighbouring grid) + tallies, "
        f"median of {e['reps']}:"
    )
    print(f"  {'':<40}{'edit s':>9}{'tallies s':>11}{'total s':>10}")
    for name, label in (
        ("incremental", "+ tally_grids(touched grids)"),
        ("full", "+ tally_layout (every grid, from scratch)"),
    ):
        x = e[name]
        print(f"  {label:<40}{x['edit_s']:>9.3f}{x['tallies_s']:>11.3f}{x['total_s']:>10.3f}")
    for name in ("incremental", "full"):
        print(f"  {name}, by statement (one more edit, s): {e[name]['statements_s']}")
    target = TARGETS["edit_incremental_vs_full"]
    print(
        f"  edit + full ÷ edit + incremental: {e['ratio']}×  target ≥ {target:g}: "
        f"{met(e['ratio'], target)}  (tallies alone: {e['tallies_ratio']}×)"
    )
    k = r["checks"]
    how = (
        f"timed on the first {k['naive_grids']:,} grids ({k['naive_pairs']:,} pairs, "
        f"{k['naive_subset_s']} s, {k['naive_us_per_pair']} µs a pair) and EXTRAPOLATED to all "
        f"{k['all_pairs']:,} pairs (n²/2)"
        if k["extrapolated"]
        else f"all {k['all_pairs']:,} pairs"
    )
    print(f"\n2. check_layout of the whole layout, median of {r['check_reps']}: {k['check_s']} s")
    print(
        f"  {k['problems']:,} problems ({k['errors']:,} errors), {k['overlaps']} overlapping pairs"
    )
    print(f"  by statement (the warm-up run, s): {k['statements_s']}")
    print(
        f"  naive overlap check (SQL nested loop over every pair, ST_Relate + intersection "
        f"area, no index): {k['naive_all_s']:,} s, {how}"
    )
    print(
        f"  naive ÷ check_layout: {k['ratio']}×  target ≥ {TARGETS['check_vs_naive']:g}: "
        f"{met(k['ratio'], TARGETS['check_vs_naive'])}; same overlapping pairs in the subset "
        f"({k['subset_overlaps']}): {k['same_overlaps_in_subset']}"
    )
    j = k["jit_off"]
    print(
        f"  both with jit off (SET LOCAL): check_layout {j['check_s']} s, naive "
        f"{j['naive_all_s']:,} s extrapolated ({j['naive_subset_s']} s on the subset): "
        f"{j['ratio']}×"
    )
    d = r["demo"]
    print(
        f"\n3. the demo community ({d['grids']} grids, {d['buildings']} buildings, "
        f"{d['households']:,} households), a draft, median of {d['reps']}:"
    )
    print(
        f"  edit + tally_grids: {d['total_s'] * 1000:.0f} ms (edit {d['edit_s'] * 1000:.0f} ms, "
        f"tallies {d['tallies_s'] * 1000:.0f} ms; slowest {d['total_max_s'] * 1000:.0f} ms); "
        f"edit + tally_layout {d['full_total_s'] * 1000:.0f} ms"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wall0 = time.perf_counter()
    tag = f"BENCH{uuid.uuid4().hex[:6].upper()}"
    result: dict[str, Any] = {"check_reps": args.check_reps}
    # Always a throwaway database, even with DATABASE_URL set: buildings change community here.
    with routing_bench.BenchDatabase(args.keep, always_own=True) as db:
        engine = make_engine(db.url.render_as_string(hide_password=False), pool_size=2)
        try:
            t0 = time.perf_counter()
            city_plan = synth.build_city(args.scale, seed=args.seed, tag=tag)
            with routing_bench.driver_connection(engine) as conn:
                loaded = synth.load_city(conn, city_plan, seed=args.seed)
            city = merge_city(engine, loaded, tag, incidents=args.incidents, seed=args.seed)
            result["build_seconds"] = round(time.perf_counter() - t0, 1)
            result["city"] = city.__dict__
            log(f"built the city in {result['build_seconds']} s: {city}")
            log(f"edits: {args.reps} + 1 warm-up, each with tally_grids and with tally_layout")
            statements = Statements(engine)
            result["edits"] = run_edits(engine, city.layout, args.reps, args.seed, statements)
            log(f"check_layout ×{args.check_reps + 1}, naive overlap on {args.naive_grids} grids")
            result["checks"] = run_checks(
                engine, city, args.check_reps, args.naive_grids, statements
            )
            log("the demo community")
            result["demo"] = run_demo(engine, args.reps, args.seed)
            report(result)
        finally:
            engine.dispose()
    result["wall_seconds"] = round(time.perf_counter() - wall0, 1)
    print(f"\nwall time {result['wall_seconds']} s")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
