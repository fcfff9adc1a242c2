"""Undo and redo of a draft's edits, and grid locks (锁定网格).

A paint is kept as a ``layout_edit`` row with the grids it changed as they
were before and after: id, code, name, lock and polygon exactly as stored
(EWKB, hex), and the grid teams of every grid it could remove. Undo writes
``before`` back and redo ``after``: the very polygons, byte for byte.
Painting the buildings back would not give them: a cell is cut by the grid
the building is in now, so the land that comes back is not the land that left.

The history is a stack per draft: undo takes the newest edit not undone,
redo the oldest undone one, and a new edit drops the undone ones (the redo
branch). ``seq`` only grows, so an edit keeps its number. Undo and redo
refuse when the grids they would write are not as the edit left them
(something painted the draft outside this history) rather than overwrite a
planner's later work.

A locked grid is kept out of painting, as the target or as a grid a
building would leave, and out of undo and redo: a planner locks a grid to
work on its neighbours knowing it stays as it is. Locks are not edits: they
are not undone. This module is the lock rule's one home.

Every change takes the layout's row lock first (``SELECT ... FOR UPDATE``), so
two planners on one draft take turns and ``seq`` and the grids stay in step.
Only drafts are edited. Each paint, undo, redo, lock and unlock is audited on
the layout.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, Session

from gridgis import audit, clock
from gridgis.audit import Actor
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.geo.areas import building_grid
from gridgis.models import Building, Community, Grid, Layout, LayoutEdit
from gridgis.planning.grid_states import snapshot, write
from gridgis.planning.painting import Painted, assign_buildings

#: Most edits one :func:`history` call returns.
MAX_HISTORY = 1000


@dataclass(frozen=True)
class Edit:
    """One edit of a draft, or what an undo or redo of it did.

    Attributes:
        seq: Its number in the layout's history (1, 2, ...); 0 for a paint
            that changed nothing, which is not kept.
        action: What the edit was: ``assign``.
        actor: Who made the edit, as the audit log names them.
        at: When the edit was made.
        summary: What the audit log recorded of it: grid, new_grid, buildings,
            from, households, removed_grids.
        undone: Whether it is undone (now).
        touched: Codes of the grids present after the operation whose polygon
            or existence it changed.
        removed: Codes of the grids the operation left out of the draft.
    """

    seq: int
    action: str
    actor: str
    at: dt.datetime
    summary: dict[str, Any]
    undone: bool
    touched: list[str]
    removed: list[str]


@dataclass(frozen=True)
class History:
    """A draft's edits, newest first (undone ones included, flagged), and what can be done."""

    edits: list[Edit]
    can_undo: bool
    can_redo: bool


def paint(
    session: Session,
    layout: Layout,
    buildings: list[str],
    grid_code: str,
    *,
    new_name: str | None = None,
    actor: Actor,
) -> tuple[Painted, Edit]:
    """:func:`gridgis.planning.painting.assign_buildings`, refused on locked grids, undoable.

    A paint that moves nothing is not kept (its edit has ``seq`` 0) and
    leaves the redo branch alone. Flushed; committed by the caller.

    Raises:
        Conflict: The target grid or a grid a building would leave is locked
            (nothing changes), or what ``assign_buildings`` refuses.
        NotFound, InvalidInput: What ``assign_buildings`` refuses.
    """
    community = _lock_layout(session, layout)
    grids: dict[str, bool] = {}
    if layout.status == "draft":  # else painting refuses, with its own words
        # A new grid's code names no grid yet (if it does, painting says so, not the lock).
        target = grid_code.strip() if new_name is None else None
        grids = _painted_grids(session, layout, buildings, target)
        _refuse_locked(layout, community, sorted(c for c, locked in grids.items() if locked))
    before = snapshot(session, layout, set(grids))
    painted = assign_buildings(
        session, layout, buildings, grid_code, new_name=new_name, actor=actor
    )
    summary = {
        "grid": painted.grid,
        "new_grid": painted.created,
        "buildings": [m.building for m in painted.moved],
        "from": {m.building: m.before for m in painted.moved},
        "households": painted.households,
        "removed_grids": painted.removed,
    }
    if not painted.moved and not painted.created:
        return painted, Edit(0, "assign", actor.audit_name, clock.now(), summary, False, [], [])
    changed = set(painted.touched) | set(painted.removed)
    before = {code: grid for code, grid in before.items() if code in changed}
    after = snapshot(session, layout, set(painted.touched))
    top = session.scalar(
        sa.select(sa.func.max(LayoutEdit.seq)).where(LayoutEdit.layout_id == layout.id)
    )
    session.execute(
        sa.delete(LayoutEdit).where(LayoutEdit.layout_id == layout.id, LayoutEdit.undone)
    )
    row = LayoutEdit(
        layout_id=layout.id,
        seq=(top or 0) + 1,
        action="assign",
        actor=actor.audit_name,
        at=clock.now(),
        summary=summary,
        before={"grids": before},
        after={"grids": after},
        undone=False,
    )
    session.add(row)
    session.flush()
    return painted, _edit(row, painted.touched, painted.removed)


