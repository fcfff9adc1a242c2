"""Layouts (网格方案): which one applies, and publishing a draft.

Publishing works like MapIt's generation activation: a draft is checked, then
gets ``valid_from``; the layout in force until then gets ``valid_to`` at the
same instant, so the published periods of a community stay contiguous and
never overlap (the database's exclusion constraint refuses any overlap). A
layout cannot be published before the start of the one in force: history is
never rewritten.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.audit import Actor
from gridgis.clock import require_aware
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.models import Community, Grid, Layout


def get_community(session: Session, code: str) -> Community:
    """The community with ``code``, or NotFound naming the code."""
    community = session.scalar(sa.select(Community).where(Community.code == code))
    if community is None:
        raise NotFound(f"No community with code {code!r}.")
    return community


# -- the rule "in force" ------------------------------------------------------
# One rule, in the three forms its users need: a SQLAlchemy clause (queries),
# a SQL fragment (the routing statement, written as text for its planner), and
# a Python predicate (the in-memory routing index). A layout is in force at
# ``at`` when it is published and valid_from <= at < valid_to (an open end:
# still in force). ``tests/gridgis/geo/test_layouts.py`` holds the three to
# the same answers.


def in_force_clause(at: Any) -> sa.ColumnElement[bool]:
    """The rule "this layout is in force at ``at``", as a clause (``at``: a time or column)."""
    return sa.and_(
        Layout.status == "published",
        Layout.valid_from <= at,
        sa.or_(Layout.valid_to.is_(None), Layout.valid_to > at),
    )


def in_force_sql(layout: str, at: str) -> str:
    """The same rule as SQL text, for layout alias ``layout`` and time expression ``at``.

    A range containment, which the GiST index of the exclusion constraint
    ``ex_layout_one_in_force`` answers (measured in bench/routing.py).
    """
    return (
        f"{layout}.status = 'published' "
        f"AND tstzrange({layout}.valid_from, {layout}.valid_to) @> {at}"
    )


def in_force(valid_from: dt.datetime | None, valid_to: dt.datetime | None, at: dt.datetime) -> bool:
    """The same rule in Python, for a published layout's period."""
    return valid_from is not None and valid_from <= at and (valid_to is None or at < valid_to)


def choose_layout(
    session: Session,
    community: Community,
    name: str | None = None,
    *,
    at: dt.datetime | None = None,
    drafts: bool = True,
    newest_draft: bool = False,
) -> Layout | None:
    """Which layout applies: the one named, else the one in force.

    Args:
        session: The database session.
        community: Whose layouts.
        name: A layout's name; None: the layout in force.
        at: When (default: now); used only without a name.
        drafts: Whether a draft may be chosen (by name, or as the newest draft).
        newest_draft: Without a name and with no layout in force, take the
            newest draft (an import's grids before they are published).

    Returns:
        The layout, or None when no name was given and none applies.

    Raises:
        NotFound: No layout has that name (among those ``drafts`` allows); the
            message lists the ones there are.
    """
    if name is not None:
        query = sa.select(Layout).where(Layout.community_id == community.id, Layout.name == name)
        if not drafts:
            query = query.where(Layout.status == "published")
        layout = session.scalar(query)
        if layout is None:
            raise NotFound(
                f"Community {community.code} has no layout named {name!r}; "
                f"its layouts are: {layout_names(session, community, drafts=drafts)}."
            )
        return layout
    layout = session.scalar(
        sa.select(Layout).where(
            Layout.community_id == community.id, in_force_clause(at or clock.now())
        )
    )
    if layout is None and newest_draft and drafts:
        layout = session.scalar(
            sa.select(Layout)
            .where(Layout.community_id == community.id, Layout.status == "draft")
            .order_by(Layout.created_at.desc(), Layout.id.desc())
            .limit(1)
        )
    return layout


def layout_names(session: Session, community: Community, *, drafts: bool = True) -> str:
    """The community's layout names for a message, or "none yet"."""
    query = sa.select(Layout.name).where(Layout.community_id == community.id)
    if not drafts:
        query = query.where(Layout.status == "published")
    names = session.scalars(query.order_by(Layout.name)).all()
    return ", ".join(repr(n) for n in names) or "none yet"


# -- publishing ---------------------------------------------------------------


def publish_layout(
    session: Session,
    layout: Layout,
    valid_from: dt.datetime | None = None,
    *,
    actor: Actor,
) -> Layout | None:
    """Publish a draft from ``valid_from`` (default now); return the layout it replaces.

    Audited as ``publish`` of the layout, with the period it closed; flushed,
    committed by the caller's unit of work.

    Raises:
        Conflict: The layout is published already, or a later one is.
        InvalidInput: No grids, or ``valid_from`` without a time zone.
    """
    if layout.status != "draft":
        raise Conflict(f"Layout {layout.name!r} is already published.")
    valid_from = require_aware(valid_from or clock.now(), "valid_from")
    grid_count = session.scalar(sa.select(sa.func.count()).where(Grid.layout_id == layout.id))
    if not grid_count:
        raise InvalidInput(f"Layout {layout.name!r} has no grids; import grids before publishing.")
    check_start(session, layout, valid_from)
    previous = session.scalar(
        sa.select(Layout)
        .where(
            Layout.community_id == layout.community_id,
            Layout.status == "published",
            Layout.valid_to.is_(None),
        )
        .with_for_update()
    )
    if previous is not None:
        previous.valid_to = valid_from
    layout.status = "published"
    layout.valid_from = valid_from
    session.flush()
    audit.record(
        session,
        actor,
        "publish",
        "layout",
        f"{community_code(session, layout)}/{layout.name}",
        before={"status": "draft", "replaces": previous.name if previous else None},
        after={"status": "published", "valid_from": valid_from},
    )
    return previous


def check_start(session: Session, layout: Layout, valid_from: dt.datetime) -> None:
    """Conflict when a published layout of the community starts at or after ``valid_from``.

    Publishing only ever appends a period: a start before a published one
    would rewrite history. Checked by :func:`publish_layout`, and before it
    by a cut-over's dry run so that it says the same.
    """
    later = session.scalar(
        sa.select(Layout).where(
            Layout.community_id == layout.community_id,
            Layout.status == "published",
            Layout.valid_from >= valid_from,
        )
    )
    if later is not None:
        raise Conflict(
            f"Layout {later.name!r} is published from {clock.show(later.valid_from)}; "
            "a new layout must start after it (history is never rewritten)."
        )


def community_code(session: Session, layout: Layout) -> str:
    """The code of the community a layout belongs to."""
    return str(session.scalar(sa.select(Community.code).where(Community.id == layout.community_id)))
