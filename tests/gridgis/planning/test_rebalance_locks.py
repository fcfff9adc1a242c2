"""Rebalancing keeps locked grids: their buildings, polygon (byte for byte), name, team and lock.

On the sample community (three columns: G1 holds B01 24 and B02 36, G2 B03
30, G3 B04 18 and B05 20) a locked middle column G2 cuts the rest in two
groups whose land does not touch: each is rebalanced on its own. On the demo
(9 grids) one locked grid leaves the rest connected. Drafts are painted from
empty (a draft is not in force); the layout in force is painted on a copy.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis.errors import InvalidInput
from gridgis.models import Assignment, Community, Grid, Layout
from gridgis.planning.drafts import draft_layout
from gridgis.planning.edits import locked_codes, set_locked
from gridgis.planning.rebalance import Rebalanced, placed_buildings, rebalance_layout
from gridgis.planning.tallies import GridTally
from tests.gridgis.planning.test_painting import assert_tiles
from tests.gridgis.planning.worlds import in_force
from tests.support.actors import TESTS
from tests.support.sample_community import GRID_CODES, Sample, build_sample_community

G1, G2, G3 = GRID_CODES
DEMO_BAND = (400, 520)


def stored(session: Session, layout: Layout, code: str) -> tuple[str, str, bool, bytes]:
    """A grid as stored: code, name, lock and EWKB."""
    name, locked, ewkb = session.execute(
        sa.select(Grid.name, Grid.locked, sa.func.ST_AsEWKB(Grid.geom)).where(
            Grid.layout_id == layout.id, Grid.code == code
        )
    ).one()
    return code, name, locked, bytes(ewkb)


def team(session: Session, layout: Layout, code: str) -> list[tuple[int, str, str | None, bool]]:
    rows = session.execute(
        sa.select(
            Assignment.staff_id, Assignment.role, Assignment.volunteer_team, Assignment.on_duty
        )
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(Grid.layout_id == layout.id, Grid.code == code)
        .order_by(Assignment.staff_id, Assignment.role)
    ).all()
    return [tuple(r) for r in rows]


def buildings_of(session: Session, layout: Layout, code: str) -> list[str]:
    return sorted(p.code for p in placed_buildings(session, layout).values() if p.grid == code)


def locked_draft(session: Session, community: Community, codes: list[str], name: str) -> Layout:
    """A draft of the layout in force with ``codes`` locked."""
    layout = draft_layout(session, community, name=name, actor=TESTS).layout
    for code in codes:
        set_locked(session, layout, code, True, actor=TESTS)
    return layout


def assert_kept(session: Session, source: Layout, done: Rebalanced, code: str) -> None:
    """``code`` is in the draft as in ``source``: buildings, polygon bytes, name, team, lock."""
    assert stored(session, done.layout, code) == stored(session, source, code)
    assert stored(session, done.layout, code)[2] is True
    assert buildings_of(session, done.layout, code) == buildings_of(session, source, code)
    assert team(session, done.layout, code) == team(session, source, code)
    old, new = aliased(Grid), aliased(Grid)
    same = (
        sa.select(sa.func.ST_Equals(old.geom, new.geom))
        .join(new, new.code == old.code)
        .where(old.layout_id == source.id, new.layout_id == done.layout.id, old.code == code)
    )
    assert session.scalar(same) is True


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def test_a_locked_grid_on_the_demo_is_kept_and_the_rest_rebalanced(demo_session: Session) -> None:
    current = in_force(demo_session)
    community = demo_session.get_one(Community, current.community_id)
    codes = sorted(g.code for g in current.grids)
    source = locked_draft(demo_session, community, [codes[3]], "locked one")
    done = rebalance_layout(
        demo_session, source, band=DEMO_BAND, seed=7, steps=60, time_limit=30, actor=TESTS
    )
    assert not done.from_copy and done.locked == (codes[3],)
    assert_kept(demo_session, source, done, codes[3])
    assert locked_codes(demo_session, done.layout) == {codes[3]}
    assert done.notes[0].startswith(f"kept locked: grid(s) {codes[3]} (")

    # The others in the band, or a reason for each that is not; fewer outside than before.
    def outside(grids: list[GridTally]) -> list[str]:
        return [g.code for g in grids if not DEMO_BAND[0] <= g.households <= DEMO_BAND[1]]

    for code in outside(done.after.grids):
        assert any(r.startswith(f"grid {code} ") for r in done.reasons), done.reasons
    assert len(outside(done.after.grids)) < len(outside(done.before.grids))
    assert done.report.errors == [], [p.message for p in done.report.errors]
    assert all(g.parts == 1 for g in done.after.grids)
    assert_tiles(demo_session, done.layout, done.assignment)
    # No building of the locked grid moved, and none joined it.
    assert {b for b, g in done.assignment.items() if g == codes[3]} == set(
        buildings_of(demo_session, source, codes[3])
    )
    # The same seed again: the same assignment.
    again = rebalance_layout(
        demo_session,
        source,
        band=DEMO_BAND,
        seed=7,
        steps=60,
        time_limit=30,
        name="again",
        actor=TESTS,
    )
    assert again.assignment == done.assignment and again.steps == done.steps


def test_a_locked_column_cuts_the_rest_in_two_groups(db_session: Session, sample: Sample) -> None:
    source = locked_draft(db_session, sample.community, [G2], "middle locked")
    done = rebalance_layout(
        db_session, source, band=(20, 40), grids=4, seed=0, steps=20, time_limit=10, actor=TESTS
    )
    assert_kept(db_session, source, done, G2)
    # 4 grids in all: G2 and three for the two groups, shared by households (60 and 38):
    # the west column gets two, B01 and B02 apart; the east one keeps B04 and B05 together.
    assert len(done.after.grids) == 4 and done.reasons == []
    assert done.assignment["B01"] != done.assignment["B02"]
    assert done.assignment["B04"] == done.assignment["B05"] != G2
    assert done.assignment["B03"] == G2
    assert_tiles(db_session, done.layout, done.assignment)
    assert done.report.errors == [], [p.message for p in done.report.errors]
    groups = [n for n in done.notes if "fall in 2 groups" in n]
    assert groups and f"separated by {G2}:" in groups[0] and f"Unlock {G2}" in groups[0]
    # Each group searched with the same seed again: the same assignment.
    again = rebalance_layout(
        db_session,
        source,
        band=(20, 40),
        grids=4,
        seed=0,
        steps=20,
        time_limit=10,
        name="again",
        actor=TESTS,
    )
    assert again.assignment == done.assignment and again.steps == done.steps


def test_from_the_layout_s_grids_each_group_keeps_its_own(
    db_session: Session, sample: Sample
) -> None:
    source = locked_draft(db_session, sample.community, [G2], "middle locked")
    done = rebalance_layout(
        db_session, source, band=(30, 55), seed=0, steps=20, time_limit=10, actor=TESTS
    )
    # G1 (60) cannot give B01 to G2 (locked) nor reach G3 across it: it stays, with a reason.
    assert done.assignment == {"B01": G1, "B02": G1, "B03": G2, "B04": G3, "B05": G3}
    assert done.moved_buildings == 0
    assert [r for r in done.reasons if r.startswith(f"grid {G1} has 60 households")]
    assert_kept(db_session, source, done, G2)
    assert_tiles(db_session, done.layout, done.assignment)


def test_a_locked_grid_outside_the_band_is_reported_as_locked(
    db_session: Session, sample: Sample
) -> None:
    # G1 holds the grid team and 60 households, above 30-55; locked, it stays so.
    source = locked_draft(db_session, sample.community, [G1], "west locked")
    assert team(db_session, source, G1)
    done = rebalance_layout(
        db_session, source, band=(30, 55), seed=0, steps=20, time_limit=10, actor=TESTS
    )
    assert_kept(db_session, source, done, G1)
    assert f"grid {G1} has 60 households: locked, kept as it is" in " ".join(done.reasons)
    assert_tiles(db_session, done.layout, done.assignment)


def test_the_layout_in_force_with_a_lock_is_painted_on_a_copy(
    db_session: Session, sample: Sample
) -> None:
    # A layout published with a lock keeps it (set here directly: only drafts are locked
    # through edits).
    db_session.execute(
        sa.update(Grid)
        .where(Grid.layout_id == sample.layout.id, Grid.code == G3)
        .values(locked=True)
        .execution_options(synchronize_session=False)
    )
    db_session.expire_all()
    done = rebalance_layout(
        db_session, sample.layout, band=(30, 55), seed=0, steps=30, time_limit=10, actor=TESTS
    )
    assert done.from_copy and done.locked == (G3,)
    assert done.assignment == {"B01": G2, "B02": G1, "B03": G2, "B04": G3, "B05": G3}
    assert_kept(db_session, sample.layout, done, G3)
    assert_tiles(db_session, done.layout, done.assignment)


@pytest.mark.parametrize(
    ("grids", "message"),
    [
        (
            2,
            f"--grids 2 counts the draft's grids, the 1 locked grid(s) ({G2}) included, which "
            "leaves 1 for the buildings outside them, which fall in 2 groups separated by "
            "locked grids: give --grids of at least 3, or unlock a grid.",
        ),
        (9, f"--grids 9 leaves 8 grids for 4 building(s) outside the 1 locked grid(s) ({G2})"),
    ],
)
def test_a_grid_count_the_groups_cannot_take_is_refused(
    db_session: Session, sample: Sample, grids: int, message: str
) -> None:
    source = locked_draft(db_session, sample.community, [G2], "middle locked")
    with pytest.raises(InvalidInput) as refused:
        rebalance_layout(db_session, source, grids=grids, steps=5, actor=TESTS)
    assert message in str(refused.value)


def test_every_grid_locked_is_refused(db_session: Session, sample: Sample) -> None:
    source = locked_draft(db_session, sample.community, [G1, G2, G3], "all locked")
    with pytest.raises(InvalidInput, match=r"nothing is left to rebalance\. Unlock a grid first"):
        rebalance_layout(db_session, source, steps=5, actor=TESTS)
