"""The search of rebalancing: GerryChain's ReCom over the buildings' adjacency graph.

Why GerryChain, and not spopt's MaxP/AZP regionalisation or a home-made
optimiser: it is maintained, it keeps every grid contiguous by construction
(each ReCom step merges two neighbouring grids and cuts a random spanning
tree of the pair in two), it takes the household band as its population
bound (both halves of a recombined pair land in the band), it keeps regions
whole through its region surcharge (compounds, 小区), and it draws every
random number from one ``random.Random`` we seed. MaxP has no upper bound on
a region's households and AZP needs the number of regions and a home-made
objective for the band; neither starts from today's grids.

A proposal is accepted when it is no worse, in this order, on: households
outside the band, compounds split into more grids than their size demands,
households moved from the grid they are in (after matching each new grid
with the grid of today it keeps most households of). The best state seen
is kept. The chain stops after ``steps`` steps or ``time_limit`` seconds,
whichever comes first: the same seed gives the same result when the steps,
not the clock, end it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import networkx as nx  # type: ignore[import-untyped]

from gridgis.errors import InvalidInput
from gridgis.planning.tallies import deviation

logger = logging.getLogger(__name__)

#: Spanning trees tried per district pair before ReCom picks another pair.
_ATTEMPTS = 50

Score = tuple[int, int, int]


@dataclass(frozen=True)
class Place:
    """A building as the search sees it: households, compound and grid of today."""

    id: int
    code: str
    households: int
    compound: str | None
    grid: str | None


def first_state(
    graph: nx.Graph, places: dict[int, Place], grids: int | None, notes: list[str]
) -> tuple[dict[int, int] | None, int]:
    """The chain's first state (node -> part) and the number of grids; None: from scratch.

    ``notes`` gets why the layout's grids could not be the first state, if so.
    """
    if grids is not None:
        return None, grids
    start = {i: p.grid for i, p in places.items() if p.grid is not None}
    # Buildings in no grid join a neighbour's grid, nearest first (breadth first).
    frontier = sorted(start)
    while frontier:
        reached = []
        for node in frontier:
            for other in sorted(graph.neighbors(node)):
                if other not in start:
                    start[other] = start[node]
                    reached.append(other)
        frontier = reached
    labels = {code: k for k, code in enumerate(sorted(set(start.values())))}
    if not labels:
        notes.append("the layout has no grid with buildings: started from scratch with 1 grid")
        return None, 1
    broken = [
        code
        for code in labels
        if not nx.is_connected(graph.subgraph([i for i, c in start.items() if c == code]))
    ]
    if broken:
        notes.append(
            f"started from scratch: grid(s) {', '.join(broken)} are in several pieces "
            "on the buildings' adjacency, which ReCom cannot start from"
        )
        return None, len(labels)
    return {i: labels[code] for i, code in start.items()}, len(labels)


@dataclass(frozen=True)
class Search:
    """The best assignment found (building id -> part), its score, the steps run, why it stopped."""

    assignment: dict[int, int]
    score: Score
    steps: int
    stopped: str


def search(
    graph: nx.Graph,
    places: dict[int, Place],
    start: dict[int, int] | None,
    band: tuple[int, int],
    n: int,
    *,
    seed: int,
    steps: int,
    time_limit: float,
) -> Search:
    """ReCom from ``start`` (or a seeded random plan); the best assignment seen."""
    # Imported here: GerryChain takes half a second to import; other commands need not wait.
    from gerrychain import MarkovChain, Partition
    from gerrychain.constraints import contiguous
    from gerrychain.graph import Graph
    from gerrychain.proposals import recom
    from gerrychain.proposals.tree_proposals import MetagraphError
    from gerrychain.tree import bipartition_tree

    # A seeded stream for reproducible plans, not secrets: B311 does not apply.
    rng = random.Random(seed)  # nosec B311
    low, high = band
    g = Graph.from_networkx(graph)
    if start is None:
        total = sum(p.households for p in places.values())
        start = _scratch(g, n, total, band, rng)
    limits = {
        c: math.ceil(sum(p.households for p in places.values() if p.compound == c) / max(high, 1))
        for c in {p.compound for p in places.values() if p.compound}
    }

    memo: dict[int, tuple[Partition, Score]] = {}

    def score(partition: Partition) -> Score:
        # Each state is scored as the proposal, then as the parent: remember the last few.
        if id(partition) not in memo:
            if len(memo) > 8:
                memo.clear()
            memo[id(partition)] = (partition, _score(_plain(partition), places, band, limits))
        return memo[id(partition)][1]

    def accept(proposed: Partition, rng: random.Random | None = None) -> bool:
        parent = proposed.parent
        return parent is None or score(proposed) <= score(parent)

    # Both halves of a recombined pair land in the band: target its middle, ± half its width.
    proposal = partial(
        recom,
        pop_col="households",
        pop_target=(low + high) / 2,
        epsilon=(high - low) / max(low + high, 1),
        region_surcharge={"compound": 1.0},
        bipartition_tree_fn=partial(
            bipartition_tree, max_attempts=_ATTEMPTS, allow_pair_reselection=True
        ),
    )
    initial = Partition(g, start)
    best, best_score = dict(start), score(initial)
    if n < 2:
        return Search(best, best_score, 0, "no move")
    chain = MarkovChain(proposal, [contiguous], accept, initial, steps, rng=rng)
    ran, stopped = 0, "steps"
    deadline = time.monotonic() + time_limit
    try:
        for state in chain:
            ran += 1
            current = score(state)
            if current < best_score:
                best, best_score = _plain(state), current
            if time.monotonic() > deadline:
                stopped = "time limit"
                break
    except MetagraphError:  # no pair of neighbouring grids splits into two in the band
        stopped = "no move"
    logger.info("rebalance: %d steps, stopped by %s, score %s", ran, stopped, best_score)
    return Search({int(k): int(v) for k, v in best.items()}, best_score, ran, stopped)


def _plain(partition: Any) -> dict[int, int]:
    """Building id -> part of a GerryChain partition (which numbers nodes its own way)."""
    back = partition.graph.original_nx_node_id_for_internal_node_id
    return {int(back(k)): int(v) for k, v in partition.assignment.to_dict().items()}


def _scratch(
    g: Any, n: int, total: int, band: tuple[int, int], rng: random.Random
) -> dict[int, int]:
    """A seeded random plan of ``n`` contiguous grids of about equal households."""
    from gerrychain.partition import recursive_tree_part
    from gerrychain.tree import bipartition_tree

    target = total / n
    low, high = band
    epsilon = min(target - low, high - target) / target if low <= target <= high else 0.1
    epsilon = max(epsilon, 0.02)
    # Bounded tries, no warning: a failure loosens epsilon below instead.
    split = partial(bipartition_tree, max_attempts=200, warn_attempts=10**9)
    for _ in range(6):
        try:
            plan = recursive_tree_part(
                g, range(n), target, "households", epsilon, bipartition_tree_fn=split, rng=rng
            )
            return dict(cast("dict[int, int]", plan))  # node ids and part numbers: ints
        except RuntimeError:
            epsilon *= 2  # buildings too lumpy for so tight a split: loosen it
    raise InvalidInput(f"Could not divide the buildings into {n} contiguous grids.")


def matching(assignment: dict[int, int], places: dict[int, Place]) -> tuple[dict[int, str], int]:
    """Each part's grid of origin (most households kept), and the households kept in all."""
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    parts = sorted(set(assignment.values()))
    origins = sorted({p.grid for p in places.values() if p.grid is not None})
    if not origins:
        return {}, 0
    kept = [[0] * len(origins) for _ in parts]
    row, col = {p: k for k, p in enumerate(parts)}, {c: k for k, c in enumerate(origins)}
    for node, part in assignment.items():
        grid = places[node].grid
        if grid is not None:
            kept[row[part]][col[grid]] += places[node].households
    rows, cols = linear_sum_assignment(kept, maximize=True)
    matched = {parts[r]: origins[c] for r, c in zip(rows, cols, strict=True)}
    return matched, sum(kept[r][c] for r, c in zip(rows, cols, strict=True))


