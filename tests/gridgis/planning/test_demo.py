"""Planning on the demo community: its layout in force passes the checks, tallies add up.

The demo is loaded once for the module in a database of its own; each test
works in a transaction that is rolled back. The demo's grids tile its
community exactly (``tests/gridgis/demo/test_loader.py``), so the checks must
find no error there; its grids follow the 15-digit pattern.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.demo.loader import demo_community_code
from gridgis.geo.layouts import get_community
from gridgis.models import Building
from gridgis.planning.checks import check_layout
from gridgis.planning.drafts import draft_layout
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
