"""The GeoJSON layers a user (or the map) gets for a community."""

from __future__ import annotations

from itertools import pairwise

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput, NotFound
from gridgis.maps import features
from gridgis.models import SRID, Building
from gridgis.staff.roster import team_index
from tests.support.sample_community import (
    BUILDINGS,
    COMMUNITY_CODE,
    COMPOUND_CODE,
    GRID_CODES,
    GRID_HOUSEHOLDS,
    GRID_NAMES,
    LAYOUT_DRAFT,
    LAYOUT_NOW,
    LAYOUT_OLD,
    PROPERTY_COMPANY,
    Sample,
    build_sample_community,
)

#: Around B04 only, in the south of grid 3.
B04_BBOX = features.BBox(114.3044, 30.5905, 114.3050, 30.5913)


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def codes(collection: dict) -> list[str]:
    return [f["id"] for f in collection["features"]]


def test_grids_of_the_layout_in_force_with_households(db_session: Session, sample: Sample) -> None:
    grids = features.layer_collection(db_session, sample.community, "grids")
    assert grids["type"] == "FeatureCollection"
    assert codes(grids) == list(GRID_CODES)
    props = [f["properties"] for f in grids["features"]]
    assert [p["name"] for p in props] == list(GRID_NAMES)
    assert [p["households"] for p in props] == list(GRID_HOUSEHOLDS)
    assert [p["buildings"] for p in props] == [2, 1, 2]
    assert {p["layout"] for p in props} == {LAYOUT_NOW}
    assert grids["numberMatched"] == grids["numberReturned"] == 3


def test_geometry_is_rfc7946(db_session: Session, sample: Sample) -> None:
    grid = features.layer_collection(db_session, sample.community, "grids")["features"][0]
    assert grid["geometry"]["type"] == "MultiPolygon"
    ring = grid["geometry"]["coordinates"][0][0]
    lon, lat = ring[0]
    assert 114.29 < lon < 114.31 and 30.58 < lat < 30.6  # lon first
    # Exterior rings counter-clockwise (RFC 7946 §3.1.6): positive shoelace area.
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring))
    assert area > 0
    assert shape(grid["geometry"]).area == pytest.approx(0.002 * 0.004)


@pytest.mark.parametrize(
    ("layout", "expected"),
    [(LAYOUT_OLD, ["OLD-E", "OLD-W"]), (LAYOUT_DRAFT, ["DRAFT-1"]), (LAYOUT_NOW, list(GRID_CODES))],
)
def test_grids_of_a_named_layout(
    db_session: Session, sample: Sample, layout: str, expected: list[str]
) -> None:
    grids = features.layer_collection(db_session, sample.community, "grids", layout_name=layout)
    assert codes(grids) == expected


def test_unknown_layout_lists_the_known_ones(db_session: Session, sample: Sample) -> None:
    with pytest.raises(NotFound) as info:
        features.layer_collection(db_session, sample.community, "grids", layout_name="2030")
    assert str(info.value) == (
        f"Community {COMMUNITY_CODE} has no layout named '2030'; "
        f"its layouts are: '{LAYOUT_OLD}', '{LAYOUT_NOW}', '{LAYOUT_DRAFT}'."
    )


def test_layout_only_applies_to_grids(db_session: Session, sample: Sample) -> None:
    with pytest.raises(InvalidInput, match="layout= applies only to the grids layer"):
        features.layer_collection(db_session, sample.community, "buildings", layout_name="x")


def test_unknown_layer_lists_the_layers(db_session: Session, sample: Sample) -> None:
    with pytest.raises(NotFound, match="the layers are: grids, compounds, buildings, units"):
        features.layer_collection(db_session, sample.community, "roads")


def test_buildings_carry_compound_households_and_units(db_session: Session, sample: Sample) -> None:
    buildings = features.layer_collection(db_session, sample.community, "buildings")
    assert codes(buildings) == sorted(BUILDINGS)
    by_code = {f["id"]: f["properties"] for f in buildings["features"]}
    assert by_code["B01"] == {
        "code": "B01",
        "name": "1栋",
        "address": "南湖路01号",
        "floors": 6,
        "households": 24,
        "compound": COMPOUND_CODE,
        "units": 2,
    }
    assert by_code["B04"]["compound"] is None
    assert by_code["B04"]["units"] == 0


def test_units_name_their_building(db_session: Session, sample: Sample) -> None:
    units = features.layer_collection(db_session, sample.community, "units")
    assert codes(units) == ["B01/1", "B01/2", "B03/1", "B03/2"]
    assert units["features"][0]["properties"] == {
        "building": "B01",
        "number": "1",
        "households": 12,
    }


def test_compounds_name_their_property_company(db_session: Session, sample: Sample) -> None:
    compounds = features.layer_collection(db_session, sample.community, "compounds")
    assert compounds["features"][0]["properties"] == {
        "code": COMPOUND_CODE,
        "name": "阳光小区",
        "property_company": PROPERTY_COMPANY,
        "has_owners_committee": True,
    }


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ("grids", [GRID_CODES[2]]),
        ("buildings", ["B04"]),
        ("units", []),
        ("compounds", []),
    ],
)
def test_bbox_keeps_what_it_touches(
    db_session: Session, sample: Sample, layer: str, expected: list[str]
) -> None:
    found = features.layer_collection(db_session, sample.community, layer, bbox=B04_BBOX)
    assert codes(found) == expected
    assert found["numberMatched"] == len(expected)