def _score(
    assignment: dict[int, int],
    places: dict[int, Place],
    band: tuple[int, int],
    limits: dict[str, int],
) -> Score:
    """(households outside the band, extra compound pieces, households moved): lower is better."""
    households: dict[int, int] = defaultdict(int)
    pieces: dict[str, set[int]] = defaultdict(set)
    for node, part in assignment.items():
        households[part] += places[node].households
        compound = places[node].compound
        if compound:
            pieces[compound].add(part)
    outside = sum(abs(deviation(h, band)) for h in households.values())
    split = sum(max(0, len(parts) - limits[c]) for c, parts in pieces.items())
    total = sum(p.households for p in places.values())
    return outside, split, total - matching(assignment, places)[1]


def why_outside(
    places: dict[int, Place], final: dict[str, str], band: tuple[int, int], search: Search
) -> list[str]:
    """Why each grid outside the band stays there."""
    low, high = band
    by_code = {p.code: p for p in places.values()}
    households: dict[str, int] = defaultdict(int)
    for building, grid in final.items():
        households[grid] += by_code[building].households
    total, n = sum(households.values()), len(households)
    reasons = []
    for grid, count in sorted(households.items()):
        if low <= count <= high:
            continue
        big = max((by_code[b] for b, g in final.items() if g == grid), key=lambda p: p.households)
        if big.households > high:
            why = f"building {big.code} alone has {big.households} households, above {high}"
        elif not low * n <= total <= high * n:
            why = (
                f"{n} grids for {total} households average {total / n:.0f}, outside the band; "
                f"try --grids between {math.ceil(total / high)} and {total // max(low, 1)}"
            )
        else:
            why = (
                "no two neighbouring grids can be redrawn as two grids in the band"
                if search.stopped == "no move"
                else f"none was found in {search.steps} steps (stopped by the {search.stopped}); "
                "try more --steps or --time-limit, or another --seed"
            )
        reasons.append(f"grid {grid} has {count} households: {why}")
    return reasons


def too_big(places: dict[int, Place], band: tuple[int, int]) -> list[str]:
    """The compounds with more households than one grid may hold: they cannot stay whole."""
    high = band[1]
    notes = []
    compounds: dict[str, int] = defaultdict(int)
    for p in places.values():
        if p.compound:
            compounds[p.compound] += p.households
    for compound, count in sorted(compounds.items()):
        if count > high:
            notes.append(
                f"compound {compound} has {count} households, more than one grid's {high}: "
                f"it is split across at least {math.ceil(count / high)} grids"
            )
    return notes
