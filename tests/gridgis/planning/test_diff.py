"""The diff of two layouts: the buildings, units and households that change grid.

The sample community's layout in force cuts it into three columns of 0.002°
(G1 west, G2 middle, G3 east). Its buildings: B01 (2 units, 24 households)
and B02 (36) in G1, B03 (2 units, 30) in G2, B04 (18) and B05 (20) in G3.
Each test redraws the grids of a draft so that chosen buildings land in
another grid, and asserts exactly those moves and every grid's totals.
"""

from __future__ import annotations

import json

import pytest
import shapely
from sqlalchemy.orm import Session

from gridgis.errors import NotFound
from gridgis.models import Layout
from gridgis.planning.diff import (
    APPEARING,
    DISAPPEARING,
    KEPT,
    Diff,
    Figures,
    GridChange,
    diff_layouts,
    diff_named,
)
from gridgis.planning.drafts import draft_layout
from gridgis.planning.tallies import tally_layout
from tests.support import factories as make
from tests.support.actors import TESTS
from tests.support.factories import box
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    GRID_NAMES,
    LAYOUT_NOW,
    Sample,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
SOUTH, NORTH = 30.590, 30.594


def column(x0: float, x1: float) -> shapely.Polygon:
    return box(x0, SOUTH, x1, NORTH)


#: The names of the layout in force, and one for a new grid.
NAMES = {**dict(zip(GRID_CODES, GRID_NAMES)), G4: "第四网格"}


def draft(
    session: Session, sample: Sample, name: str, grids: dict[str, shapely.Geometry]
) -> Layout:
    """A draft of the sample community with ``grids``, named as in the layout in force."""
    named = {code: (polygon, NAMES[code]) for code, polygon in grids.items()}
    return make.layout(session, sample.community, name, grids=named)


#: B01 (114.3008-114.3012 E, 30.5910-30.5912 N) to G2: G2 takes G1's south-east
#: corner; B05 (30.5925-30.5927 N) to a new grid G4, the north half of G3.
MOVED = {
    G1: box(114.300, 30.5915, 114.302, NORTH).union(box(114.300, SOUTH, 114.3005, 30.5915)),
    G2: column(114.302, 114.304).union(box(114.3005, SOUTH, 114.302, 30.5915)),
    G3: box(114.304, SOUTH, 114.306, 30.592),
    G4: box(114.304, 30.592, 114.306, NORTH),
}
#: G3 merged into G2.
MERGED = {G1: column(114.300, 114.302), G2: column(114.302, 114.306)}


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def moves(diff: Diff) -> list[tuple[str, int, int, str | None, str | None]]:
    return [(m.building, m.units, m.households, m.before, m.after) for m in diff.moves]


def test_moved_buildings_with_their_units_and_households(
    db_session: Session, sample: Sample
) -> None:
    draft(db_session, sample, "moved", MOVED)
    diff = diff_named(db_session, COMMUNITY_CODE, "moved")
    assert (diff.community, diff.layout, diff.against) == (COMMUNITY_CODE, "moved", LAYOUT_NOW)
    assert moves(diff) == [("B01", 2, 24, G1, G2), ("B05", 0, 20, G3, G4)]
    assert diff.moved == Figures(buildings=2, units=2, households=44)
    assert diff.grids == [
        GridChange(G1, GRID_NAMES[0], KEPT, Figures(2, 2, 60), Figures(1, 0, 36)),
        GridChange(G2, GRID_NAMES[1], KEPT, Figures(1, 2, 30), Figures(2, 4, 54)),
        GridChange(G3, GRID_NAMES[2], KEPT, Figures(2, 0, 38), Figures(1, 0, 18)),
        GridChange(G4, "第四网格", APPEARING, None, Figures(1, 0, 20)),
    ]
    [b01, _] = diff.moves
    assert b01.geometry["type"] == "MultiPolygon"
    assert shapely.geometry.shape(b01.geometry).bounds == pytest.approx(
        (114.3008, 30.5910, 114.3012, 30.5912)
    )


def test_totals_after_are_the_tallies_of_the_layout(db_session: Session, sample: Sample) -> None:
    moved = draft(db_session, sample, "moved", MOVED)
    diff = diff_layouts(db_session, moved, sample.layout)
    tallied = {
        g.code: Figures(g.buildings, g.units, g.households)
        for g in tally_layout(db_session, moved).grids
    }
    assert {g.code: g.after for g in diff.grids} == tallied
    before = tally_layout(db_session, sample.layout).grids
    assert {g.code: g.before for g in diff.grids if g.before} == {
        g.code: Figures(g.buildings, g.units, g.households) for g in before
    }


