"""Rebalancing (网格调整): a new draft whose grids fall in the household band.

From a layout (or from scratch, with a number of grids) a search proposes
which grid each building joins (:mod:`gridgis.planning.rebalance_search`,
GerryChain's ReCom: why that library is said there); painting
(:mod:`gridgis.planning.painting`, the one tiling rule) then builds the new
draft, so it tiles the community exactly. The layout rebalanced is only
read, and so is the layout in force: nothing is written but the new draft
and its audit entries. The draft's grids take the code and name of the grid
of the layout rebalanced whose households they keep most of; other grids get
the next free code.

The search runs on the buildings' adjacency graph
(:mod:`gridgis.planning.rebalance_graph`: Voronoi cells that touch). Locked
grids are kept as they are and the search runs on the other buildings
(:mod:`gridgis.planning.rebalance_locks`: also how ``grids`` counts them and
what happens when they cut the rest in groups); painting the draft is
:mod:`gridgis.planning.rebalance_paint`.

Rebalancing the layout in force, the draft is first its copy (codes, names,
teams), painted target grid by target grid with the buildings that move:
grids whose buildings stay keep the polygons a planner drew. Painting cuts
a building's cell from the tessellation of the grid it leaves, which changes
as buildings leave, so a grid can end in pieces; then that copy is rolled
back and the draft is painted from empty: every building first joins one
grid with the whole community's land, then each other grid takes its
buildings out of it. There the grid left is always tessellated as the whole
community is (those left behind keep their cells), the tessellation the
graph is read from: each grid ends as the union of its buildings' cells.
With locked grids, they are copied into the empty draft first (their stored
polygons), and the rest is painted into the land they leave: painting
encloses buildings in no grid by the land in no grid, so the grids painted
fill exactly the community less the locked grids, with no gap along them and
no overlap. Painting everything and writing the locked polygons back instead
would leave slivers and overlaps wherever a locked polygon, drawn by a
planner, is not the union of its buildings' cells.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.audit import Actor
from gridgis.errors import InvalidInput
from gridgis.models import Community, Grid, Layout
from gridgis.planning import rebalance_locks, rebalance_search
from gridgis.planning.checks import Report, check_layout
from gridgis.planning.rebalance_graph import (
    adjacency,
    placed_buildings,
    unlocked_adjacency,
    whole_graph,
)
from gridgis.planning.rebalance_paint import new_draft, paint_from_empty, paint_on_copy
from gridgis.planning.rebalance_search import Place, matching
from gridgis.planning.tallies import Tallies, band_of, tally_layout

#: Default bounds of the search.
DEFAULT_STEPS, DEFAULT_TIME_LIMIT = 500, 60.0


@dataclass(frozen=True)
class Rebalanced:
    """What :func:`rebalance_layout` made.

    Attributes:
        layout: The new draft.
        source: The name of the layout rebalanced.
        band: Households per grid (low, high) aimed at.
        before: Tallies of the layout rebalanced.
        after: Tallies of the draft.
        assignment: Building code -> grid code in the draft.
        moved_buildings: Buildings whose grid changed.
        moved_households: Their households.
        steps: Steps the chain ran.
        stopped: ``steps``, ``time limit`` or ``no move`` (no pair of neighbouring
            grids can be redrawn as two grids in the band).
        reasons: Why each grid outside the band stays there.
        notes: Compounds too big for one grid, and how the search started.
        from_copy: Painted on a copy of the layout in force (grids whose buildings
            stay keep their polygons and teams), not from empty.
        report: The draft's checks.
        locked: Codes of the locked grids kept as they are.
    """

    layout: Layout
    source: str
    band: tuple[int, int]
    before: Tallies
    after: Tallies
    assignment: dict[str, str]
    moved_buildings: int
    moved_households: int
    steps: int
    stopped: str
    reasons: list[str]
    notes: list[str]
    report: Report
    from_copy: bool
    locked: tuple[str, ...] = ()


def parse_band(text: str) -> tuple[int, int]:
    """``"300-500"`` -> ``(300, 500)``."""
    low, sep, high = text.partition("-")
    try:
        band = (int(low), int(high))
    except ValueError:
        band = (0, -1)
    if not sep or not 0 <= band[0] <= band[1]:
        raise InvalidInput(f"Give the band as LOW-HIGH households, e.g. 300-500 (not {text!r}).")
    return band


def rebalance_layout(
    session: Session,
    layout: Layout,
    *,
    band: tuple[int, int] | None = None,
    grids: int | None = None,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    time_limit: float = DEFAULT_TIME_LIMIT,
    name: str | None = None,
    actor: Actor,
) -> Rebalanced:
    """Propose a new draft from ``layout`` whose grids fall in ``band`` where buildings allow.

    The draft starts as a copy of the layout in force (:func:`draft_layout`:
    codes, names and teams kept), or empty when none is in force, and is
    painted to the assignment found. The locked grids of ``layout`` are kept
    with their buildings, polygon, code, name, team and lock; the search
    runs on the other buildings, each group the locked grids cut them in on
    its own (:mod:`gridgis.planning.rebalance_locks`). Audited once as
    ``rebalance`` (and each painting step as ``assign``); flushed, committed
    by the caller.

    Args:
        session: Where to read and write.
        layout: The layout to rebalance; only read.
        band: Households per grid (default: the community's band).
        grids: Start from scratch with this many grids instead of ``layout``'s: the
            draft's total, its locked grids included.
        seed: Seeds the search: the same seed gives the same assignment.
        steps: Most steps of the chain.
        time_limit: Most seconds of search.
        name: The draft's name (default ``<layout> rebalanced``, numbered when taken).
        actor: Who rebalances.

    Raises:
        InvalidInput: A bad band, grid count or name; buildings that are not connected
            (without locked grids); every building in a locked grid; a locked grid
            overlapping a grid whose buildings lie in it; a painted draft whose
            grids PostGIS cannot compare (another seed paints other grids).
        Conflict: ``name`` is taken.
    """
    community = session.get_one(Community, layout.community_id)
    band = band or band_of(community)[0]
    if grids is not None and grids < 1:
        raise InvalidInput("--grids must be at least 1.")
    places = placed_buildings(session, layout)
    if not places:
        raise InvalidInput(f"Community {community.code} has no buildings to rebalance.")
    locks = rebalance_locks.find_locks(session, layout, places)
    free = {i: p for i, p in places.items() if i not in locks.buildings}
    if not free:
        raise InvalidInput(
            f"Every building of layout {layout.name!r} is in a locked grid "
            f"({', '.join(locks.codes)}): nothing is left to rebalance. Unlock a grid first "
            f"(gridgis layout unlock {shlex.quote(layout.name)} --community {community.code} "
            "--grid CODE)."
        )
    if locks.codes:
        graph = unlocked_adjacency(session, community.id, layout.id, free)
    else:
        graph = adjacency(session, community.id, places)
    notes: list[str] = []
    found = rebalance_locks.search_free(
        graph,
        free,
        locks,
        grids,
        band,
        notes,
        seed=seed,
        steps=max(steps, 1),
        time_limit=time_limit,
    )
    codes = _codes(session, layout, free, found.assignment)
    # ``final``: the buildings painted; the locked grids' buildings stay where they are.
    final = {free[i].code: codes[part] for i, part in found.assignment.items()}
    kept = {places[i].code: str(places[i].grid) for i in locks.buildings}
    draft = paint_on_copy(
        session, community, layout, name, final, actor, locks=locks, scratch=grids is not None
    )
    from_copy = draft is not None
    if draft is None:
        draft = new_draft(session, community, layout, name)
        rebalance_locks.copy_locked(session, layout, draft, locks)
        paint_from_empty(session, draft, layout, final, actor)
    before, after = tally_layout(session, layout), tally_layout(session, draft)
    moved = [p for p in free.values() if p.grid != final[p.code]]
    whole = whole_graph(session, community.id, places) if len(found.groups) > 1 else None
    households = sum(p.households for p in moved)
    audit.record(
        session,
        actor,
        "rebalance",
        "layout",
        f"{community.code}/{draft.name}",
        after={
            "from": layout.name,
            "band": list(band),
            "grids": len(set(final.values())) + len(locks.codes),
            "locked": list(locks.codes),
            "seed": seed,
            "steps": found.search.steps,
            "moved_buildings": len(moved),
            "moved_households": households,
        },
    )
    return Rebalanced(
        layout=draft,
        source=layout.name,
        band=band,
        before=before,
        after=after,
        assignment=dict(sorted((final | kept).items())),
        moved_buildings=len(moved),
        moved_households=households,
        steps=found.search.steps,
        stopped=found.search.stopped,
        reasons=rebalance_locks.reasons(found, final, locks, band),
        notes=rebalance_locks.lock_notes(layout, locks, found, whole, places)
        + rebalance_search.too_big(free, band)
        + notes,
        report=_checked(session, draft, after, seed),
        from_copy=from_copy,
        locked=locks.codes,
    )


def _checked(session: Session, draft: Layout, after: Tallies, seed: int) -> Report:
    """The draft's checks, or InvalidInput when GEOS cannot compare two of its grids.

    Painting from empty cuts each grid from one tessellated anew at every step,
    so two grids can share an edge drawn twice a hair apart; GEOS 3.11's relate
    then throws (side location conflict) on valid polygons. Another seed paints
    other grids: say so, rather than end in a database error.
    """
    saved = session.begin_nested()
    try:
        report = check_layout(session, draft, tallies=after)
    except sa.exc.InternalError as exc:
        saved.rollback()
        if "TopologyException" not in str(exc):
            raise
        raise InvalidInput(
            f"The draft painted for seed {seed} has two grids whose shared edge PostGIS "
            "cannot compare, so it cannot be checked; nothing was kept. Try another --seed."
        ) from exc
    saved.commit()
    return report


def _codes(
    session: Session, layout: Layout, places: dict[int, Place], assignment: dict[int, int]
) -> dict[int, str]:
    """Part -> grid code: the code of the grid it keeps most of, else the next free code."""
    matched, _ = matching(assignment, places)
    taken = set(session.scalars(sa.select(Grid.code).where(Grid.layout_id == layout.id)))
    numeric = [int(c) for c in taken if c.isdigit() and len(c) == 15]
    codes, k = dict(matched), 1
    for part in sorted(set(assignment.values()) - set(matched)):
        if numeric and len(numeric) == len(taken):
            code = str(max(numeric) + k)  # the next sequence of the 15-digit pattern
        else:
            code = f"R{k:02d}"
            while code in taken:
                k += 1
                code = f"R{k:02d}"
        codes[part], k = code, k + 1
        taken.add(code)
    return codes
