"""Cut-over: publishing a draft from a date, what it shows first, and grid codes carried on.

The sample community's layout in force has three columns G1 (B01 24 + B02 36
households), G2 (B03 30), G3 (B04 18, B05 20); G1 has a grid team of four.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import Conflict, InvalidInput
from gridgis.models import Assignment, AuditEntry, Grid, Incident, Layout
from gridgis.planning.drafts import draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.publish import plan_cut_over, publish_draft
from gridgis.routing.points import route_point
from tests.gridgis.planning.worlds import GAPPY, NOW, incident, layout_of
from tests.support.actors import TESTS
from tests.support.factories import box
from tests.support.sample_community import GRID_CODES, GRID_NAMES, Sample, build_sample_community

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
START = NOW + dt.timedelta(days=29)  # 2027-01-01 in Beijing
#: Inside building B03 (G2 today).
IN_B03 = (114.3027, 30.5916)

_names = itertools.count()


@pytest.fixture
def sample(db_session: Session) -> Iterator[Sample]:
    with clock.frozen(NOW):
        yield build_sample_community(db_session)


def draft(session: Session, sample: Sample) -> Layout:
    name = f"cut-over {next(_names)}"
    return draft_layout(session, sample.community, name=name, actor=TESTS).layout


def codes(session: Session, layout: Layout) -> dict[str, str]:
    rows = session.execute(sa.select(Grid.code, Grid.name).where(Grid.layout_id == layout.id))
    return {code: name for code, name in rows}


def team(session: Session, layout: Layout, code: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Assignment)
            .join(Grid, Grid.id == Assignment.grid_id)
            .where(Grid.layout_id == layout.id, Grid.code == code)
        )
        or 0
    )


def test_the_plan_writes_nothing_and_lists_the_incidents_that_change_grid(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    assign_buildings(db_session, layout, ["B03"], G1, actor=TESTS)  # G2 leaves the draft
    moved = incident(db_session, sample, status="dispatched", days_ago=1, building="B03")
    moved.grid_id = next(g.id for g in sample.grids if g.code == G2)
    incident(db_session, sample, status="closed", days_ago=2, building="B03")
    db_session.flush()
    entries = db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))

    plan = plan_cut_over(db_session, layout, START)

    assert plan.errors == [] and plan.replaces == sample.layout.name
    assert [(i.incident, i.before, i.after) for i in plan.incidents] == [(moved.id, G2, G1)]
    assert plan.disappearing == {G2: ()}
    assert plan.diff is not None
    changed = [g for g in plan.diff.grids if g.before != g.after]
    assert [(g.code, g.after.households if g.after else None) for g in changed] == [
        (G1, 90),
        (G2, None),
    ]
    assert layout.status == "draft" and sample.layout.valid_to is None
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == entries


def test_publishing_in_the_future_routes_old_before_and_new_after(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    assign_buildings(db_session, layout, ["B03"], G1, actor=TESTS)
    routed = incident(db_session, sample, status="dispatched", days_ago=1, building="B03")
    routed.grid_id = next(g.id for g in sample.grids if g.code == G2)
    routed.routing = {"grid": G2}
    db_session.flush()

    publish_draft(db_session, layout, START, actor=TESTS)

    assert (layout.status, layout.valid_from) == ("published", START)
    assert sample.layout.valid_to == START
    before = route_point(db_session, *IN_B03, at=START - dt.timedelta(seconds=1))
    after = route_point(db_session, *IN_B03, at=START)
    assert (before.layout_name, before.grid_code) == (sample.layout.name, G2)
    assert (after.layout_name, after.grid_code) == (layout.name, G1)
    db_session.expire_all()
    kept = db_session.get_one(Incident, routed.id)
    assert (kept.layout_id, kept.grid_id, kept.routing) == (
        sample.layout.id,
        routed.grid_id,
        {"grid": G2},
    )
    actions = db_session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.entity_id == f"420106001002/{layout.name}")
    ).all()
    assert "publish" in actions


def test_a_layout_with_errors_is_refused_and_listed(db_session: Session, sample: Sample) -> None:
    gappy = layout_of(
        db_session,
        sample,
        "gappy",
        GAPPY,
    )
    with pytest.raises(InvalidInput, match=r"cannot be published[\s\S]*gap"):
        publish_draft(db_session, gappy, START, actor=TESTS)
    assert gappy.status == "draft" and sample.layout.valid_to is None


@pytest.mark.parametrize(
    ("start", "error"),
    [
        (NOW - dt.timedelta(hours=1), "in the past"),
        (dt.datetime(2027, 1, 1), "time zone"),
    ],
)
def test_a_start_in_the_past_or_without_a_zone_is_refused(
    db_session: Session, sample: Sample, start: dt.datetime, error: str
) -> None:
    with pytest.raises(InvalidInput, match=error):
        plan_cut_over(db_session, draft(db_session, sample), start)


def test_publishing_with_reroute_open_keeps_the_wish_for_the_date(
    db_session: Session, sample: Sample
) -> None:
    # What happens at the date is test_cutover.py's.
    layout = draft(db_session, sample)
    plan = publish_draft(db_session, layout, START, actor=TESTS, reroute_open=True)
    assert plan.reroute_open and plan.rerouted == ()
    assert (layout.status, layout.reroute_open, layout.rerouted_at) == ("published", True, None)


def test_a_published_layout_cannot_be_published_again(db_session: Session, sample: Sample) -> None:
    with pytest.raises(Conflict, match="published already"):
        plan_cut_over(db_session, sample.layout, START)


def test_grids_drawn_with_other_codes_inherit_codes_names_and_teams(
    db_session: Session, sample: Sample
) -> None:
    renamed = layout_of(
        db_session,
        sample,
        "renamed",
        {
            "A": box(114.300, 30.590, 114.302, 30.594),
            "B": box(114.302, 30.590, 114.304, 30.594),
            "C": box(114.304, 30.590, 114.306, 30.594),
        },
    )
    plan = plan_cut_over(db_session, renamed, START)
    assert [(r.before, r.after, r.inherits, r.share) for r in plan.codes] == [
        ("A", G1, G1, 1.0),
        ("B", G2, G2, 1.0),
        ("C", G3, G3, 1.0),
    ]
    assert plan.disappearing == {} and plan.left_without_grid == []

    publish_draft(db_session, renamed, START, actor=TESTS)

    assert codes(db_session, renamed) == dict(zip(GRID_CODES, GRID_NAMES))
    assert team(db_session, renamed, G1) == team(db_session, sample.layout, G1) == 4


def test_a_grid_keeping_half_the_households_inherits_the_code_the_other_gets_the_next(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    # The north of G3 (B05, 20 of its 38 households) becomes a grid of its own.
    assign_buildings(db_session, layout, ["B05"], G4, new_name="第四网格", actor=TESTS)

    plan = plan_cut_over(db_session, layout, START)

    changes = {r.before: (r.after, r.inherits, r.name) for r in plan.codes}
    assert changes[G4] == (G3, G3, "第三网格")
    assert changes[G3] == (G4, None, "第三网格")
    assert changes[G1] == (G1, G1, "第一网格")
    publish_draft(db_session, layout, START, actor=TESTS)
    north = route_point(db_session, 114.3047, 30.5926, at=START)
    assert north.grid_code == G3


def test_a_grid_keeping_most_of_a_split_grid_inherits_its_code_and_team(
    db_session: Session, sample: Sample
) -> None:
    # G1 splits: B01 (24 of 60) joins G2, B02 (36) makes a new grid X; G1 leaves the draft.
    layout = draft(db_session, sample)
    assign_buildings(db_session, layout, ["B01"], G2, actor=TESTS)
    assign_buildings(db_session, layout, ["B02"], "X", new_name="新网格", actor=TESTS)

    plan = plan_cut_over(db_session, layout, START)

    assert {r.before: r.after for r in plan.codes} == {G2: G2, G3: G3, "X": G1}
    assert plan.disappearing == {} and plan.left_without_grid == []
    publish_draft(db_session, layout, START, actor=TESTS)
    assert codes(db_session, layout)[G1] == "第一网格"
    assert team(db_session, layout, G1) == 4


def test_a_grid_nobody_inherits_disappears_with_the_staff_it_leaves_without_a_grid(
    db_session: Session, sample: Sample
) -> None:
    # B02 (36 of G1's 60) joins G3, which keeps its own code: G1's code passes to nobody.
    layout = draft(db_session, sample)
    assign_buildings(db_session, layout, ["B01"], G2, actor=TESTS)
    assign_buildings(db_session, layout, ["B02"], G3, actor=TESTS)

    plan = plan_cut_over(db_session, layout, START)

    assert {r.before: r.after for r in plan.codes} == {G2: G2, G3: G3}
    assert list(plan.disappearing) == [G1] and len(plan.disappearing[G1]) == 4
    assert sorted(m.role for m in plan.left_without_grid) == [
        "grid_worker", "part_time_worker", "volunteer", "volunteer",
    ]  # fmt: skip


def test_a_start_before_a_published_future_layout_is_refused_in_the_plan(
    db_session: Session, sample: Sample
) -> None:
    publish_draft(db_session, draft(db_session, sample), START, actor=TESTS)
    with pytest.raises(Conflict, match="must start after it"):
        plan_cut_over(db_session, draft(db_session, sample), START - dt.timedelta(days=1))
