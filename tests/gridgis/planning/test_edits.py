"""Undo, redo and locks: a draft's grids come back byte for byte, locked grids stay as they are.

The sample community's draft starts as the layout in force: three columns
G1 (B01, B02), G2 (B03), G3 (B04, B05); G1 has a grid team of 4.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.models import Assignment, AuditEntry, Community, Grid, Layout, LayoutEdit
from gridgis.planning.drafts import draft_layout
from gridgis.planning.edits import history, locked_codes, paint, redo, set_locked, undo
from gridgis.planning.painting import assign_buildings
from tests.gridgis.planning.test_painting import START, assert_tiles, placement
from tests.gridgis.planning.worlds import in_force
from tests.support.actors import TESTS, named
from tests.support.sample_community import GRID_CODES, Sample, build_sample_community

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
ALICE = named("user:alice")

_names = itertools.count()


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


@pytest.fixture
def layout(db_session: Session, sample: Sample) -> Layout:
    return draft_layout(
        db_session, sample.community, name=f"edits {next(_names)}", actor=TESTS
    ).layout


def state(session: Session, layout: Layout) -> dict[str, tuple[str, bytes, int, list[tuple]]]:
    """Code -> name, EWKB as stored, id and team (staff, role, volunteer team, on duty, id)."""
    teams: dict[int, list[tuple]] = {}
    for row in session.execute(
        sa.select(
            Assignment.grid_id,
            Assignment.staff_id,
            Assignment.role,
            Assignment.volunteer_team,
            Assignment.on_duty,
            Assignment.id,
        )
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(Grid.layout_id == layout.id)
        .order_by(Assignment.id)
    ):
        teams.setdefault(row[0], []).append(tuple(row[1:]))
    return {
        code: (name, bytes(wkb), id_, teams.get(id_, []))
        for code, name, wkb, id_ in session.execute(
            sa.select(Grid.code, Grid.name, sa.func.ST_AsEWKB(Grid.geom), Grid.id).where(
                Grid.layout_id == layout.id
            )
        )
    }


def same_polygons(session: Session, layout: Layout, expected: dict[str, tuple]) -> bool:
    """Every grid ST_Equals and ST_OrderingEquals the one kept in ``expected``."""
    return all(
        session.scalar(
            sa.select(
                sa.and_(
                    sa.func.ST_Equals(Grid.geom, sa.func.ST_GeomFromEWKB(wkb)),
                    sa.func.ST_OrderingEquals(Grid.geom, sa.func.ST_GeomFromEWKB(wkb)),
                )
            ).where(Grid.layout_id == layout.id, Grid.code == code)
        )
        for code, (_, wkb, _, _) in expected.items()
    )


def test_undo_puts_the_polygons_back_byte_for_byte_and_redo_again(
    db_session: Session, layout: Layout
) -> None:
    start = state(db_session, layout)
    painted, edit = paint(db_session, layout, ["B05"], G2, actor=TESTS)
    assert (edit.seq, edit.action, edit.actor, edit.undone) == (1, "assign", "cli:tests", False)
    assert (edit.touched, edit.removed) == ([G2, G3], []) == (painted.touched, painted.removed)
    assert edit.summary == {
        "grid": G2,
        "new_grid": False,
        "buildings": ["B05"],
        "from": {"B05": G3},
        "households": 20,
        "removed_grids": [],
    }
    painted_state = state(db_session, layout)
    undone = undo(db_session, layout, actor=ALICE)
    assert (undone.seq, undone.undone, undone.touched, undone.removed) == (1, True, [G2, G3], [])
    assert state(db_session, layout) == start
    assert same_polygons(db_session, layout, start)
    assert_tiles(db_session, layout, START)
    redone = redo(db_session, layout, actor=ALICE)
    assert (redone.seq, redone.undone, redone.touched, redone.removed) == (1, False, [G2, G3], [])
    assert state(db_session, layout) == painted_state
    assert_tiles(db_session, layout, START | {"B05": G2})


def test_undo_and_redo_are_audited_on_the_layout(
    db_session: Session, sample: Sample, layout: Layout
) -> None:
    paint(db_session, layout, ["B04"], G2, actor=TESTS)
    undo(db_session, layout, actor=ALICE)
    redo(db_session, layout, actor=ALICE)
    entries = db_session.execute(
        sa.select(AuditEntry.action, AuditEntry.actor, AuditEntry.entity_id, AuditEntry.after)
        .where(AuditEntry.action.in_(["assign", "undo", "redo"]))
        .order_by(AuditEntry.id)
    ).all()
    where = f"{sample.community.code}/{layout.name}"
    assert [(a, who, e) for a, who, e, _ in entries] == [
        ("assign", "cli:tests", where),
        ("undo", "user:alice", where),
        ("redo", "user:alice", where),
    ]
    assert entries[1][3]["seq"] == 1 and entries[1][3]["buildings"] == ["B04"]


def test_twenty_five_steps_back_and_forth(db_session: Session, layout: Layout) -> None:
    states = [state(db_session, layout)]
    expected = [dict(START)]
    for step in range(25):
        where = expected[-1]
        building = sorted(where)[step % 5]
        grids = sorted(set(where.values()))
        # The next grid round that is not the building's own (G2 goes when B03 leaves it).
        target = grids[(grids.index(where[building]) + 1) % len(grids)]
        if len(grids) == 1:
            break
        _, edit = paint(db_session, layout, [building], target, actor=TESTS)
        assert edit.seq == step + 1
        states.append(state(db_session, layout))
        expected.append(where | {building: target})
    steps = len(states) - 1
    assert steps >= 20
    assert history(db_session, layout).can_redo is False
    for back in range(1, steps + 1):
        assert undo(db_session, layout, actor=TESTS).seq == steps - back + 1
        assert state(db_session, layout) == states[steps - back]
    assert_tiles(db_session, layout, START)
    assert same_polygons(db_session, layout, states[0])
    with pytest.raises(Conflict, match=r"^Nothing to undo: the layout"):
        undo(db_session, layout, actor=TESTS)
    for forth in range(1, steps + 1):
        assert redo(db_session, layout, actor=TESTS).seq == forth
        assert state(db_session, layout) == states[forth]
    assert_tiles(db_session, layout, expected[-1])
    with pytest.raises(Conflict, match=r"^Nothing to redo: the layout"):
        redo(db_session, layout, actor=TESTS)


def test_a_new_edit_drops_the_redo_branch(db_session: Session, layout: Layout) -> None:
    paint(db_session, layout, ["B05"], G2, actor=TESTS)
    paint(db_session, layout, ["B04"], G2, actor=TESTS)
    undo(db_session, layout, actor=TESTS)
    assert history(db_session, layout).can_redo
    _, edit = paint(db_session, layout, ["B02"], G2, actor=TESTS)
    # Numbers only grow: edit 2 was dropped, the new one is 3.
    assert edit.seq == 3
    found = history(db_session, layout)
    assert [(e.seq, e.undone) for e in found.edits] == [(3, False), (1, False)]
    assert (found.can_undo, found.can_redo) == (True, False)
    with pytest.raises(Conflict, match="Nothing to redo"):
        redo(db_session, layout, actor=TESTS)
    undo(db_session, layout, actor=TESTS)
    undo(db_session, layout, actor=TESTS)
    assert_tiles(db_session, layout, START)


def test_undo_of_a_new_grid_removes_it_and_redo_makes_it_again(
    db_session: Session, layout: Layout
) -> None:
    start = state(db_session, layout)
    _, edit = paint(db_session, layout, ["B02", "B05"], G4, new_name="第四网格", actor=TESTS)
    assert (edit.touched, edit.removed, edit.summary["new_grid"]) == ([G1, G3, G4], [], True)
    made = state(db_session, layout)
    undone = undo(db_session, layout, actor=TESTS)
    assert (undone.touched, undone.removed) == ([G1, G3], [G4])
    assert state(db_session, layout) == start
    redone = redo(db_session, layout, actor=TESTS)
    assert (redone.touched, redone.removed) == ([G1, G3, G4], [])
    assert state(db_session, layout) == made
    assert made[G4][0] == "第四网格"
    assert_tiles(db_session, layout, START | {"B02": G4, "B05": G4})


def test_undo_of_a_removed_grid_brings_it_back_with_its_team(
    db_session: Session, layout: Layout
) -> None:
    start = state(db_session, layout)
    assert len(start[G1][3]) == 4
    painted, edit = paint(db_session, layout, ["B01", "B02"], G2, actor=TESTS)
    assert (painted.removed, painted.assignments) == ([G1], 4)
    assert (edit.touched, edit.removed) == ([G2], [G1])
    undone = undo(db_session, layout, actor=TESTS)
    assert (undone.touched, undone.removed) == ([G1, G2], [])
    # The same grid: id, name, polygon, and its team of 4 with their ids and duty.
    assert state(db_session, layout) == start
    assert_tiles(db_session, layout, START)
    redone = redo(db_session, layout, actor=TESTS)
    assert (redone.touched, redone.removed) == ([G2], [G1])
    assert sorted(state(db_session, layout)) == [G2, G3]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Assignment).where(
        Assignment.grid_id == start[G1][2])) == 0  # fmt: skip
    undo(db_session, layout, actor=TESTS)
    assert state(db_session, layout) == start


@pytest.mark.parametrize(
    ("locked", "buildings", "target"),
    [
        (G2, ["B05"], G2),  # the target
        (G3, ["B05"], G2),  # the grid B05 would leave
        (G3, ["B01", "B04"], G4),  # one of the grids left, into a new grid
    ],
)
def test_a_locked_grid_refuses_painting_and_nothing_changes(
    db_session: Session,
    sample: Sample,
    layout: Layout,
    locked: str,
    buildings: list[str],
    target: str,
) -> None:
    set_locked(db_session, layout, locked, True, actor=ALICE)
    assert locked_codes(db_session, layout) == {locked}
    before = state(db_session, layout)
    with pytest.raises(Conflict) as raised:
        paint(
            db_session,
            layout,
            buildings,
            target,
            new_name="新" if target == G4 else None,
            actor=TESTS,
        )
    assert str(raised.value) == (
        f"Grid {locked} is locked; unlock it first (gridgis layout unlock '{layout.name}' "
        f"--community {sample.community.code} --grid {locked})."
    )
    assert state(db_session, layout) == before
    assert history(db_session, layout).edits == []
    assert not db_session.scalar(sa.select(sa.exists().where(AuditEntry.action == "assign")))
    # A new grid with a locked grid's code: painting's own refusal, not the lock's.
    with pytest.raises(Conflict, match=f"already has a grid '{locked}'"):
        paint(db_session, layout, ["B01"], locked, new_name="新", actor=TESTS)
    set_locked(db_session, layout, locked, False, actor=ALICE)
    paint(
        db_session, layout, buildings, target, new_name="新" if target == G4 else None, actor=TESTS
    )
    assert placement(db_session, layout) == START | dict.fromkeys(buildings, target)


def test_locks_are_audited_and_not_edits(
    db_session: Session, sample: Sample, layout: Layout
) -> None:
    set_locked(db_session, layout, G1, True, actor=ALICE)
    set_locked(db_session, layout, G1, True, actor=ALICE)  # already: no change, no entry
    set_locked(db_session, layout, G1, False, actor=ALICE)
    entries = db_session.execute(
        sa.select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.after)
        .where(AuditEntry.action.in_(["lock", "unlock"]))
        .order_by(AuditEntry.id)
    ).all()
    where = f"{sample.community.code}/{layout.name}"
    assert entries == [
        ("lock", where, {"grid": G1, "locked": True}),
        ("unlock", where, {"grid": G1, "locked": False}),
    ]
    assert not history(db_session, layout).can_undo
    assert locked_codes(db_session, layout) == set()


def test_a_grid_locked_after_an_edit_refuses_its_undo(db_session: Session, layout: Layout) -> None:
    paint(db_session, layout, ["B05"], G2, actor=TESTS)
    painted = state(db_session, layout)
    set_locked(db_session, layout, G3, True, actor=TESTS)
    with pytest.raises(Conflict, match=f"^Grid {G3} is locked; unlock it first"):
        undo(db_session, layout, actor=TESTS)
    assert state(db_session, layout) == painted
    assert history(db_session, layout).can_undo


def test_an_edit_made_outside_the_history_refuses_undo(db_session: Session, layout: Layout) -> None:
    paint(db_session, layout, ["B05"], G2, actor=TESTS)
    assign_buildings(db_session, layout, ["B04"], G2, actor=TESTS)  # not through edits
    painted = state(db_session, layout)
    with pytest.raises(Conflict, match=f"Grid\\(s\\) {G2}, {G3} of the layout .* since edit 1"):
        undo(db_session, layout, actor=TESTS)
    assert state(db_session, layout) == painted


def test_a_published_layout_is_refused(db_session: Session, sample: Sample) -> None:
    published = sample.layout
    message = (
        f"The layout '2025版' of community {sample.community.code} is published; only a "
        "draft's grids can be {}. Copy the layout in force with `gridgis layout draft "
        f"--community {sample.community.code}` and edit that."
    )
    for call in (undo, redo):
        with pytest.raises(Conflict) as raised:
            call(db_session, published, actor=TESTS)
        assert str(raised.value) == message.format("undone or redone")
    with pytest.raises(Conflict) as raised:
        set_locked(db_session, published, G1, True, actor=TESTS)
    assert str(raised.value) == message.format("locked or unlocked")
    with pytest.raises(Conflict, match="only a draft can be painted"):
        paint(db_session, published, ["B03"], G1, actor=TESTS)
    assert not db_session.scalar(sa.select(sa.exists().where(LayoutEdit.id.isnot(None))))


def test_nothing_to_undo_or_redo(db_session: Session, sample: Sample, layout: Layout) -> None:
    where = f"the layout '{layout.name}' of community {sample.community.code}"
    with pytest.raises(Conflict) as raised:
        undo(db_session, layout, actor=TESTS)
    assert str(raised.value) == f"Nothing to undo: {where} has no edit left to undo."
    with pytest.raises(Conflict) as raised:
        redo(db_session, layout, actor=TESTS)
    assert str(raised.value) == (
        f"Nothing to redo: {where} has no undone edit to redo (a new edit drops the undone ones)."
    )


def test_a_paint_that_moves_nothing_is_not_an_edit(db_session: Session, layout: Layout) -> None:
    painted, edit = paint(db_session, layout, ["B01"], G1, actor=TESTS)
    assert (painted.stayed, edit.seq, edit.touched) == (["B01"], 0, [])
    assert history(db_session, layout).edits == []


def test_history_is_newest_first(db_session: Session, layout: Layout) -> None:
    paint(db_session, layout, ["B05"], G2, actor=TESTS)
    paint(db_session, layout, ["B01", "B02"], G2, actor=ALICE)
    paint(db_session, layout, ["B04"], G4, new_name="第四网格", actor=TESTS)
    undo(db_session, layout, actor=TESTS)
    found = history(db_session, layout)
    assert [(e.seq, e.actor, e.summary["buildings"], e.undone) for e in found.edits] == [
        (3, "cli:tests", ["B04"], True),
        (2, "user:alice", ["B01", "B02"], False),
        (1, "cli:tests", ["B05"], False),
    ]
    assert [(e.touched, e.removed) for e in found.edits] == [
        ([G4], [G3]),  # B04 was G3's last building
        ([G2], [G1]),
        ([G2, G3], []),
    ]
    assert (found.can_undo, found.can_redo) == (True, True)
    assert [e.seq for e in history(db_session, layout, limit=1).edits] == [3]
    with pytest.raises(InvalidInput, match="between 1 and 1000"):
        history(db_session, layout, limit=0)


def test_an_unknown_grid_cannot_be_locked(db_session: Session, layout: Layout) -> None:
    with pytest.raises(NotFound) as raised:
        set_locked(db_session, layout, G4, True, actor=TESTS)
    assert f"has no grid '{G4}'; its grids are: {G1}, {G2}, {G3}." in str(raised.value)


def test_undo_on_the_demo_community(demo_session: Session) -> None:
    community = demo_session.get_one(Community, in_force(demo_session).community_id)
    draft = draft_layout(demo_session, community, name="demo edits", actor=TESTS).layout
    start = state(demo_session, draft)
    codes = sorted(start)
    building = demo_session.scalar(
        sa.text(
            "SELECT b.code FROM building b JOIN grid g ON ST_Covers(g.geom, "
            "ST_PointOnSurface(b.geom)) WHERE g.layout_id = :layout AND g.code = :code "
            "ORDER BY b.code LIMIT 1"
        ),
        {"layout": draft.id, "code": codes[0]},
    )
    paint(demo_session, draft, [building], codes[1], actor=TESTS)
    assert state(demo_session, draft) != start
    undo(demo_session, draft, actor=TESTS)
    assert state(demo_session, draft) == start


def test_two_planners_on_one_draft_take_turns(scratch_database_url: str) -> None:
    """Paint holds the draft's row lock until it commits; an undo meanwhile waits for it."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        sample = build_sample_community(session)
        layout_id = draft_layout(session, sample.community, name="shared", actor=TESTS).layout.id
    try:
        with Session(engine) as first, Session(engine) as second:
            paint(first, first.get_one(Layout, layout_id), ["B05"], G2, actor=TESTS)
            # Not a timing: the first planner holds the lock for as long as we like.
            second.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                undo(second, second.get_one(Layout, layout_id), actor=ALICE)
            second.rollback()
            first.commit()
            edit = undo(second, second.get_one(Layout, layout_id), actor=ALICE)
            second.commit()
        assert (edit.seq, edit.undone) == (1, True)
        with Session(engine) as session:
            layout = session.get_one(Layout, layout_id)
            assert placement(session, layout) == START
            assert [(e.seq, e.undone) for e in history(session, layout).edits] == [(1, True)]
    finally:
        engine.dispose()
