"""Grid codes across a redraw (编码继承): which draft grid carries which code on.

Staff, reports and residents know a grid by its code, so a redraw should not
renumber grids that are, for the people in them, the same grid. The rule: a
draft grid that keeps at least half of an in-force grid's households inherits
that grid's code (and, when its own code differs, its name and grid team).
Each in-force grid passes its code to one draft grid at most, and each draft
grid inherits from one at most: a draft grid's own code first, then the pairs
that share the most households. A code nobody inherits that way stays with the
draft grid that has it when that grid still holds some of its households (a
grid that shrank below half is the same grid, smaller). A draft grid that
inherits nothing keeps its code when no in-force grid has it and no other
draft grid takes it; else it gets the next free code — the next sequence of
the community's 15-digit pattern (never a code a published layout ever used,
since history keeps it), where the community uses the pattern. Which grid a
building belongs to is :mod:`gridgis.geo.areas`'s rule.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis.geo.areas import building_in_grid
from gridgis.models import Assignment, Building, Community, Grid, Layout
from gridgis.models.roles import GRID_ROLES
from gridgis.planning.checks import CODE_PATTERN, uses_pattern

#: Share of an in-force grid's households a draft grid must keep to inherit its code.
INHERIT_SHARE = 0.5


@dataclass(frozen=True)
class Recode:
    """One draft grid's code and name at publishing.

    Attributes:
        grid_id: The draft grid's id.
        before: Its code in the draft.
        after: The code it carries once published.
        name: The name it carries once published.
        inherits: The in-force grid whose code it inherits (None: a new grid).
        share: The share of that grid's households it keeps (0 for a new grid).
        takes_team: It gets the in-force grid's team: it inherits, and its code
            changes or it has no grid team of its own (an imported draft).
    """

    grid_id: int
    before: str
    after: str
    name: str
    inherits: str | None
    share: float
    takes_team: bool = False

    @property
    def changes(self) -> bool:
        """Whether the grid's code changes (its team then follows the code)."""
        return self.before != self.after


def plan_codes(session: Session, layout: Layout, in_force: Layout | None) -> list[Recode]:
    """Every grid of draft ``layout`` with the code and name it carries once published.

    Nothing is written; :func:`apply_codes` writes the answer.
    """
    drafts = {g.id: g for g in session.scalars(sa.select(Grid).where(Grid.layout_id == layout.id))}
    current: dict[int, Grid] = {}
    if in_force is not None:
        current = {
            g.id: g for g in session.scalars(sa.select(Grid).where(Grid.layout_id == in_force.id))
        }
    shared = _shared(session, layout, in_force) if in_force is not None else {}
    totals: dict[int, int] = defaultdict(int)
    for (old, _new), households in shared.items():
        totals[old] += households
    candidates = [
        (households, old, new)
        for (old, new), households in shared.items()
        if totals[old] > 0 and households >= INHERIT_SHARE * totals[old]
    ]
    # A grid without households (a park, a new estate) passes its code to the
    # draft grid that has the code: there is nothing else to match it by.
    by_code = {g.code: g.id for g in drafts.values()}
    candidates += [
        (0, old.id, by_code[old.code])
        for old in current.values()
        if totals[old.id] == 0 and old.code in by_code
    ]
    # A draft grid that may inherit its own code takes it first: moving one
    # building from G1 into G2 must not hand G1's code to G2 (it holds more of
    # G1's households than G1 keeps) and leave G2's code and team without a grid.
    candidates.sort(
        key=lambda c: (drafts[c[2]].code != current[c[1]].code, -c[0], current[c[1]].code, c[2])
    )
    heir: dict[int, int] = {}  # draft grid id -> in-force grid id
    passed: set[int] = set()
    for _households, old, new in candidates:
        if old not in passed and new not in heir:
            heir[new], passed = old, passed | {old}
    # A code nobody inherits stays with the draft grid that has it, if that grid
    # still holds some of its households and inherits nothing else: the grid
    # shrank, it did not disappear, and its team keeps it.
    for (old, new), households in sorted(shared.items()):
        if (
            households > 0
            and old not in passed
            and new not in heir
            and drafts[new].code == current[old].code
        ):
            heir[new], passed = old, passed | {old}
    taken = {current[old].code for old in heir.values()}
    reserved = {g.code for g in current.values()}
    free = _FreeCodes(session, layout, [g.code for g in current.values()], taken)
    staffed = set(
        session.scalars(
            sa.select(Assignment.grid_id).where(
                Assignment.grid_id.in_(list(drafts)), Assignment.role.in_(GRID_ROLES)
            )
        )
    )
    keeps = {g.id for g in drafts.values() if g.id not in heir and g.code not in reserved | taken}
    free.used |= {drafts[i].code for i in keeps}
    recodes = []
    for grid in sorted(drafts.values(), key=lambda g: g.code):
        if grid.id in heir:
            old_grid = current[heir[grid.id]]
            same = old_grid.code == grid.code
            total = totals[old_grid.id]
            share = shared.get((old_grid.id, grid.id), 0) / total if total else 1.0
            name = grid.name if same else old_grid.name
            takes = not same or grid.id not in staffed
            recodes.append(
                Recode(grid.id, grid.code, old_grid.code, name, old_grid.code, share, takes)
            )
        else:
            code = grid.code if grid.id in keeps else free.next(grid.code)
            recodes.append(Recode(grid.id, grid.code, code, grid.name, None, 0.0))
    return recodes


