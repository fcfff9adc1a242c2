"""Publishing layouts: exactly one in force, history never rewritten."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.orm import Session

from gridgis.errors import Conflict, InvalidInput
from gridgis.geo.layouts import choose_layout, publish_layout
from gridgis.models import SRID, Community, Grid, Layout
from tests.support.actors import TESTS

UTC = dt.UTC
T1 = dt.datetime(2026, 1, 1, tzinfo=UTC)
T2 = dt.datetime(2026, 7, 1, tzinfo=UTC)


def _geom() -> object:
    return from_shape(MultiPolygon([box(114.34, 30.50, 114.35, 30.51)]), srid=SRID)


@pytest.fixture
def community(db_session: Session) -> Community:
    c = Community(code="C1", name="测试社区", boundary=_geom())
    db_session.add(c)
    db_session.flush()
    return c


def draft(session: Session, community: Community, name: str, *, grids: int = 1) -> Layout:
    layout = Layout(community_id=community.id, name=name)
    session.add(layout)
    session.flush()
    for i in range(grids):
        session.add(
            Grid(layout_id=layout.id, code=f"{i + 1:03d}", name=f"网格{i + 1}", geom=_geom())
        )
    session.flush()
    return layout


def test_publishing_closes_the_previous_layout(db_session: Session, community: Community) -> None:
    first = draft(db_session, community, "2026 春")
    second = draft(db_session, community, "2026 秋")
    assert publish_layout(db_session, first, T1, actor=TESTS) is None
    assert publish_layout(db_session, second, T2, actor=TESTS) == first
    assert first.valid_to == T2
    assert choose_layout(db_session, community, at=T1 + dt.timedelta(days=1)) == first
    assert choose_layout(db_session, community, at=T2) == second
    assert choose_layout(db_session, community, at=T1 - dt.timedelta(days=1)) is None


def test_a_layout_cannot_be_published_before_the_one_in_force(
    db_session: Session, community: Community
) -> None:
    publish_layout(db_session, draft(db_session, community, "A"), T2, actor=TESTS)
    with pytest.raises(Conflict, match="history is never rewritten"):
        publish_layout(db_session, draft(db_session, community, "B"), T1, actor=TESTS)


def test_an_empty_layout_cannot_be_published(db_session: Session, community: Community) -> None:
    with pytest.raises(InvalidInput, match="no grids"):
        publish_layout(db_session, draft(db_session, community, "A", grids=0), T1, actor=TESTS)


def test_publishing_twice_is_a_conflict(db_session: Session, community: Community) -> None:
    layout = draft(db_session, community, "A")
    publish_layout(db_session, layout, T1, actor=TESTS)
    with pytest.raises(Conflict, match="already published"):
        publish_layout(db_session, layout, T2, actor=TESTS)


def test_the_database_refuses_two_layouts_in_force_at_once(
    db_session: Session, community: Community
) -> None:
    """Even code that bypasses publish_layout cannot make periods overlap."""
    publish_layout(db_session, draft(db_session, community, "A"), T1, actor=TESTS)
    rogue = draft(db_session, community, "B")
    with (
        pytest.raises(sa.exc.IntegrityError, match="ex_layout_one_in_force"),
        db_session.begin_nested(),
    ):
        rogue.status, rogue.valid_from = "published", T2
        db_session.flush()
