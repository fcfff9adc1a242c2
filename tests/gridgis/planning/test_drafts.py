"""Drafts: a copy of the layout in force, staff kept, routing untouched; where layouts stand."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.models import Assignment, AuditEntry, Grid, Layout, Staff
from gridgis.planning.drafts import draft_layout, find_community, find_layout, layouts_of
from gridgis.routing.points import route_point
from tests.gridgis.planning.worlds import NOW
from tests.support import factories as make
from tests.support.actors import TESTS
from tests.support.factories import box
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    GRID_NAMES,
    LAYOUT_DRAFT,
    LAYOUT_NOW,
    LAYOUT_OLD,
    Sample,
    build_sample_community,
    utc,
)

#: Inside B01 (unit 1), grid 网格一.
IN_B01 = (114.3009, 30.5911)


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def grids_of(session: Session, layout: Layout) -> list[tuple[str, str, bytes]]:
    return [
        (code, name, bytes(wkb))
        for code, name, wkb in session.execute(
            sa.select(Grid.code, Grid.name, sa.func.ST_AsBinary(Grid.geom))
            .where(Grid.layout_id == layout.id)
            .order_by(Grid.code)
        )
    ]


def teams_of(session: Session, layout: Layout) -> list[tuple[str, str, str, str | None, bool]]:
    return sorted(
        (code, staff, role, team, on_duty)
        for code, staff, role, team, on_duty in session.execute(
            sa.select(
                Grid.code,
                Staff.code,
                Assignment.role,
                Assignment.volunteer_team,
                Assignment.on_duty,
            )
            .join(Assignment, Assignment.grid_id == Grid.id)
            .join(Staff, Staff.id == Assignment.staff_id)
            .where(Grid.layout_id == layout.id)
        )
    )


def test_a_draft_copies_grids_and_grid_teams(db_session: Session, sample: Sample) -> None:
    with clock.frozen(NOW):
        made = draft_layout(db_session, sample.community, name="2027 redraw", actor=TESTS)
    draft = made.layout
    assert (draft.name, draft.status, draft.valid_from, draft.note) == (
        "2027 redraw",
        "draft",
        None,
        f"drafted from {LAYOUT_NOW}",
    )
    assert (made.source, made.grids, made.assignments) == (LAYOUT_NOW, 3, 4)
    copied = grids_of(db_session, draft)
    assert copied == grids_of(db_session, sample.layout)
    assert [(c, n) for c, n, _ in copied] == list(zip(GRID_CODES, GRID_NAMES))
    assert (
        teams_of(db_session, draft)
        == teams_of(db_session, sample.layout)
        == [
            (GRID_CODES[0], "S1", "grid_worker", None, True),
            (GRID_CODES[0], "S2", "part_time_worker", None, True),
            (GRID_CODES[0], "S3", "volunteer", "red", True),
            (GRID_CODES[0], "S4", "volunteer", "white", False),
        ]
    )
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "draft")).one()
    assert (entry.actor, entry.entity, entry.entity_id) == (
        "cli:tests",
        "layout",
        f"{COMMUNITY_CODE}/2027 redraw",
    )
    assert entry.after == {
        "status": "draft",
        "from": LAYOUT_NOW,
        "grids": 3,
        "assignments": 4,
    }


def test_a_draft_leaves_routing_unchanged(db_session: Session, sample: Sample) -> None:
    before = route_point(db_session, *IN_B01, at=NOW)
    draft_layout(db_session, sample.community, name="copy", actor=TESTS)
    after = route_point(db_session, *IN_B01, at=NOW)
    assert (after.layout_name, after.grid_id, after.grid_code) == (
        LAYOUT_NOW,
        sample.grids[0].id,
        GRID_CODES[0],
    )
    assert (before.layout_name, before.grid_id) == (after.layout_name, after.grid_id)
    assert [(m.staff_code, m.role) for m in after.team] == [
        (m.staff_code, m.role) for m in before.team
    ]


def test_the_default_name_is_dated_and_numbered_when_taken(
    db_session: Session, sample: Sample
) -> None:
    with clock.frozen(NOW):
        first = draft_layout(db_session, sample.community, actor=TESTS)
        second = draft_layout(db_session, sample.community, actor=TESTS)
    assert first.layout.name == "draft 2026-12-03 10:00"
    assert second.layout.name == "draft 2026-12-03 10:00 (2)"


def test_a_taken_or_blank_name_is_refused(db_session: Session, sample: Sample) -> None:
    with pytest.raises(Conflict, match=f"already has a layout named '{LAYOUT_DRAFT}'"):
        draft_layout(db_session, sample.community, name=LAYOUT_DRAFT, actor=TESTS)
    with pytest.raises(InvalidInput, match="1 to 200 characters"):
        draft_layout(db_session, sample.community, name="  ", actor=TESTS)


def test_without_a_layout_in_force_there_is_nothing_to_copy(db_session: Session) -> None:
    community = make.community(db_session, "NOLAYOUT")
    make.layout(db_session, community, "only a draft")
    with pytest.raises(
        NotFound, match="no layout in force to copy; its layouts are: 'only a draft'"
    ):
        draft_layout(db_session, community, actor=TESTS)
    assert (
        db_session.scalar(
            sa.select(sa.func.count())
            .select_from(Layout)
            .where(Layout.community_id == community.id)
        )
        == 1
    )


def test_layouts_and_where_they_stand(db_session: Session, sample: Sample) -> None:
    make.layout(
        db_session,
        sample.community,
        "2030版",
        grids={"X": box(114.300, 30.590, 114.306, 30.594)},
        published=utc(2030),
    )
    with clock.frozen(NOW):
        found = [(s.name, s.standing, s.grids) for s in layouts_of(db_session, sample.community)]
    assert found == [
        (LAYOUT_OLD, "past", 2),
        (LAYOUT_NOW, "in force", 3),
        ("2030版", "future", 1),
        (LAYOUT_DRAFT, "draft", 1),
    ]


def test_unknown_names_list_what_exists(db_session: Session, sample: Sample) -> None:
    with pytest.raises(NotFound, match=f"the communities are: .*{COMMUNITY_CODE}"):
        find_community(db_session, "nowhere")
    with pytest.raises(
        NotFound, match=f"its layouts are: '{LAYOUT_OLD}', '{LAYOUT_NOW}', '{LAYOUT_DRAFT}'"
    ):
        find_layout(db_session, COMMUNITY_CODE, "2099版")
