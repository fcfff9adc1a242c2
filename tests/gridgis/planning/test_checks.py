"""Checks on deliberately broken layouts of the sample community.

The community is the rectangle 114.300-114.306 E × 30.590-30.594 N; its
layout in force cuts it into three columns of 0.002°. At 30.59°N 0.0001° of
longitude is about 9.58 m and 0.004° of latitude about 443.4 m. Each test
draws a draft with one thing wrong and asserts the problem a planner would
see (and that nothing else is reported as an error).
"""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.models import Layout
from gridgis.planning.checks import ERROR, WARNING, Problem, check_layout
from gridgis.planning.tallies import tally_layout
from tests.gridgis.planning.worlds import layout_of
from tests.support.factories import box
from tests.support.sample_community import GRID_CODES, Sample, build_sample_community

G1, G2, G3 = GRID_CODES
SOUTH, NORTH = 30.590, 30.594
#: One metre-ish column of 0.0001° longitude, the community's height.
STRIP_M2 = 9.58 * 443.4


def column(x0: float, x1: float) -> shapely.Polygon:
    return box(x0, SOUTH, x1, NORTH)


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def problems(session: Session, sample: Sample, grids: dict[str, shapely.Geometry]) -> list[Problem]:
    layout = layout_of(session, sample, "broken", grids)
    found = check_layout(session, layout).problems
    # Every test's grids are below the default band: those warnings are not the point.
    return [p for p in found if p.kind != "outside_band"]


def only(found: list[Problem], kind: str) -> list[Problem]:
    assert {p.kind for p in found if p.severity == ERROR} <= {kind, "gap", "building_in_no_grid"}
    return [p for p in found if p.kind == kind]


def test_the_layout_in_force_has_no_errors(db_session: Session, sample: Sample) -> None:
    report = check_layout(db_session, sample.layout)
    assert report.errors == []
    assert [(p.kind, p.grids, p.message) for p in report.warnings] == [
        (
            "outside_band",
            (code,),
            f"grid {code} has {n} households, {300 - n} below the band 300-500",
        )
        for code, n in zip(GRID_CODES, (60, 30, 38))
    ]


def test_a_gap(db_session: Session, sample: Sample) -> None:
    found = problems(
        db_session,
        sample,
        {G1: column(114.300, 114.302), G2: column(114.3021, 114.304), G3: column(114.304, 114.306)},
    )
    [gap] = found
    assert (gap.severity, gap.kind, gap.grids) == (ERROR, "gap", (G1, G2))
    assert gap.area_m2 == pytest.approx(STRIP_M2, rel=0.02)
    assert gap.point is not None and 114.302 < gap.point[0] < 114.3021
    assert gap.bbox == pytest.approx((114.302, SOUTH, 114.3021, NORTH))
    assert gap.message.endswith(f"m² of the community lie in no grid beside grid(s) {G1}, {G2}")


def test_an_overlap(db_session: Session, sample: Sample) -> None:
    found = problems(
        db_session,
        sample,
        {G1: column(114.300, 114.3022), G2: column(114.302, 114.304), G3: column(114.304, 114.306)},
    )
    [overlap] = found
    assert (overlap.severity, overlap.kind, overlap.grids) == (ERROR, "overlap", (G1, G2))
    assert overlap.area_m2 == pytest.approx(2 * STRIP_M2, rel=0.02)
    assert overlap.bbox == pytest.approx((114.302, SOUTH, 114.3022, NORTH))
    assert overlap.message.startswith(f"grids {G1} and {G2} overlap on 8,")


def test_a_building_in_no_grid(db_session: Session, sample: Sample) -> None:
    # G2 with a hole around B03 (114.3025-114.3029 E, 30.5915-30.5917 N).
    holed = column(114.302, 114.304).difference(box(114.3024, 30.5914, 114.3030, 30.5918))
    found = problems(
        db_session, sample, {G1: column(114.300, 114.302), G2: holed, G3: column(114.304, 114.306)}
    )
    [building] = only(found, "building_in_no_grid")
    assert (building.severity, building.buildings, building.grids) == (ERROR, ("B03",), ())
    assert building.message == "building B03 is in no grid"
    assert building.area_m2 == pytest.approx(38.3 * 22.2, rel=0.02)
    assert building.bbox == pytest.approx((114.3025, 30.5915, 114.3029, 30.5917))
    [gap] = only(found, "gap")
    assert gap.grids == (G2,) and gap.area_m2 == pytest.approx(57.5 * 44.3, rel=0.02)


