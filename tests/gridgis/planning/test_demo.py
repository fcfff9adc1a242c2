"""Planning on the demo community: its layout in force passes the checks, tallies add up.

The demo is loaded once for the module in a database of its own; each test
works in a transaction that is rolled back. The demo's grids tile its
community exactly (``tests/gridgis/demo/test_loader.py``), so the checks must
find no error there; its grids follow the 15-digit pattern.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis.demo.loader import demo_community_code
from gridgis.geo.layouts import get_community
from gridgis.models import Building, Grid
from gridgis.planning.checks import check_layout
from gridgis.planning.drafts import draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.tallies import tally_layout
from tests.gridgis.planning.worlds import in_force
from tests.support.actors import TESTS


def test_the_demo_layout_has_no_errors_and_a_draft_tallies_the_same(demo_session: Session) -> None:
    layout = in_force(demo_session)
    report = check_layout(demo_session, layout)
    assert report.errors == [], [p.message for p in report.errors]
    assert {p.kind for p in report.warnings} <= {"outside_band"}
    community = get_community(demo_session, demo_community_code())
    draft = draft_layout(demo_session, community, name="redraw", actor=TESTS).layout
    now, copy = tally_layout(demo_session, layout), tally_layout(demo_session, draft)
    assert [(g.code, g.households, g.buildings, g.units, g.staff) for g in copy.grids] == [
        (g.code, g.households, g.buildings, g.units, g.staff) for g in now.grids
    ]
    assert all(g.staff >= 2 and g.parts == 1 for g in now.grids)
    total = demo_session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Building.households), 0)).where(
            Building.community_id == community.id
        )
    )
    assert sum(g.households for g in now.grids) + now.unplaced_households == total
    assert check_layout(demo_session, draft).errors == []


def test_a_building_painted_across_a_drawn_edge_joins_the_grid_in_one_piece(
    demo_session: Session,
) -> None:
    # Each pair of neighbouring demo grids shares an edge only to the
    # millimetre, as drawn grids do: the land that moves must still join its
    # new grid in one piece, so that one building moved is no error.
    community = get_community(demo_session, demo_community_code())
    draft = draft_layout(demo_session, community, name="one over", actor=TESTS).layout
    g = aliased(Grid)
    pairs = demo_session.execute(
        sa.select(Grid.code, g.code)
        .join(g, sa.and_(g.layout_id == Grid.layout_id, g.id != Grid.id))
        .where(Grid.layout_id == draft.id, sa.func.ST_Touches(Grid.geom, g.geom))
        .where(sa.func.ST_Length(sa.func.ST_Intersection(Grid.geom, g.geom)) > 0)
        .order_by(Grid.code, g.code)
    ).all()
    assert pairs
    moved = 0
    for source, target in pairs:
        # The building of the source nearest the common edge: its land reaches it.
        a, b = aliased(Grid), aliased(Grid)
        edge = sa.func.ST_Intersection(a.geom, b.geom)
        building = demo_session.scalar(
            sa.select(Building.code)
            .join(a, sa.func.ST_Covers(a.geom, sa.func.ST_PointOnSurface(Building.geom)))
            .join(b, b.layout_id == a.layout_id)
            .where(a.layout_id == draft.id, a.code == source, b.code == target)
            .order_by(sa.func.ST_Distance(sa.func.ST_PointOnSurface(Building.geom), edge))
            .limit(1)
        )
        if building is None or sum(1 for s, _ in pairs if s == source) < 2:
            continue  # keep every grid in place (a grid emptied would leave the draft)
        nested = demo_session.begin_nested()
        assign_buildings(demo_session, draft, [building], target, actor=TESTS)
        parts = {t.code: t.parts for t in tally_layout(demo_session, draft).grids}
        assert parts[target] == 1, (building, source, target)
        moved += 1
        nested.rollback()
    assert moved >= 3
