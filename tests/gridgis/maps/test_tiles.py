"""Vector tiles made by PostGIS: what a map client decodes from them."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.access.scope import scope_for_staff
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.intake import take_in
from gridgis.maps import tiles
from gridgis.maps.tiles import TileAddress
from gridgis.models import Staff
from tests.support import factories as make
from tests.support.incidents import person, report
from tests.support.sample_community import (
    BUILDINGS,
    COMPOUND_CODE,
    GRID_CODES,
    GRID_HOUSEHOLDS,
    LAYOUT_NOW,
    PROPERTY_COMPANY,
    Sample,
    build_sample_community,
)

#: The z13 tile over the sample community but its western edge (from lon 114.30176):
#: every building is in it, B01 and B02 within its buffer (64 units of 4096 to the west).
EAST = TileAddress(13, 6697, 3364)
#: Its western neighbour: grid 1, B01 and B02, and grid 2's edge within its buffer.
WEST = TileAddress(13, 6696, 3364)
#: Inside B04, in grid 3.
AT_B04 = (114.3046, 30.5911)
ADMIN = person("admin")


def tile_of(lon: float, lat: float, z: int) -> TileAddress:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return TileAddress(z, int(n * (lon + 180) / 360), int(n * y))


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def zhangsan(db_session: Session) -> Principal:
    """张三 (S1), grid worker of grid 1: his area is grid 1 with B01 and B02."""
    staff_id = db_session.query(Staff.id).filter(Staff.code == "S1").scalar()
    return Principal(
        kind="user",
        name="zhangsan",
        role="grid_staff",
        permissions=ROLE_PERMISSIONS["grid_staff"],
        staff_id=staff_id,
        scope=scope_for_staff(db_session, staff_id),
    )


def decode(
    db_session: Session,
    sample: Sample,
    layer: str,
    tile: TileAddress,
    layout_name: str | None = None,
) -> list:
    plan = tiles.plan_tile(
        db_session, sample.community, layer, tile, viewer=ADMIN, layout_name=layout_name
    )
    body = tiles.render(db_session, plan)
    if not body:
        return []
    return mapbox_vector_tile.decode(body)[layer]["features"]


def test_the_tile_over_the_community_holds_every_layer(db_session: Session, sample: Sample) -> None:
    assert [f["properties"]["code"] for f in decode(db_session, sample, "grids", WEST)] == list(
        GRID_CODES[:2]
    )
    west = decode(db_session, sample, "buildings", WEST)
    assert [f["properties"]["code"] for f in west] == ["B01", "B02"]
    grids = decode(db_session, sample, "grids", EAST)
    assert [f["properties"]["code"] for f in grids] == list(GRID_CODES)
    assert [f["properties"]["households"] for f in grids] == list(GRID_HOUSEHOLDS)
    assert {f["properties"]["layout"] for f in grids} == {LAYOUT_NOW}
    assert grids[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    buildings = decode(db_session, sample, "buildings", EAST)
    assert [f["properties"]["code"] for f in buildings] == list(BUILDINGS)
    b01 = buildings[0]["properties"]
    assert b01 == {
        "code": "B01",
        "name": "1栋",
        "address": "南湖路01号",
        "floors": 6,
        "households": 24,
        "compound": COMPOUND_CODE,
        "units": 2,
    }
    (compound,) = decode(db_session, sample, "compounds", EAST)
    assert compound["properties"]["property_company"] == PROPERTY_COMPANY


def test_units_from_zoom_14(db_session: Session, sample: Sample) -> None:
    assert decode(db_session, sample, "units", WEST) == []  # z13: below the layer's zoom
    west = tile_of(*BUILDINGS["B01"][:2], 14)
    units = decode(db_session, sample, "units", west)
    assert [(f["properties"]["building"], f["properties"]["number"]) for f in units] == [
        ("B01", "1"),
        ("B01", "2"),
    ]


def test_a_tile_elsewhere_is_empty(db_session: Session, sample: Sample) -> None:
    plan = tiles.plan_tile(
        db_session, sample.community, "buildings", TileAddress(13, 0, 0), viewer=ADMIN
    )
    assert tiles.render(db_session, plan) == b""


def test_zoom_simplifies(db_session: Session, sample: Sample) -> None:
    """A round building has fewer vertices the farther out the tile."""
    centre = tile_of(114.3035, 30.5935, 18)
    n = 2**18
    lon = (centre.x + 0.5) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (centre.y + 0.5) / n))))
    make.building(db_session, sample.community, "ROUND", Point(lon, lat).buffer(0.0002, 64))

    def vertices(tile: TileAddress) -> int:
        (feature,) = [
            f
            for f in decode(db_session, sample, "buildings", tile)
            if f["properties"]["code"] == "ROUND"
        ]
        return len(feature["geometry"]["coordinates"][0])

    counts = [vertices(tile_of(lon, lat, z)) for z in (18, 16, 14)]
    # 257 stored; each zoom keeps what one unit of its tile (1/4096 of a side) can show.
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 3, counts
    assert counts[0] < 257 and counts[-1] < counts[0] / 3, counts


def test_the_statement_uses_the_index_box(db_session: Session, sample: Sample) -> None:
    sql = str(tiles.tile_statement("buildings", sample.community.id, EAST))
    assert "&&" in sql and "ST_TileEnvelope" in sql and "ST_AsMVT(tile" in sql


def test_no_personal_data(db_session: Session, sample: Sample) -> None:
    take_in(db_session, report(AT_B04), actor=ADMIN)
    for layer in tiles.LAYERS:
        for feature in decode(db_session, sample, layer, tile_of(*AT_B04, 14)):
            text = repr(feature["properties"])
            for secret in ("陈居民", "13911112222", "违停，", "张", "phone", "staff"):
                assert secret not in text, (layer, secret)


def test_open_incidents_are_points(db_session: Session, sample: Sample) -> None:
    made = take_in(db_session, report(AT_B04), actor=ADMIN)
    (point,) = decode(db_session, sample, "incidents", EAST)
    assert point["geometry"]["type"] == "Point"
    assert point["properties"] == {
        "id": made.incident.id,
        "status": made.incident.status,
        "category": "parking",
    }


def test_grid_staff_see_their_area(db_session: Session, sample: Sample) -> None:
    zhang = zhangsan(db_session)
    plan = tiles.plan_tile(db_session, sample.community, "buildings", EAST, viewer=zhang)
    features = mapbox_vector_tile.decode(tiles.render(db_session, plan))["buildings"]["features"]
    assert [f["properties"]["code"] for f in features] == ["B01", "B02"]
    assert plan.scoped
    admin_plan = tiles.plan_tile(db_session, sample.community, "buildings", EAST, viewer=ADMIN)
    assert admin_plan.version != plan.version and not admin_plan.scoped


@pytest.mark.parametrize(
    ("z", "x", "y", "says"),
    [
        ("23", "0", "0", "zooms go from 0 to 22"),
        ("2", "4", "0", "x and y go from 0 to 3"),
        ("2", "0", "-1", "whole number"),
        ("1.5", "0", "0", "whole number"),
        ("", "0", "0", "whole number"),
    ],
)
def test_bad_addresses(z: str, x: str, y: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        tiles.parse_tile(z, x, y)


def test_unknown_layer_and_layout(db_session: Session, sample: Sample) -> None:
    with pytest.raises(NotFound, match="the layers are: communities, grids"):
        tiles.plan_tile(db_session, sample.community, "roads", EAST, viewer=ADMIN)
    with pytest.raises(InvalidInput, match="only to the grids layer"):
        tiles.plan_tile(
            db_session, sample.community, "buildings", EAST, viewer=ADMIN, layout_name="x"
        )


def test_the_version_moves_with_the_data(db_session: Session, sample: Sample) -> None:
    before = tiles.plan_tile(db_session, sample.community, "buildings", EAST, viewer=ADMIN)
    again = tiles.plan_tile(db_session, sample.community, "buildings", EAST, viewer=ADMIN)
    assert before.version == again.version
    sample.grids[0].name = "改名网格"
    db_session.flush()  # the epoch's trigger runs on the write
    after = tiles.plan_tile(db_session, sample.community, "buildings", EAST, viewer=ADMIN)
    assert after.version != before.version


def test_grid_staff_see_only_their_incidents(db_session: Session, sample: Sample) -> None:
    take_in(db_session, report(AT_B04), actor=ADMIN)  # in grid 3
    zhang = zhangsan(db_session)
    plan = tiles.plan_tile(db_session, sample.community, "incidents", EAST, viewer=zhang)
    assert tiles.render(db_session, plan) == b""
    assert decode(db_session, sample, "incidents", EAST)  # the administrator sees it
