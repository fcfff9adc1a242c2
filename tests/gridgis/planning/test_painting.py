"""Painting: buildings move with their land, the draft still tiles the community exactly.

The sample community's draft starts as the layout in force: three columns
G1 (B01, B02), G2 (B03), G3 (B04, B05). After any assign the checks find no
gap, overlap or cut building, each building is in the grid it was sent to,
the grids' areas add up to the community's, and grids that kept their
buildings keep their polygons byte for byte.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.geo.areas import building_grid
from gridgis.models import AuditEntry, Building, Community, Grid, Layout
from gridgis.planning.checks import check_layout
from gridgis.planning.drafts import draft_layout
from gridgis.planning.painting import assign_buildings, parse_codes
from tests.gridgis.planning.worlds import layout_of
from tests.support.actors import TESTS
from tests.support.factories import box
from tests.support.sample_community import (
    BUILDINGS,
    GRID_CODES,
    Sample,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
#: Where each building is in the layout in force.
START = {"B01": G1, "B02": G1, "B03": G2, "B04": G3, "B05": G3}
#: What must never appear after painting.
TILING_ERRORS = {"gap", "overlap", "building_cut", "building_in_no_grid"}

_names = itertools.count()


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def draft(session: Session, sample: Sample) -> Layout:
    return draft_layout(session, sample.community, name=f"paint {next(_names)}", actor=TESTS).layout


def geometries(session: Session, layout: Layout) -> dict[str, bytes]:
    return {
        code: bytes(wkb)
        for code, wkb in session.execute(
            sa.select(Grid.code, sa.func.ST_AsBinary(Grid.geom)).where(Grid.layout_id == layout.id)
        )
    }


def placement(session: Session, layout: Layout) -> dict[str, str | None]:
    """Building code -> the code of its grid, by gridgis.geo.areas's rule."""
    owner = sa.select(Grid.code).where(Grid.id == building_grid(Building.geom, layout.id))
    return dict(
        session.execute(
            sa.select(Building.code, owner.scalar_subquery()).where(
                Building.community_id == layout.community_id
            )
        ).all()
    )


def assert_tiles(session: Session, layout: Layout, expected: dict[str, str]) -> None:
    """No tiling error, buildings where expected, areas adding up to the community's."""
    report = check_layout(session, layout)
    assert [p.message for p in report.errors if p.kind in TILING_ERRORS] == []
    assert placement(session, layout) == expected
    grids_m2, community_m2 = session.execute(
        sa.select(
            sa.select(sa.func.sum(sa.func.ST_Area(sa.func.Geography(Grid.geom))))
            .where(Grid.layout_id == layout.id)
            .scalar_subquery(),
            sa.func.ST_Area(sa.func.Geography(Community.boundary)),
        ).where(Community.id == layout.community_id)
    ).one()
    assert grids_m2 == pytest.approx(community_m2, abs=1.0)


def test_a_building_moves_with_its_land(db_session: Session, sample: Sample) -> None:
    layout = draft(db_session, sample)
    before = geometries(db_session, layout)
    painted = assign_buildings(db_session, layout, ["B05"], G2, actor=TESTS)
    assert [(m.building, m.before, m.after, m.households) for m in painted.moved] == [
        ("B05", G3, G2, 20)
    ]
    assert (painted.touched, painted.households, painted.created) == ([G2, G3], 20, False)
    assert painted.removed == []
    assert_tiles(db_session, layout, START | {"B05": G2})
    after = geometries(db_session, layout)
    # G1 kept its buildings: the very same bytes, and ST_Equals to the copy in force.
    assert after[G1] == before[G1]
    assert db_session.scalar(
        sa.select(sa.func.ST_Equals(sa.func.ST_GeomFromWKB(after[G1], 4326), Grid.geom)).where(
            Grid.layout_id == sample.layout.id, Grid.code == G1
        )
    )
    assert after[G2] != before[G2] and after[G3] != before[G3]
    # The building stands inside its new grid, whole; both grids stay in one piece.
    assert db_session.scalar(
        sa.select(sa.func.ST_CoveredBy(Building.geom, Grid.geom))
        .join(Grid, sa.and_(Grid.layout_id == layout.id, Grid.code == G2))
        .where(Building.community_id == sample.community.id, Building.code == "B05")
    )
    assert [p for p in check_layout(db_session, layout).errors] == []


