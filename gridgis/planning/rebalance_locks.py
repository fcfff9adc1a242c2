"""Locked grids (锁定网格) in rebalancing: kept as they are, the search runs on the rest.

A planner locks a grid to rebalance its neighbours knowing it stays
(:mod:`gridgis.planning.edits` is the lock rule's home). Rebalancing keeps
each locked grid of the layout rebalanced with exactly its buildings, and
in the draft with its code, name, polygon (the stored bytes), team and
lock. The search runs on the other buildings only, on the land the locked
grids leave (:func:`gridgis.planning.rebalance_graph.unlocked_adjacency`).

``--grids N`` counts every grid of the draft, the locked ones included: the
number a planner sees in the draft. The search gets N less the locked grids.

The land left can fall apart: a locked grid across the community cuts the
buildings outside it in groups whose cells do not touch. No grid can cross
a locked one, so each group is searched on its own, with its own grids:
starting from the layout's grids each group keeps the grids it holds (a
grid on both sides of a locked one becomes two); with ``--grids`` the grids
are shared out by households. The notes say which locked grids separate
the groups, to unlock if grids should cross them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import networkx as nx  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput
from gridgis.models import Building, Grid, Layout
from gridgis.planning import rebalance_search
from gridgis.planning.drafts import copy_grid_teams
from gridgis.planning.edits import locked_codes
from gridgis.planning.rebalance_graph import groups
from gridgis.planning.rebalance_search import Place, Search


@dataclass(frozen=True)
class Locks:
    """The locked grids of the layout rebalanced.

    Attributes:
        codes: Their codes, sorted.
        names: Code -> name.
        buildings: Ids of the buildings in them, which stay there.
        households: Code -> households in it.
    """

    codes: tuple[str, ...]
    names: dict[str, str]
    buildings: frozenset[int]
    households: dict[str, int]


@dataclass(frozen=True)
class Found:
    """What the search found for the buildings outside the locked grids.

    Attributes:
        assignment: Building id -> part, numbered across the groups.
        search: The groups' searches summed up (steps, score; the stop of the
            group that stopped last for the clock, else by its steps).
        groups: Each group's buildings and its own search, for the reasons.
    """

    assignment: dict[int, int]
    search: Search
    groups: list[tuple[dict[int, Place], Search]]


def find_locks(session: Session, layout: Layout, places: dict[int, Place]) -> Locks:
    """The locked grids of ``layout`` and their buildings.

    Raises:
        InvalidInput: A building outside a locked grid has its point in one
            (grids overlapping there): the draft could not keep that grid as it is.
    """
    codes = locked_codes(session, layout)
    if not codes:
        return Locks((), {}, frozenset(), {})
    names = dict(
        session.execute(
            sa.select(Grid.code, Grid.name).where(Grid.layout_id == layout.id, Grid.code.in_(codes))
        ).all()
    )
    inside = frozenset(i for i, p in places.items() if p.grid in codes)
    households: dict[str, int] = {code: 0 for code in codes}
    for i in inside:
        households[str(places[i].grid)] += places[i].households
    # A draft painted from empty places these buildings in the locked grid (the only grid
    # there), and painting them out of it would cut its polygon.
    overlaps = session.execute(
        sa.select(Building.code, Grid.code)
        .join(Grid, sa.func.ST_Covers(Grid.geom, sa.func.ST_PointOnSurface(Building.geom)))
        .where(
            Grid.layout_id == layout.id,
            Grid.locked,
            Building.community_id == layout.community_id,
            Building.id.not_in(list(inside) or [0]),
        )
        .order_by(Building.code)
    ).all()
    if overlaps:
        shown = ", ".join(f"{b} (in locked grid {g})" for b, g in overlaps[:10])
        raise InvalidInput(
            f"Building(s) {shown} of layout {layout.name!r} lie where a locked grid overlaps "
            "another grid, which they belong to: the draft could not keep the locked grid as "
            "it is. Remove the overlap (see `gridgis layout check`) or unlock that grid."
        )
    return Locks(tuple(sorted(codes)), names, inside, households)


def search_free(
    graph: nx.Graph,
    free: dict[int, Place],
    locks: Locks,
    grids: int | None,
    band: tuple[int, int],
    notes: list[str],
    *,
    seed: int,
    steps: int,
    time_limit: float,
) -> Found:
    """Search each group of ``graph`` (the buildings outside the locked grids) on its own.

    ``grids`` is the draft's total, locked grids included (None: the layout's
    grids). ``notes`` gets how the groups were searched. One group: exactly
    the search of the whole graph.

    Raises:
        InvalidInput: ``grids`` leaves too few or too many grids for the groups.
    """
    parts = groups(graph)
    counts: list[int | None] = [None] * len(parts)
    if grids is not None:
        counts = list(_share(grids, locks, parts, free))
    assignment: dict[int, int] = {}
    found: list[tuple[dict[int, Place], Search]] = []
    total, offset = len(free), 0
    for nodes, count in zip(parts, counts, strict=True):
        sub = graph if len(parts) == 1 else graph.subgraph(nodes).copy()
        places = {i: free[i] for i in nodes}
        start, n = rebalance_search.first_state(sub, places, count, notes)
        if start is None and n == 1:
            start = dict.fromkeys(nodes, 0)  # one grid: nothing to divide
        search = rebalance_search.search(
            sub,
            places,
            start,
            band,
            n,
            seed=seed,
            steps=steps,
            time_limit=time_limit * len(nodes) / total,
        )
        assignment.update({i: offset + part for i, part in search.assignment.items()})
        offset += n
        found.append((places, search))
    return Found(assignment, _summed([s for _, s in found]), found)


def _share(grids: int, locks: Locks, parts: list[list[int]], free: dict[int, Place]) -> list[int]:
    """``grids`` less the locked ones, shared among ``parts``: each at least one, by households.

    Each next grid goes to the group with the most households per grid
    (D'Hondt), so the groups' averages stay as close as the counts allow.
    """
    left, k = grids - len(locks.codes), len(parts)
    locked = f"{len(locks.codes)} locked grid(s) ({', '.join(locks.codes)})"
    if left < k:
        split = f", which fall in {k} groups separated by locked grids" if k > 1 else ""
        raise InvalidInput(
            f"--grids {grids} counts the draft's grids, the {locked} included, which leaves "
            f"{max(left, 0)} for the buildings outside them{split}: give --grids of at least "
            f"{len(locks.codes) + k}, or unlock a grid."
        )
    if left > len(free):
        outside = f" outside the {locked}" if locks.codes else ""
        raise InvalidInput(
            f"--grids {grids} leaves {left} grids for {len(free)} building(s){outside}: "
            f"give --grids of at most {len(locks.codes) + len(free)}."
        )
    households = [sum(free[i].households for i in nodes) for nodes in parts]
    counts = [1] * k
    for _ in range(left - k):
        open_ = [j for j in range(k) if counts[j] < len(parts[j])]
        j = max(open_, key=lambda j: (households[j] / counts[j], -j))
        counts[j] += 1
    return counts


def _summed(searches: list[Search]) -> Search:
    stops = {s.stopped for s in searches}
    stopped = next(s for s in ("time limit", "steps", "no move") if s in stops)
    score = tuple(sum(s.score[k] for s in searches) for k in range(3))
    return Search({}, (score[0], score[1], score[2]), sum(s.steps for s in searches), stopped)


def reasons(found: Found, final: dict[str, str], locks: Locks, band: tuple[int, int]) -> list[str]:
    """Why each grid outside the band stays there: each group's, then the locked grids'."""
    said = []
    for places, search in found.groups:
        mine = {p.code for p in places.values()}
        part = {b: g for b, g in final.items() if b in mine}
        said += rebalance_search.why_outside(places, part, band, search)
    low, high = band
    for code in locks.codes:
        count = locks.households[code]
        if not low <= count <= high:
            said.append(
                f"grid {code} has {count} households: locked, kept as it is "
                "(unlock it to let rebalancing redraw it)"
            )
    return sorted(said)


def lock_notes(
    layout: Layout,
    locks: Locks,
    found: Found,
    whole: nx.Graph | None,
    places: dict[int, Place],
) -> list[str]:
    """Which grids were kept locked, and how groups the locked grids separate were searched.

    ``whole`` is every building's graph, read only when there are several groups.
    """
    if not locks.codes:
        return []
    kept = ", ".join(f"{c} ({locks.names[c]})" for c in locks.codes)
    notes = [
        f"kept locked: grid(s) {kept}, with their buildings, polygons, names, teams and "
        f"locks as in layout {layout.name!r}"
    ]
    if len(found.groups) < 2 or whole is None:
        return notes
    group_of = {i: k for k, (members, _) in enumerate(found.groups) for i in members}
    touching: dict[str, set[int]] = defaultdict(set)
    for i in locks.buildings:
        touching[str(places[i].grid)] |= {group_of[j] for j in whole[i] if j in group_of}
    between = sorted(code for code, seen in touching.items() if len(seen) > 1)
    by = ", ".join(between) if between else "the locked grids"
    shown = "; ".join(
        f"{len(members)} building(s) with {sum(p.households for p in members.values())} "
        f"households (e.g. {min(p.code for p in members.values())}) in "
        f"{len(set(search.assignment.values()))} grid(s)"
        for members, search in found.groups
    )
    notes.append(
        f"the buildings outside the locked grids fall in {len(found.groups)} groups whose "
        f"land does not touch, separated by {by}: each group was rebalanced on its own "
        f"({shown}); no grid crosses a locked one. Unlock {by} to let grids cross"
    )
    return notes


def copy_locked(session: Session, source: Layout, draft: Layout, locks: Locks) -> None:
    """Copy ``source``'s locked grids into ``draft``: code, name, polygon, lock and team.

    INSERT ... SELECT copies the stored polygon itself, byte for byte.
    """
    if not locks.codes:
        return
    session.execute(
        sa.insert(Grid).from_select(
            ["layout_id", "code", "name", "geom", "locked"],
            sa.select(sa.literal(draft.id), Grid.code, Grid.name, Grid.geom, Grid.locked).where(
                Grid.layout_id == source.id, Grid.code.in_(locks.codes)
            ),
        )
    )
    copy_grid_teams(session, source, draft, locks.codes)
    session.flush()


def keep_locked(session: Session, draft: Layout, locks: Locks) -> None:
    """Lock the grids of ``locks`` in ``draft``, a copy of the layout rebalanced.

    A draft copies no lock (:func:`gridgis.planning.drafts.draft_layout`); the
    lock is set before painting, so nothing later can mistake them for grids to paint.
    """
    if locks.codes:
        session.execute(
            sa.update(Grid)
            .where(Grid.layout_id == draft.id, Grid.code.in_(locks.codes))
            .values(locked=True)
            .execution_options(synchronize_session=False)
        )
