"""Grids exactly as stored, kept and written back: the states an edit of a draft is undone by.

A state is a grid's id, code, name, lock and polygon as EWKB (hex), the
storage format itself, so what is written back is the very polygon, byte for
byte (``ST_AsEWKB`` equal, not only ``ST_Equals``), with every column of its
grid team's assignments, so a grid an edit removed comes back with its team.
The rules of when a state may be written (drafts, locks, the history's
order) are :mod:`gridgis.planning.edits`'s; this only reads and writes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.models import Assignment, Grid, Layout

#: A grid as an edit keeps it: id, code, name, locked, geom (EWKB hex), assignments.
GridState = dict[str, Any]


def snapshot(session: Session, layout: Layout, codes: set[str]) -> dict[str, GridState]:
    """The grids ``codes`` of ``layout`` (those it has) as stored, by code."""
    if not codes:
        return {}
    rows = session.execute(
        sa.select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.locked,
            sa.func.encode(sa.func.ST_AsEWKB(Grid.geom), "hex"),
        ).where(Grid.layout_id == layout.id, Grid.code.in_(codes))
    ).all()
    grids: dict[str, GridState] = {
        code: {"id": id_, "code": code, "name": name, "locked": locked, "geom": geom}
        for id_, code, name, locked, geom in rows
    }
    by_id = {grid["id"]: grid for grid in grids.values()}
    for grid in grids.values():
        grid["assignments"] = []
    # Every column (all JSON-safe), so a removed grid's team comes back as it was.
    team = session.execute(
        sa.select(*Assignment.__table__.columns)
        .where(Assignment.grid_id.in_(list(by_id)))
        .order_by(Assignment.id)
    ).mappings()
    for assignment in team:
        by_id[assignment["grid_id"]]["assignments"].append(dict(assignment))
    return grids


def write(
    session: Session, layout: Layout, now: dict[str, GridState], wanted: dict[str, GridState]
) -> list[str]:
    """Make ``layout``'s grids ``now`` (a snapshot) into ``wanted``; the codes removed.

    Grids of ``now`` not in ``wanted`` are removed, with their assignments;
    grids of both get ``wanted``'s name and polygon (their team and lock stay
    as they are: neither is part of an edit); grids only in ``wanted`` are
    made again, with their id and team.
    """
    gone = sorted(set(now) - set(wanted))
    if gone:
        # Their grid team assignments go with them (ON DELETE CASCADE), as when painting.
        session.execute(sa.delete(Grid).where(Grid.id.in_([now[c]["id"] for c in gone])))
    for code, grid in sorted(wanted.items()):
        geom = sa.func.ST_GeomFromEWKB(sa.func.decode(grid["geom"], "hex"))
        if code in now:
            session.execute(
                sa.update(Grid)
                .where(Grid.id == now[code]["id"])
                .values(name=grid["name"], geom=geom)
                .execution_options(synchronize_session=False)
            )
            continue
        session.execute(
            sa.insert(Grid).values(
                id=grid["id"],
                layout_id=layout.id,
                code=code,
                name=grid["name"],
                locked=grid["locked"],
                geom=geom,
            )
        )
        if grid["assignments"]:
            session.execute(sa.insert(Assignment), grid["assignments"])
    session.expire_all()  # the grids changed in SQL, under the ORM
    return gone