def test_a_copy_of_the_layout_in_force_moves_nothing(db_session: Session, sample: Sample) -> None:
    copy = draft_layout(db_session, sample.community, name="copy", actor=TESTS).layout
    diff = diff_layouts(db_session, copy, sample.layout)
    assert diff.moves == []
    assert diff.moved == Figures(0, 0, 0)
    assert [(g.code, g.change, g.before == g.after) for g in diff.grids] == [
        (code, KEPT, True) for code in GRID_CODES
    ]


def test_between_two_drafts_and_a_grid_that_disappears(db_session: Session, sample: Sample) -> None:
    draft(db_session, sample, "moved", MOVED)
    draft(db_session, sample, "merged", MERGED)
    diff = diff_named(db_session, COMMUNITY_CODE, "merged", against="moved")
    # B01 goes back to G1; G4's B05 and G3's B04 join the wide G2.
    assert moves(diff) == [("B01", 2, 24, G2, G1), ("B04", 0, 18, G3, G2), ("B05", 0, 20, G4, G2)]
    assert [(g.code, g.change, g.before, g.after) for g in diff.grids] == [
        (G1, KEPT, Figures(1, 0, 36), Figures(2, 2, 60)),
        (G2, KEPT, Figures(2, 4, 54), Figures(3, 2, 68)),
        (G3, DISAPPEARING, Figures(1, 0, 18), None),
        (G4, DISAPPEARING, Figures(1, 0, 20), None),
    ]


def test_a_building_left_in_no_grid(db_session: Session, sample: Sample) -> None:
    # G2 with a hole around B03 (114.3025-114.3029 E, 30.5915-30.5917 N).
    holed = column(114.302, 114.304).difference(box(114.3024, 30.5914, 114.3030, 30.5918))
    draft(
        db_session,
        sample,
        "holed",
        {G1: column(114.300, 114.302), G2: holed, G3: column(114.304, 114.306)},
    )
    diff = diff_named(db_session, COMMUNITY_CODE, "holed")
    assert moves(diff) == [("B03", 2, 30, G2, None)]
    assert diff.grids[1] == GridChange(G2, GRID_NAMES[1], KEPT, Figures(1, 2, 30), Figures(0, 0, 0))
    back = diff_named(db_session, COMMUNITY_CODE, LAYOUT_NOW, against="holed")
    assert moves(back) == [("B03", 2, 30, None, G2)]


def test_the_files(db_session: Session, sample: Sample) -> None:
    draft(db_session, sample, "moved", MOVED)
    diff = diff_named(db_session, COMMUNITY_CODE, "moved")
    document = json.loads(diff.as_json())
    assert document["moves"][0] == {
        "building": "B01",
        "name": "1栋",
        "units": 2,
        "households": 24,
        "from": G1,
        "to": G2,
    }
    assert document["grids"][3] == {
        "code": G4,
        "name": "第四网格",
        "change": APPEARING,
        "before": None,
        "after": {"buildings": 1, "units": 0, "households": 20},
    }
    assert document["moved"] == {"buildings": 2, "units": 2, "households": 44}
    body = diff.as_csv()
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig").splitlines() == [
        "building,units,households,from,to",
        f"B01,2,24,{G1},{G2}",
        f"B05,0,20,{G3},{G4}",
    ]
    collection = json.loads(diff.as_geojson())
    assert collection["type"] == "FeatureCollection"
    assert [f["properties"]["building"] for f in collection["features"]] == ["B01", "B05"]
    assert collection["features"][1]["properties"] == {
        "building": "B05",
        "name": "5栋",
        "from": G3,
        "to": G4,
        "units": 0,
        "households": 20,
    }


def test_no_layout_in_force_to_compare_with(db_session: Session) -> None:
    community = make.community(db_session, "C-NONE", box(114.0, 30.0, 114.1, 30.1))
    make.layout(db_session, community, "only draft", grids={"A": box(114.0, 30.0, 114.1, 30.1)})
    with pytest.raises(NotFound) as raised:
        diff_named(db_session, "C-NONE", "only draft")
    assert str(raised.value) == (
        "Community C-NONE has no layout in force to compare 'only draft' with; its layouts "
        "are: 'only draft'. Name one with --against."
    )
