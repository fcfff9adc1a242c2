"""Grid codes carried on across a redraw when one building moves between two grids.

The sample community: G1 (B01 24 + B02 36 households, a grid team of four),
G2 (B03 30), G3 (B04 18 + B05 20). Moving B02 into G2 leaves G1 with 24 of
its 60 households (40%) and gives G2 36 of G1's and all 30 of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.planning.codes import plan_codes
from gridgis.planning.drafts import draft_layout
from gridgis.planning.painting import assign_buildings
from gridgis.planning.publish import plan_cut_over
from tests.gridgis.planning.worlds import NOW
from tests.support.actors import TESTS
from tests.support.sample_community import GRID_CODES, Sample, build_sample_community

G1, G2, G3 = GRID_CODES


@pytest.fixture
def sample(db_session: Session) -> Iterator[Sample]:
    with clock.frozen(NOW):
        yield build_sample_community(db_session)


def test_a_grid_that_gains_a_building_keeps_its_own_code_and_the_shrunk_grid_keeps_its(
    db_session: Session, sample: Sample
) -> None:
    layout = draft_layout(db_session, sample.community, name="one move", actor=TESTS).layout
    assign_buildings(db_session, layout, ["B02"], G2, actor=TESTS)

    recodes = {
        r.before: (r.after, r.inherits) for r in plan_codes(db_session, layout, sample.layout)
    }

    # G2 holds more of G1's households (36) than G1 keeps (24), yet it keeps
    # its own code; G1 shrank below half but is still G1, with its team.
    assert recodes == {G1: (G1, G1), G2: (G2, G2), G3: (G3, G3)}
    with clock.frozen(NOW):
        plan = plan_cut_over(db_session, layout, NOW.replace(year=NOW.year + 1))
    assert plan.disappearing == {} and plan.left_without_grid == []
    assert plan.staff == []
