"""Painting a rebalanced draft: on a copy of the layout in force, or from empty.

How and why is said in :mod:`gridgis.planning.rebalance` (the draft on a
copy keeps the polygons a planner drew; from empty, each grid is the union
of its buildings' cells) and, for locked grids, in
:mod:`gridgis.planning.rebalance_locks`. Painting itself is
:func:`gridgis.planning.painting.assign_buildings`, the one tiling rule.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.audit import Actor
from gridgis.errors import Conflict, InvalidInput
from gridgis.geo.layouts import choose_layout
from gridgis.models import Community, Grid, Layout
from gridgis.planning import rebalance_locks
from gridgis.planning.checks import SLIVER_M2
from gridgis.planning.drafts import MAX_NAME, _free_name, draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.rebalance_graph import placed_buildings
from gridgis.planning.rebalance_locks import Locks

_CRUMBS = """
UPDATE grid g SET geom = kept.geom
FROM (
    SELECT g2.id, ST_Multi(ST_Collect(d.geom)) AS geom
    FROM grid g2 CROSS JOIN LATERAL ST_Dump(g2.geom) d
    WHERE g2.layout_id = :layout AND NOT g2.locked AND ST_NumGeometries(g2.geom) > 1
      AND ST_Area(d.geom::geography) >= :sliver
    GROUP BY g2.id
) kept
WHERE g.id = kept.id
"""


def draft_name(session: Session, community: Community, layout: Layout, name: str | None) -> str:
    """The draft's name: ``name``, or ``<layout> rebalanced`` numbered when taken."""
    taken = set(session.scalars(sa.select(Layout.name).where(Layout.community_id == community.id)))
    name = (name or _free_name(f"{layout.name} rebalanced", taken)).strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"A layout name must have 1 to {MAX_NAME} characters.")
    if name in taken:
        raise Conflict(f"Community {community.code} already has a layout named {name!r}.")
    return name


def new_draft(session: Session, community: Community, layout: Layout, name: str | None) -> Layout:
    """An empty draft, to be painted."""
    draft = Layout(
        community_id=community.id,
        name=draft_name(session, community, layout, name),
        status="draft",
        note=f"rebalanced {layout.name}",
    )
    session.add(draft)
    session.flush()
    return draft


def paint_on_copy(
    session: Session,
    community: Community,
    layout: Layout,
    name: str | None,
    final: dict[str, str],
    actor: Actor,
    *,
    locks: Locks,
    scratch: bool,
) -> Layout | None:
    """A copy of ``layout``, when it is in force, painted building by building; else None.

    Grids whose buildings stay keep their polygons, drawn by a planner, and
    the copy keeps the grid teams. Painting from grid to grid cuts cells of
    tessellations that change as buildings leave, so a grid can end in
    pieces: then the copy is rolled back (its audit entries with it) and the
    caller paints from empty. The locked grids are copied as they are and
    locked again; no building of ``final`` leaves or joins them.
    """
    current = choose_layout(session, community, drafts=False)
    if scratch or current is None or current.id != layout.id:
        return None
    names = dict(
        session.execute(sa.select(Grid.code, Grid.name).where(Grid.layout_id == layout.id)).all()
    )
    saved = session.begin_nested()
    draft = draft_layout(
        session, community, name=draft_name(session, community, layout, name), actor=actor
    )
    draft_id = draft.layout.id
    rebalance_locks.keep_locked(session, draft.layout, locks)
    for code in sorted(set(final.values())):
        now = {p.code: p.grid for p in placed_buildings(session, draft.layout).values()}
        moving = [b for b, grid in sorted(final.items()) if grid == code and now[b] != code]
        if moving:
            exists = code in set(now.values()) or (
                code in names and _has_grid(session, draft_id, code)
            )
            new_name = None if exists else names.get(code, f"新网格 {code[-3:]}")
            assign_buildings(session, draft.layout, moving, code, new_name=new_name, actor=actor)
    session.execute(sa.text(_CRUMBS), {"layout": draft_id, "sliver": SLIVER_M2})
    pieces = session.scalar(
        sa.select(sa.func.count()).where(
            Grid.layout_id == draft_id,
            ~Grid.locked,  # a locked grid in parts was drawn so, and is kept so
            sa.func.ST_NumGeometries(sa.func.ST_Multi(Grid.geom)) > 1,
        )
    )
    if pieces:
        saved.rollback()
        return None
    saved.commit()
    session.expire_all()
    return session.get_one(Layout, draft_id)


def _has_grid(session: Session, layout_id: int, code: str) -> bool:
    found = sa.select(Grid.id).where(Grid.layout_id == layout_id, Grid.code == code)
    return session.scalar(sa.select(found.exists())) is True


def paint_from_empty(
    session: Session, draft: Layout, source: Layout, final: dict[str, str], actor: Actor
) -> None:
    """Paint the empty ``draft`` to ``final`` (building code -> grid code), grid by grid.

    Every building first joins the last grid, with the whole community (the
    land in no grid, tessellated by every building); then each other grid
    takes its buildings out of it. The grid they leave keeps the buildings
    that stay, so each step cuts cells of the same tessellation — the
    community's, by all its buildings — and every grid ends as the union of
    its buildings' cells: the cells the adjacency graph was read from.
    """
    names = dict(
        session.execute(sa.select(Grid.code, Grid.name).where(Grid.layout_id == source.id)).all()
    )
    order = sorted(set(final.values()))
    for number, code in enumerate([order[-1], *order[:-1]], start=1):
        moving = sorted(b for b, grid in final.items() if grid == code or number == 1)
        new_name = names.get(code) or f"新网格 {number}"
        assign_buildings(session, draft, moving, code, new_name=new_name, actor=actor)
    # The grid every other grid is cut from keeps crumbs of float noise (mm²) along the
    # footprints: pieces the checks would count as parts of it. Pieces under SLIVER_M2
    # are the checks' own noise threshold; dropped, they leave gaps the checks ignore.
    # Locked grids are never cut, so _CRUMBS leaves them as stored.
    session.execute(sa.text(_CRUMBS), {"layout": draft.id, "sliver": SLIVER_M2})
    session.expire_all()