def apply_codes(session: Session, recodes: list[Recode], in_force: Layout | None) -> None:
    """Give each draft grid the code and name of its :class:`Recode`; teams follow codes.

    A grid whose code changes loses the grid team it was copied with (that
    team belongs to the code); a grid that takes a team (``takes_team``) gets
    the in-force grid's. Flushed; the caller audits and commits.
    """
    ids = [r.grid_id for r in recodes if r.changes]
    session.execute(
        sa.delete(Assignment).where(Assignment.grid_id.in_(ids), Assignment.role.in_(GRID_ROLES))
    )
    # Codes are unique per layout and may swap: free them all first.
    session.execute(
        sa.update(Grid)
        .where(Grid.id.in_(ids))
        .values(code=sa.func.concat("~", sa.cast(Grid.id, sa.String))),
        execution_options={"synchronize_session": False},
    )
    for r in recodes:
        session.execute(
            sa.update(Grid).where(Grid.id == r.grid_id).values(code=r.after, name=r.name),
            execution_options={"synchronize_session": False},
        )
    if in_force is not None:
        for r in recodes:
            if not r.takes_team:
                continue
            old = sa.select(Grid.id).where(Grid.layout_id == in_force.id, Grid.code == r.inherits)
            session.execute(
                sa.insert(Assignment).from_select(
                    ["staff_id", "role", "grid_id", "volunteer_team", "on_duty"],
                    sa.select(
                        Assignment.staff_id,
                        Assignment.role,
                        sa.literal(r.grid_id),
                        Assignment.volunteer_team,
                        Assignment.on_duty,
                    ).where(
                        Assignment.grid_id == old.scalar_subquery(),
                        Assignment.role.in_(GRID_ROLES),
                    ),
                )
            )
    session.flush()
    session.expire_all()  # grids and teams changed in SQL, under the ORM


def _shared(session: Session, layout: Layout, in_force: Layout) -> dict[tuple[int, int], int]:
    """(in-force grid id, draft grid id) -> households of the buildings they share."""
    old, new = aliased(Grid, name="old_grid"), aliased(Grid, name="new_grid")
    rows = session.execute(
        sa.select(old.id, new.id, sa.func.sum(sa.func.coalesce(Building.households, 0)))
        .select_from(Building)
        .join(old, sa.and_(old.layout_id == in_force.id, building_in_grid(Building, old)))
        .join(new, sa.and_(new.layout_id == layout.id, building_in_grid(Building, new)))
        .where(Building.community_id == layout.community_id)
        .group_by(old.id, new.id)
    )
    return {(o, n): int(h) for o, n, h in rows}


class _FreeCodes:
    """Next free codes: the community's 15-digit sequence, else ``CODE-2``, ``CODE-3``..."""

    def __init__(self, session: Session, layout: Layout, usual: list[str], taken: set[str]):
        community = session.get_one(Community, layout.community_id)
        self.prefix: str | None = None
        if uses_pattern(usual):
            prefixes = sorted({c[:12] for c in usual if CODE_PATTERN.fullmatch(c)})
            self.prefix = (
                community.code if re.fullmatch(r"[0-9]{12}", community.code) else prefixes[0]
            )
        # Codes any published layout of the community used stay retired: reports
        # and incident snapshots name them.
        self.used = taken | set(
            session.scalars(
                sa.select(Grid.code)
                .join(Layout, Layout.id == Grid.layout_id)
                .where(Layout.community_id == layout.community_id, Layout.status == "published")
            )
        )

    def next(self, code: str) -> str:
        if self.prefix is not None:
            sequences = [
                int(c[12:])
                for c in self.used
                if CODE_PATTERN.fullmatch(c) and c[:12] == self.prefix
            ]
            found = f"{self.prefix}{max(sequences, default=0) + 1:03d}"
            if len(found) == 15:  # past sequence 999 the pattern has no room left
                self.used.add(found)
                return found
        n = 2
        while f"{code}-{n}" in self.used:
            n += 1
        self.used.add(f"{code}-{n}")
        return f"{code}-{n}"
