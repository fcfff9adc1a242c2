"""Tallies of a layout's grids, on the sample community worked out by hand.

Layout 2025版 (in force): G1 holds B01 (24 households, 2 units) and B02 (36);
G2 holds B03 (30, 2 units); G3 B04 (18) and B05 (20). G1's team is four grid
posts, plus B01's head and the head of unit B01/1: six people. Compound XQ01
holds B01, B02 (G1) and B03 (G2): split. Each grid is a 0.002° × 0.004°
rectangle at 30.59°N: about 191.6 m × 443.4 m, so Polsby-Popper
π·r/(1+r)² with r = 443.4/191.6 gives 0.662.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.demo.loader import demo_community_code
from gridgis.errors import InvalidInput
from gridgis.geo.areas import building_grid, building_in_grid
from gridgis.geo.layouts import choose_layout, get_community
from gridgis.models import Building, Community, Grid, Layout
from gridgis.planning.drafts import draft_layout
from gridgis.planning.edits import history, paint, redo, undo
from gridgis.planning.painting import assign_buildings
from gridgis.planning.tallies import (
    DEFAULT_BAND,
    Moved,
    Tallies,
    deviation,
    edit_moves,
    tally_grids,
    tally_layout,
    unplaced_after,
)
from tests.gridgis.planning.worlds import NOW, in_force, incident, layout_of
from tests.support.actors import TESTS
from tests.support.factories import box, geom
from tests.support.sample_community import (
    GRID_CODES,
    LAYOUT_DRAFT,
    Sample,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES


@pytest.fixture
def sample(db_session: Session) -> Sample:
    sample = build_sample_community(db_session)
    first = incident(db_session, sample, status="dispatched", days_ago=10, building="B01")
    incident(db_session, sample, status="closed", days_ago=10, building="B03")
    # No building: the grid covering the point (G3), reported long ago.
    incident(db_session, sample, status="received", days_ago=200, point=(114.305, 30.5915))
    # A duplicate merged into the first: not counted twice.
    incident(db_session, sample, status="merged", days_ago=5, building="B02", merged_into=first)
    # Its building (B05, G3) places it, not its point (in G1).
    incident(
        db_session,
        sample,
        status="in_progress",
        days_ago=89,
        building="B05",
        point=(114.301, 30.593),
    )
    return sample


def test_the_layout_in_force_tallies_by_hand(db_session: Session, sample: Sample) -> None:
    with clock.frozen(NOW):
        tallies = tally_layout(db_session, sample.layout)
    assert tallies.band == DEFAULT_BAND and "sets no household band" in (tallies.band_note or "")
    figures = {
        g.code: (
            g.households,
            g.units,
            g.buildings,
            g.staff,
            g.open_incidents,
            g.recent_incidents,
            g.deviation,
            g.parts,
            g.split_compounds,
        )
        for g in tallies.grids
    }
    assert figures == {
        G1: (60, 2, 2, 6, 1, 1, -240, 1, ("XQ01",)),
        G2: (30, 2, 1, 0, 0, 1, -270, 1, ("XQ01",)),
        G3: (38, 0, 2, 0, 2, 1, -262, 1, ()),
    }
    r = 443.4 / 191.6
    for g in tallies.grids:
        assert g.compactness == pytest.approx(math.pi * r / (1 + r) ** 2, rel=0.01)
        assert g.area_m2 == pytest.approx(191.6 * 443.4, rel=0.01)
    assert (tallies.unplaced_buildings, tallies.unplaced_households) == (0, 0)


def test_a_draft_tallies_by_its_own_grids(db_session: Session, sample: Sample) -> None:
    draft = choose_layout(db_session, sample.community, LAYOUT_DRAFT)
    assert draft is not None
    with clock.frozen(NOW):
        tallies = tally_layout(db_session, draft)
    [whole] = tallies.grids
    # One grid over everything: every building, the heads but no grid team, no split.
    assert (whole.code, whole.households, whole.units, whole.buildings, whole.staff) == (
        "DRAFT-1",
        128,
        4,
        5,
        2,
    )
    assert (whole.open_incidents, whole.recent_incidents, whole.split_compounds) == (3, 3, ())
    # A rectangle of 0.006° × 0.004°: about 574.8 m × 443.4 m.
    assert whole.compactness == pytest.approx(
        math.pi * 443.4 / 574.8 / (1 + 443.4 / 574.8) ** 2, rel=0.01
    )


def test_the_community_band_replaces_the_default(db_session: Session, sample: Sample) -> None:
    sample.community.households_min, sample.community.households_max = 30, 50
    db_session.flush()
    tallies = tally_layout(db_session, sample.layout)
    assert tallies.band == (30, 50) and tallies.band_note is None
    assert [g.deviation for g in tallies.grids] == [10, 0, 0]


@pytest.mark.parametrize(
    ("households", "expected"), [(299, -1), (300, 0), (500, 0), (501, 1), (0, -300)]
)
def test_deviation_is_measured_from_the_nearer_edge(households: int, expected: int) -> None:
    assert deviation(households, (300, 500)) == expected


# --- tally_grids: the full tally's figures, grid by grid ---------------------------------

#: Grids that overlap (B03 lies in both A and B: the smaller, B, has it) and
#: leave B05 in no grid; compound XQ01 (B01, B02, B03) is split between A and B.
TANGLED = {
    "A": box(114.300, 30.590, 114.303, 30.594),
    "B": box(114.3022, 30.590, 114.3035, 30.594),
    "C": box(114.304, 30.590, 114.306, 30.592),
}


def assert_incremental_matches(session: Session, layout: Layout, codes: set[str]) -> Tallies:
    """tally_grids(codes) gives each of those grids the full tally's figures."""
    with clock.frozen(NOW):
        full = tally_layout(session, layout)
        part = tally_grids(session, layout, codes)
    assert part.grids == [g for g in full.grids if g.code in codes]
    assert (part.unplaced_buildings, part.unplaced_households) == (
        full.unplaced_buildings,
        full.unplaced_households,
    )
    assert (part.community, part.layout, part.band, part.band_note) == (
        full.community,
        full.layout,
        full.band,
        full.band_note,
    )
    return full


