"""Routing rules on hand-made geometry, edge by edge (DESIGN.md "Routing")."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from shapely.geometry import box
from sqlalchemy.orm import Session

from gridgis.access.permissions import cli_principal
from gridgis.errors import InvalidInput
from gridgis.geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridgis.models import (
    Building,
)
from gridgis.routing.points import route_point
from tests.support.factories import geom
from tests.support.routing_city import AFTER, PUBLISHED


def test_point_in_a_unit_routes_to_its_unit_building_and_grid(db_session: Session, city) -> None:
    r = route_point(db_session, 114.30105, 30.50105, at=AFTER)
    assert (r.rule, r.grid_code, r.building_code, r.unit_number) == ("unit", "A", "X", "1")
    assert r.distance_m == 0
    assert r.lead is not None and r.lead.staff_code == "GW"
    assert "丽景小区1栋 1 单元" in r.explanation_zh and "unit 1 of building X" in r.explanation_en


def test_off_duty_unit_head_is_covered_by_the_building_head(db_session: Session, city) -> None:
    r = route_point(db_session, 114.30105, 30.50105, at=AFTER)
    codes = [m.staff_code for m in r.team]
    assert "UH1" not in codes
    head = next(m for m in r.team if m.staff_code == "BH")
    assert head.covers_for == "unit_head"
    assert any("UH1" in note and "BH" in note for note in r.team_notes)


def test_off_duty_grid_worker_passes_the_lead(db_session: Session, city) -> None:
    db_session.execute(sa.text("UPDATE assignment SET on_duty = false WHERE role = 'grid_worker'"))
    r = route_point(db_session, 114.3003, 30.5080, at=AFTER)
    assert r.rule == "grid" and r.lead is not None and r.lead.staff_code == "PT"
    assert r.lead.covers_for == "grid_worker"
    assert any("GW" in note for note in r.team_notes)


def test_point_on_the_wall_between_two_units_gets_exactly_one_owner(
    db_session: Session, city
) -> None:
    # Both units cover the shared wall: the smaller area wins, then the lower id.
    # (Their areas differ in the last bits of a double; the rule decides anyway.)
    expected = db_session.execute(
        sa.text("SELECT number FROM unit ORDER BY ST_Area(geom), id LIMIT 1")
    ).scalar_one()
    owners = {route_point(db_session, 114.3011, 30.50105, at=AFTER).unit_number for _ in range(3)}
    assert owners == {expected}


def test_shared_grid_vertex_goes_to_the_smaller_grid(db_session: Session, city) -> None:
    # (114.305, 30.505) is a corner of A and of B; B is smaller.
    r = route_point(db_session, 114.305, 30.505, at=AFTER)
    assert (r.rule, r.grid_code) == ("grid", "B")


def test_shared_grid_edge_goes_to_the_smaller_grid(db_session: Session, city) -> None:
    r = route_point(db_session, 114.305, 30.502, at=AFTER)
    assert r.grid_code == "B"


def test_gap_between_grids_goes_to_the_nearest_within_tolerance(db_session: Session, city) -> None:
    r = route_point(db_session, 114.30505, 30.508, at=AFTER)  # ≈ 4.8 m from A, 24 m from C
    assert (r.rule, r.grid_code) == ("nearest_grid", "A")
    assert 4 < (r.distance_m or 0) < 6
    assert "4." in r.explanation_en or "5." in r.explanation_en


def test_equidistant_gap_point_goes_to_the_smaller_grid(db_session: Session, city) -> None:
    r = route_point(db_session, 114.30515, 30.508, at=AFTER)
    assert (r.rule, r.grid_code) == ("nearest_grid", "C")


def test_hole_far_from_every_grid_is_unrouted(db_session: Session, city) -> None:
    r = route_point(db_session, 114.3075, 30.5025, at=AFTER)  # ≈ 48 m from B's inner ring
    assert r.rule == "unrouted" and r.grid_code is None and r.community_code == "C1"
    assert "dispatcher queue" in r.explanation_en


def test_exactly_at_the_tolerance(db_session: Session, city) -> None:
    lon, lat = 114.3075, 30.5025
    dist = db_session.scalar(
        sa.text(
            "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)"
            " FROM grid WHERE code = 'B'"
        ),
        {"x": lon, "y": lat},
    )
    community = city["community"]
    community.gap_tolerance_m = dist
    db_session.flush()
    assert route_point(db_session, lon, lat, at=AFTER).rule == "nearest_grid"
    community.gap_tolerance_m = dist - 0.01
    db_session.flush()
    assert route_point(db_session, lon, lat, at=AFTER).rule == "unrouted"


def test_outside_every_community(db_session: Session, city) -> None:
    r = route_point(db_session, 114.40, 30.60, at=AFTER)
    assert r.rule == "outside_coverage" and r.grid_code is None
    assert "outside every community" in r.explanation_en


def test_just_outside_the_boundary_counts_as_inside_within_tolerance(
    db_session: Session, city
) -> None:
    r = route_point(db_session, 114.29995, 30.505, at=AFTER)  # ≈ 4.8 m west of the boundary
    assert (r.rule, r.grid_code) == ("nearest_grid", "A")


def test_before_any_layout_is_in_force_the_point_is_unrouted(db_session: Session, city) -> None:
    r = route_point(db_session, 114.3003, 30.508, at=PUBLISHED - dt.timedelta(days=1))
    assert r.rule == "unrouted" and "no grid layout" in r.explanation_en


def test_department_jurisdiction_edge(db_session: Session, city) -> None:
    inside = route_point(db_session, 114.3015, 30.508, category="parking", at=AFTER)
    on_edge = route_point(db_session, 114.302, 30.508, category="parking", at=AFTER)
    outside = route_point(db_session, 114.3025, 30.508, category="parking", at=AFTER)
    assert {d.code for d in inside.departments} == {"JJ", "CG"}
    assert {d.code for d in on_edge.departments} == {"JJ", "CG"}  # the boundary counts
    assert {d.code for d in outside.departments} == {"CG"}


def test_property_issue_goes_to_the_compounds_property_company(db_session: Session, city) -> None:
    r = route_point(db_session, 114.30105, 30.50105, category="property", at=AFTER)
    assert [(d.code, d.reason) for d in r.departments] == [("WY", "property")]
    outside = route_point(db_session, 114.3040, 30.508, category="property", at=AFTER)
    assert outside.departments == ()


def test_category_asks_for_a_volunteer_team(db_session: Session, city) -> None:
    r = route_point(db_session, 114.3003, 30.508, category="medical", at=AFTER)
    volunteers = [m.staff_code for m in r.team if m.role == "volunteer"]
    assert volunteers == ["VW"]


def test_unknown_category_lists_the_known_ones(db_session: Session, city) -> None:
    with pytest.raises(InvalidInput, match="known categories: medical, parking, property"):
        route_point(db_session, 114.3003, 30.508, category="nope", at=AFTER)


@pytest.mark.parametrize("convert, crs", [(wgs84_to_gcj02, "gcj02"), (wgs84_to_bd09, "bd09")])
def test_chinese_web_map_points_near_a_boundary(db_session: Session, city, convert, crs) -> None:
    # 0.5 m either side of the A|B edge at x = 114.305: the offset (hundreds of
    # metres) must be undone to well under half a metre to land on the right side.
    for lon, expected in ((114.305 - 0.000005, "A"), (114.305 + 0.000005, "B")):
        x, y = convert(lon, 30.502)
        assert route_point(db_session, x, y, crs=crs, at=AFTER).grid_code == expected


def test_projected_crs_input(db_session: Session, city) -> None:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(114.3003, 30.508)
    assert route_point(db_session, x, y, crs="EPSG:3857", at=AFTER).grid_code == "A"


@pytest.mark.parametrize(
    "lon, lat, crs, message",
    [
        (float("nan"), 30.5, "EPSG:4326", "finite"),
        (200.0, 30.5, "EPSG:4326", "not a place on Earth"),
        (114.3, 30.5, "EPSG:999999", "Unknown CRS"),
    ],
)
def test_bad_coordinates_are_refused(db_session: Session, city, lon, lat, crs, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        route_point(db_session, lon, lat, crs=crs, at=AFTER)


def test_a_single_point_is_one_round_trip(db_session: Session, city) -> None:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db_session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        route_point(db_session, 114.30105, 30.50105, category="parking", at=AFTER)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_batch_gives_the_same_answers_as_single_points(db_session: Session, city) -> None:
    from gridgis.routing.points import PointInput, route_points

    probes = [
        (114.30105, 30.50105, "parking"),
        (114.3011, 30.50105, None),
        (114.305, 30.505, None),
        (114.30505, 30.508, "medical"),
        (114.3075, 30.5025, None),
        (114.40, 30.60, None),
        (114.29995, 30.505, "property"),
        (114.30105, 30.50105, "property"),
    ]
    batch = route_points(
        db_session, [PointInput(x, y, category=c, at=AFTER) for x, y, c in probes], chunk_size=3
    )
    singles = [route_point(db_session, x, y, category=c, at=AFTER) for x, y, c in probes]
    everything = cli_principal("tests")
    assert [r.to_dict(everything) for r in batch] == [r.to_dict(everything) for r in singles]


def test_batch_keeps_bad_rows_as_invalid_locations(db_session: Session, city) -> None:
    from gridgis.routing.points import PointInput, route_points

    results = route_points(
        db_session,
        [
            PointInput(None, 30.5),
            PointInput(114.3003, 30.508, at=AFTER),
            PointInput(500.0, 30.5),
            PointInput(114.3, 30.5, crs="EPSG:0"),
            PointInput(114.3003, 30.508, category="nope", at=AFTER),
        ],
    )
    assert [r.rule for r in results] == [
        "invalid_location",
        "grid",
        "invalid_location",
        "invalid_location",
        "grid",
    ]
    assert results[0].reason == "no coordinates"
    assert "not a place on Earth" in (results[2].reason or "")
    assert results[4].warnings == ("unknown category 'nope'",)


def test_batch_statement_count_does_not_grow_with_points(db_session: Session, city) -> None:
    from gridgis.routing.points import PointInput, route_points

    def statements_for(n: int, use_cache: bool) -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            seen.append(statement)

        engine = db_session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            route_points(
                db_session,
                [PointInput(114.30101 + i * 1e-8, 30.50105, at=AFTER) for i in range(n)],
                use_cache=use_cache,
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    # SQL path: categories, the routing statement, the rosters.
    assert statements_for(2, False) == statements_for(500, False) == 3
    # In-memory path, index loaded: categories, the routing epoch, the rosters.
    statements_for(2, True)
    assert statements_for(2, True) == statements_for(5000, True) == 3


@pytest.fixture
def addressed(db_session: Session, city) -> dict[str, object]:
    b = city["building"]
    b.address = "仁和南路18号丽景小区1栋"
    twin = Building(
        community_id=city["community"].id,
        code="Y",
        name="丽景小区2栋",
        address="仁和南路20号丽景小区2栋",
        geom=geom(box(114.3030, 30.501, 114.3032, 30.5011)),
    )
    db_session.add(twin)
    db_session.flush()
    return city


def test_exact_address_routes_to_the_building(db_session: Session, addressed) -> None:
    from gridgis.routing.addresses import route_address

    r = route_address(db_session, "仁和南路18号丽景小区1栋", at=AFTER)
    assert (r.rule, r.building_code, r.grid_code, r.unit_number) == ("address", "X", "A", None)
    assert all(m.role != "unit_head" for m in r.team)
    assert "仁和南路18号丽景小区1栋" in r.explanation_zh


def test_full_width_digits_and_spaces_are_folded(db_session: Session, addressed) -> None:
    from gridgis.routing.addresses import route_address

    assert route_address(db_session, "仁和南路 １８号 丽景小区1栋", at=AFTER).building_code == "X"


def test_partial_name_that_fits_one_building(db_session: Session, addressed) -> None:
    from gridgis.routing.addresses import route_address

    assert route_address(db_session, "丽景小区2栋", at=AFTER).building_code == "Y"


def test_ambiguous_address_returns_candidates(db_session: Session, addressed) -> None:
    from gridgis.routing.addresses import route_address

    r = route_address(db_session, "丽景小区", at=AFTER)
    assert r.rule == "ambiguous_address" and r.grid_code is None
    assert {c["code"] for c in r.candidates} == {"X", "Y"}


def test_typo_is_matched_fuzzily(db_session: Session, addressed) -> None:
    from gridgis.routing.addresses import route_address

    r = route_address(db_session, "仁和南路18号丽景小区1幢", at=AFTER)  # 幢 for 栋
    assert r.building_code == "X"


def test_unknown_address(db_session: Session, addressed) -> None:
    from gridgis.routing.addresses import route_address

    r = route_address(db_session, "长江大桥", at=AFTER)
    assert r.rule == "ambiguous_address" and r.candidates == ()
    assert "No building matches" in r.explanation_en


def test_nul_characters_are_refused_or_unknown(db_session: Session, city) -> None:
    from gridgis.routing.addresses import route_address
    from gridgis.routing.points import PointInput, route_points

    with pytest.raises(InvalidInput, match="NUL character"):
        route_point(db_session, 114.3003, 30.508, category="park\x00ing", at=AFTER)
    with pytest.raises(InvalidInput, match="NUL character"):
        route_address(db_session, "仁和\x00南路", at=AFTER)
    (result,) = route_points(db_session, [PointInput(114.3003, 30.508, category="a\x00", at=AFTER)])
    assert result.grid_code == "A" and result.warnings == ("unknown category 'a\\x00'",)
