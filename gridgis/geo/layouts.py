"""Layouts (网格方案): drafting, publishing and finding the one in force.

Publishing works like MapIt's generation activation: a draft is checked, then
gets ``valid_from``; the layout in force until then gets ``valid_to`` at the
same instant, so the published periods of a community stay contiguous and
never overlap (the database's exclusion constraint refuses any overlap). A
layout cannot be published before the start of the one in force: history is
never rewritten.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.models import Community, Grid, Layout


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def get_community(session: Session, code: str) -> Community:
    community = session.scalar(sa.select(Community).where(Community.code == code))
    if community is None:
        raise NotFound(f"No community with code {code!r}.")
    return community


def in_force_clause(at: dt.datetime) -> sa.ColumnElement[bool]:
    """The rule "this layout is in force at ``at``", as a clause for joins."""
    return sa.and_(
        Layout.status == "published",
        Layout.valid_from <= at,
        sa.or_(Layout.valid_to.is_(None), Layout.valid_to > at),
    )


def layout_in_force(
    session: Session, community: Community, at: dt.datetime | None = None
) -> Layout | None:
    """The published layout in force at ``at`` (default: now), or None."""
    return session.scalar(
        sa.select(Layout).where(Layout.community_id == community.id, in_force_clause(at or now()))
    )


def find_layout(session: Session, community: Community, name: str | None) -> Layout:
    """A layout by name, or (no name) the one in force now."""
    if name is None:
        layout = layout_in_force(session, community)
        if layout is None:
            raise NotFound(
                f"Community {community.code} has no published layout in force; "
                "name one with --layout."
            )
        return layout
    layout = session.scalar(
        sa.select(Layout).where(Layout.community_id == community.id, Layout.name == name)
    )
    if layout is None:
        raise NotFound(f"Community {community.code} has no layout named {name!r}.")
    return layout


def publish_layout(
    session: Session, layout: Layout, valid_from: dt.datetime | None = None
) -> Layout | None:
    """Publish a draft from ``valid_from`` (default now); return the layout it replaces."""
    if layout.status != "draft":
        raise Conflict(f"Layout {layout.name!r} is already published.")
    valid_from = valid_from or now()
    if valid_from.tzinfo is None:
        raise InvalidInput("valid_from needs a time zone (e.g. 2026-12-01T00:00:00+08:00).")
    grid_count = session.scalar(sa.select(sa.func.count()).where(Grid.layout_id == layout.id))
    if not grid_count:
        raise InvalidInput(f"Layout {layout.name!r} has no grids; import grids before publishing.")
    later = session.scalar(
        sa.select(Layout).where(
            Layout.community_id == layout.community_id,
            Layout.status == "published",
            Layout.valid_from >= valid_from,
        )
    )
    if later is not None:
        raise Conflict(
            f"Layout {later.name!r} is published from {later.valid_from:%Y-%m-%d %H:%M}; "
            "a new layout must start after it (history is never rewritten)."
        )
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
    return previous