def test_a_grid_that_gives_away_its_last_building_leaves_the_draft(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    before = geometries(db_session, layout)
    painted = assign_buildings(db_session, layout, ["B01", "B02"], G2, actor=TESTS)
    # G1's land all goes to G2 with its team's copy (4 assignments); G3 is untouched.
    assert (painted.removed, painted.assignments, painted.touched) == ([G1], 4, [G2])
    assert_tiles(db_session, layout, START | {"B01": G2, "B02": G2})
    after = geometries(db_session, layout)
    assert sorted(after) == [G2, G3] and after[G3] == before[G3]
    assert db_session.scalar(
        sa.select(
            sa.func.ST_Equals(
                Grid.geom,
                sa.func.ST_Union(
                    sa.func.ST_GeomFromWKB(before[G1], 4326),
                    sa.func.ST_GeomFromWKB(before[G2], 4326),
                ),
            )
        ).where(Grid.layout_id == layout.id, Grid.code == G2)
    )
    # The layout in force keeps its grid and team.
    assert sorted(geometries(db_session, sample.layout)) == [G1, G2, G3]


def test_several_buildings_from_two_grids_into_a_new_grid(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    before = geometries(db_session, layout)
    painted = assign_buildings(
        db_session, layout, ["B02", "B05"], G4, new_name="第四网格", actor=TESTS
    )
    assert painted.created and painted.touched == [G1, G3, G4]
    assert [(m.building, m.before) for m in painted.moved] == [("B02", G1), ("B05", G3)]
    assert painted.households == BUILDINGS["B02"][2] + BUILDINGS["B05"][2]
    assert_tiles(db_session, layout, START | {"B02": G4, "B05": G4})
    assert geometries(db_session, layout)[G2] == before[G2]
    name = db_session.scalar(
        sa.select(Grid.name).where(Grid.layout_id == layout.id, Grid.code == G4)
    )
    assert name == "第四网格"


def test_a_building_already_there_stays_and_nothing_is_written(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    before = geometries(db_session, layout)
    painted = assign_buildings(db_session, layout, ["B01"], G1, actor=TESTS)
    assert (painted.moved, painted.stayed) == ([], ["B01"])
    assert geometries(db_session, layout) == before
    assert not db_session.scalar(sa.select(sa.exists().where(AuditEntry.action == "assign")))


def test_each_assign_is_audited_once(db_session: Session, sample: Sample) -> None:
    layout = draft(db_session, sample)
    assign_buildings(db_session, layout, ["B03", "B04"], G1, actor=TESTS)
    [entry] = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "assign"))
    assert (entry.actor, entry.entity, entry.entity_id) == (
        "cli:tests",
        "layout",
        f"{sample.community.code}/{layout.name}",
    )
    assert entry.after is not None
    assert entry.after["grid"] == G1 and entry.after["buildings"] == ["B03", "B04"]
    assert entry.after["from"] == {"B03": G2, "B04": G3}


def test_painting_a_draft_leaves_the_layout_in_force_alone(
    db_session: Session, sample: Sample
) -> None:
    in_force = geometries(db_session, sample.layout)
    layout = draft(db_session, sample)
    assign_buildings(db_session, layout, ["B01", "B02", "B03"], G3, actor=TESTS)
    assert geometries(db_session, sample.layout) == in_force
    assert placement(db_session, sample.layout) == START


@given(
    moves=st.lists(
        st.tuples(
            st.sets(st.sampled_from(sorted(START)), min_size=1, max_size=3),
            st.sampled_from([G1, G2, G3, G4]),
        ),
        min_size=1,
        max_size=5,
    )
)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_random_assigns_keep_the_tiling(
    db_session: Session, sample: Sample, moves: list[tuple[set[str], str]]
) -> None:
    layout = draft(db_session, sample)
    expected = dict(START)
    for buildings, target in moves:
        before = geometries(db_session, layout)
        new = target not in before
        painted = assign_buildings(
            db_session,
            layout,
            sorted(buildings),
            target,
            new_name="新网格" if new else None,
            actor=TESTS,
        )
        changed = {expected[b] for b in buildings if expected[b] != target}
        expected.update(dict.fromkeys(buildings, target))
        assert_tiles(db_session, layout, expected)
        assert set(painted.touched) | set(painted.removed) == changed | {target}
        after = geometries(db_session, layout)
        assert set(after) == (set(before) | {target}) - set(painted.removed)
        # A grid is removed only when every building has left it.
        assert not set(painted.removed) & set(expected.values())
        for code in set(before) - changed - {target}:
            assert after[code] == before[code]


@pytest.mark.parametrize(
    ("buildings", "target", "new_name", "error", "message"),
    [
        (
            ["B01", "B09", "X1"],
            G2,
            None,
            NotFound,
            "Community 420106001002 has no building(s) 'B09', 'X1'; nothing was assigned.",
        ),
        (
            ["B01"],
            G4,
            None,
            NotFound,
            f"has no grid '{G4}'; its grids are: {G1}, {G2}, {G3}. Give --new-name",
        ),
        (["B01"], G2, "又一个", Conflict, f"already has a grid '{G2}'"),
        (["B01"], G4, " ", InvalidInput, "A grid name must have 1 to 200 characters."),
    ],
)
def test_refusals_change_nothing(
    db_session: Session,
    sample: Sample,
    buildings: list[str],
    target: str,
    new_name: str | None,
    error: type[Exception],
    message: str,
) -> None:
    layout = draft(db_session, sample)
    before = geometries(db_session, layout)
    with pytest.raises(error, match=None) as raised:
        assign_buildings(db_session, layout, buildings, target, new_name=new_name, actor=TESTS)
    assert message in str(raised.value)
    assert geometries(db_session, layout) == before
    assert not db_session.scalar(sa.select(sa.exists().where(AuditEntry.action == "assign")))


def test_a_published_layout_is_refused(db_session: Session, sample: Sample) -> None:
    before = geometries(db_session, sample.layout)
    with pytest.raises(Conflict) as raised:
        assign_buildings(db_session, sample.layout, ["B03"], G1, actor=TESTS)
    assert str(raised.value) == (
        f"The layout '2025版' of community {sample.community.code} is published; only a draft "
        "can be painted. Copy the layout in force with "
        f"`gridgis layout draft --community {sample.community.code}` and paint that."
    )
    assert geometries(db_session, sample.layout) == before


def test_building_codes_are_read_from_a_list() -> None:
    assert parse_codes(" B01, B02,,B01 ") == ["B01", "B02"]
    with pytest.raises(InvalidInput):
        parse_codes(" , ")


def test_a_building_in_no_grid_brings_its_share_of_the_gap(
    db_session: Session, sample: Sample
) -> None:
    # The west 0.001° of the community is in no grid: B01 and B02 stand there.
    layout = layout_of(
        db_session,
        sample,
        "gap west",
        {
            G1: box(114.301, 30.590, 114.302, 30.594),
            G2: box(114.302, 30.590, 114.304, 30.594),
            G3: box(114.304, 30.590, 114.306, 30.594),
        },
    )
    painted = assign_buildings(db_session, layout, ["B01"], G1, actor=TESTS)
    assert [(m.building, m.before) for m in painted.moved] == [("B01", None)]
    assert placement(db_session, layout) == START | {"B02": None}
    errors = check_layout(db_session, layout).errors
    # What is left in no grid is B02 and its share of the gap, no cut building, no overlap.
    assert sorted({p.kind for p in errors}) == ["building_in_no_grid", "gap"]
    assert [p.buildings for p in errors if p.kind == "building_in_no_grid"] == [("B02",)]
    [gap] = [p for p in errors if p.kind == "gap"]
    assert gap.area_m2 is not None and 0 < gap.area_m2 < 96 * 443.4 * 0.9


def test_a_building_outside_the_boundary_is_refused_saying_why(
    db_session: Session, sample: Sample
) -> None:
    layout = draft(db_session, sample)
    community = db_session.get_one(Community, layout.community_id)
    db_session.add(
        Building(
            community_id=community.id,
            code="B99",
            households=10,
            geom="SRID=4326;MULTIPOLYGON(((114.310 30.590,114.311 30.590,"
            "114.311 30.591,114.310 30.591,114.310 30.590)))",
        )
    )
    db_session.flush()
    before = geometries(db_session, layout)
    with pytest.raises(InvalidInput, match="B99 stand outside the boundary"):
        assign_buildings(db_session, layout, ["B99", "B01"], G2, actor=TESTS)
    assert geometries(db_session, layout) == before