def test_every_subset_of_a_tangled_layout_tallies_as_the_whole(
    db_session: Session, sample: Sample
) -> None:
    tangled = layout_of(db_session, sample, "tangled", TANGLED)
    for layout in (sample.layout, tangled):
        codes = [g.code for g in tally_layout(db_session, layout).grids]
        for size in range(len(codes) + 1):
            for subset in itertools.combinations(codes, size):
                assert_incremental_matches(db_session, layout, set(subset))
    full = assert_incremental_matches(db_session, tangled, {"A"})
    # What the subsets had to get right: the tie, the split and the unplaced building.
    figures = {g.code: (g.buildings, g.split_compounds, g.open_incidents) for g in full.grids}
    assert figures == {"A": (2, ("XQ01",), 1), "B": (1, ("XQ01",), 0), "C": (1, (), 1)}
    assert (full.unplaced_buildings, full.unplaced_households) == (1, 20)


def test_codes_the_layout_lacks_are_left_out(db_session: Session, sample: Sample) -> None:
    with clock.frozen(NOW):
        part = tally_grids(db_session, sample.layout, {"NO-SUCH-GRID", G2})
    assert [g.code for g in part.grids] == [G2]
    assert tally_grids(db_session, sample.layout, []).grids == []


def test_random_subsets_of_the_demo_tally_as_the_whole(demo_session: Session) -> None:
    layout = in_force(demo_session)
    codes = [g.code for g in tally_layout(demo_session, layout).grids]
    rng = random.Random(20261202)
    for _ in range(8):
        assert_incremental_matches(
            demo_session, layout, set(rng.sample(codes, rng.randint(1, len(codes))))
        )


def test_after_an_edit_the_touched_grids_tally_as_the_whole(demo_session: Session) -> None:
    community = get_community(demo_session, demo_community_code())
    draft = draft_layout(demo_session, community, name="incremental", actor=TESTS).layout
    full = tally_layout(demo_session, draft)
    rng = random.Random(11)
    for _ in range(3):
        grids = [g.code for g in full.grids]
        source, target = rng.sample(grids, 2)
        buildings = _buildings_of(demo_session, draft, source)
        moved = rng.sample(buildings, min(len(buildings), rng.randint(1, 3)))
        painted = assign_buildings(demo_session, draft, moved, target, actor=TESTS)
        full = assert_incremental_matches(demo_session, draft, set(painted.touched))


def _buildings_of(session: Session, layout: Layout, code: str) -> list[str]:
    """The codes of the buildings that belong to grid ``code`` of ``layout``."""
    return list(
        session.scalars(
            sa.select(Building.code)
            .join(Grid, building_in_grid(Building, Grid))
            .where(Grid.layout_id == layout.id, Grid.code == code)
            .order_by(Building.code)
        )
    )


# --- the unplaced figures carried forward from edit to edit ------------------------------


def _unplaced(tallies: Tallies) -> tuple[int, int]:
    return tallies.unplaced_buildings, tallies.unplaced_households


