"""Tallies of a layout's grids, on the sample community worked out by hand.

Layout 2025版 (in force): G1 holds B01 (24 households, 2 units) and B02 (36);
G2 holds B03 (30, 2 units); G3 B04 (18) and B05 (20). G1's team is four grid
posts, plus B01's head and the head of unit B01/1: six people. Compound XQ01
holds B01, B02 (G1) and B03 (G2): split. Each grid is a 0.002° × 0.004°
rectangle at 30.59°N: about 191.6 m × 443.4 m, so Polsby-Popper
π·r/(1+r)² with r = 443.4/191.6 gives 0.662.
"""

from __future__ import annotations

import math

import pytest
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.geo.layouts import choose_layout
from gridgis.planning.tallies import DEFAULT_BAND, deviation, tally_layout
from tests.gridgis.planning.worlds import NOW, incident
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
