"""Layouts: which one applies (one rule, three forms), and publishing, audited."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.orm import Session

from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.geo.layouts import (
    choose_layout,
    in_force,
    in_force_clause,
    in_force_sql,
    publish_layout,
)
from gridgis.models import SRID, AuditEntry, Community, Grid, Layout
from tests.support.actors import TESTS, named

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


def test_publishing_is_audited(db_session: Session, community: Community) -> None:
    first = draft(db_session, community, "2026 春")
    publish_layout(db_session, first, T1, actor=TESTS)
    second = draft(db_session, community, "2026 秋")
    publish_layout(db_session, second, T2, actor=named("user:planner1"))
    entries = db_session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "publish").order_by(AuditEntry.id)
    ).all()
    assert [(e.actor, e.entity, e.entity_id) for e in entries] == [
        ("cli:tests", "layout", "C1/2026 春"),
        ("user:planner1", "layout", "C1/2026 秋"),
    ]
    assert entries[1].before == {"status": "draft", "replaces": "2026 春"}
    assert entries[1].after == {"status": "published", "valid_from": T2.isoformat()}


def test_a_refused_publication_leaves_no_audit_entry(
    db_session: Session, community: Community
) -> None:
    with pytest.raises(InvalidInput), db_session.begin_nested():
        publish_layout(db_session, draft(db_session, community, "空", grids=0), T1, actor=TESTS)
    assert not db_session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "publish")
    )


def test_choose_layout_by_name_in_force_or_newest_draft(
    db_session: Session, community: Community
) -> None:
    assert choose_layout(db_session, community) is None
    older = draft(db_session, community, "草案一")
    newer = draft(db_session, community, "草案二")
    assert choose_layout(db_session, community, newest_draft=True) == newer
    assert choose_layout(db_session, community, "草案一") == older
    publish_layout(db_session, older, T1, actor=TESTS)
    assert choose_layout(db_session, community, at=T2) == older
    assert choose_layout(db_session, community, at=T2, newest_draft=True) == older
    with pytest.raises(NotFound, match=r"no layout named '草案二'; its layouts are: '草案一'\."):
        choose_layout(db_session, community, "草案二", drafts=False)
    with pytest.raises(NotFound, match=r"its layouts are: '草案一', '草案二'\."):
        choose_layout(db_session, community, "三")


MOMENTS = [T1 - dt.timedelta(seconds=1), T1, T1 + dt.timedelta(days=1), T2, T2 + dt.timedelta(1)]


@pytest.mark.parametrize("at", MOMENTS)
def test_the_in_force_rule_is_one_rule_in_three_forms(
    db_session: Session, community: Community, at: dt.datetime
) -> None:
    """The SQLAlchemy clause, the SQL text of the routing statement and the Python
    predicate of the in-memory index agree at the boundaries of each period."""
    first, second = draft(db_session, community, "A"), draft(db_session, community, "B")
    draft(db_session, community, "never published")
    publish_layout(db_session, first, T1, actor=TESTS)
    publish_layout(db_session, second, T2, actor=TESTS)
    by_clause = set(db_session.scalars(sa.select(Layout.name).where(in_force_clause(at))))
    by_text = set(
        db_session.scalars(
            sa.text(f"SELECT l.name FROM layout l WHERE {in_force_sql('l', ':at')}"), {"at": at}
        )
    )
    by_python = {
        layout.name
        for layout in db_session.scalars(sa.select(Layout).where(Layout.status == "published"))
        if in_force(layout.valid_from, layout.valid_to, at)
    }
    assert by_clause == by_text == by_python
    assert len(by_clause) == (0 if at < T1 else 1)
