"""The community map: what it draws, what it says, and what it loads (only ours)."""

from __future__ import annotations

import json
import re

import folium
import pytest
from sqlalchemy.orm import Session

from gridgis.access.privacy import mask_name, mask_phone
from gridgis.config import Settings
from gridgis.errors import GridgisError
from gridgis.maps import community as community_map
from gridgis.maps import offline
from gridgis.maps.popups import MAP_CSS
from tests.support.sample_community import (
    COMPOUND_NAME,
    GRID_CODES,
    GRID_NAMES,
    LAYOUT_OLD,
    PROPERTY_COMPANY,
    Sample,
    build_sample_community,
)

ASSETS = "/static/vendor/leaflet/"


def assets_url(name: str) -> str:
    return ASSETS + name


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


@pytest.fixture
def overview(db_session: Session, sample: Sample) -> offline.OfflineMap:
    return community_map.build_community_map(db_session, sample.community, assets_url=assets_url)


def popups(m: offline.OfflineMap, layer: str) -> dict[str, str]:
    return {f["id"]: f["properties"]["popup"] for f in m.layer_data[layer]["features"]}


# --- no CDN -------------------------------------------------------------------


def links(html: str) -> list[str]:
    return re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']*)["']""", html)


def test_offline_map_loads_only_what_the_app_serves() -> None:
    m = offline.OfflineMap(assets_url=assets_url)
    folium.LayerControl().add_to(m)
    html = m.get_root().render()
    assert sorted(links(html)) == [ASSETS + "leaflet.css", ASSETS + "leaflet.js"]
    assert "http://" not in html and "https://" not in html
    # folium's class-level defaults are left alone for other maps in the process.
    assert any("cdn" in url for _, url in folium.Map.default_js)


def test_community_map_has_no_url_outside_the_app(
    overview: offline.OfflineMap,
) -> None:
    parts = offline.render_parts(overview)
    html = parts.header + parts.html + parts.script
    assert sorted(links(html)) == [ASSETS + "leaflet.css", ASSETS + "leaflet.js"]
    assert "http://" not in html and "https://" not in html
    assert "$(" not in parts.script  # no jQuery needed, none loaded


# --- what is drawn ------------------------------------------------------------


def test_layers_in_drawing_order(overview: offline.OfflineMap) -> None:
    drawn = {key: [f["id"] for f in data["features"]] for key, data in overview.layer_data.items()}
    assert drawn == {
        "grids": list(GRID_CODES),
        "compounds": ["XQ01"],
        "buildings": ["B01", "B02", "B03", "B04", "B05"],
        "units": ["B01/1", "B01/2", "B03/1", "B03/2"],
    }
    script = offline.render_parts(overview).script
    assert '"preferCanvas": true' in script
    assert ".fitBounds(" in script and "[30.59, 114.3]" in script
    assert "L.control.layers(" in script
    assert "window.gridgis = {" in script


def test_grid_popup_has_name_code_households_and_masked_team(
    overview: offline.OfflineMap,
) -> None:
    popup = popups(overview, "grids")[GRID_CODES[0]]
    for text in (GRID_NAMES[0], GRID_CODES[0], "<th>Households</th><td>60</td>"):
        assert text in popup
    assert "Full-time grid worker: 张* 138****1234" in popup
    assert "Part-time grid worker: 李** 139****5678" in popup
    assert "Volunteer · Red Pioneer team: 王* 137****1111" in popup
    assert "gg-dot gg-team-red" in popup  # the red team's colour (a class: no inline style)
    assert "赵* 136****2222 (off duty)" in popup
    assert "Names and phone numbers are masked." in popup
    for secret in ("张三", "李四光", "13812341234", "1234 1234"):
        assert secret not in popup
    assert "No team assigned yet." in popups(overview, "grids")[GRID_CODES[1]]


def test_building_unit_and_compound_popups(overview: offline.OfflineMap) -> None:
    b01 = popups(overview, "buildings")["B01"]
    for text in ("1栋", "B01", "南湖路01号", COMPOUND_NAME, "<td>24</td>", "Building head: 钱*"):
        assert text in b01
    assert "Not in a compound" in popups(overview, "buildings")["B04"]
    unit = popups(overview, "units")["B01/1"]
    assert "Unit 1" in unit and "<td>12</td>" in unit and "Unit head: 孙*" in unit
    compound = popups(overview, "compounds")["XQ01"]
    assert COMPOUND_NAME in compound and PROPERTY_COMPANY in compound


def test_popups_escape_what_users_typed(db_session: Session, sample: Sample) -> None:
    sample.grids[2].name = "<script>alert(1)</script>"
    db_session.flush()
    m = community_map.build_community_map(db_session, sample.community, assets_url=assets_url)
    popup = popups(m, "grids")[GRID_CODES[2]]
    assert "<script>" not in popup and "&lt;script&gt;" in popup
    (grid,) = (f for f in m.layer_data["grids"]["features"] if f["id"] == GRID_CODES[2])
    assert grid["properties"]["label"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "&lt;script&gt;" in legend(m)


def test_labels_go_through_gettext(db_session: Session, sample: Sample) -> None:
    m = community_map.build_community_map(
        db_session, sample.community, assets_url=assets_url, gettext=lambda s: f"«{s}»"
    )
    script = offline.render_parts(m).script
    for layer in ("Grids", "Compounds", "Buildings", "Units"):  # the layer control
        assert json.dumps(f"«{layer}»") + " :" in script
    assert "«Households»" in popups(m, "buildings")["B01"]
    assert "«Legend»" in legend(m)


def legend(m: offline.OfflineMap) -> str:
    found = re.search(r"div\.innerHTML = (\".*?\");", offline.render_parts(m).script)
    assert found is not None
    return str(json.loads(found.group(1)))


def test_legend_names_each_grid_and_compound(overview: offline.OfflineMap) -> None:
    html = legend(overview)
    for name in (*GRID_NAMES, COMPOUND_NAME, "Community boundary", "Not in a compound"):
        assert name in html
    assert "gg-sw gg-grid-0" in html  # the first grid's colour, as drawn ...
    assert ".gg-grid-0 { border-color: #1f77b4;" in MAP_CSS  # ... defined in the map's styles
    assert " style=" not in html


def test_named_layout(db_session: Session, sample: Sample) -> None:
    m = community_map.build_community_map(
        db_session, sample.community, assets_url=assets_url, layout_name=LAYOUT_OLD
    )
    assert [f["id"] for f in m.layer_data["grids"]["features"]] == ["OLD-E", "OLD-W"]


# --- base tiles ---------------------------------------------------------------


def test_no_tiles_by_default() -> None:
    assert offline.tile_specs(Settings()) == []


def test_xyz_tiles() -> None:
    url = "http://tiles.intranet/{z}/{x}/{y}.png"
    specs = offline.tile_specs(Settings(tiles="xyz", tile_url=url, tile_attribution="© 测绘院"))
    assert specs == [offline.TileSpec(url=url, attribution="© 测绘院", name="base")]
    # Without an attribution the tile host is named.
    (spec,) = offline.tile_specs(Settings(tiles="xyz", tile_url=url))
    assert spec.attribution == "tiles.intranet"


def test_tianditu_tiles() -> None:
    vec, cva = offline.tile_specs(Settings(tiles="tianditu", tianditu_key="KEY123"))
    assert vec.url == (
        "http://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY123"
    )
    assert cva.url == vec.url.replace("vec", "cva")
    assert vec.subdomains == cva.subdomains == "01234567"
    assert (vec.overlay, cva.overlay) == (False, True)


def test_tile_layers_render_into_the_map() -> None:
    m = offline.OfflineMap(assets_url=assets_url)
    for spec in offline.tile_specs(Settings(tiles="tianditu", tianditu_key="KEY123")):
        spec.layer().add_to(m)
    script = m.get_root().render()
    assert script.count("L.tileLayer(") == 2
    assert "tk=KEY123" in script and '"subdomains": "01234567"' in script


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(tiles="google"), "GRIDGIS_TILES must be one of none, xyz, tianditu"),
        (Settings(tiles="xyz"), "GRIDGIS_TILES=xyz needs GRIDGIS_TILE_URL"),
        (Settings(tiles="xyz", tile_url="http://x/tile.png"), "with {z}, {x} and {y}"),
        (Settings(tiles="tianditu"), "needs a Tianditu key in GRIDGIS_TIANDITU_KEY"),
    ],
)
def test_incomplete_tile_settings_say_what_to_set(settings: Settings, message: str) -> None:
    with pytest.raises(GridgisError, match=re.escape(message)):
        offline.tile_specs(settings)


# --- masking ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("王", "*"), ("", ""), (None, "")]
)
def test_mask_name(name: str | None, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("138-1234-1234", "138****1234"),
        ("02787654321", "027****4321"),
        ("87654321", "******21"),
        ("110", "***"),
        (None, ""),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked
