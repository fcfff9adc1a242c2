"""The city view's domain: districts from codes, a page's figures, the map's tile layers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.errors import InvalidInput
from gridgis.maps import city, offline, tiles
from gridgis.maps.vector import TileSource, VectorLayer
from tests.support import factories as make
from tests.support.sample_community import COMMUNITY_CODE, build_sample_community

ADMIN = Principal(kind="user", name="a", role="admin", permissions=ROLE_PERMISSIONS["admin"])
VIEWER = Principal(kind="user", name="v", role="viewer", permissions=ROLE_PERMISSIONS["viewer"])


@pytest.mark.parametrize(
    ("code", "district"),
    [("420111003012", "420111"), ("BENCH-C0001", "BENCH"), ("KM001", "KM001"), ("4201", "4201")],
)
def test_district_of_a_code(db_session: Session, code: str, district: str) -> None:
    assert db_session.scalar(sa.select(city.district_of(sa.literal(code)))) == district


def test_a_page_of_figures(db_session: Session) -> None:
    build_sample_community(db_session)
    make.community(db_session, "420106001003", make.box(115.0, 30.0, 115.01, 30.01))
    page = city.city_page(db_session, ADMIN, prefix="420106")
    assert page.total == 2 and page.pages == 1 and ("420106", 2) in page.districts
    sample, empty = page.rows
    assert (sample.code, sample.grids, sample.buildings, sample.units, sample.households) == (
        COMMUNITY_CODE,
        3,
        5,
        4,
        128,
    )
    assert sample.open_incidents == 0 and sample.layout == "2025版"
    assert (empty.grids, empty.buildings, empty.layout) == (0, 0, None)
    # No incidents:read, no incident figure.
    assert city.city_page(db_session, VIEWER).rows[0].open_incidents is None
    assert city.city_page(db_session, ADMIN, prefix="9").rows == []
    with pytest.raises(InvalidInput, match="beginning of community codes"):
        city.city_page(db_session, ADMIN, prefix="42%")


def test_the_map_asks_no_tile_below_the_tiles_zoom() -> None:
    source = TileSource(
        script_url="/vg.js",
        tile_url=lambda layer, code: f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt",
        community_url="/communities/CODE",
    )
    m = city.build_city_map(
        (114.3, 30.5, 114.4, 30.6), assets_url=lambda n: n, tile_source=source, gettext=str
    )
    layers = [e for child in m._children.values() for e in child._children.values()]
    found = {e.options["layer"]: e.options for e in layers if isinstance(e, VectorLayer)}
    assert list(found) == ["communities", "grids", "compounds", "buildings", "units"]
    for layer, options in found.items():
        assert options["minZoom"] >= tiles.MIN_ZOOM[layer], layer
    assert found["communities"]["maxZoom"] < found["grids"]["minZoom"]
    assert "/vg.js" in offline.render_parts(m).header
