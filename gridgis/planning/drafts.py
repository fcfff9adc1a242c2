"""Drafts (草案): a copy of the layout in force to redraw, and the layouts a community has.

A draft starts as the layout in force, grid for grid: the same codes, names
and polygons, and the same grid teams (grid workers, part-time workers and
volunteers), so a redraw begins from today and the staff follow their grid
codes. Building and unit heads answer for their building or unit, whatever
the layout, so they need no copy. A draft is never in force
(:func:`gridgis.geo.layouts.in_force_clause` asks for ``published``): routing
keeps using the layout in force until the draft is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis import audit, clock
from gridgis.audit import Actor
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.geo.layouts import choose_layout, in_force, layout_names
from gridgis.models import Assignment, Community, Grid, Layout
from gridgis.models.roles import GRID_ROLES

#: Longest layout name the database keeps (``layout.name``).
MAX_NAME = 200


@dataclass(frozen=True)
class Draft:
    """What :func:`draft_layout` made.

    Attributes:
        layout: The new draft layout.
        source: The name of the layout it copies (the one in force).
        grids: Grids copied.
        assignments: Grid team assignments copied with them.
    """

    layout: Layout
    source: str
    grids: int
    assignments: int


@dataclass(frozen=True)
class LayoutStanding:
    """One layout of a community and where it stands now.

    ``standing`` is ``in force``, ``draft``, ``future`` (published, starting
    later) or ``past`` (published, ended).
    """

    name: str
    standing: str
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    grids: int


def find_community(session: Session, code: str) -> Community:
    """The community with ``code``, or NotFound listing the codes there are."""
    found = session.scalar(sa.select(Community).where(Community.code == code))
    if found is None:
        codes = session.scalars(sa.select(Community.code).order_by(Community.code).limit(21)).all()
        shown = ", ".join(codes[:20]) + (", ..." if len(codes) > 20 else "")
        raise NotFound(
            f"No community with code {code!r}; the communities are: {shown or 'none yet'}."
        )
    return found


def find_layout(session: Session, community_code: str, name: str) -> Layout:
    """The layout ``name`` of community ``community_code``, or NotFound listing what exists."""
    community = find_community(session, community_code)
    layout = choose_layout(session, community, name)
    if layout is None:  # choose_layout raises for an unknown name; never None with one
        raise NotFound(f"Community {community_code} has no layout named {name!r}.")
    return layout


def standing(layout: Layout, at: dt.datetime) -> str:
    """Where ``layout`` stands at ``at``: in force, draft, future or past."""
    if layout.status == "draft":
        return "draft"
    if in_force(layout.valid_from, layout.valid_to, at):
        return "in force"
    if layout.valid_from is not None and layout.valid_from > at:
        return "future"
    return "past"


def layouts_of(session: Session, community: Community) -> list[LayoutStanding]:
    """The community's layouts, oldest start first, drafts last (newest last), with grid counts."""
    now = clock.now()
    grids = (
        sa.select(sa.func.count())
        .where(Grid.layout_id == Layout.id)
        .correlate(Layout)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(Layout, grids)
        .where(Layout.community_id == community.id)
        .order_by(Layout.valid_from.asc().nulls_last(), Layout.created_at, Layout.id)
    ).all()
    return [
        LayoutStanding(layout.name, standing(layout, now), layout.valid_from, layout.valid_to, n)
        for layout, n in rows
    ]


def draft_layout(
    session: Session, community: Community, *, name: str | None = None, actor: Actor
) -> Draft:
    """Copy the layout in force of ``community`` into a new draft named ``name``.

    Three statements whatever the size: the layout, its grids (INSERT ...
    SELECT), and the grid teams matched by grid code. Audited as ``draft`` of
    the layout; flushed, committed by the caller's unit of work.

    Args:
        session: Where to write.
        community: Whose layout.
        name: The draft's name (default ``draft YYYY-MM-DD HH:MM``, numbered
            when taken).
        actor: Who drafts.

    Raises:
        NotFound: No layout is in force (the message lists the layouts there are).
        Conflict: ``name`` is taken.
        InvalidInput: ``name`` is blank or too long.
    """
    source = choose_layout(session, community, drafts=False)
    if source is None:
        raise NotFound(
            f"Community {community.code} has no layout in force to copy; its layouts are: "
            f"{layout_names(session, community)}. Publish one first "
            "(or import grids with --publish)."
        )
    taken = set(session.scalars(sa.select(Layout.name).where(Layout.community_id == community.id)))
    if name is None:
        name = _free_name(f"draft {clock.show(clock.now())}", taken)
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"A layout name must have 1 to {MAX_NAME} characters.")
    if name in taken:
        raise Conflict(
            f"Community {community.code} already has a layout named {name!r}; "
            f"its layouts are: {layout_names(session, community)}."
        )
    draft = Layout(
        community_id=community.id,
        name=name,
        status="draft",
        note=f"drafted from {source.name}",
    )
    session.add(draft)
    session.flush()
    grids = _inserted(
        session,
        sa.insert(Grid).from_select(
            ["layout_id", "code", "name", "geom"],
            sa.select(sa.literal(draft.id), Grid.code, Grid.name, Grid.geom).where(
                Grid.layout_id == source.id
            ),
        ),
    )
    assignments = copy_grid_teams(session, source, draft)
    session.flush()
    audit.record(
        session,
        actor,
        "draft",
        "layout",
        f"{community.code}/{name}",
        after={"status": "draft", "from": source.name, "grids": grids, "assignments": assignments},
    )
    return Draft(draft, source.name, grids, assignments)


def copy_grid_teams(
    session: Session, source: Layout, draft: Layout, codes: Collection[str] | None = None
) -> int:
    """Copy the grid teams of ``source``'s grids (only ``codes``, if given) to ``draft``'s.

    Codes are unique per layout, so the code pairs each old grid with its copy.
    Returns the assignments copied.
    """
    old, new = aliased(Grid, name="old_grid"), aliased(Grid, name="new_grid")
    where = [old.layout_id == source.id, Assignment.role.in_(GRID_ROLES)]
    if codes is not None:
        where.append(old.code.in_(sorted(codes)))
    return _inserted(
        session,
        sa.insert(Assignment).from_select(
            ["staff_id", "role", "grid_id", "volunteer_team", "on_duty"],
            sa.select(
                Assignment.staff_id,
                Assignment.role,
                new.id,
                Assignment.volunteer_team,
                Assignment.on_duty,
            )
            .join(old, old.id == Assignment.grid_id)
            .join(new, sa.and_(new.layout_id == draft.id, new.code == old.code))
            .where(*where),
        ),
    )


def _inserted(session: Session, statement: sa.Insert) -> int:
    """Run an INSERT ... SELECT; the rows it inserted."""
    # RETURNING, counted: the driver's row count of INSERT ... SELECT is not reliable (-1).
    return len(session.execute(statement.returning(sa.literal(1))).all())


def _free_name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base} ({n})", n + 1
    return name