def test_bbox_drops_features_whose_bounding_box_only_overlaps(
    db_session: Session, sample: Sample
) -> None:
    # An L-shaped building in grid 2: a box in the notch of the L meets its
    # bounding box (so the index's && keeps it) but not the building itself.
    ell = Polygon(
        [
            (114.3030, 30.5925),
            (114.3036, 30.5925),
            (114.3036, 30.5927),
            (114.3032, 30.5927),
            (114.3032, 30.5931),
            (114.3030, 30.5931),
        ]
    )
    db_session.add(
        Building(
            community_id=sample.community.id,
            code="BL",
            households=8,
            geom=from_shape(MultiPolygon([ell]), srid=SRID),
        )
    )
    db_session.flush()
    notch = features.BBox(114.3033, 30.5928, 114.3035, 30.5930)
    found = features.layer_collection(db_session, sample.community, "buildings", bbox=notch)
    assert codes(found) == []
    corner = features.BBox(114.3029, 30.5930, 114.3031, 30.5932)
    found = features.layer_collection(db_session, sample.community, "buildings", bbox=corner)
    assert codes(found) == ["BL"]


def test_paging_reports_matched_and_returned(db_session: Session, sample: Sample) -> None:
    page = features.layer_collection(db_session, sample.community, "buildings", limit=2, offset=2)
    assert codes(page) == ["B03", "B04"]
    assert (page["numberMatched"], page["numberReturned"]) == (5, 2)
    past = features.layer_collection(db_session, sample.community, "buildings", offset=10)
    assert (past["numberMatched"], past["numberReturned"]) == (5, 0)


def test_community_summary(db_session: Session, sample: Sample) -> None:
    summary = features.community_summary(db_session, COMMUNITY_CODE)
    assert summary == {
        "code": COMMUNITY_CODE,
        "name": "南湖花园社区",
        "bbox": [114.3, 30.59, 114.306, 30.594],
        "layout": {"name": LAYOUT_NOW, "valid_from": "2025-01-01T00:00:00+00:00"},
        "counts": {"grids": 3, "compounds": 1, "buildings": 5, "units": 4},
    }
    assert [c["code"] for c in features.community_summaries(db_session)] == [COMMUNITY_CODE]


def test_unknown_community_names_the_code(db_session: Session, sample: Sample) -> None:
    with pytest.raises(NotFound, match="No community with code 'nowhere'"):
        features.community_summary(db_session, "nowhere")


def test_teams_are_masked(db_session: Session, sample: Sample) -> None:
    teams = team_index(db_session, sample.community, sample.layout)
    g1 = [
        (m.role, m.name, m.phone, m.volunteer_team, m.on_duty) for m in teams.grids[GRID_CODES[0]]
    ]
    assert g1 == [
        ("grid_worker", "张*", "138****1234", None, True),
        ("part_time_worker", "李**", "139****5678", None, True),
        ("volunteer", "王*", "137****1111", "red", True),
        ("volunteer", "赵*", "136****2222", "white", False),
    ]
    assert [m.name for m in teams.buildings["B01"]] == ["钱*"]
    assert [m.name for m in teams.units["B01/1"]] == ["孙*"]
    assert GRID_CODES[1] not in teams.grids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "bbox must be four numbers minlon,minlat,maxlon,maxlat"),
        ("1,2,3", "bbox must be four numbers"),
        ("1,2,3,4,5", "bbox must be four numbers"),
        ("114.3,30.6,114.2,30.7", "with minlon < maxlon and minlat < maxlat"),
        ("114.3,30.6,114.4,30.6", "with minlon < maxlon and minlat < maxlat"),
        ("nan,1,2,3", "bbox must be four numbers"),
        ("30.5,114.3,30.6,114.4", "bbox latitudes must be between -90 and 90"),
        ("-200,30,114,31", "bbox longitudes must be between -180 and 180"),
    ],
)
def test_bad_bbox_says_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        features.parse_bbox(text)
    assert repr(text) in str(info.value)


def test_bbox_parses() -> None:
    assert features.parse_bbox("114.3, 30.5 ,114.4,30.6") == features.BBox(114.3, 30.5, 114.4, 30.6)


@pytest.mark.parametrize("text", ["0", "-1", "5001", "ten", "1.5"])
def test_bad_limit(text: str) -> None:
    with pytest.raises(
        InvalidInput, match=f"limit must be a whole number from 1 to 5000; got '{text}'"
    ):
        features.parse_limit(text)


@pytest.mark.parametrize("text", ["-1", "x"])
def test_bad_offset(text: str) -> None:
    with pytest.raises(InvalidInput, match="offset must be a whole number, 0 or more"):
        features.parse_offset(text)


def test_paging_defaults() -> None:
    assert features.parse_limit(None) == features.DEFAULT_LIMIT
    assert features.parse_limit("5000") == 5000
    assert features.parse_offset(None) == 0