def undo(session: Session, layout: Layout, *, actor: Actor) -> Edit:
    """Put back the grids of the newest edit not undone as they were before it.

    Raises:
        Conflict: ``layout`` is published; there is nothing to undo; a grid
            to write is locked, or is not as the edit left it.
    """
    return _step(session, layout, actor, undoing=True)


def redo(session: Session, layout: Layout, *, actor: Actor) -> Edit:
    """Apply again the oldest undone edit: its grids as they were after it.

    Raises:
        Conflict: ``layout`` is published; there is nothing to redo; a grid
            to write is locked, or is not as the undo left it.
    """
    return _step(session, layout, actor, undoing=False)


def _step(session: Session, layout: Layout, actor: Actor, *, undoing: bool) -> Edit:
    community = _lock_layout(session, layout)
    where = _where(layout, community)
    _draft_only(layout, community, "undone or redone")
    # Undone edits all come after the others (a new edit drops them): undo takes the
    # newest not undone, redo the oldest undone.
    row = session.scalars(
        sa.select(LayoutEdit)
        .where(LayoutEdit.layout_id == layout.id, LayoutEdit.undone.isnot(undoing))
        .order_by(LayoutEdit.seq.desc() if undoing else LayoutEdit.seq)
        .limit(1)
    ).first()
    if row is None and undoing:
        raise Conflict(f"Nothing to undo: the {where} has no edit left to undo.")
    if row is None:
        raise Conflict(
            f"Nothing to redo: the {where} has no undone edit to redo "
            "(a new edit drops the undone ones)."
        )
    touched, removed = _restore(session, layout, community, row, undoing=undoing)
    row.undone = undoing
    audit.record(
        session,
        actor,
        "undo" if undoing else "redo",
        "layout",
        f"{community.code}/{layout.name}",
        after={"seq": row.seq, "edit": row.action, **row.summary},
    )
    return _edit(row, touched, removed)


def history(session: Session, layout: Layout, *, limit: int = 50) -> History:
    """The newest ``limit`` edits of ``layout``, newest first, and whether undo and redo can go.

    Raises:
        InvalidInput: ``limit`` is not between 1 and 1,000.
    """
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidInput(f"The limit must be between 1 and {MAX_HISTORY} (got {limit}).")

    def codes(state: QueryableAttribute[dict[str, Any]]) -> sa.ColumnElement[list[str]]:
        # The grid codes only: the polygons stay in the database.
        keys = (
            sa.select(sa.func.jsonb_object_keys(state["grids"]))
            .correlate(LayoutEdit)
            .scalar_subquery()
        )
        return sa.func.array(keys)

    rows = session.execute(
        sa.select(
            LayoutEdit.seq,
            LayoutEdit.action,
            LayoutEdit.actor,
            LayoutEdit.at,
            LayoutEdit.summary,
            LayoutEdit.undone,
            codes(LayoutEdit.before),
            codes(LayoutEdit.after),
        )
        .where(LayoutEdit.layout_id == layout.id)
        .order_by(LayoutEdit.seq.desc())
        .limit(limit)
    ).all()
    edits = [
        Edit(seq, action, who, at, summary, undone, sorted(after), sorted(set(before) - set(after)))
        for seq, action, who, at, summary, undone, before, after in rows
    ]
    flags = session.execute(
        sa.select(sa.func.bool_or(~LayoutEdit.undone), sa.func.bool_or(LayoutEdit.undone)).where(
            LayoutEdit.layout_id == layout.id
        )
    ).one()
    return History(edits, bool(flags[0]), bool(flags[1]))