def test_unplaced_carried_through_paints_undos_and_redos(demo_session: Session) -> None:
    """unplaced_after, edit after edit, equals the count made from scratch.

    Two grids of a draft of the demo are deleted, so their buildings lie in
    no grid on land in no grid; random paints move buildings from there and
    between grids, with random undos and redos. Each step carries the figure
    forward both from the Painted and from the Edit (its audit summary), and
    tally_grids given it returns it as is.
    """
    community = get_community(demo_session, demo_community_code())
    draft = draft_layout(demo_session, community, name="unplaced", actor=TESTS).layout
    rng = random.Random(20261202)
    codes = sorted(demo_session.scalars(sa.select(Grid.code).where(Grid.layout_id == draft.id)))
    for gone in rng.sample(codes, 2):
        demo_session.execute(sa.delete(Grid).where(Grid.layout_id == draft.id, Grid.code == gone))
    demo_session.expire_all()
    unplaced = _unplaced(tally_layout(demo_session, draft))
    assert unplaced[0] > 0
    painted_from_nowhere, done = 0, []
    for step in range(12):
        history_ = history(demo_session, draft)
        action = rng.choice(["paint", "paint", "undo", "redo"])
        if action == "undo" and history_.can_undo:
            edit = undo(demo_session, draft, actor=TESTS)
        elif action == "redo" and history_.can_redo:
            edit = redo(demo_session, draft, actor=TESTS)
        else:
            action = "paint"
            grids = [g.code for g in tally_layout(demo_session, draft).grids]
            target = rng.choice(grids)
            everyone = list(
                demo_session.scalars(
                    sa.select(Building.code)
                    .where(Building.community_id == community.id)
                    .order_by(Building.code)
                )
            )
            nowhere = _unplaced_codes(demo_session, draft)
            chosen = rng.sample(everyone, 2) + rng.sample(nowhere, min(len(nowhere), 2))
            painted, edit = paint(demo_session, draft, chosen, target, actor=TESTS)
            painted_from_nowhere += sum(m.before is None for m in painted.moved)
            assert unplaced_after(unplaced, painted.moved) == unplaced_after(
                unplaced, edit_moves(demo_session, draft, edit.summary)
            )
        carried = unplaced_after(
            unplaced, edit_moves(demo_session, draft, edit.summary), undone=edit.undone
        )
        recomputed = _unplaced(tally_layout(demo_session, draft))
        assert carried == recomputed, f"step {step}: {action}, {edit.summary}"
        touched = sorted(set(edit.touched) - set(edit.removed))
        assert _unplaced(tally_grids(demo_session, draft, touched, unplaced=carried)) == carried
        assert _unplaced(tally_grids(demo_session, draft, touched)) == recomputed
        unplaced = carried
        done.append(action)
    assert painted_from_nowhere > 0 and {"paint", "undo", "redo"} <= set(done)


def test_unplaced_after_counts_only_buildings_from_no_grid() -> None:
    moved = [Moved("B1", 10, None), Moved("B2", 20, "G1"), Moved("B3", 5, None)]
    assert unplaced_after((7, 100), moved) == (5, 85)
    assert unplaced_after((5, 85), moved, undone=True) == (7, 100)
    assert unplaced_after((7, 100), []) == (7, 100)


def _unplaced_codes(session: Session, layout: Layout) -> list[str]:
    """The codes of the community's buildings in no grid of ``layout``."""
    return list(
        session.scalars(
            sa.select(Building.code)
            .where(
                Building.community_id == layout.community_id,
                building_grid(Building.geom, layout.id).is_(None),
            )
            .order_by(Building.code)
        )
    )


def test_a_building_outside_the_boundary_is_not_painted_and_stays_unplaced(
    demo_session: Session,
) -> None:
    """Painting refuses a building beyond the community's boundary (it has no land
    of the community to bring): the figure stays what it was, and an edit of the
    buildings inside carries it forward exactly."""
    community = get_community(demo_session, demo_community_code())
    draft = draft_layout(demo_session, community, name="outside", actor=TESTS).layout
    last = max(demo_session.scalars(sa.select(Grid.code).where(Grid.layout_id == draft.id)))
    demo_session.execute(sa.delete(Grid).where(Grid.layout_id == draft.id, Grid.code == last))
    x1, y0, y1 = demo_session.execute(
        sa.select(
            sa.func.ST_XMax(Community.boundary),
            sa.func.ST_YMin(Community.boundary),
            sa.func.ST_YMax(Community.boundary),
        ).where(Community.id == community.id)
    ).one()
    y = (y0 + y1) / 2
    demo_session.add(
        Building(
            community_id=community.id,
            code="OUTSIDE1",
            name="beyond the boundary",
            households=7,
            geom=geom(box(x1 + 0.0002, y, x1 + 0.0004, y + 0.0002)),
        )
    )
    demo_session.flush()
    demo_session.expire_all()
    unplaced = _unplaced(tally_layout(demo_session, draft))
    inside = [c for c in _unplaced_codes(demo_session, draft) if c != "OUTSIDE1"][:1]
    target = min(demo_session.scalars(sa.select(Grid.code).where(Grid.layout_id == draft.id)))
    with pytest.raises(InvalidInput, match="OUTSIDE1 stand outside the boundary"):
        paint(demo_session, draft, ["OUTSIDE1", *inside], target, actor=TESTS)
    assert _unplaced(tally_layout(demo_session, draft)) == unplaced
    _, edit = paint(demo_session, draft, inside, target, actor=TESTS)
    moves = edit_moves(demo_session, draft, edit.summary)
    assert not [m for m in moves if m.stays_unplaced]
    carried = unplaced_after(unplaced, moves)
    assert carried == _unplaced(tally_layout(demo_session, draft))
    assert carried[0] == unplaced[0] - len(inside)
    edit = undo(demo_session, draft, actor=TESTS)
    back = unplaced_after(carried, edit_moves(demo_session, draft, edit.summary), undone=True)
    assert back == unplaced == _unplaced(tally_layout(demo_session, draft))
