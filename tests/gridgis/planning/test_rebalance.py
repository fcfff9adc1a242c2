"""Rebalancing: on the demo, every grid in the band, contiguous, checks clean, in force untouched.

The demo (9 grids, 4,176 households in 166 buildings) is loaded once for the
module in a database of its own; each test works in a transaction that is
rolled back. A band of 400-520 is one the demo allows with its 9 grids (the
average is 464) but that its layout in force misses, so the search must move
buildings. Step counts are small: the tests stay quick.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput
from gridgis.models import AuditEntry, Grid, Layout
from gridgis.planning.rebalance import adjacency, parse_band, placed_buildings, rebalance_layout
from tests.gridgis.planning.worlds import in_force
from tests.support.actors import TESTS
from tests.support.sample_community import GRID_CODES, build_sample_community

BAND = (400, 520)
G1, G2, G3 = GRID_CODES
STEPS = 60


def polygons(session: Session, layout: Layout) -> dict[str, bytes]:
    return {
        code: bytes(wkb)
        for code, wkb in session.execute(
            sa.select(Grid.code, sa.func.ST_AsBinary(Grid.geom)).where(Grid.layout_id == layout.id)
        )
    }


def test_the_demo_rebalanced_in_band_contiguous_and_clean(demo_session: Session) -> None:
    layout = in_force(demo_session)
    kept = polygons(demo_session, layout)
    done = rebalance_layout(
        demo_session, layout, band=BAND, seed=7, steps=STEPS, time_limit=30, actor=TESTS
    )
    outside = [g for g in done.after.grids if not BAND[0] <= g.households <= BAND[1]]
    # Every grid in the band, or a reason printed for each one that is not.
    for g in outside:
        assert any(r.startswith(f"grid {g.code} ") for r in done.reasons), done.reasons
    assert len(outside) < sum(
        1 for g in done.before.grids if not BAND[0] <= g.households <= BAND[1]
    )
    assert done.report.errors == [], [p.message for p in done.report.errors]
    assert all(g.parts == 1 for g in done.after.grids)
    # Contiguous on the buildings' adjacency too.
    places = placed_buildings(demo_session, done.layout)
    graph = adjacency(demo_session, layout.community_id, places)
    members: dict[str | None, list[int]] = defaultdict(list)
    for p in places.values():
        members[p.grid].append(p.id)
    assert None not in members
    assert all(nx.is_connected(graph.subgraph(nodes)) for nodes in members.values())
    assert {p.code: p.grid for p in places.values()} == done.assignment
    assert 0 < done.moved_households < sum(g.households for g in done.before.grids)
    # The layout in force is untouched and still the one in force.
    assert polygons(demo_session, layout) == kept
    assert in_force(demo_session).id == layout.id
    assert done.layout.status == "draft" and done.layout.name.endswith("rebalanced")
    assert (
        demo_session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "rebalance")) == 1
    )


def test_the_same_seed_gives_the_same_assignment(demo_session: Session) -> None:
    layout = in_force(demo_session)
    runs = [
        rebalance_layout(
            demo_session,
            layout,
            band=BAND,
            seed=seed,
            steps=30,
            time_limit=30,
            name=f"run {k}",
            actor=TESTS,
        )
        for k, seed in enumerate((3, 3))
    ]
    assert runs[0].assignment == runs[1].assignment
    assert runs[0].steps == runs[1].steps


def test_from_scratch_with_a_number_of_grids(demo_session: Session) -> None:
    layout = in_force(demo_session)
    # From scratch the draft is painted from empty: each grid the union of its buildings' cells.
    done = rebalance_layout(
        demo_session,
        layout,
        band=(300, 500),
        grids=10,
        seed=1,
        steps=STEPS,
        time_limit=30,
        actor=TESTS,
    )
    assert len(done.after.grids) == 10 and not done.from_copy
    assert all(g.parts == 1 for g in done.after.grids)
    assert done.report.errors == [], [p.message for p in done.report.errors]
    assert done.after.unplaced_buildings == 0


def test_a_small_move_is_painted_on_a_copy_of_the_layout_in_force(db_session: Session) -> None:
    sample = build_sample_community(db_session)
    kept = polygons(db_session, sample.layout)
    # G1 has 60 households, 5 above 30-55: the one move in the band is B01 (24) to G2 (30).
    done = rebalance_layout(
        db_session, sample.layout, band=(30, 55), seed=0, steps=30, time_limit=10, actor=TESTS
    )
    assert done.from_copy and (done.moved_buildings, done.moved_households) == (1, 24)
    assert done.assignment == {"B01": G2, "B02": G1, "B03": G2, "B04": G3, "B05": G3}
    assert [g.households for g in done.after.grids] == [36, 54, 38] and done.reasons == []
    assert done.report.errors == [] and polygons(db_session, done.layout)[G3] == kept[G3]
    assert polygons(db_session, sample.layout) == kept


def test_a_building_alone_above_the_band_is_reported(db_session: Session) -> None:
    sample = build_sample_community(db_session)
    # B02 has 36 households: no grid holding it fits a band of 10-30.
    done = rebalance_layout(
        db_session, sample.layout, band=(10, 30), seed=0, steps=20, time_limit=10, actor=TESTS
    )
    assert any("building B02 alone has 36 households, above 30" in r for r in done.reasons)
    assert done.report.errors == [], [p.message for p in done.report.errors]


@pytest.mark.parametrize("text", ["500-300", "300", "a-b", "-1-5"])
def test_a_bad_band_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="LOW-HIGH"):
        parse_band(text)