def test_a_building_cut_by_a_grid_edge(db_session: Session, sample: Sample) -> None:
    # The edge at 114.3009 crosses B01 and B02 (114.3008-114.3012): each
    # belongs to G2 (its point lies there), 0.0001° of it stands in G1.
    found = problems(
        db_session,
        sample,
        {
            G1: column(114.300, 114.3009),
            G2: column(114.3009, 114.304),
            G3: column(114.304, 114.306),
        },
    )
    cut = only(found, "building_cut")
    assert [(p.buildings, p.grids) for p in cut] == [(("B01",), (G2, G1)), (("B02",), (G2, G1))]
    assert cut[0].area_m2 == pytest.approx(9.58 * 22.2, rel=0.02)
    assert cut[0].message.startswith(f"building B01 belongs to grid {G2} but 21") and cut[
        0
    ].message.endswith(f"m² of it lie outside that grid, in grid(s) {G1}")


def test_a_grid_in_two_parts(db_session: Session, sample: Sample) -> None:
    split = shapely.MultiPolygon([column(114.300, 114.302), column(114.305, 114.306)])
    found = problems(db_session, sample, {G1: split, G2: column(114.302, 114.305)})
    [parts] = only(found, "grid_in_parts")
    assert (parts.severity, parts.grids, parts.message) == (
        ERROR,
        (G1,),
        f"grid {G1} is in 2 separate parts",
    )
    assert parts.bbox == pytest.approx((114.300, SOUTH, 114.306, NORTH))


def test_codes_that_read_the_same(db_session: Session, sample: Sample) -> None:
    wide = G1.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})  # full-width digits
    found = problems(
        db_session,
        sample,
        {
            G1: column(114.300, 114.302),
            wide: column(114.302, 114.304),
            G3: column(114.304, 114.306),
        },
    )
    [duplicate] = only(found, "duplicate_code")
    assert (duplicate.severity, set(duplicate.grids)) == (ERROR, {G1, wide})
    # The full-width code also breaks the community's 15-digit pattern.
    assert [(p.severity, p.grids) for p in found if p.kind == "code_pattern"] == [
        (WARNING, (wide,))
    ]


def test_codes_off_the_pattern(db_session: Session, sample: Sample) -> None:
    other_community = "420106001003002"
    found = problems(
        db_session,
        sample,
        {
            G1: column(114.300, 114.302),
            other_community: column(114.302, 114.304),
            "东区3号": column(114.304, 114.306),
        },
    )
    codes = sorted(((p.severity, p.grids, p.message) for p in only(found, "code_pattern")), key=str)
    assert codes == [
        (
            ERROR,
            (other_community,),
            f"grid code {other_community} starts with 420106001003, not with the code of "
            "community 420106001002: it names another community's grid",
        ),
        (
            WARNING,
            ("东区3号",),
            "grid code '东区3号' does not follow the 15-digit pattern the community's grids "
            "use (district 6 + street 3 + community 3 + sequence 3)",
        ),
    ]


def test_a_grid_beyond_the_boundary_is_a_warning(db_session: Session, sample: Sample) -> None:
    found = problems(
        db_session,
        sample,
        {
            G1: box(114.2995, SOUTH, 114.302, NORTH),
            G2: column(114.302, 114.304),
            G3: column(114.304, 114.306),
        },
    )
    [outside] = found
    assert (outside.severity, outside.kind, outside.grids) == (WARNING, "outside_boundary", (G1,))
    assert outside.area_m2 == pytest.approx(5 * STRIP_M2, rel=0.02)


def test_a_layout_without_grids_is_one_gap_and_every_building_in_none(
    db_session: Session, sample: Sample
) -> None:
    layout = layout_of(db_session, sample, "empty", {})
    report = check_layout(db_session, layout)
    assert [(p.kind, p.buildings) for p in report.problems] == [
        ("building_in_no_grid", (code,)) for code in ("B01", "B02", "B03", "B04", "B05")
    ] + [("gap", ())]
    assert report.problems[-1].area_m2 == pytest.approx(3 * 191.6 * 443.4, rel=0.01)
    tallies = tally_layout(db_session, layout)
    assert (tallies.grids, tallies.unplaced_buildings, tallies.unplaced_households) == ([], 5, 128)


def test_the_routing_citys_road_and_hole_are_gaps(
    db_session: Session, city: dict[str, object]
) -> None:
    """The routing tests' city: a road 0.0003° wide between A and C, a hole in B.

    At 30.5°N the road is about 28.8 m × 554.3 m and the hole 95.9 m × 110.9 m.
    Its free-text codes A, B, C are not on the 15-digit pattern, so no code is flagged.
    """
    layout = db_session.scalars(sa.select(Layout).where(Layout.name == "L1")).one()
    report = check_layout(db_session, layout)
    gaps = [(p.grids, round(p.area_m2 or 0)) for p in report.errors]
    assert [p.kind for p in report.errors] == ["gap", "gap"]
    assert gaps[0][0] == ("A", "B", "C") and gaps[0][1] == pytest.approx(28.8 * 554.3, rel=0.01)
    assert gaps[1][0] == ("B",) and gaps[1][1] == pytest.approx(95.9 * 110.9, rel=0.01)
    assert {p.kind for p in report.warnings} == {"outside_band"}