def set_locked(
    session: Session, layout: Layout, grid_code: str, locked: bool, *, actor: Actor
) -> None:
    """Lock (or unlock) the grid ``grid_code`` of draft ``layout``; audited when it changes.

    Raises:
        Conflict: ``layout`` is published.
        NotFound: It has no grid ``grid_code``.
    """
    community = _lock_layout(session, layout)
    _draft_only(layout, community, "locked or unlocked")
    code = grid_code.strip()
    grid = session.scalar(sa.select(Grid).where(Grid.layout_id == layout.id, Grid.code == code))
    if grid is None:
        shown = ", ".join(
            session.scalars(
                sa.select(Grid.code).where(Grid.layout_id == layout.id).order_by(Grid.code)
            )
        )
        raise NotFound(
            f"The {_where(layout, community)} has no grid {code!r}; its grids are: "
            f"{shown or 'none'}."
        )
    if grid.locked == locked:
        return
    grid.locked = locked
    session.flush()
    audit.record(
        session,
        actor,
        "lock" if locked else "unlock",
        "layout",
        f"{community.code}/{layout.name}",
        after={"grid": code, "locked": locked},
    )


def locked_codes(session: Session, layout: Layout) -> set[str]:
    """Codes of the locked grids of ``layout``."""
    return set(
        session.scalars(sa.select(Grid.code).where(Grid.layout_id == layout.id, Grid.locked))
    )


def _lock_layout(session: Session, layout: Layout) -> Community:
    """Take ``layout``'s row lock (reloading it: a publish may have just committed)."""
    session.refresh(layout, with_for_update=True)
    return session.get_one(Community, layout.community_id)


def _where(layout: Layout, community: Community) -> str:
    return f"layout {layout.name!r} of community {community.code}"


def _draft_only(layout: Layout, community: Community, done: str) -> None:
    if layout.status != "draft":
        raise Conflict(
            f"The {_where(layout, community)} is published; only a draft's grids can be "
            f"{done}. Copy the layout in force with `gridgis layout draft --community "
            f"{community.code}` and edit that."
        )


def _refuse_locked(layout: Layout, community: Community, codes: list[str]) -> None:
    if not codes:
        return
    unlock = " ".join(
        shlex.quote(part)
        for part in ("gridgis", "layout", "unlock", layout.name, "--community", community.code)
    )
    hint = "; ".join(f"{unlock} --grid {shlex.quote(code)}" for code in codes)
    if len(codes) == 1:
        raise Conflict(f"Grid {codes[0]} is locked; unlock it first ({hint}).")
    raise Conflict(f"Grids {', '.join(codes)} are locked; unlock them first ({hint}).")


def _painted_grids(
    session: Session, layout: Layout, buildings: list[str], target: str | None
) -> dict[str, bool]:
    """Code -> locked of the target grid and of the grids ``buildings`` are in now."""
    sources = sa.select(building_grid(Building.geom, layout.id)).where(
        Building.community_id == layout.community_id, Building.code.in_(buildings)
    )
    rows = session.execute(
        sa.select(Grid.code, Grid.locked).where(
            Grid.layout_id == layout.id,
            sa.or_(Grid.code == target, Grid.id.in_(sources.scalar_subquery())),
        )
    ).all()
    return {code: locked for code, locked in rows}


def _restore(
    session: Session, layout: Layout, community: Community, row: LayoutEdit, *, undoing: bool
) -> tuple[list[str], list[str]]:
    """Write ``row``'s grids as before it (undoing) or after it; the codes written and removed."""
    wanted, expected = (row.before, row.after) if undoing else (row.after, row.before)
    now = snapshot(session, layout, set(wanted["grids"]) | set(expected["grids"]))
    drifted = sorted(
        code
        for code in set(now) | set(expected["grids"])
        if now.get(code, {}).get("geom") != expected["grids"].get(code, {}).get("geom")
    )
    if drifted:
        raise Conflict(
            f"Grid(s) {', '.join(drifted)} of the {_where(layout, community)} changed outside "
            f"its edit history since edit {row.seq}, so it cannot be undone or redone exactly; "
            "paint the buildings back with `gridgis layout assign` instead."
        )
    _refuse_locked(layout, community, sorted(code for code, g in now.items() if g["locked"]))
    removed = write(session, layout, now, wanted["grids"])
    return sorted(wanted["grids"]), removed


def _edit(row: LayoutEdit, touched: list[str], removed: list[str]) -> Edit:
    return Edit(
        row.seq, row.action, row.actor, row.at, dict(row.summary), row.undone, touched, removed
    )
